"""Entity matching's vocabulary and settings: the methods a link can have, the comparison
features of a (name, firm) pair, and `MatchingConfig` (configs/matching.yaml).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from core.config import FrozenModel, load_config
from features.match_decisions import ReviewImportLimits

LINKED_METHODS: Final = (
    "decision",
    "code",
    "exact",
    "normalized",
    "history",
    "fuzzy",
    "classifier",
)
METHODS: Final = (*LINKED_METHODS, "review", "none")
SUPPORT_METHODS: Final = ("code", "exact", "normalized", "history")  # certain links
# Comparison features of a (mention, candidate firm) pair, for the pair classifier and for the
# score parts a reviewer sees (features.pair_classifier, service/review.py).
PAIR_FEATURES: Final = (
    "core_similarity",  # rapidfuzz ratio of the trade-name cores (字号 + 行业)
    "trade_similarity",  # ratio of the trade names (字号) alone
    "margin",  # core_similarity minus that of the best other candidate firm
    "close_rivals",  # log(1 + close rivals: other candidates within close_rival_margin)
    "region_city",  # the regions agree to the prefecture or finer
    "region_province",  # ... to the province only
    "region_conflict",  # both name a region and they differ
    "mention_has_region",
    "industry_mismatch",  # both name an industry and the industries differ
    "industry_missing",  # one side names no industry
    "form_mismatch",  # 有限公司 vs 股份有限公司 …
    "branch",  # the mention names a branch (分公司)
    "former_name",  # the candidate name is a former name (name_history)
    "support",  # log(1 + the firm's other mentions linked with certainty in the same data)
    "support_margin",  # support minus the best support among the close rivals
    "supported_alone",  # the firm has such links and no close rival has any
)


# ---------------------------------------------------------------------------------------------
# Configuration


class StageScores(FrozenModel):
    code: float
    exact: float
    normalized: float
    core_region: float
    core_only: float
    history: float


class CoreStage(FrozenModel):
    max_firms_per_key: int


class Blocking(FrozenModel):
    """Which registry names are scored against a mention: those sharing character n-grams."""

    max_block_size: int
    max_candidates: int
    min_shared_ngrams: int
    max_core_chars: int


class FuzzyDecision(FrozenModel):
    """How a fuzzy candidate is scored and when it is linked, reviewed or dropped."""

    min_core_length: int
    link_threshold: float
    min_margin: float
    review_threshold: float
    region_agree_bonus: float
    province_agree_bonus: float
    region_conflict_penalty: float
    industry_mismatch_penalty: float
    industry_mismatch_below: float
    form_mismatch_penalty: float
    branch_penalty: float
    close_rival_margin: float = Field(ge=0.0, le=1.0)


class PairClassifier(FrozenModel):
    """The calibrated pair classifier that decides mentions the stages above leave to review.

    p(same firm) = 1 / (1 + exp(-(intercept + Σ coefficient·feature))), a logistic regression
    whose Platt calibration is folded into the coefficients (features.pair_classifier trains it).
    A mention is linked when its best firm reaches `link_probability` and every other candidate
    stays at or below `max_runner_up_probability`; NIL when no candidate reaches
    `nil_probability`; otherwise it stays in review.
    """

    enabled: bool
    link_probability: float = Field(ge=0.5, le=1.0)
    max_runner_up_probability: float = Field(ge=0.0, le=0.5)
    nil_probability: float = Field(ge=0.0, le=0.5)
    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    trained_on: str

    @model_validator(mode="after")
    def _shapes(self) -> PairClassifier:
        if len(self.features) != len(self.coefficients):
            raise ValueError("features and coefficients must have the same length")
        if unknown := set(self.features) - set(PAIR_FEATURES):
            raise ValueError(f"unknown pair features: {sorted(unknown)}")
        return self

    def probability(self, features: pd.DataFrame) -> np.ndarray:
        values = features[list(self.features)].to_numpy(dtype=float)
        logit = self.intercept + values @ np.asarray(self.coefficients, dtype=float)
        return 1.0 / (1.0 + np.exp(-logit))


class MatchingConfig(FrozenModel):
    stage_scores: StageScores
    core_stage: CoreStage
    blocking: Blocking
    fuzzy: FuzzyDecision
    non_enterprise_words: tuple[str, ...]
    review_import: ReviewImportLimits
    pair_classifier: PairClassifier | None = None

    @classmethod
    def load(cls, path: str = "matching.yaml") -> MatchingConfig:
        return load_config(cls, path)
