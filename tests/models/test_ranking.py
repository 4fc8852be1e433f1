"""Ranking for discovery: examples and labels, models Q and A, behavioural tests (monotone in
the criterion-tied features, invariance), additive and faithful reasons with the deletion test,
discovery metrics with bootstrap intervals, the paired-bootstrap champion gate, MLflow."""

from __future__ import annotations

import datetime as dt
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import ConfigError
from core.run_layout import PRIORITY_COLUMNS
from features.firm_features import build_features
from features.sources import SourceData
from models.ranking import (
    META_COLUMNS,
    METRIC_NAMES,
    TIER_FLAG,
    DiscoveryRanker,
    Reason,
    application_examples,
    applied_within,
    candidate_rows,
    certified_within,
    contributions,
    deletion_test,
    discovery_recall_at_k,
    evaluate,
    examples_for_date,
    explain,
    feature_columns,
    fit_apply_model,
    fit_discovery,
    fit_score_model,
    paired_gate,
    precision_recall_at_k,
    rule_baseline_ranker,
    score_candidates,
    split_by_date,
)
from models.ranking_config import ModelConfig, load_model_config
from tests.features.ranking_frames import (
    AS_OF,
    CODE_A,
    CODE_B,
    CODE_C,
    LEADER,
    base_source,
    firm,
    make_source,
    ts,
    with_rows,
)

FAMILIES = ("rule_baseline", "logistic", "hist_gbdt")
TRAIN_DATES = (date(2020, 6, 30), date(2021, 6, 30), date(2022, 6, 30))
VALID_DATE = date(2023, 6, 30)
THRESHOLDS = {"specialized": 50.0, "little_giant": 60.0}
# Features Q must never read (application history, the tier, whether a score exists).
NOT_QUALIFYING = (
    "past_applications",
    "past_rejections",
    "years_since_last_application",
    "applied_this_round",
    TIER_FLAG,
    "last_evaluation_score",
    "holds_specialized_sme",
    "accounts_lag_years",
)


def criteria_rows(outcomes: dict[tuple[str, str], str], unknown: int = 0) -> pd.DataFrame:
    """A criteria output with one outcome row per (firm, tier) and `unknown` unknown criteria."""
    rows = []
    for (code, tier), verdict in outcomes.items():
        rows.append((code, tier, "discovery", "outcome", verdict, ""))
        for i in range(unknown):
            rows.append((code, tier, "discovery", f"c{i}", "unknown", ""))
        rows.append((code, tier, "discovery", "art11_registered", "pass", ""))
    return pd.DataFrame(
        rows, columns=["credit_code", "tier", "mode", "criterion", "verdict", "evidence"]
    )


@pytest.fixture(scope="module")
def config() -> ModelConfig:
    base = load_model_config()
    fast = base.models.hist_gbdt.model_copy(update={"max_iter": 40, "min_samples_leaf": 10})
    return base.model_copy(
        update={
            "training_dates": TRAIN_DATES,
            "validation_dates": (VALID_DATE,),
            "models": base.models.model_copy(update={"hist_gbdt": fast}),
            "evaluation": base.evaluation.model_copy(update={"k": 5}),
            "gate": base.gate.model_copy(update={"bootstrap": 200}),
        }
    )


@pytest.fixture(scope="module")
def real_examples(config: ModelConfig) -> pd.DataFrame:
    criteria = criteria_rows(
        {
            (CODE_A, "specialized"): "to_verify",
            (CODE_B, "specialized"): "eligible",
            (CODE_C, "specialized"): "ineligible",
            (LEADER, "specialized"): "already_certified",
        },
        unknown=2,
    )
    return examples_for_date(base_source(), AS_OF, criteria, config)


