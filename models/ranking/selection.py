"""Choosing what orders the lists (pure functions, shared by `zjtx train` and the bench).

- `fit_and_evaluate`: one family's Q (with the shared A and score model), evaluated on the
  validation rounds; the selection correction (applications weighted by the inverse
  propensity of being an applicant) is kept only when the paired test shows it helps.
- `gate_families`: the champion gate over the families in order. Without a champion the rule
  ordering is the reference: the rule baseline family (the same ordering) stands as champion
  untested, and a learned family is promoted only when it beats the current champion by the
  paired test on the never-applied pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from models.ranking.evaluation import Evaluation, GateDecision, evaluate, paired_gate
from models.ranking.families import DiscoveryRanker, RankingModel, ScoreModel, fit_discovery
from models.ranking_config import Family, ModelConfig

RULE = "rule_baseline"


def fit_and_evaluate(
    family: Family,
    applications: pd.DataFrame,
    candidates: pd.DataFrame,
    valid: pd.DataFrame,
    config: ModelConfig,
    thresholds: Mapping[str, float],
    models: tuple[RankingModel | None, ScoreModel | None, RankingModel | None],
    truth: pd.DataFrame | None,
) -> tuple[DiscoveryRanker, Evaluation]:
    """`models` = (A, score model, applicant propensity)."""
    apply_model, score_model, propensity = models

    def fitted(weighting: RankingModel | None) -> tuple[DiscoveryRanker, Evaluation]:
        ranker = fit_discovery(
            family,
            applications,
            candidates,
            config,
            thresholds,
            apply_model,
            score_model,
            propensity=weighting,
        )
        return ranker, evaluate(ranker, valid, config, truth)

    ranker, evaluation = fitted(None)
    if propensity is not None and family != RULE:
        weighted, weighted_evaluation = fitted(propensity)
        test = paired_gate(evaluation.scored, weighted_evaluation.scored, config)
        if test.promote:
            ranker, evaluation = weighted, weighted_evaluation
        evaluation.metrics["val_selection_correction_gain"] = test.gain
        evaluation.metrics["val_selection_correction_gain_low"] = test.gain_low
        evaluation.metrics["val_selection_correction_kept"] = float(test.promote)
    return ranker, evaluation


@dataclass(frozen=True)
class GateStep:
    family: str
    decision: GateDecision | None  # None: promoted as the reference (no champion)
    promoted: bool

    @property
    def reason(self) -> str:
        if self.decision is None:
            return "no champion yet: the rule ordering is the reference champion"
        return self.decision.reason


def gate_families(
    scored: Mapping[str, pd.DataFrame],
    config: ModelConfig,
    champion: pd.DataFrame | None,
    reference: pd.DataFrame,
) -> list[GateStep]:
    """The gate over `scored` (family → its validation frame), the rule baseline first.
    `champion`: the current champion scored on the same rows (None: none); `reference`: the
    rule ordering scored on them."""
    steps = []
    for family in ordered_families(list(scored)):
        if champion is None and family == RULE:
            decision = None
        else:
            against = champion if champion is not None else reference
            decision = paired_gate(against, scored[family], config)
        promoted = decision is None or decision.promote
        if promoted:
            champion = scored[family]
        steps.append(GateStep(family, decision, promoted))
    return steps


def ordered_families(families: Sequence[str]) -> list[str]:
    """The rule baseline first: with no champion it is the reference the others must beat."""
    return sorted(families, key=lambda family: family != RULE)
