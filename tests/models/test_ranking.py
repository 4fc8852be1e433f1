"""Ranking: examples and labels, metrics, behavioural tests of the trained models (Made-With-ML
style: invariance and direction), faithful explanations, and promotion in MLflow."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.firm_features import build_features
from features.sources import SourceData
from models.ranking import (
    META_COLUMNS,
    METRIC_NAMES,
    Evaluation,
    RankingModel,
    candidate_rows,
    certified_within,
    discovery_recall_at_k,
    evaluate,
    examples_for_date,
    feature_columns,
    fit_family,
    point_in_time,
    precision_recall_at_k,
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
    make_source,
    ts,
    with_rows,
)
from zjtx.config import ConfigError, load_config

FAMILIES = ("rule_baseline", "logistic", "hist_gbdt")
TRAIN_DATES = (date(2021, 6, 30), date(2022, 6, 30))
VALID_DATE = date(2023, 6, 30)


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


@pytest.fixture(scope="module")
def synthetic(config: ModelConfig, real_examples: pd.DataFrame) -> pd.DataFrame:
    """Examples with the real feature columns and a label that rises with class-I IP, R&D
    intensity and past rejections (a firm that tried before tends to try again)."""
    rng = np.random.default_rng(3)
    columns = feature_columns(real_examples)
    n = 900
    frame = pd.DataFrame(rng.normal(size=(n, len(columns))), columns=columns)
    frame["class1_ip_count"] = rng.poisson(1.5, n).astype("float64")
    frame["rd_intensity"] = rng.uniform(0, 0.12, n)
    frame["past_rejections"] = rng.poisson(0.4, n).astype("float64")
    frame["revenue"] = np.exp(rng.normal(17, 1, n))
    frame["est_evaluation_score"] = (
        20 + 6 * np.minimum(frame["class1_ip_count"], 2) + 100 * frame["rd_intensity"]
    ).round()
    frame.loc[rng.random(n) < 0.1, "debt_ratio"] = np.nan
    logit = -3.5 + 0.7 * frame["class1_ip_count"] + 15 * frame["rd_intensity"]
    logit += 1.2 * frame["past_rejections"]
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    dates = [*TRAIN_DATES, VALID_DATE]
    meta = pd.DataFrame(
        {
            "as_of": [pd.Timestamp(dates[i % 3]) for i in range(n)],
            "credit_code": [f"F{i:05d}" for i in range(n)],
            "tier": np.where(rng.random(n) < 0.2, "little_giant", "specialized"),
            "province": rng.choice(["32", "33", "44"], n),
            "outcome": "to_verify",
            "label": label,
        }
    )
    frame["tier_little_giant"] = (meta["tier"] == "little_giant").astype("float64")
    return pd.concat([meta, frame], axis=1)


@pytest.fixture(scope="module")
def models(config: ModelConfig, synthetic: pd.DataFrame) -> dict[str, RankingModel]:
    train, _ = split_by_date(synthetic, config)
    return {family: fit_family(family, train, config) for family in FAMILIES}


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


def test_point_in_time_restates_what_dates_allow() -> None:
    # given a title valid today that was revoked later than as_of, and one expired since
    data = make_source(
        certifications=[
            {
                "credit_code": CODE_A,
                "title": "tech_sme",
                "certified_on": ts("2023-04-30"),
                "expires_on": ts("2024-12-31"),
                "status": "revoked",
                "revoked_on": ts("2024-09-01"),
                "revoke_reason": "other",
            },
            {
                "credit_code": CODE_B,
                "title": "tech_sme",
                "certified_on": ts("2023-04-30"),
                "expires_on": ts("2024-04-29"),
                "status": "valid",
            },
            {
                "credit_code": CODE_C,
                "title": "tech_sme",
                "certified_on": ts("2024-07-01"),
                "expires_on": ts("2025-06-30"),
                "status": "valid",
            },
        ],
        financials=[
            {
                "credit_code": CODE_A,
                "fiscal_year": 2024,
                "revenue": 1.0,
                "main_business_revenue": 1.0,
                "rd_expense": 0.0,
                "total_assets": 1.0,
                "total_liabilities": 0.0,
                "employees": 1,
            }
        ],
    )
    # when
    then = point_in_time(data, AS_OF)
    # then
    titles = then.tables["certifications"].set_index("credit_code")
    assert titles.loc[CODE_A, "status"] == "valid"
    assert pd.isna(titles.loc[CODE_A, "revoked_on"])
    assert titles.loc[CODE_B, "status"] == "expired"
    assert CODE_C not in titles.index
    assert then.tables["financials"].empty


def test_validation_dates_must_come_after_training_dates(tmp_path: Path) -> None:
    text = Path("configs/model.yaml").read_text(encoding="utf-8")
    bad = text.replace("validation_dates: [2024-06-30]", "validation_dates: [2022-06-30]")
    path = tmp_path / "model.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match="later than every training date"):
        load_config(ModelConfig, path)


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


def test_evaluate_reports_the_contract_metrics(
    models: dict[str, RankingModel], synthetic: pd.DataFrame, config: ModelConfig
) -> None:
    _, valid = split_by_date(synthetic, config)
    evaluation = evaluate(models["logistic"], valid, config)
    assert set(evaluation.metrics) == set(METRIC_NAMES)
    assert 0 <= evaluation.metrics["val_precision_at_k"] <= 1
    assert set(evaluation.per_province["province"]) == {"32", "33", "44"}
    assert len(evaluation.calibration) > 0


def test_learned_models_beat_the_rule_ordering_when_the_label_has_other_causes(
    models: dict[str, RankingModel], synthetic: pd.DataFrame, config: ModelConfig
) -> None:
    # past rejections drive the label but not the estimated score
    _, valid = split_by_date(synthetic, config)
    ap = {f: evaluate(m, valid, config).metrics["val_average_precision"] for f, m in models.items()}
    assert ap["logistic"] > ap["rule_baseline"]
    assert ap["hist_gbdt"] > ap["rule_baseline"]


# --- behavioural tests -----------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_more_class1_ip_never_lowers_the_score(
    family: str, models: dict[str, RankingModel], synthetic: pd.DataFrame
) -> None:
    # given every example, then the same example with more class-I IP, other things equal
    model = models[family]
    before = model.score_rows(synthetic)
    for extra in (1, 3, 10):
        more = synthetic.assign(class1_ip_count=synthetic["class1_ip_count"] + extra)
        # then
        assert (model.score_rows(more) >= before - 1e-12).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_renaming_a_firm_changes_no_score(
    family: str, models: dict[str, RankingModel], config: ModelConfig
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
    model = models[family]
    # when
    before = score_candidates(model, build_features(data, AS_OF, config.features), criteria, 3)
    after = score_candidates(model, build_features(renamed, AS_OF, config.features), criteria, 3)
    # then
    pd.testing.assert_frame_equal(before, after)


# --- explanations ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_reasons_are_faithful_to_the_model(
    family: str, models: dict[str, RankingModel], synthetic: pd.DataFrame
) -> None:
    # given each firm's stated reasons (feature, value, direction)
    model = models[family]
    rows = synthetic.head(40).reset_index(drop=True)
    reasons = model.explain(rows, top_n=3, min_abs_contribution=1e-6)
    scores = model.score_rows(rows)
    checked = 0
    for i, row_reasons in enumerate(reasons):
        for reason in row_reasons:
            # when the feature is moved back to the model's reference value
            moved = rows.iloc[[i]].copy()
            moved[reason.feature] = model.reference[reason.feature]
            change = scores[i] - model.score_rows(moved)[0]
            # then the score falls if the reason said the value raises it, and vice versa
            assert np.sign(change) == reason.direction, (i, reason)
            checked += 1
    assert checked > 0


def test_logistic_contributions_add_up_to_the_log_odds(
    models: dict[str, RankingModel], synthetic: pd.DataFrame
) -> None:
    model = models["logistic"]
    rows = synthetic.head(20)
    intercept = model.estimator.named_steps["classify"].intercept_[0]
    logit = intercept + model.contributions(rows).sum(axis=1).to_numpy()
    probability = model.score_rows(rows)
    assert np.allclose(1 / (1 + np.exp(-logit)), probability)


def test_score_candidates_ranks_candidates_with_chinese_reasons(
    models: dict[str, RankingModel], config: ModelConfig
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
    ranked = score_candidates(models["hist_gbdt"], features, criteria, top_reasons=2)
    # then
    assert list(ranked.columns) == ["credit_code", "tier", "score", "reasons"]
    assert set(ranked["credit_code"]) == {CODE_A, CODE_B}
    assert ranked["score"].is_monotonic_decreasing
    assert ranked["reasons"].str.contains("（提高）|（降低）").all()


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


# --- MLflow: promotion only when better ------------------------------------------------------


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("zjtx_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZJTX_HOME", str(home))
        yield home


def _evaluation_with(evaluation: Evaluation, precision: float) -> Evaluation:
    metrics = evaluation.metrics | {"val_precision_at_k": precision}
    return Evaluation(metrics, evaluation.per_province, evaluation.calibration, evaluation.scored)


def test_a_version_becomes_champion_only_when_it_beats_the_champion(
    registry_home: Path,
    models: dict[str, RankingModel],
    synthetic: pd.DataFrame,
    config: ModelConfig,
) -> None:
    from models import registry

    _, valid = split_by_date(synthetic, config)
    model = models["rule_baseline"]
    evaluation = evaluate(model, valid, config)
    client = registry.connect()
    # when: a first version, a worse one, an equal one, then a better one
    first = registry.log_family(client, model, _evaluation_with(evaluation, 0.30), config, "fp")
    worse = registry.log_family(client, model, _evaluation_with(evaluation, 0.20), config, "fp")
    equal = registry.log_family(client, model, _evaluation_with(evaluation, 0.30), config, "fp")
    logistic = models["logistic"]
    better = registry.log_family(
        client, logistic, _evaluation_with(evaluate(logistic, valid, config), 0.40), config, "fp"
    )
    # then
    assert [first.promoted, worse.promoted, equal.promoted, better.promoted] == [
        True,
        False,
        False,
        True,
    ]
    assert (registry_home / "mlflow" / "mlflow.db").is_file()
    run = client.get_run(better.run_id)
    assert run.data.tags["model_family"] == "logistic"
    assert set(METRIC_NAMES) <= set(run.data.metrics)
    champion, version = registry.load_champion()
    assert version == better.version
    assert np.allclose(champion.score_rows(valid), logistic.score_rows(valid))
    assert math.isclose(registry.champion_metric(client) or 0.0, 0.40)


def test_replayed_past_dates_can_hide_undated_declared_products() -> None:
    # given a product declaration (no declaration date: maybe made when applying later)
    data = make_source(
        products=[
            {
                "credit_code": CODE_A,
                "product_name": "射频芯片",
                "revenue_share": 0.7,
                "niche_since": ts("2015-01-01"),
                "market_scope": "domestic",
            }
        ]
    )
    # then
    assert point_in_time(data, AS_OF).has("products")
    assert not point_in_time(data, AS_OF, declared_products=False).has("products")
