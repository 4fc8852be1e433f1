"""Examples and labels for the ranking models (pure functions, no I/O).

Every example's features are those of `features_as_published` on its date (the one definition
of "the data as published on D", features/point_in_time.py); labels come from later rows.

- candidates (`examples_for_date`): the discovery candidates of a past date, with the old label
  (the tier's title certified within the horizon) and `applied` (applied for the tier within
  the horizon: the label of model A);
- applications (`application_examples`): each round's applications with their outcome — the
  label of model Q = P(approved | applies, x);
- published scores (`score_examples`): every score the platform published in a round's year,
  with that round's features — what `p_score_pass` learns from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.firm_features import build_features
from features.point_in_time import applications_known_on, point_in_time
from features.sources import SourceData
from models.ranking_config import LabelConfig, ModelConfig

TIERS = ("specialized", "little_giant")
CANDIDATE_OUTCOMES = ("eligible", "to_verify")
# Identify an example; everything else in an examples frame is a model input.
META_COLUMNS = (
    "as_of",
    "credit_code",
    "tier",
    "province",
    "outcome",
    "label",
    "applied",
    "applied_before",
)
GROUP_COLUMNS = ("as_of", "tier", "province")
TIER_FLAG = "tier_little_giant"


def features_as_published(data: SourceData, as_of: date, config: ModelConfig) -> pd.DataFrame:
    """Features of every firm from the data as published on as_of (both flows call this)."""
    seen = point_in_time(data, as_of, live=False, round_day=round_of(config))
    return build_features(seen, as_of, config.features)


def round_of(config: ModelConfig) -> tuple[int, int]:
    """(month, day) each year's round is decided on (configs/model.yaml labels)."""
    return config.labels.application_month, config.labels.application_day


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


def _pairs_in(
    frame: pd.DataFrame, tiers: pd.Series, codes: pd.Series, labels: LabelConfig
) -> np.ndarray:
    pairs = set(zip(frame["credit_code"], frame["title"], strict=True))
    titles = tiers.map(labels.titles)
    return np.array(
        [(code, title) in pairs for code, title in zip(codes, titles, strict=True)], dtype="int64"
    )


def _decided_on(applications: pd.DataFrame, labels: LabelConfig) -> pd.Series:
    return pd.to_datetime(
        {
            "year": applications["year"].astype("int64"),
            "month": labels.application_month,
            "day": labels.application_day,
        }
    )


def _window(as_of: date, labels: LabelConfig) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(as_of)
    return start, start + pd.DateOffset(months=labels.horizon_months)


def certified_within(
    data: SourceData, as_of: date, tiers: pd.Series, codes: pd.Series, labels: LabelConfig
) -> np.ndarray:
    """1 where the firm got the tier's title in (as_of, as_of + horizon]: from certifications,
    or, without that table, from approved applications dated on the yearly decision day."""
    start, end = _window(as_of, labels)
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
        decided = _decided_on(approved, labels)
        granted = approved[(decided > start) & (decided <= end)][["credit_code", "title"]]
    return _pairs_in(granted, tiers, codes, labels)


def applied_within(
    data: SourceData, as_of: date, tiers: pd.Series, codes: pd.Series, labels: LabelConfig
) -> np.ndarray:
    """1 where the firm applied for the tier in a round decided in (as_of, as_of + horizon]
    (the label of model A); all 0 without an applications table."""
    applications = data.get("applications")
    if applications is None or applications.empty:
        return np.zeros(len(codes), dtype="int64")
    start, end = _window(as_of, labels)
    decided = _decided_on(applications, labels)
    rows = applications[(decided > start) & (decided <= end)][["credit_code", "title"]]
    return _pairs_in(rows, tiers, codes, labels)


def applied_by(
    data: SourceData, as_of: date, tiers: pd.Series, codes: pd.Series, config: ModelConfig
) -> np.ndarray:
    """1 where an application of the firm for the tier was known on as_of (this round's
    included): the province knows the firm, so it is no discovery (the never-applied pool)."""
    applications = data.get("applications")
    if applications is None or applications.empty:
        return np.zeros(len(codes), dtype="int64")
    known = applications_known_on(applications, as_of, round_of(config))
    return _pairs_in(known, tiers, codes, config.labels)


