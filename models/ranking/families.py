"""Model families and the discovery ranker they make up (pure: fit and predict, no I/O).

- `RankingModel`: one fitted classifier of one family (rule ordering, logistic regression,
  monotone gradient boosting) in log-odds, with an optional Platt calibration per tier.
- `ScoreModel`: the official evaluation score from the 2022 table's observed points (a ridge
  regression with its residual spread): `p_score_pass` = P(official score ≥ the tier's line).
- `DiscoveryRanker`: Q (would it be approved if it applied), A (would it apply on its own
  within 12 months), the score model, and the priority that orders the lists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from features.feature_config import EvaluationEstimate
from features.firm_features import evaluation_points, evaluation_score_bounds
from models.ranking.dataset import TIER_FLAG
from models.ranking_config import Family, ModelConfig

_LOGISTIC_STEPS = ("impute", "scale", "classify")
# The baseline's slope is kept positive so it never reverses the rule ordering.
_MIN_BASELINE_SLOPE = 1e-9
Basis = Literal["applications", "title_transitions", "rule_baseline"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -35, 35)))


class RankingModel(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """A fitted classifier of one family, in log-odds, with a Platt calibration per tier.

    `reference` holds, per used feature, the value an explanation compares against (training
    mean of the imputed input for the logistic model, training median otherwise).
    `calibration` = (slope, intercept, little-giant offset) applied to the raw log-odds: a
    monotone map, so it never changes the order within a tier and keeps attributions additive.
    """

    def __init__(
        self,
        family: Family,
        feature_names: Sequence[str],
        log_features: Sequence[str] = (),
        estimator: Any = None,
        reference: Mapping[str, float] | None = None,
        used_features: Sequence[str] | None = None,
        threads: int = 1,
        calibration: tuple[float, float, float] = (1.0, 0.0, 0.0),
    ) -> None:
        self.family = family
        self.feature_names = list(feature_names)
        self.log_features = list(log_features)
        self.estimator = estimator
        self.reference = dict(reference or {})
        self.used_features = list(used_features if used_features is not None else feature_names)
        self.threads = threads
        self.calibration = calibration
        self.classes_ = np.array([0, 1])

    def _matrix(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> np.ndarray:
        columns = list(columns if columns is not None else self.used_features)
        missing = [c for c in columns if c not in frame]
        if missing:
            raise ValueError(f"features missing from the input: {', '.join(missing)}")
        matrix = frame[columns].to_numpy(dtype="float64", na_value=np.nan).copy()
        for position, name in enumerate(columns):
            if name in self.log_features:
                matrix[:, position] = np.log1p(np.clip(matrix[:, position], 0, None))
        return matrix

    def raw_logit_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Uncalibrated log-odds of a transformed input matrix."""
        with threadpool_limits(limits=self.threads):
            if self.family == "rule_baseline":
                slope, intercept = self.estimator
                return np.asarray(intercept + slope * np.nan_to_num(matrix[:, 0], nan=0.0))
            return np.asarray(self.estimator.decision_function(matrix), dtype="float64")

    def _tier(self, frame: pd.DataFrame) -> np.ndarray:
        if TIER_FLAG in frame:
            return frame[TIER_FLAG].to_numpy(dtype="float64", na_value=0.0)
        return np.zeros(len(frame))

    def calibrated(self, raw: np.ndarray, tier: np.ndarray) -> np.ndarray:
        slope, intercept, offset = self.calibration
        return slope * raw + intercept + offset * tier

    def logit(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibrated(self.raw_logit_matrix(self._matrix(frame)), self._tier(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        positive = _sigmoid(self.logit(frame))
        return np.column_stack([1 - positive, positive])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype("int64")

    def score_rows(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(frame)[:, 1]

    def reference_input(self, name: str) -> float:
        value = self.reference.get(name, np.nan)
        return float(np.log1p(max(value, 0.0))) if name in self.log_features else float(value)


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if weights is None else np.asarray(weights, dtype="float64")


def fit_family(
    family: Family,
    train: pd.DataFrame,
    config: ModelConfig,
    features: Sequence[str] | None = None,
    label: str = "label",
    weights: np.ndarray | None = None,
) -> RankingModel:
    """Fit one family on `train` with the given input features (default: every non-meta
    column) and label column; optional sample weights (the selection correction)."""
    from models.ranking.dataset import feature_columns

    columns = list(features) if features is not None else feature_columns(train)
    labels = train[label].to_numpy(dtype="int64")
    w = _weights(weights, len(train))
    models = config.models
    with threadpool_limits(limits=models.threads):
        if family == "rule_baseline":
            model = RankingModel(family, columns, used_features=[models.baseline_feature])
            model.estimator = _fit_rule_ordering(model._matrix(train), labels, w, config.seed)
        elif family == "logistic":
            model = _fit_logistic(train, columns, labels, w, config)
        elif family == "hist_gbdt":
            used = [c for c in columns if not train[c].isna().all()]
            model = RankingModel(family, columns, models.log_scale_features, used_features=used)
            gbdt = models.hist_gbdt
            model.estimator = HistGradientBoostingClassifier(
                learning_rate=gbdt.learning_rate,
                max_iter=gbdt.max_iter,
                max_leaf_nodes=gbdt.max_leaf_nodes,
                min_samples_leaf=gbdt.min_samples_leaf,
                l2_regularization=gbdt.l2_regularization,
                monotonic_cst=[_direction(name, config) for name in used],
                early_stopping=False,
                random_state=config.seed,
            ).fit(model._matrix(train), labels, sample_weight=w)
        else:  # pragma: no cover - Family is a Literal
            raise ValueError(f"unknown model family {family!r}")
    model.threads = models.threads
    model.reference = _medians(train, model.used_features)
    if family == "logistic":
        model.reference = _logistic_reference(model)
    return model


def _direction(name: str, config: ModelConfig) -> int:
    """+1 for a feature whose increase must never lower the score, -1 for the reverse."""
    if name in config.models.monotonic_increasing:
        return 1
    if name in config.models.monotonic_decreasing:
        return -1
    return 0


def _fit_rule_ordering(
    matrix: np.ndarray, labels: np.ndarray, weights: np.ndarray, seed: int
) -> tuple[float, float]:
    values = np.nan_to_num(matrix[:, :1], nan=0.0)
    if len(np.unique(labels)) < 2:
        rate = float(np.clip(labels.mean(), 1e-6, 1 - 1e-6)) if len(labels) else 0.5
        return _MIN_BASELINE_SLOPE, math.log(rate / (1 - rate))
    fitted = LogisticRegression(random_state=seed).fit(values, labels, sample_weight=weights)
    return max(float(fitted.coef_[0, 0]), _MIN_BASELINE_SLOPE), float(fitted.intercept_[0])


def _fit_logistic(
    train: pd.DataFrame,
    columns: list[str],
    labels: np.ndarray,
    weights: np.ndarray,
    config: ModelConfig,
) -> RankingModel:
    """Impute (median), standardise, logistic regression. A monotone feature whose
    coefficient comes out the wrong way is left out and the model refitted."""
    models = config.models
    used = [c for c in columns if not train[c].isna().all() and train[c].nunique() > 1]
    while True:
        model = RankingModel("logistic", columns, models.log_scale_features, used_features=used)
        pipeline = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median")),
                ("scale", StandardScaler()),
                (
                    "classify",
                    LogisticRegression(
                        C=models.logistic.C,
                        max_iter=models.logistic.max_iter,
                        class_weight=models.logistic.class_weight,
                        random_state=config.seed,
                    ),
                ),
            ]
        )
        model.estimator = pipeline.fit(
            model._matrix(train), labels, classify__sample_weight=weights
        )
        coefficients = dict(zip(used, pipeline.named_steps["classify"].coef_[0], strict=True))
        wrong_way = [f for f, c in coefficients.items() if _direction(f, config) * c < 0]
        if not wrong_way:
            return model
        used = [c for c in used if c not in wrong_way]


def _medians(train: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    medians = train[list(columns)].astype("float64").median(skipna=True)
    return {name: float(medians[name]) for name in columns}


def _logistic_reference(model: RankingModel) -> dict[str, float]:
    """The original-unit value whose standardised input is 0 (the training mean)."""
    scaler = model.estimator.named_steps["scale"]
    reference = {}
    for name, mean in zip(model.used_features, scaler.mean_, strict=True):
        reference[name] = float(np.expm1(mean)) if name in model.log_features else float(mean)
    return reference


def calibrate(
    model: RankingModel, holdout: pd.DataFrame, label: str = "label", seed: int = 0
) -> RankingModel:
    """Platt calibration on a held-out round (as CalibratedClassifierCV(method="sigmoid") on a
    frozen model), with a little-giant offset: the log-odds stay additive, the order within a
    tier stays. Left as is when the held-out round has one class only."""
    labels = holdout[label].to_numpy(dtype="int64")
    if len(np.unique(labels)) < 2:
        return model
    raw = model.raw_logit_matrix(model._matrix(holdout))
    tier = model._tier(holdout)
    columns = [raw, tier] if tier.any() and not tier.all() else [raw]
    fitted = LogisticRegression(C=1.0, random_state=seed).fit(np.column_stack(columns), labels)
    slope = float(fitted.coef_[0, 0])
    if slope <= 0:  # a held-out round that reverses the order is no calibration
        return model
    offset = float(fitted.coef_[0, 1]) if len(columns) == 2 else 0.0
    model.calibration = (slope, float(fitted.intercept_[0]), offset)
    return model


class ScoreModel(BaseEstimator):  # type: ignore[misc]
    """The official evaluation score from the 2022 table's observed points: a ridge regression
    on the per-indicator points (unobserved = 0) and the residual spread of published scores.
    An estimate: it orders and informs, and never decides a1_6 / a2_7 (facts.md §4)."""

    def __init__(self, estimate: EvaluationEstimate, estimator: Any = None, spread: float = 1.0):
        self.estimate = estimate
        self.estimator = estimator
        self.spread = spread

    def _points(self, frame: pd.DataFrame) -> np.ndarray:
        return evaluation_points(frame, self.estimate).fillna(0.0).to_numpy()

    def fit(self, frame: pd.DataFrame, scores: np.ndarray) -> ScoreModel:
        points = self._points(frame)
        self.estimator = Ridge(alpha=1.0).fit(points, scores)
        residual = scores - self.estimator.predict(points)
        self.spread = float(max(np.std(residual), 1.0))
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict(self._points(frame)), dtype="float64")

    def p_pass(self, frame: pd.DataFrame, thresholds: np.ndarray) -> np.ndarray:
        z = (thresholds - self.predict(frame)) / (self.spread * math.sqrt(2.0))
        return 0.5 * (1.0 - np.vectorize(math.erf)(z))


def fit_score_model(examples: pd.DataFrame, estimate: EvaluationEstimate) -> ScoreModel | None:
    """p_score_pass's model from published scores; None when there are too few to learn from."""
    rows = examples.dropna(subset=["official_score"])
    if len(rows) < 20:
        return None
    return ScoreModel(estimate).fit(rows, rows["official_score"].to_numpy(dtype="float64"))


class DiscoveryRanker(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """What a registered version holds: Q, A, the score model and how they make the priority.

    `priority` = Q × (1 − A) (`q_times_not_apply`, the expected number of *additional*
    qualified applications an invitation brings) or Q alone (`q_alone`, and always when A is
    not fitted). `basis` says what Q learned from: `applications` (approved | applied),
    `title_transitions` (no applications table: titles gained within the horizon), or
    `rule_baseline` (the rule ordering, no champion: p_qualify is not estimated).
    """

    def __init__(
        self,
        q: RankingModel | None,
        a: RankingModel | None,
        score_model: ScoreModel | None,
        estimate: EvaluationEstimate,
        thresholds: Mapping[str, float],
        priority: str = "q_times_not_apply",
        basis: Basis = "applications",
        family: str = "",
        selection_correction: str = "none",
        columns: Sequence[str] | None = None,
    ) -> None:
        self.q = q
        self.a = a
        self.score_model = score_model
        self.estimate = estimate
        self.thresholds = dict(thresholds)
        self.priority = priority
        self.basis = basis
        self.family = family or (q.family if q is not None else "rule_baseline")
        self.selection_correction = selection_correction
        self.columns = list(columns) if columns is not None else None  # what training had
        self.classes_ = np.array([0, 1])

    @property
    def feature_names(self) -> list[str]:
        """Every input column the ranker reads (the schema a champion must share)."""
        names: list[str] = []
        for model in (self.q, self.a):
            if model is not None:
                names.extend(model.used_features)
        bands = [band.feature for i in self.estimate.indicators.values() for band in i.bands]
        names.extend(b for b in bands if self.columns is None or b in self.columns)
        names.append(TIER_FLAG)
        return sorted(set(names))

    @property
    def uses_apply_model(self) -> bool:
        return self.a is not None and self.priority == "q_times_not_apply"

    def score_table(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """p_qualify, p_apply, priority, est_score_low/high, p_score_pass per input row."""
        tier = (
            inputs[TIER_FLAG].to_numpy(dtype="float64", na_value=0.0)
            if TIER_FLAG in inputs
            else np.zeros(len(inputs))
        )
        low, high = evaluation_score_bounds(inputs, self.estimate)
        table = pd.DataFrame(index=inputs.index)
        if self.q is None:  # rule baseline without a model: order by the observed points
            table["p_qualify"] = np.nan
            table["p_apply"] = np.nan
            table["priority"] = low.to_numpy() / 100.0
        else:
            table["p_qualify"] = self.q.score_rows(inputs)
            table["p_apply"] = self.a.score_rows(inputs) if self.a is not None else np.nan
            table["priority"] = (
                table["p_qualify"] * (1 - table["p_apply"])
                if self.uses_apply_model
                else table["p_qualify"]
            )
        table["est_score_low"] = low.to_numpy()
        table["est_score_high"] = high.to_numpy()
        if self.score_model is not None:
            lines = np.where(
                tier > 0, self.thresholds["little_giant"], self.thresholds["specialized"]
            )
            table["p_score_pass"] = self.score_model.p_pass(inputs, lines)
        else:
            table["p_score_pass"] = np.nan
        return table

    def score_rows(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.score_table(inputs)["priority"].to_numpy(dtype="float64")

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        priority = self.score_rows(inputs)
        return np.column_stack([1 - priority, priority])

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        return self.score_rows(inputs)


def rule_baseline_ranker(
    estimate: EvaluationEstimate, thresholds: Mapping[str, float]
) -> DiscoveryRanker:
    """No champion yet: order by the 2022 table's observed points (the rule baseline), without
    estimating p_qualify, p_apply or p_score_pass."""
    return DiscoveryRanker(None, None, None, estimate, thresholds, "q_alone", "rule_baseline")


def _available(names: Sequence[str], frame: pd.DataFrame) -> list[str]:
    return [n for n in names if n in frame]


def fit_apply_model(train: pd.DataFrame, config: ModelConfig) -> RankingModel | None:
    """A = P(applies for the tier within 12 months | x) over the candidates of the training
    dates (every feature, history and tier included); None without any application."""
    from models.ranking.dataset import feature_columns

    if "applied" not in train or train["applied"].nunique() < 2:
        return None
    return fit_family("logistic", train, config, feature_columns(train), label="applied")


def fit_applicant_propensity(train: pd.DataFrame, config: ModelConfig) -> RankingModel | None:
    """P(the candidate applies for the tier within 12 months | x) from the features Q reads
    (no application history: not the probability of *re-applying*), for the selection
    correction; None without any application or with the correction off."""
    if config.models.selection_correction == "none":
        return None
    if "applied" not in train or train["applied"].nunique() < 2:
        return None
    features = _available(config.models.qualify_features, train)
    return fit_family("logistic", train, config, features, label="applied")


def selection_weights(
    applications: pd.DataFrame, propensity: RankingModel | None, config: ModelConfig
) -> np.ndarray | None:
    """Inverse propensity of being an applicant, clipped below and normalised to mean 1 (or
    None)."""
    if propensity is None or config.models.selection_correction == "none":
        return None
    p = np.clip(propensity.score_rows(applications), config.models.apply_weight_floor, 1.0)
    weights = 1.0 / p
    return np.asarray(weights / weights.mean())


def _q_rows(
    applications: pd.DataFrame, candidates: pd.DataFrame, config: ModelConfig
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp | None, bool]:
    """(Q's rows on the training dates, the rows it is fitted on, the calibration date, whether
    it learns from applications): what fit_discovery reads."""
    dates = [pd.Timestamp(d) for d in config.training_dates]
    fit_dates, holdout_date = (dates[:-1], dates[-1]) if len(dates) > 1 else (dates, None)
    has_applications = len(applications) > 0 and applications["label"].nunique() == 2
    rows = applications if has_applications else candidates
    rows = rows[rows["as_of"].isin(dates)]
    fit_rows = rows[rows["as_of"].isin(fit_dates)].reset_index(drop=True)
    return rows, fit_rows, holdout_date, has_applications


def too_little_to_learn(
    applications: pd.DataFrame, candidates: pd.DataFrame, config: ModelConfig
) -> str | None:
    """Why Q cannot be learned from these examples (None: it can): its fitting rounds must hold
    both an approval (or a title gained) and a refusal (or none gained)."""
    _, fit_rows, _, has_applications = _q_rows(applications, candidates, config)
    what = "applications" if has_applications else "candidates (title transitions)"
    if fit_rows.empty or fit_rows["label"].nunique() < 2:
        positives = int(fit_rows["label"].sum()) if len(fit_rows) else 0
        return (
            f"the rounds Q is fitted on hold {len(fit_rows)} {what} with {positives} "
            "positive(s): both outcomes are needed to learn"
        )
    return None


def fit_discovery(
    family: Family,
    applications: pd.DataFrame,
    candidates: pd.DataFrame,
    config: ModelConfig,
    thresholds: Mapping[str, float],
    apply_model: RankingModel | None,
    score_model: ScoreModel | None,
    propensity: RankingModel | None = None,
) -> DiscoveryRanker:
    """Q of one family, calibrated on the last training date, with A and the score model.
    `propensity` (fit_applicant_propensity): weight the applications by it (the selection
    correction), else unweighted.

    With applications: Q learns approved | applied on the rounds before the last training
    date (weighted by the selection correction) and is calibrated on the last one. Without:
    Q learns the title transitions of the candidates (a title within the horizon), A is not
    fitted and priority = Q. The rule baseline always orders by Q alone."""
    rows, fit_rows, holdout_date, has_applications = _q_rows(applications, candidates, config)
    features = _available(config.models.qualify_features, rows)
    a = apply_model if has_applications else None
    weights = selection_weights(fit_rows, propensity, config) if has_applications else None
    q = fit_family(family, fit_rows, config, features, weights=weights)
    if holdout_date is not None:
        q = calibrate(
            q, rows[rows["as_of"] == holdout_date].reset_index(drop=True), seed=config.seed
        )
    return DiscoveryRanker(
        q,
        a,
        score_model,
        config.features.evaluation_estimate,
        thresholds,
        priority="q_alone" if family == "rule_baseline" else config.models.priority,
        basis="applications" if has_applications else "title_transitions",
        family=family,
        selection_correction=(
            config.models.selection_correction if weights is not None else "none"
        ),
        columns=list(candidates.columns),
    )
