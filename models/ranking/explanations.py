"""Reasons an official can act on (pure functions).

Reasons explain p_qualify (model Q) and come only from Q's inputs, which are tied to a criterion
or to an Article 9 signal (configs/model.yaml `qualify_features`): never application history,
the tier or missingness — a feature whose value is missing is never stated.

Attributions are additive in the model's own units (calibrated log-odds):
- logistic: exact, coefficient × standardised value (they sum to the logit minus the reference's);
- rule baseline: slope × (value − reference);
- gradient boosting: interventional (baseline) Shapley values against the training medians,
  averaged over a few feature orders; each order's terms sum exactly to logit(x) − logit(ref).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.run_layout import PRIORITY_COLUMNS, SCORE_COLUMNS
from features.firm_features import describe_value, feature_label
from models.ranking.dataset import candidate_rows, model_inputs
from models.ranking.families import RankingModel

DIRECTION_TEXT = {1: "提高", -1: "降低"}
_PERMUTATIONS = 8


@dataclass(frozen=True)
class Reason:
    """One factor behind a score: the feature, its value and which way it moves the score."""

    feature: str
    value: float
    direction: int  # +1 raises the score, -1 lowers it
    contribution: float  # calibrated log-odds

    @property
    def text(self) -> str:
        return (
            f"{feature_label(self.feature)}{describe_value(self.feature, self.value)}"
            f"（{DIRECTION_TEXT[self.direction]}）"
        )


def contributions(model: RankingModel, frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per row and used feature: how much the firm's value moves Q's log-odds from reference."""
    matrix = model._matrix(frame)
    slope = model.calibration[0]
    if model.family == "logistic":
        imputer, scaler, classifier = (model.estimator.named_steps[s] for s in _STEPS)
        values = scaler.transform(imputer.transform(matrix)) * classifier.coef_[0]
    elif model.family == "rule_baseline":
        reference = model.reference_input(model.used_features[0])
        values = model.estimator[0] * (np.nan_to_num(matrix[:, :1], nan=0.0) - reference)
    else:
        values = _baseline_shapley(model, matrix, seed)
    return pd.DataFrame(values * slope, columns=model.used_features, index=frame.index)


_STEPS = ("impute", "scale", "classify")


def _baseline_shapley(model: RankingModel, matrix: np.ndarray, seed: int) -> np.ndarray:
    reference = np.array([model.reference_input(n) for n in model.used_features])
    rng = np.random.default_rng(seed)
    total = np.zeros_like(matrix)
    n_features = matrix.shape[1]
    for _ in range(_PERMUTATIONS):
        current = np.tile(reference, (len(matrix), 1))
        before = model.raw_logit_matrix(current)
        for position in rng.permutation(n_features):
            current[:, position] = matrix[:, position]
            after = model.raw_logit_matrix(current)
            total[:, position] += after - before
            before = after
    return total / _PERMUTATIONS


def explain(
    model: RankingModel, frame: pd.DataFrame, top_n: int, min_abs_contribution: float = 0.0
) -> list[list[Reason]]:
    """Each row's strongest reasons (largest |contribution| first), from known values only."""
    values = frame[model.used_features].to_numpy(dtype="float64", na_value=np.nan)
    table = contributions(model, frame).to_numpy()
    masked = np.where(np.isnan(values), 0.0, table)  # missingness is never a reason
    names = np.array(model.used_features)
    result: list[list[Reason]] = []
    for row in range(len(frame)):
        order = np.argsort(-np.abs(masked[row]), kind="stable")[:top_n]
        result.append(
            [
                Reason(
                    feature=str(names[i]),
                    value=float(values[row, i]),
                    direction=1 if masked[row, i] > 0 else -1,
                    contribution=float(masked[row, i]),
                )
                for i in order
                if abs(masked[row, i]) > min_abs_contribution
            ]
        )
    return result


def deletion_test(
    model: RankingModel,
    frame: pd.DataFrame,
    listed: np.ndarray,
    reasons: Sequence[Sequence[Reason]],
    groups: Sequence[str] = ("as_of", "tier", "province"),
) -> float:
    """Share of the listed rows (`listed`: mask over `frame`; `reasons` by listed row, in
    order) whose rank by Q within their group falls when the features of their stated reasons
    that raise the score are set to the reference: do the reasons an official reads carry the
    rank? Rows without such a reason are not counted."""
    matrix = model._matrix(frame)
    base = model.raw_logit_matrix(matrix)
    names = list(model.used_features)
    reference = np.array([model.reference_input(n) for n in names])
    group = frame.groupby(list(groups), sort=False).ngroup().to_numpy()
    lowered: list[bool] = []
    for row, row_reasons in zip(np.flatnonzero(listed), reasons, strict=True):
        stated = [names.index(r.feature) for r in row_reasons if r.direction > 0]
        if not stated:
            continue
        changed = matrix[row : row + 1].copy()
        changed[0, stated] = reference[stated]
        after = model.raw_logit_matrix(changed)[0]
        others = base[(group == group[row]) & (np.arange(len(base)) != row)]
        lowered.append(bool((others > after).sum() > (others > base[row]).sum()))
    return float(np.mean(lowered)) if lowered else float("nan")


def score_candidates(
    ranker: Any,
    features: pd.DataFrame,
    criteria: pd.DataFrame,
    top_reasons: int,
    min_abs_contribution: float = 0.0,
) -> pd.DataFrame:
    """Score every discovery candidate (eligible / to_verify) of a criteria run.

    `features` is build_features' frame for the same as_of (features_as_published). Returns
    credit_code, tier, score (= priority), p_qualify, p_apply, priority, est_score_low,
    est_score_high, p_score_pass and reasons (Chinese, strongest first, explaining p_qualify),
    sorted by tier then score.
    """
    candidates = candidate_rows(criteria)
    columns = ["credit_code", "tier", *SCORE_COLUMNS]
    if candidates.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="str" if c in _TEXT else "float64") for c in columns}
        )
    inputs = model_inputs(features, candidates)
    table = ranker.score_table(inputs)
    if ranker.q is not None:
        reasons = explain(ranker.q, inputs, top_reasons, min_abs_contribution)
        texts = ["；".join(reason.text for reason in row) for row in reasons]
    else:
        texts = ["规则排序：估算发展评价得分（2022年标准，已观测部分）"] * len(inputs)
    result = pd.DataFrame(
        {
            "credit_code": candidates["credit_code"].to_numpy(),
            "tier": candidates["tier"].to_numpy(),
            "score": table["priority"].to_numpy(),
            **{c: table[c].to_numpy() for c in PRIORITY_COLUMNS},
            "reasons": texts,
        }
    )
    result = result.astype({"credit_code": "str", "tier": "str", "reasons": "str"})
    return result.sort_values(
        ["tier", "score", "credit_code"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)


_TEXT = ("credit_code", "tier", "reasons")
