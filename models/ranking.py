"""Ranking the candidates the criteria engine lets through (pure functions, no I/O).

The model only orders firms that are `eligible` or `to_verify`; it never overrides the hard
filter. Steps, each a pure function a flow can call:

1. `examples_for_date`: candidates on one past evaluation date with their point-in-time
   features and label (the tier's title certified within the horizon after the date);
   `build_training_set` stacks several dates.
2. `split_by_date`: temporal validation (validation dates are later than training dates).
3. `fit_family`: the rule-ordering baseline, logistic regression or gradient boosting.
4. `evaluate`: precision@k / recall@k per province and tier, AP, ROC AUC, Brier, calibration.
5. `score_candidates`: probability and faithful Chinese reasons for a discovery run.
6. `discovery_recall_at_k`: share of the generator's hidden champions in the top k.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from features.firm_features import build_features, describe_value, feature_label
from features.sources import SourceData
from models.ranking_config import Family, LabelConfig, ModelConfig

TIERS = ("specialized", "little_giant")
CANDIDATE_OUTCOMES = ("eligible", "to_verify")
# Identify an example; everything else in an examples frame is a model input.
META_COLUMNS = ("as_of", "credit_code", "tier", "province", "outcome", "label")
GROUP_COLUMNS = ("as_of", "tier", "province")
METRIC_NAMES = (
    "val_precision_at_k",
    "val_recall_at_k",
    "val_average_precision",
    "val_roc_auc",
    "val_brier",
)
DIRECTION_TEXT = {1: "提高", -1: "降低"}
# The baseline's calibration slope is kept positive so it never reverses the rule ordering.
_MIN_BASELINE_SLOPE = 1e-9


# --- 1. examples ----------------------------------------------------------------------------

# Dated rows: a row exists on as_of only when this date is on or before it.
_ROW_DATES = {
    "name_history": "changed_on",
    "ip_rights": "granted_on",
    "investments": "paid_in_on",
    "rd_institutions": "recognized_on",
    "certifications": "certified_on",
    "credit_events": "occurred_on",
}
# Yearly rows: a row exists on as_of when its year is at most this offset from as_of's year.
_ROW_YEARS = {
    "financials": ("fiscal_year", -1),
    "awards": ("year", 0),
    "talent": ("year", 0),
    "supply_chain": ("year", 0),
    "evaluation_scores": ("year", 0),
    "applications": ("year", 0),
}


def point_in_time(data: SourceData, as_of: date, declared_products: bool = True) -> SourceData:
    """The data as it stood on `as_of`, for replaying the criteria on a past date.

    A data set is a snapshot: rows dated later exist, and state columns (a title's `status`,
    an event's `resolved_on`) tell today's state. This drops rows dated after as_of and restates
    what their dates allow: a title's status from certified/expires/revoked dates, later
    revocations, lifted bans and resolutions undone. Rows of the as_of day itself are kept (the
    criteria read "valid on as_of"); features never read them (they use strictly earlier data).
    Firm status and IP status have no dates and stay as they are.

    `products` are self-declared, mostly when a firm applies, and carry no declaration date:
    on a past date they would reveal who applies later. `declared_products=False` hides them
    (the criteria that need them become `unknown`, as for a firm that has declared nothing).
    """
    day = pd.Timestamp(as_of)
    tables = dict(data.tables)
    if not declared_products:
        tables.pop("products", None)
    for table, column in _ROW_DATES.items():
        if table in tables:
            frame = tables[table]
            tables[table] = frame[~(frame[column] > day).fillna(False).astype(bool)]
    for table, (column, offset) in _ROW_YEARS.items():
        if table in tables:
            frame = tables[table]
            year = frame[column].astype("float64")
            tables[table] = frame[~(year > as_of.year + offset).fillna(False).astype(bool)]
    if "certifications" in tables:
        tables["certifications"] = _certifications_on(tables["certifications"], day)
    if "credit_events" in tables and "resolved_on" in tables["credit_events"]:
        events = tables["credit_events"].copy()
        events.loc[events["resolved_on"] > day, "resolved_on"] = pd.NaT
        tables["credit_events"] = events
    return SourceData(tables=tables, rejects=data.rejects, coverage=data.coverage)


def _certifications_on(certifications: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    frame = certifications.copy()
    for column in ("revoked_on", "ban_lifted_on"):
        if column in frame:
            frame.loc[frame[column] > day, column] = pd.NaT
    revoked = (
        frame["revoked_on"].notna()
        if "revoked_on" in frame
        else pd.Series(False, index=frame.index)
    )
    if "revoke_reason" in frame:
        frame.loc[~revoked, "revoke_reason"] = pd.NA
    status = np.where(revoked, "revoked", np.where(frame["expires_on"] >= day, "valid", "expired"))
    frame["status"] = pd.array(status, dtype="str")
    return frame


def candidate_rows(criteria: pd.DataFrame) -> pd.DataFrame:
    """Discovery candidates from the criteria output: credit_code, tier, outcome and the number
    of criteria still `unknown` (what an official would have to verify)."""
    # Compare the (categorical) columns before converting: the criteria frame is large.
    discovery = criteria["mode"] == "discovery"
    is_outcome = criteria["criterion"] == "outcome"
    chosen = discovery & is_outcome & criteria["verdict"].isin(CANDIDATE_OUTCOMES)
    candidates = (
        criteria.loc[chosen, ["credit_code", "tier", "verdict"]]
        .astype("str")
        .rename(columns={"verdict": "outcome"})
    )
    open_rules = (
        discovery
        & ~is_outcome
        & (criteria["verdict"] == "unknown")
        & criteria["credit_code"].isin(candidates["credit_code"].unique())
    )
    rules = criteria.loc[open_rules, ["credit_code", "tier"]].astype("str")
    unknown = rules.groupby(["credit_code", "tier"]).size()
    keys = pd.MultiIndex.from_frame(candidates[["credit_code", "tier"]])
    candidates["unknown_criteria_count"] = (
        unknown.reindex(keys).fillna(0).astype("float64").to_numpy()
    )
    return candidates.reset_index(drop=True)


def certified_within(
    data: SourceData, as_of: date, tiers: pd.Series, codes: pd.Series, labels: LabelConfig
) -> np.ndarray:
    """1 where the firm got the tier's title in (as_of, as_of + horizon]: from certifications,
    or, without that table, from approved applications dated on the yearly decision day."""
    start = pd.Timestamp(as_of)
    end = start + pd.DateOffset(months=labels.horizon_months)
    certifications = data.get("certifications")
    if certifications is not None:
        granted = certifications[
            (certifications["certified_on"] > start) & (certifications["certified_on"] <= end)
        ][["credit_code", "title"]]
    else:
        applications = data.get("applications")
        if applications is None:
            raise ValueError("labels need a certifications or an applications table")
        approved = applications[applications["outcome"] == "approved"]
        decided = pd.to_datetime(
            {
                "year": approved["year"].astype("int64"),
                "month": labels.application_month,
                "day": labels.application_day,
            }
        )
        granted = approved[(decided > start) & (decided <= end)][["credit_code", "title"]]
    pairs = set(zip(granted["credit_code"], granted["title"], strict=True))
    titles = tiers.map(labels.titles)
    return np.array(
        [(code, title) in pairs for code, title in zip(codes, titles, strict=True)], dtype="int64"
    )


def examples_for_date(
    data: SourceData, as_of: date, criteria: pd.DataFrame, config: ModelConfig
) -> pd.DataFrame:
    """The candidates of one evaluation date with features (before as_of) and label (after)."""
    candidates = candidate_rows(criteria)
    features = build_features(data, as_of, config.features)
    firms = data.tables["firms"].set_index("credit_code")
    province = (
        firms["region_code"]
        .reindex(candidates["credit_code"])
        .astype("str")
        .str[: config.evaluation.province_digits]
        .fillna("")
    )
    examples = pd.DataFrame(
        {
            "as_of": pd.Timestamp(as_of),
            "credit_code": candidates["credit_code"].to_numpy(),
            "tier": candidates["tier"].to_numpy(),
            "province": province.to_numpy(),
            "outcome": candidates["outcome"].to_numpy(),
            "label": certified_within(
                data, as_of, candidates["tier"], candidates["credit_code"], config.labels
            ),
        }
    )
    inputs = model_inputs(features, candidates)
    return pd.concat([examples, inputs.reset_index(drop=True)], axis=1)


def model_inputs(features: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Per candidate row: the firm's features plus the tier.

    The number of `unknown` criteria is not an input: it depends on self-declared products,
    whose presence on past dates reveals later applications (see point_in_time)."""
    rows = features.reindex(candidates["credit_code"].to_numpy())
    rows = rows.assign(
        tier_little_giant=(candidates["tier"].to_numpy() == "little_giant").astype("float64")
    )
    return rows.reset_index(drop=True)


def build_training_set(
    data: SourceData, criteria_by_date: Mapping[date, pd.DataFrame], config: ModelConfig
) -> pd.DataFrame:
    """Examples of every configured training and validation date (criteria given per date)."""
    dates = [*config.training_dates, *config.validation_dates]
    missing = [d for d in dates if d not in criteria_by_date]
    if missing:
        raise ValueError(f"no criteria output for {', '.join(map(str, missing))}")
    frames = [examples_for_date(data, d, criteria_by_date[d], config) for d in dates]
    return pd.concat(frames, ignore_index=True)


def split_by_date(examples: pd.DataFrame, config: ModelConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training examples, validation examples) by the configured dates."""
    as_of = examples["as_of"]
    train = examples[as_of.isin([pd.Timestamp(d) for d in config.training_dates])]
    valid = examples[as_of.isin([pd.Timestamp(d) for d in config.validation_dates])]
    return train.reset_index(drop=True), valid.reset_index(drop=True)


def feature_columns(examples: pd.DataFrame) -> list[str]:
    """The model inputs of an examples frame (every column that is not metadata)."""
    return [c for c in examples.columns if c not in META_COLUMNS]


# --- 2. models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """One factor behind a score: the feature, its value and which way it moves the score."""

    feature: str
    value: float
    direction: int  # +1 raises the score, -1 lowers it
    contribution: float  # log-odds (logistic) or probability (occlusion) units

    @property
    def text(self) -> str:
        return (
            f"{feature_label(self.feature)}{describe_value(self.feature, self.value)}"
            f"（{DIRECTION_TEXT[self.direction]}）"
        )


class RankingModel(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """A fitted ranker of one family: probabilities for candidate rows, with faithful reasons.

    `reference` holds, per feature, the value an explanation compares against (training
    median, or the training mean of the standardised input for the logistic model). A reason
    says the firm's own value, compared with the reference, moves the score in `direction`.
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
    ) -> None:
        self.family = family
        self.feature_names = list(feature_names)
        self.log_features = list(log_features)
        self.estimator = estimator
        self.reference = dict(reference or {})
        self.used_features = list(used_features if used_features is not None else feature_names)
        self.threads = threads
        self.classes_ = np.array([0, 1])

    # inputs ---------------------------------------------------------------------------------
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

    # scores ---------------------------------------------------------------------------------
    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        positive = self._positive(self._matrix(frame))
        return np.column_stack([1 - positive, positive])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype("int64")

    def score_rows(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the tier's title within the horizon, per row."""
        return self.predict_proba(frame)[:, 1]

    def _positive(self, matrix: np.ndarray) -> np.ndarray:
        with threadpool_limits(limits=self.threads):
            return np.asarray(self.estimator.predict_proba(matrix)[:, 1], dtype="float64")

    # explanations ---------------------------------------------------------------------------
    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row and used feature: how much the firm's value moves the score from reference.

        Logistic: coefficient × standardised value (exact in log-odds: the logit is the
        intercept plus their sum). Others: occlusion, score(x) − score(x with that feature set
        to its reference), in probability.
        """
        matrix = self._matrix(frame)
        if self.family == "logistic":
            imputer, scaler, classifier = (self.estimator.named_steps[s] for s in _LOGISTIC_STEPS)
            standardised = scaler.transform(imputer.transform(matrix))
            values = standardised * classifier.coef_[0]
        else:
            base = self._positive(matrix)
            values = np.zeros_like(matrix)
            for position, name in enumerate(self.used_features):
                occluded = matrix.copy()
                occluded[:, position] = self._reference_input(name)
                values[:, position] = base - self._positive(occluded)
        return pd.DataFrame(values, columns=self.used_features, index=frame.index)

    def _reference_input(self, name: str) -> float:
        value = self.reference.get(name, np.nan)
        return float(np.log1p(max(value, 0.0))) if name in self.log_features else float(value)

    def explain(
        self, frame: pd.DataFrame, top_n: int, min_abs_contribution: float = 0.0
    ) -> list[list[Reason]]:
        """Each row's strongest reasons, largest |contribution| first."""
        contributions = self.contributions(frame)
        values = frame[self.used_features].to_numpy(dtype="float64", na_value=np.nan)
        result: list[list[Reason]] = []
        names = np.array(self.used_features)
        for row in range(len(frame)):
            row_values = contributions.to_numpy()[row]
            order = np.argsort(-np.abs(row_values), kind="stable")[:top_n]
            result.append(
                [
                    Reason(
                        feature=str(names[i]),
                        value=float(values[row, i]),
                        direction=1 if row_values[i] > 0 else -1,
                        contribution=float(row_values[i]),
                    )
                    for i in order
                    if abs(row_values[i]) > min_abs_contribution
                ]
            )
        return result


_LOGISTIC_STEPS = ("impute", "scale", "classify")


class _RuleOrdering:
    """The rule-ordering baseline: sort by one feature (the estimated evaluation score), with a
    monotone logistic calibration so its probabilities can be scored too."""

    def __init__(self, slope: float, intercept: float) -> None:
        self.slope = slope
        self.intercept = intercept

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        values = np.nan_to_num(matrix[:, 0], nan=0.0)
        positive = 1.0 / (1.0 + np.exp(-(self.intercept + self.slope * values)))
        return np.column_stack([1 - positive, positive])


def fit_family(family: Family, train: pd.DataFrame, config: ModelConfig) -> RankingModel:
    """Fit one model family on training examples."""
    with threadpool_limits(limits=config.models.threads):
        model = _fit(family, train, config)
    model.threads = config.models.threads
    model.reference = _medians(train, model.used_features)
    if family == "logistic":
        model.reference = _logistic_reference(model)
    return model


def _fit(family: Family, train: pd.DataFrame, config: ModelConfig) -> RankingModel:
    columns = feature_columns(train)
    labels = train["label"].to_numpy(dtype="int64")
    models = config.models
    if family == "rule_baseline":
        model = RankingModel(family, columns, used_features=[models.baseline_feature])
        model.estimator = _fit_rule_ordering(model._matrix(train), labels, config.seed)
    elif family == "logistic":
        model = _fit_logistic(train, columns, labels, config)
    elif family == "hist_gbdt":
        used = [c for c in columns if not train[c].isna().all()]
        model = RankingModel(family, columns, models.log_scale_features, used_features=used)
        constraints = [1 if name in models.monotonic_increasing else 0 for name in used]
        gbdt = models.hist_gbdt
        model.estimator = HistGradientBoostingClassifier(
            learning_rate=gbdt.learning_rate,
            max_iter=gbdt.max_iter,
            max_leaf_nodes=gbdt.max_leaf_nodes,
            min_samples_leaf=gbdt.min_samples_leaf,
            l2_regularization=gbdt.l2_regularization,
            monotonic_cst=constraints,
            early_stopping=False,
            random_state=config.seed,
        ).fit(model._matrix(train), labels)
    else:  # pragma: no cover - Family is a Literal
        raise ValueError(f"unknown model family {family!r}")
    return model


def _fit_rule_ordering(matrix: np.ndarray, labels: np.ndarray, seed: int) -> _RuleOrdering:
    values = np.nan_to_num(matrix[:, :1], nan=0.0)
    if len(np.unique(labels)) < 2:
        rate = float(np.clip(labels.mean(), 1e-6, 1 - 1e-6)) if len(labels) else 0.5
        return _RuleOrdering(_MIN_BASELINE_SLOPE, math.log(rate / (1 - rate)))
    fitted = LogisticRegression(random_state=seed).fit(values, labels)
    slope = float(fitted.coef_[0, 0])
    return _RuleOrdering(max(slope, _MIN_BASELINE_SLOPE), float(fitted.intercept_[0]))


def _fit_logistic(
    train: pd.DataFrame, columns: list[str], labels: np.ndarray, config: ModelConfig
) -> RankingModel:
    """Impute (median), standardise, logistic regression. A feature that must never lower the
    score but gets a negative coefficient is left out and the model refitted."""
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
        model.estimator = pipeline.fit(model._matrix(train), labels)
        coefficients = dict(zip(used, pipeline.named_steps["classify"].coef_[0], strict=True))
        wrong_way = [f for f in models.monotonic_increasing if coefficients.get(f, 0.0) < 0]
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


# --- 3. evaluation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """Validation metrics of one model, per province, and its calibration curve."""

    metrics: dict[str, float]
    per_province: pd.DataFrame
    calibration: pd.DataFrame
    scored: pd.DataFrame = field(repr=False)


def rank_within_groups(scored: pd.DataFrame, groups: Sequence[str] = GROUP_COLUMNS) -> pd.Series:
    """1-based rank by score within each group (ties broken by credit code, deterministic)."""
    ordered = scored.sort_values(
        [*groups, "score", "credit_code"],
        ascending=[True] * len(groups) + [False, True],
        kind="stable",
    )
    ranks = ordered.groupby(list(groups), observed=True).cumcount() + 1
    return ranks.reindex(scored.index)


def precision_recall_at_k(
    scored: pd.DataFrame, k: int, groups: Sequence[str] = GROUP_COLUMNS
) -> tuple[float, float]:
    """Pooled over groups (province × tier × date): hits in each group's top k over the number
    of invitations sent (min(k, group size)), and over all positives."""
    if scored.empty:
        return float("nan"), float("nan")
    top = rank_within_groups(scored, groups) <= k
    hits = float(scored.loc[top, "label"].sum())
    invited = float(top.sum())
    positives = float(scored["label"].sum())
    precision = hits / invited if invited else float("nan")
    recall = hits / positives if positives else float("nan")
    return precision, recall


def _metrics(scored: pd.DataFrame, k: int) -> dict[str, float]:
    precision, recall = precision_recall_at_k(scored, k)
    labels, scores = scored["label"].to_numpy(), scored["score"].to_numpy()
    two_classes = len(np.unique(labels)) == 2
    return {
        "val_precision_at_k": precision,
        "val_recall_at_k": recall,
        "val_average_precision": (
            float(average_precision_score(labels, scores)) if two_classes else float("nan")
        ),
        "val_roc_auc": float(roc_auc_score(labels, scores)) if two_classes else float("nan"),
        "val_brier": float(brier_score_loss(labels, scores)) if len(labels) else float("nan"),
    }


def evaluate(model: RankingModel, valid: pd.DataFrame, config: ModelConfig) -> Evaluation:
    """Validation metrics (contract names), per-province metrics and the calibration curve."""
    k = config.evaluation.k
    scored = valid[list(META_COLUMNS)].assign(score=model.score_rows(valid))
    metrics = _metrics(scored, k)
    rows = []
    for province, part in scored.groupby("province", sort=True):
        rows.append(
            {"province": province, "candidates": len(part), "positives": int(part["label"].sum())}
            | _metrics(part, k)
        )
    per_province = pd.DataFrame(rows)
    calibration = pd.DataFrame(columns=["mean_predicted", "fraction_positive"])
    if len(np.unique(scored["label"])) == 2:
        fraction, predicted = calibration_curve(
            scored["label"],
            scored["score"],
            n_bins=config.evaluation.calibration_bins,
            strategy="quantile",
        )
        calibration = pd.DataFrame({"mean_predicted": predicted, "fraction_positive": fraction})
    return Evaluation(metrics, per_province, calibration, scored)


def calibration_figure(curves: Mapping[str, pd.DataFrame]) -> Any:
    """A reliability diagram (matplotlib Figure, Agg backend) with one curve per model."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 5))
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    for name, curve in curves.items():
        axes.plot(curve["mean_predicted"], curve["fraction_positive"], marker="o", label=name)
    axes.set_xlabel("mean predicted probability")
    axes.set_ylabel("fraction certified within the horizon")
    axes.set_title("Calibration on validation dates")
    axes.legend(loc="upper left")
    return figure


# --- 4. discovery ---------------------------------------------------------------------------


def score_candidates(
    model: RankingModel,
    features: pd.DataFrame,
    criteria: pd.DataFrame,
    top_reasons: int,
    min_abs_contribution: float = 0.0,
) -> pd.DataFrame:
    """Score every discovery candidate (eligible / to_verify) of a criteria run.

    `features` is build_features' frame for the same as_of. Returns credit_code, tier, score
    (probability of the title within the horizon) and reasons (Chinese, strongest first),
    sorted by tier then score.
    """
    candidates = candidate_rows(criteria)
    columns = ["credit_code", "tier", "score", "reasons"]
    if candidates.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="float64" if c == "score" else "str") for c in columns}
        )
    inputs = model_inputs(features, candidates)
    reasons = model.explain(inputs, top_reasons, min_abs_contribution)
    result = pd.DataFrame(
        {
            "credit_code": candidates["credit_code"].to_numpy(),
            "tier": candidates["tier"].to_numpy(),
            "score": model.score_rows(inputs),
            "reasons": ["；".join(reason.text for reason in row) for row in reasons],
        }
    )
    result = result.astype({"credit_code": "str", "tier": "str", "reasons": "str"})
    return result.sort_values(
        ["tier", "score", "credit_code"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)


def discovery_recall_at_k(
    scored: pd.DataFrame, firms: pd.DataFrame, truth: pd.DataFrame, config: ModelConfig
) -> float:
    """Share of hidden champions (truth: credit_code, tier of qualified firms that never applied
    for it) that appear in their province's top k for that tier. Evaluation only: the truth
    frame comes from the generator and is never read by the pipeline."""
    if truth.empty:
        return float("nan")
    province = (
        firms.set_index("credit_code")["region_code"]
        .astype("str")
        .str[: config.evaluation.province_digits]
    )
    ranked = scored.assign(province=province.reindex(scored["credit_code"]).to_numpy())
    top = rank_within_groups(ranked, ("tier", "province")) <= config.evaluation.k
    invited = set(zip(ranked.loc[top, "credit_code"], ranked.loc[top, "tier"], strict=True))
    wanted = list(zip(truth["credit_code"], truth["tier"], strict=True))
    return sum(pair in invited for pair in wanted) / len(wanted)


def evaluation_table(evaluations: Mapping[str, Evaluation]) -> pd.DataFrame:
    """One row per family with the contract metric names (for printing and comparison)."""
    return pd.DataFrame(
        [{"model_family": family} | ev.metrics for family, ev in evaluations.items()]
    )


def replay_criteria(
    data: SourceData, dates: Sequence[date], criteria_config: Any, declared_products: bool
) -> dict[date, pd.DataFrame]:
    """The criteria engine's output on each past date, run on the data as it stood then
    (see point_in_time for `declared_products`)."""
    from models.criteria import evaluate_criteria

    return {
        d: evaluate_criteria(point_in_time(data, d, declared_products), d, criteria_config)
        for d in dates
    }