def _frame(columns: list[str], n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Random rows with the real feature columns; quality drives IP, R&D and the estimate."""
    frame = pd.DataFrame(rng.normal(size=(n, len(columns))), columns=columns)
    quality = rng.normal(size=n)
    frame["class1_ip_count"] = rng.poisson(np.exp(0.3 + 0.5 * quality)).astype("float64")
    frame["rd_intensity"] = np.clip(0.05 + 0.02 * quality + rng.normal(0, 0.02, n), 0, None)
    frame["revenue"] = np.exp(rng.normal(17, 1, n))
    frame["debt_ratio"] = np.clip(0.5 - 0.05 * quality + rng.normal(0, 0.1, n), 0.05, 0.95)
    frame["est_evaluation_score"] = (
        30 + 6 * np.minimum(frame["class1_ip_count"], 3) + 150 * frame["rd_intensity"]
    ).round()
    frame["past_applications"] = rng.poisson(0.5, n).astype("float64")
    frame["applied_this_round"] = 0.0
    frame.loc[rng.random(n) < 0.1, "net_margin"] = np.nan
    return frame.assign(_quality=quality)


@pytest.fixture(scope="module")
def synthetic(config: ModelConfig, real_examples: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Applications (approved with quality, which IP, R&D and the estimate show), candidates
    (apply with past applications) and the truth of who would qualify on the validation date."""
    rng = np.random.default_rng(3)
    columns = feature_columns(real_examples)
    frames = {}
    for kind, n in (("applications", 900), ("candidates", 1200)):
        frame = _frame(columns, n, rng)
        dates = [*TRAIN_DATES, VALID_DATE]
        tier = np.where(rng.random(n) < 0.2, "little_giant", "specialized")
        quality = frame.pop("_quality")
        approve = rng.random(n) < 1 / (1 + np.exp(-(-1.0 + 1.5 * quality)))
        applies = rng.random(n) < 1 / (1 + np.exp(-(-2.0 + 1.5 * frame["past_applications"])))
        meta = pd.DataFrame(
            {
                "as_of": [pd.Timestamp(dates[i % 4]) for i in range(n)],
                "credit_code": [f"{kind[0].upper()}{i:05d}" for i in range(n)],
                "tier": tier,
                "province": rng.choice(["32", "33", "44"], n),
                "outcome": "to_verify",
                "label": approve.astype("int64"),
                "applied": applies.astype("int64"),
            }
        )
        frame[TIER_FLAG] = (tier == "little_giant").astype("float64")
        frames[kind] = pd.concat([meta, frame], axis=1)
        frames[kind + "_qualifies"] = pd.Series(approve, index=meta.index)
    candidates = frames["candidates"]
    valid = candidates["as_of"] == pd.Timestamp(VALID_DATE)
    frames["truth"] = pd.DataFrame(
        {
            "as_of": str(VALID_DATE),
            "credit_code": candidates.loc[valid, "credit_code"],
            "tier": candidates.loc[valid, "tier"],
            "would_qualify": frames["candidates_qualifies"][valid],
            "p_apply": 0.2,
            "applied_by_date": candidates.loc[valid, "past_applications"] > 1,
        }
    )
    frames["scores"] = frames["applications"].assign(
        official_score=frames["applications"]["est_evaluation_score"] + 20
    )
    return frames


@pytest.fixture(scope="module")
def rankers(config: ModelConfig, synthetic: dict[str, pd.DataFrame]) -> dict[str, DiscoveryRanker]:
    train, _ = split_by_date(synthetic["candidates"], config)
    apply_model = fit_apply_model(train, config)
    scores, _ = split_by_date(synthetic["scores"], config)
    score_model = fit_score_model(scores, config.features.evaluation_estimate)
    return {
        family: fit_discovery(
            family,  # type: ignore[arg-type]
            synthetic["applications"],
            synthetic["candidates"],
            config,
            THRESHOLDS,
            apply_model,
            score_model,
        )
        for family in FAMILIES
    }


@pytest.fixture(scope="module")
def valid(config: ModelConfig, synthetic: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return split_by_date(synthetic["candidates"], config)[1]


# --- examples and labels ---------------------------------------------------------------------


def test_candidates_are_the_eligible_and_to_verify_discovery_rows() -> None:
    criteria = criteria_rows(
        {
            (CODE_A, "specialized"): "to_verify",
            (CODE_A, "little_giant"): "ineligible",
            (CODE_B, "specialized"): "eligible",
            (CODE_C, "specialized"): "already_certified",
        },
        unknown=1,
    )
    renewal = criteria_rows({(CODE_C, "specialized"): "eligible"}).assign(mode="renewal")
    # when
    candidates = candidate_rows(pd.concat([criteria, renewal]))
    # then
    assert sorted(zip(candidates["credit_code"], candidates["tier"], strict=True)) == [
        (CODE_A, "specialized"),
        (CODE_B, "specialized"),
    ]
    assert candidates["unknown_criteria_count"].tolist() == [1.0, 1.0]


def test_examples_carry_features_from_before_and_labels_from_after(
    real_examples: pd.DataFrame,
) -> None:
    assert list(real_examples.columns[: len(META_COLUMNS)]) == list(META_COLUMNS)
    assert set(real_examples["credit_code"]) == {CODE_A, CODE_B}
    assert (real_examples["province"] == "44").all()
    assert "unknown_criteria_count" not in real_examples  # leaks declared products
    assert real_examples["label"].tolist() == [0, 0]
    assert real_examples["applied"].tolist() == [0, 0]


def test_label_is_a_certification_in_the_twelve_months_after_as_of(config: ModelConfig) -> None:
    # given titles on as_of itself (not a label), within the horizon, and just after it
    data = make_source(
        certifications=[
            {
                "credit_code": CODE_A,
                "title": "specialized_sme",
                "certified_on": ts("2024-06-30"),
                "expires_on": ts("2027-06-29"),
                "status": "valid",
            },
            {
                "credit_code": CODE_B,
                "title": "specialized_sme",
                "certified_on": ts("2025-06-30"),
                "expires_on": ts("2028-06-29"),
                "status": "valid",
            },
            {
                "credit_code": CODE_C,
                "title": "specialized_sme",
                "certified_on": ts("2025-07-01"),
                "expires_on": ts("2028-06-29"),
                "status": "valid",
            },
            {
                "credit_code": LEADER,
                "title": "little_giant",
                "certified_on": ts("2025-06-30"),
                "expires_on": ts("2028-06-29"),
                "status": "valid",
            },
        ]
    )
    codes = pd.Series([CODE_A, CODE_B, CODE_C, LEADER, LEADER])
    tiers = pd.Series(["specialized", "specialized", "specialized", "specialized", "little_giant"])
    # when
    labels = certified_within(data, AS_OF, tiers, codes, config.labels)
    # then
    assert labels.tolist() == [0, 1, 0, 0, 1]


def test_label_falls_back_to_approved_applications(config: ModelConfig) -> None:
    data = make_source(
        applications=[
            {
                "credit_code": CODE_A,
                "year": 2025,
                "title": "specialized_sme",
                "outcome": "approved",
            },
            {
                "credit_code": CODE_B,
                "year": 2025,
                "title": "specialized_sme",
                "outcome": "rejected",
            },
            {
                "credit_code": CODE_C,
                "year": 2024,
                "title": "specialized_sme",
                "outcome": "approved",
            },
        ]
    )
    codes = pd.Series([CODE_A, CODE_B, CODE_C])
    labels = certified_within(data, AS_OF, pd.Series(["specialized"] * 3), codes, config.labels)
    assert labels.tolist() == [1, 0, 0]


def test_a_configuration_may_not_write_calendar_dates(tmp_path: Path) -> None:
    # issue 24: rounds come from the data, never from dates in configuration
    text = Path("configs/model.yaml").read_text(encoding="utf-8")
    path = tmp_path / "model.yaml"
    path.write_text(text + "training_dates: [2020-06-30]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="rounds come from the data"):
        load_model_config(path)


def _history(years: list[int], outcome: str = "approved") -> SourceData:
    applications = [
        {"credit_code": CODE_A, "year": y, "title": "specialized_sme", "outcome": outcome}
        for y in years
    ]
    return make_source(firms=[firm(CODE_A, "甲")], applications=applications)


@pytest.mark.parametrize(
    ("years", "training", "validation"),
    [
        ([2020, 2021, 2022, 2023, 2024, 2025], [2020, 2021, 2022], [2023, 2024]),
        ([2023, 2024, 2025, 2026, 2027], [2023, 2024], [2025, 2026]),  # rolls forward
        ([2021, 2022, 2023, 2024], [], []),  # 3 example rounds: 2 validate, 1 < 2 to train
        ([2024, 2025], [], []),
        ([2025], [], []),
        ([], [], []),
    ],
)
def test_rounds_come_from_the_data(
    years: list[int], training: list[int], validation: list[int]
) -> None:
    from models.ranking.rounds import plan_rounds

    config = load_model_config()
    plan = plan_rounds(_history(years), config, dt.date(2028, 1, 1))
    assert [d.year for d in plan.training] == training
    assert [d.year for d in plan.validation] == validation
    assert (plan.too_little is None) == bool(training)
    if plan.too_little:
        assert f"{len(years)} round(s) of history" in plan.too_little
    applied = plan.apply(config)
    assert applied.training_dates == plan.training


def test_rounds_after_the_run_date_and_empty_rounds_do_not_count() -> None:
    from models.ranking.rounds import plan_rounds

    config = load_model_config()
    years = [2020, 2021, 2022, 2023, 2024, 2025]
    before = plan_rounds(_history(years), config, dt.date(2025, 6, 29))
    assert [d.year for d in before.found] == years[:-1]
    withdrawn = plan_rounds(_history(years, outcome="withdrawn"), config, dt.date(2028, 1, 1))
    assert withdrawn.found == () and withdrawn.too_little is not None


# --- metrics ---------------------------------------------------------------------------------


def test_precision_and_recall_at_k_pool_the_groups() -> None:
    # given two provinces, k = 2: 44 has hits at ranks 1 and 3, 32 one hit at rank 2 of 2
    scored = pd.DataFrame(
        {
            "as_of": pd.Timestamp(AS_OF),
            "tier": "specialized",
            "province": ["44", "44", "44", "32", "32"],
            "credit_code": list("abcde"),
            "score": [0.9, 0.8, 0.7, 0.6, 0.5],
            "label": [1, 0, 1, 0, 1],
        }
    )
    # when
    precision, recall = precision_recall_at_k(scored, k=2)
    # then
    assert precision == pytest.approx(2 / 4)
    assert recall == pytest.approx(2 / 3)


def test_discovery_recall_counts_hidden_champions_in_their_provinces_top_k(
    config: ModelConfig,
) -> None:
    firms = base_source().tables["firms"]
    scored = pd.DataFrame(
        {
            "credit_code": [CODE_A, CODE_B, CODE_C, LEADER],
            "tier": "specialized",
            "score": [0.9, 0.8, 0.1, 0.5],
        }
    )
    truth = pd.DataFrame({"credit_code": [CODE_C, LEADER], "tier": ["specialized"] * 2})
    top_two = config.model_copy(
        update={"evaluation": config.evaluation.model_copy(update={"k": 2})}
    )
    # C ranks third in province 44; LEADER is first in province 32
    assert discovery_recall_at_k(scored, firms, truth, top_two) == pytest.approx(0.5)


def test_applied_within_and_application_examples_read_the_rounds(config: ModelConfig) -> None:
    # given applications of the round decided on AS_OF and of the next one
    data = with_rows(
        base_source(),
        applications=[
            {
                "credit_code": CODE_A,
                "year": 2024,
                "title": "specialized_sme",
                "outcome": "approved",
            },
            {
                "credit_code": CODE_B,
                "year": 2024,
                "title": "specialized_sme",
                "outcome": "withdrawn",
            },
            {
                "credit_code": CODE_B,
                "year": 2025,
                "title": "specialized_sme",
                "outcome": "rejected",
            },
        ],
    )
    codes = pd.Series([CODE_A, CODE_B])
    tiers = pd.Series(["specialized", "specialized"])
    # then: A's label is the next round; Q's examples are this round's decided applications
    assert applied_within(data, AS_OF, tiers, codes, config.labels).tolist() == [0, 1]
    features = build_features(data, AS_OF, config.features)
    rounds = application_examples(data, AS_OF, features, config)
    assert rounds["credit_code"].tolist() == [CODE_A]
    assert rounds["label"].tolist() == [1]
    assert list(rounds.columns[: len(META_COLUMNS)]) == list(META_COLUMNS)


# --- models Q and A ---------------------------------------------------------------------------


def test_q_reads_only_criterion_tied_features(rankers: dict[str, DiscoveryRanker]) -> None:
    for family, ranker in rankers.items():
        assert ranker.q is not None
        assert not set(ranker.q.used_features) & set(NOT_QUALIFYING), family
        assert ranker.basis == "applications"
    assert rankers["logistic"].a is not None
    assert "past_applications" in rankers["logistic"].a.used_features  # A may read history


def test_priority_is_q_times_not_apply_and_columns_are_probabilities(
    rankers: dict[str, DiscoveryRanker], valid: pd.DataFrame
) -> None:
    table = rankers["logistic"].score_table(valid)
    assert list(table.columns) == list(PRIORITY_COLUMNS)
    expected = table["p_qualify"] * (1 - table["p_apply"])
    assert np.allclose(table["priority"], expected)
    for column in ("p_qualify", "p_apply", "p_score_pass"):
        assert table[column].between(0, 1).all(), column
    assert (table["est_score_low"] <= table["est_score_high"]).all()
    assert (table["est_score_high"] <= 100).all()
    # the rule baseline orders by Q alone
    baseline = rankers["rule_baseline"].score_table(valid)
    assert np.allclose(baseline["priority"], baseline["p_qualify"])


def test_q_is_calibrated_on_the_held_out_round(
    rankers: dict[str, DiscoveryRanker], synthetic: dict[str, pd.DataFrame]
) -> None:
    applications = synthetic["applications"]
    held_out = applications[applications["as_of"] == pd.Timestamp(TRAIN_DATES[-1])]
    predicted = rankers["logistic"].q.score_rows(held_out)  # type: ignore[union-attr]
    assert abs(predicted.mean() - held_out["label"].mean()) < 0.05


def test_without_applications_q_learns_title_transitions_and_a_is_not_fitted(
    config: ModelConfig, synthetic: dict[str, pd.DataFrame], valid: pd.DataFrame
) -> None:
    empty = synthetic["applications"].iloc[0:0]
    ranker = fit_discovery(
        "logistic", empty, synthetic["candidates"], config, THRESHOLDS, None, None
    )
    assert ranker.basis == "title_transitions"
    assert ranker.a is None and not ranker.uses_apply_model
    table = ranker.score_table(valid)
    assert np.allclose(table["priority"], table["p_qualify"])
    assert table["p_apply"].isna().all()


def test_rule_baseline_without_champion_orders_by_the_observed_points(
    config: ModelConfig, valid: pd.DataFrame
) -> None:
    ranker = rule_baseline_ranker(config.features.evaluation_estimate, THRESHOLDS)
    table = ranker.score_table(valid)
    assert np.allclose(table["priority"] * 100, table["est_score_low"])
    assert table["p_qualify"].isna().all()


# --- behavioural tests -----------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_q_is_monotone_in_the_criterion_tied_features(
    family: str, rankers: dict[str, DiscoveryRanker], valid: pd.DataFrame, config: ModelConfig
) -> None:
    # given every example, then the same example with more of a criterion-tied feature
    q = rankers[family].q
    assert q is not None
    before = q.score_rows(valid)
    for feature in q.used_features:
        direction = (
            1
            if feature in config.models.monotonic_increasing
            else -1
            if feature in config.models.monotonic_decreasing
            else 0
        )
        if not direction:
            continue
        step = valid[feature].abs().median() or 1.0
        for extra in (0.5, 2.0, 10.0):
            moved = valid.assign(**{feature: valid[feature] + extra * step})
            # then the score moves only the allowed way
            assert (direction * (q.score_rows(moved) - before) >= -1e-12).all(), feature


@pytest.mark.parametrize("family", FAMILIES)
def test_renaming_a_firm_changes_no_score(
    family: str, rankers: dict[str, DiscoveryRanker], config: ModelConfig
) -> None:
    # given the same data with firm A under a new name (and a former name on record)
    data = base_source()
    firms = data.tables["firms"].copy()
    firms.loc[firms["credit_code"] == CODE_A, "name"] = "深圳华芯半导体科技股份有限公司"
    renamed = with_rows(
        SourceData({**data.tables, "firms": firms}),
        name_history=[
            {
                "credit_code": CODE_A,
                "former_name": "深圳市华芯微电子有限公司",
                "changed_on": ts("2023-01-01"),
            }
        ],
    )
    criteria = criteria_rows(
        {(CODE_A, "specialized"): "to_verify", (CODE_B, "specialized"): "eligible"}
    )
    ranker = rankers[family]
    # when
    before = score_candidates(ranker, build_features(data, AS_OF, config.features), criteria, 3)
    after = score_candidates(ranker, build_features(renamed, AS_OF, config.features), criteria, 3)
    # then
    pd.testing.assert_frame_equal(before, after)


# --- explanations ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_attributions_are_additive_in_log_odds(
    family: str, rankers: dict[str, DiscoveryRanker], valid: pd.DataFrame
) -> None:
    # given Q and each row at reference (every used feature at its reference value)
    q = rankers[family].q
    assert q is not None
    rows = valid.head(25).reset_index(drop=True)
    reference = rows.copy()
    for name in q.used_features:
        reference[name] = q.reference[name]
    # then the contributions sum to logit(x) − logit(reference), row by row
    total = contributions(q, rows).sum(axis=1).to_numpy()
    assert np.allclose(total, q.logit(rows) - q.logit(reference), atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_reasons_are_faithful_and_never_history_tier_or_missingness(
    family: str, rankers: dict[str, DiscoveryRanker], valid: pd.DataFrame
) -> None:
    q = rankers[family].q
    assert q is not None
    rows = valid.head(40).reset_index(drop=True)
    reasons = explain(q, rows, top_n=3, min_abs_contribution=1e-6)
    scores = q.score_rows(rows)
    checked = 0
    for i, row_reasons in enumerate(reasons):
        for reason in row_reasons:
            assert reason.feature not in NOT_QUALIFYING
            assert np.isfinite(reason.value)  # a missing value is never a reason
            assert "缺失" not in reason.text
            # when the feature alone is moved back to the model's reference value
            moved = rows.iloc[[i]].copy()
            moved[reason.feature] = q.reference[reason.feature]
            change = scores[i] - q.score_rows(moved)[0]
            # then the score falls if the reason said the value raises it (logistic, rule:
            # exactly; trees: interventional Shapley, the sign of the firm's own move)
            if family != "hist_gbdt":
                assert np.sign(change) == reason.direction, (i, reason)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("family", ["logistic", "hist_gbdt"])
def test_deletion_test_removing_the_stated_reasons_lowers_the_rank(
    family: str, rankers: dict[str, DiscoveryRanker], valid: pd.DataFrame, config: ModelConfig
) -> None:
    q = rankers[family].q
    assert q is not None
    scored = valid.assign(score=rankers[family].score_rows(valid))
    from models.ranking import rank_within_groups

    listed = (rank_within_groups(scored) <= 20).to_numpy()
    reasons = explain(
        q, valid[listed], top_n=3, min_abs_contribution=config.explanations.min_abs_contribution
    )
    stated = deletion_test(q, valid, listed, reasons)
    assert stated >= 0.5
    # the firm's weakest raising features instead of its stated reasons carry the rank less
    table = contributions(q, valid[listed])
    weakest = [
        [
            Reason(feature=name, value=0.0, direction=1, contribution=float(value))
            for name, value in row[row > 0].nsmallest(len(reasons[i])).items()
        ]
        for i, (_, row) in enumerate(table.iterrows())
    ]
    assert deletion_test(q, valid, listed, weakest) < stated


def test_every_ordering_is_scored_on_the_never_applied_pool(
    rankers: dict[str, DiscoveryRanker],
    valid: pd.DataFrame,
    synthetic: dict[str, pd.DataFrame],
    config: ModelConfig,
) -> None:
    from models.ranking.evaluation import ORDERINGS, pool_metrics, pool_of

    scored = _scored(rankers, "logistic", valid, synthetic["truth"], config)
    applied = scored.assign(applied_before=(np.arange(len(scored)) % 3 == 0).astype(int))
    metrics = pool_metrics(applied, config)
    assert metrics["val_pool_examples"] == len(pool_of(applied)) < len(applied)
    for ordering in ORDERINGS:
        value = metrics[f"val_pool_precision_at_k__{ordering}"]
        low = metrics[f"val_pool_precision_at_k__{ordering}_ci_low"]
        high = metrics[f"val_pool_precision_at_k__{ordering}_ci_high"]
        assert low <= value <= high, ordering
    # the model's own ordering is Q × (1 − A)
    assert metrics["val_pool_precision_at_k"] == metrics["val_pool_precision_at_k__q_x_not_apply"]
    # a firm that already applied is never counted: marking every hit as applied empties it
    hits = applied.assign(applied_before=applied["would_qualify"])
    assert pool_metrics(hits, config)["val_pool_positives"] == 0


def test_the_gate_without_a_champion_compares_with_the_rule_ordering(
    rankers: dict[str, DiscoveryRanker],
    valid: pd.DataFrame,
    synthetic: dict[str, pd.DataFrame],
    config: ModelConfig,
) -> None:
    rule = rule_baseline_ranker(config.features.evaluation_estimate, THRESHOLDS)
    reference = evaluate(rule, valid, config, synthetic["truth"]).scored
    decision = paired_gate(reference, reference, config)
    assert not decision.promote and decision.gain == 0
    assert np.isnan(decision.brier_change)  # the rule ordering estimates no probability


def test_score_candidates_gives_the_list_columns_with_chinese_reasons(
    rankers: dict[str, DiscoveryRanker], config: ModelConfig
) -> None:
    criteria = criteria_rows(
        {
            (CODE_A, "specialized"): "to_verify",
            (CODE_B, "specialized"): "eligible",
            (CODE_C, "specialized"): "ineligible",
        }
    )
    features = build_features(base_source(), AS_OF, config.features)
    # when
    ranked = score_candidates(rankers["hist_gbdt"], features, criteria, top_reasons=2)
    # then
    assert list(ranked.columns) == ["credit_code", "tier", "score", *PRIORITY_COLUMNS, "reasons"]
    assert set(ranked["credit_code"]) == {CODE_A, CODE_B}
    assert ranked["score"].is_monotonic_decreasing
    assert (ranked["score"] == ranked["priority"]).all()
    assert ranked["reasons"].str.contains("（提高）|（降低）").all()
    for forbidden in ("申报", "小巨人", "缺失"):
        assert not ranked["reasons"].str.contains(forbidden).any()


# --- metrics and the gate ---------------------------------------------------------------------


def test_evaluate_reports_contract_and_discovery_metrics_with_intervals(
    rankers: dict[str, DiscoveryRanker],
    valid: pd.DataFrame,
    synthetic: dict[str, pd.DataFrame],
    config: ModelConfig,
) -> None:
    evaluation = evaluate(rankers["logistic"], valid, config, synthetic["truth"])
    metrics = evaluation.metrics
    assert set(METRIC_NAMES) <= set(metrics)
    for name in ("val_discovery_precision_at_k", "val_novel_precision_at_k"):
        for suffix in ("", "__specialized", "__little_giant"):
            value = metrics[f"{name}{suffix}"]
            assert metrics[f"{name}{suffix}_ci_low"] <= value <= metrics[f"{name}{suffix}_ci_high"]
    assert metrics["val_novel_precision_at_k"] <= metrics["val_discovery_precision_at_k"]
    assert metrics["val_discovery_recall_at_k"] <= metrics["val_discovery_recall_ceiling"] + 1e-12
    assert metrics["val_expected_added_at_k"] > 0
    assert 0 <= metrics["val_qualify_brier_unapplied"] <= 1
    assert set(evaluation.per_province["province"]) == {"32", "33", "44"}


def test_learned_q_beats_the_rule_ordering_when_approval_has_other_causes(
    rankers: dict[str, DiscoveryRanker],
    valid: pd.DataFrame,
    synthetic: dict[str, pd.DataFrame],
    config: ModelConfig,
) -> None:
    novel = {
        family: evaluate(ranker, valid, config, synthetic["truth"]).metrics[
            "val_novel_precision_at_k"
        ]
        for family, ranker in rankers.items()
    }
    assert novel["logistic"] >= novel["rule_baseline"]


def _scored(
    rankers: dict[str, DiscoveryRanker],
    family: str,
    valid: pd.DataFrame,
    truth: pd.DataFrame,
    config: ModelConfig,
) -> pd.DataFrame:
    return evaluate(rankers[family], valid, config, truth).scored


def test_gate_does_not_promote_a_challenger_that_differs_only_by_noise(
    rankers: dict[str, DiscoveryRanker],
    valid: pd.DataFrame,
    synthetic: dict[str, pd.DataFrame],
    config: ModelConfig,
) -> None:
    champion = _scored(rankers, "logistic", valid, synthetic["truth"], config)
    rng = np.random.default_rng(0)
    for trial in range(5):
        noise = rng.normal(0, 0.02, len(champion))
        challenger = champion.assign(
            score=champion["score"] + noise, p_qualify=champion["p_qualify"] + noise / 10
        )
        decision = paired_gate(champion, challenger, config)
        assert not decision.promote, (trial, decision)
    assert not paired_gate(champion, champion, config).promote


def test_gate_promotes_a_clearly_better_challenger(
    rankers: dict[str, DiscoveryRanker],
    valid: pd.DataFrame,
    synthetic: dict[str, pd.DataFrame],
    config: ModelConfig,
) -> None:
    champion = _scored(rankers, "logistic", valid, synthetic["truth"], config)
    # an oracle challenger: orders by the truth, with the champion's probabilities
    oracle = champion.assign(score=champion["novel"] + champion["score"] / 10)
    decision = paired_gate(champion, oracle, config)
    assert decision.promote and decision.gain_low > 0
    # but not when its probabilities are far worse (Brier beyond the tolerance)
    worse = oracle.assign(p_qualify=1 - champion["would_qualify"])
    assert not paired_gate(champion, worse, config).promote


def test_gate_refuses_different_validation_rows(
    rankers: dict[str, DiscoveryRanker],
    valid: pd.DataFrame,
    synthetic: dict[str, pd.DataFrame],
    config: ModelConfig,
) -> None:
    champion = _scored(rankers, "logistic", valid, synthetic["truth"], config)
    with pytest.raises(ValueError, match="same validation rows"):
        paired_gate(champion, champion.iloc[1:], config)


# --- MLflow -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("zjtx_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZJTX_HOME", str(home))
        yield home


def test_mlflow_run_has_signature_model_card_and_champion_loads(
    registry_home: Path,
    rankers: dict[str, DiscoveryRanker],
    valid: pd.DataFrame,
    synthetic: dict[str, pd.DataFrame],
    config: ModelConfig,
) -> None:
    import mlflow

    from models import registry

    client = registry.connect()
    assert not registry.has_champion()
    ranker = rankers["logistic"]
    evaluation = evaluate(ranker, valid, config, synthetic["truth"])
    logged = registry.log_family(
        client, ranker, evaluation, config, "fp", input_example=valid, counts={"valid": 3}
    )
    registry.promote(client, logged.version)
    run = client.get_run(logged.run_id)
    assert run.data.tags["model_family"] == "logistic"
    assert run.data.tags["p_apply"] == "fitted"
    assert set(METRIC_NAMES) <= set(run.data.metrics)
    assert "val_novel_precision_at_k__specialized_ci_low" in run.data.metrics
    info = mlflow.models.get_model_info(f"runs:/{logged.run_id}/model")
    assert info.signature is not None
    card = mlflow.artifacts.load_text(f"runs:/{logged.run_id}/model_card.md")
    assert "selection correction" in card and "Known limits" in card
    champion, version = registry.load_champion()
    assert version == logged.version
    assert np.allclose(champion.score_rows(valid), ranker.score_rows(valid))
    assert registry.schema_mismatch(champion, list(valid.columns)) is None
    # a champion whose features the data no longer has is retired with a reason
    reason = registry.schema_mismatch(champion, ["credit_code"])
    assert reason is not None and "no longer has" in reason
    registry.retire_champion(client, reason)
    assert not registry.has_champion()


def test_rounds_that_hold_one_outcome_only_are_too_little_to_learn(
    config: ModelConfig, synthetic: dict[str, pd.DataFrame]
) -> None:
    # issue 24: a history whose fitting rounds rejected everyone teaches nothing; no traceback
    from models.ranking import too_little_to_learn

    applications = synthetic["applications"]
    assert too_little_to_learn(applications, synthetic["candidates"], config) is None
    rejected = applications.assign(label=0)
    reason = too_little_to_learn(rejected, synthetic["candidates"].assign(label=0), config)
    assert reason is not None and "both outcomes" in reason