def model_inputs(features: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """Per candidate row: the firm's features plus the tier flag (which model Q never reads:
    it only sets Q's calibration per tier; model A reads it)."""
    rows = features.reindex(candidates["credit_code"].to_numpy())
    rows = rows.assign(
        **{TIER_FLAG: (candidates["tier"].to_numpy() == "little_giant").astype("float64")}
    )
    return rows.reset_index(drop=True)


def _province(data: SourceData, codes: pd.Series, config: ModelConfig) -> np.ndarray:
    firms = data.tables["firms"].drop_duplicates("credit_code").set_index("credit_code")
    return (
        firms["region_code"]
        .reindex(codes)
        .astype("str")
        .str[: config.evaluation.province_digits]
        .fillna("")
        .to_numpy()
    )


def examples_for_date(
    data: SourceData,
    as_of: date,
    criteria: pd.DataFrame,
    config: ModelConfig,
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The candidates of one evaluation date with features (as published on as_of) and labels
    (after): `label` = certified within the horizon, `applied` = applied within it."""
    candidates = candidate_rows(criteria)
    if features is None:
        features = features_as_published(data, as_of, config)
    codes, tiers = candidates["credit_code"], candidates["tier"]
    examples = pd.DataFrame(
        {
            "as_of": pd.Timestamp(as_of),
            "credit_code": codes.to_numpy(),
            "tier": tiers.to_numpy(),
            "province": _province(data, codes, config),
            "outcome": candidates["outcome"].to_numpy(),
            "label": certified_within(data, as_of, tiers, codes, config.labels),
            "applied": applied_within(data, as_of, tiers, codes, config.labels),
            "applied_before": applied_by(data, as_of, tiers, codes, config),
        }
    )
    inputs = model_inputs(features, candidates)
    return pd.concat([examples, inputs.reset_index(drop=True)], axis=1)


def application_examples(
    data: SourceData, as_of: date, features: pd.DataFrame, config: ModelConfig
) -> pd.DataFrame:
    """The applications of the round decided on as_of (withdrawn ones left out), with the
    features as published on as_of and `label` = approved. Empty without applications."""
    applications = data.get("applications")
    columns = list(META_COLUMNS)
    if applications is None or applications.empty:
        return pd.DataFrame(columns=columns)
    tier_of = {title: tier for tier, title in config.labels.titles.items()}
    decided = _decided_on(applications, config.labels)
    rows = applications[
        (decided == pd.Timestamp(as_of))
        & applications["outcome"].isin(["approved", "rejected"])
        & applications["title"].isin(list(tier_of))
    ]
    rows = rows.drop_duplicates(["credit_code", "title"])
    candidates = pd.DataFrame(
        {"credit_code": rows["credit_code"].astype("str"), "tier": rows["title"].map(tier_of)}
    ).reset_index(drop=True)
    examples = pd.DataFrame(
        {
            "as_of": pd.Timestamp(as_of),
            "credit_code": candidates["credit_code"].to_numpy(),
            "tier": candidates["tier"].to_numpy(),
            "province": _province(data, candidates["credit_code"], config),
            "outcome": "applied",
            "label": (rows["outcome"] == "approved").astype("int64").to_numpy(),
            "applied": 1,
            "applied_before": 1,
        }
    )
    return pd.concat([examples, model_inputs(features, candidates)], axis=1)


def score_examples(data: SourceData, as_of: date, features: pd.DataFrame) -> pd.DataFrame:
    """Scores the platform published for as_of's year (applicants and title holders, every
    year), with the features as published on as_of: what p_score_pass learns from."""
    scores = data.get("evaluation_scores")
    if scores is None or scores.empty:
        return pd.DataFrame(columns=["credit_code", "official_score"])
    rows = scores[scores["year"].astype("float64") == as_of.year]
    rows = rows.sort_values("score").drop_duplicates("credit_code", keep="last")
    frame = features.reindex(rows["credit_code"].to_numpy()).reset_index(drop=True)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "credit_code": rows["credit_code"].astype("str").to_numpy(),
                    "official_score": rows["score"].astype("float64").to_numpy(),
                }
            ),
            frame,
        ],
        axis=1,
    )


@dataclass(frozen=True)
class TrainingSet:
    """Everything training reads, per kind of example (each with an `as_of` column)."""

    candidates: pd.DataFrame
    applications: pd.DataFrame
    scores: pd.DataFrame


def build_training_set(
    data: SourceData, criteria_by_date: Mapping[date, pd.DataFrame], config: ModelConfig
) -> TrainingSet:
    """Examples of every configured training and validation date (criteria given per date)."""
    dates = [*config.training_dates, *config.validation_dates]
    missing = [d for d in dates if d not in criteria_by_date]
    if missing:
        raise ValueError(f"no criteria output for {', '.join(map(str, missing))}")
    candidates, applications, scores = [], [], []
    for day in dates:
        features = features_as_published(data, day, config)
        candidates.append(examples_for_date(data, day, criteria_by_date[day], config, features))
        applications.append(application_examples(data, day, features, config))
        scores.append(score_examples(data, day, features).assign(as_of=pd.Timestamp(day)))
    return TrainingSet(
        candidates=pd.concat(candidates, ignore_index=True),
        applications=pd.concat(
            [a for a in applications if len(a)] or [applications[0]], ignore_index=True
        ),
        scores=pd.concat(scores, ignore_index=True),
    )


def split_by_date(examples: pd.DataFrame, config: ModelConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training examples, validation examples) by the configured dates."""
    as_of = examples["as_of"]
    train = examples[as_of.isin([pd.Timestamp(d) for d in config.training_dates])]
    valid = examples[as_of.isin([pd.Timestamp(d) for d in config.validation_dates])]
    return train.reset_index(drop=True), valid.reset_index(drop=True)


def feature_columns(examples: pd.DataFrame) -> list[str]:
    """The model inputs of an examples frame (every column that is not metadata)."""
    return [c for c in examples.columns if c not in (*META_COLUMNS, "official_score")]


def replay_criteria(
    data: SourceData, dates: Sequence[date], criteria_config: Any
) -> dict[date, pd.DataFrame]:
    """The criteria engine's output on each past date, run on the data as published then."""
    from models.criteria import evaluate_criteria

    return {
        d: evaluate_criteria(point_in_time(data, d, live=False), d, criteria_config) for d in dates
    }
