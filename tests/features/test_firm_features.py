"""Point-in-time firm features: values, class-I IP, the 2022 estimate, no leakage, invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.feature_config import FeatureConfig
from features.firm_features import (
    FEATURE_LABELS,
    build_features,
    describe_value,
    estimate_evaluation_score,
    feature_label,
)
from tests.features.ranking_frames import (
    AS_OF,
    CODE_A,
    CODE_B,
    CODE_C,
    LEADER,
    accounts,
    base_source,
    ts,
    with_rows,
)


@pytest.fixture(scope="module")
def features(config: FeatureConfig) -> pd.DataFrame:
    return build_features(base_source(), AS_OF, config)


def test_every_firm_gets_one_numeric_row(features: pd.DataFrame) -> None:
    # then
    assert list(features.index) == [CODE_A, CODE_B, CODE_C, LEADER]
    assert features.index.name == "credit_code"
    assert all(dtype == "float64" for dtype in features.dtypes)


def test_financial_levels_growth_and_ratios_use_fiscal_year_y(features: pd.DataFrame) -> None:
    # given accounts 2021-2023 for firm A and as_of 2024-06-30 (Y = 2023)
    a = features.loc[CODE_A]
    # then
    assert a["revenue"] == 64e6
    assert a["revenue_cagr_2y"] == pytest.approx((64 / 40) ** 0.5 - 1)
    assert a["debt_ratio"] == pytest.approx(0.4)
    assert a["main_business_share"] == pytest.approx(0.9)
    assert a["net_margin"] == pytest.approx(0.08)
    assert a["rd_intensity"] == pytest.approx(0.05)
    assert a["rd_expense_2y"] == pytest.approx(0.05 * (64e6 + 50e6))
    assert a["rd_staff_share"] == pytest.approx(0.2)
    assert features.loc[CODE_B, "debt_ratio"] == pytest.approx(30 / 33)
    assert np.isnan(features.loc[CODE_B, "revenue_cagr_2y"])  # no 2021 accounts


def test_class1_ip_counts_only_self_developed_rights_among_first_three_holders(
    features: pd.DataFrame,
) -> None:
    # given A: P1 own (rank 1), P2 transferred in, P3 IC layout at rank 2; B: P3 at rank 4, U1
    # then
    assert features.loc[CODE_A, "class1_ip_count"] == 2  # P1 and P3
    assert features.loc[CODE_A, "class1_ip_first_holder_count"] == 1
    assert features.loc[CODE_A, "class1_ip_held_count"] == 3
    assert features.loc[CODE_B, "class1_ip_count"] == 0  # rank 4 does not count
    assert features.loc[CODE_B, "class2_ip_count"] == 1
    assert features.loc[CODE_A, "ip_level"] > features.loc[CODE_B, "ip_level"]


def test_titles_valid_on_as_of(features: pd.DataFrame) -> None:
    assert features.loc[CODE_A, "holds_innovative_sme"] == 1
    assert features.loc[CODE_B, "holds_tech_sme"] == 0  # expired 2023-04-29


def test_estimated_score_follows_the_2022_bands(features: pd.DataFrame) -> None:
    # given A: share 90% (5), growth 26% (10), key-link supplier (5), margin 8% (8), debt 40% (5),
    # self-developed class I (8), R&D 3.2M or 5% (6), R&D staff 20% (5); no niche data, no lab
    # then
    assert features.loc[CODE_A, "est_evaluation_score"] == 52
    assert features["est_evaluation_score"].between(0, 100).all()


def test_estimate_bands_below_threshold_earn_nothing(config: FeatureConfig) -> None:
    # given a debt ratio exactly on the 50% line (2022: "<50% 5, 50-60% 3") and one missing
    frame = pd.DataFrame({"debt_ratio": [0.5, 0.49, np.nan]})
    # when
    score = estimate_evaluation_score(frame, config.evaluation_estimate)
    # then
    assert score.tolist() == [3.0, 5.0, 0.0]


def test_more_class1_ip_never_lowers_the_estimate(config: FeatureConfig) -> None:
    # given firm C without IP, then with a self-developed invention patent
    data = base_source()
    before = build_features(data, AS_OF, config).loc[CODE_C, "est_evaluation_score"]
    more = with_rows(
        data,
        ip_rights=[
            {
                "ip_id": "P9",
                "ip_type": "invention_patent",
                "title": "t",
                "granted_on": ts("2023-01-01"),
                "status": "valid",
                "transferred_in": False,
            }
        ],
        ip_holders=[
            {"ip_id": "P9", "holder_name": "远航", "holder_rank": 1, "holder_credit_code": CODE_C}
        ],
    )
    # when
    after = build_features(more, AS_OF, config).loc[CODE_C]
    # then
    assert after["class1_ip_count"] == 1
    assert after["est_evaluation_score"] >= before


def test_rows_dated_on_or_after_as_of_change_nothing(
    config: FeatureConfig, features: pd.DataFrame
) -> None:
    # given every table gains rows dated on/after as_of (the future)
    future = with_rows(
        base_source(),
        financials=[accounts(CODE_A, 2024, 999e6), accounts(CODE_C, 2024, 10e6)],
        ip_rights=[
            {
                "ip_id": "F1",
                "ip_type": "invention_patent",
                "title": "t",
                "granted_on": ts("2024-06-30"),
                "status": "valid",
                "transferred_in": False,
            }
        ],
        ip_holders=[
            {"ip_id": "F1", "holder_name": "华芯", "holder_rank": 1, "holder_credit_code": CODE_A}
        ],
        awards=[
            {
                "award_name": "国家科学技术进步奖",
                "level": "national",
                "year": 2024,
                "unit_name": "华芯",
                "unit_rank": 1,
                "unit_credit_code": CODE_A,
            }
        ],
        rd_institutions=[
            {
                "unit_name": "华芯",
                "unit_credit_code": CODE_A,
                "institution_name": "x",
                "kind": "key_lab",
                "level": "national",
                "recognized_on": ts("2024-07-01"),
            }
        ],
        investments=[
            {
                "investee_name": "华芯",
                "investee_credit_code": CODE_A,
                "investor_name": "基金",
                "investor_qualified": True,
                "paid_in_amount": 5e7,
                "paid_in_on": ts("2024-06-30"),
            }
        ],
        talent=[
            {
                "unit_name": "华芯",
                "unit_credit_code": CODE_A,
                "programme": "p",
                "level": "national",
                "year": 2024,
                "headcount": 3,
            }
        ],
        certifications=[
            {
                "credit_code": CODE_A,
                "title": "specialized_sme",
                "certified_on": ts("2024-06-30"),
                "expires_on": ts("2027-06-29"),
                "status": "valid",
            }
        ],
        credit_events=[
            {
                "credit_code": CODE_B,
                "event_type": "abnormal_operation",
                "occurred_on": ts("2024-07-02"),
            }
        ],
        evaluation_scores=[{"credit_code": CODE_A, "year": 2024, "score": 88.0}],
        applications=[
            {"credit_code": CODE_A, "year": 2024, "title": "specialized_sme", "outcome": "approved"}
        ],
        supply_chain=[
            {
                "supplier_name": "远航",
                "supplier_credit_code": CODE_C,
                "customer_name": "链主",
                "customer_credit_code": LEADER,
                "chain": "集成电路",
                "node": "芯片设计",
                "year": 2024,
                "amount": 9e9,
            }
        ],
    )
    # when
    later = build_features(future, AS_OF, config)
    # then: the tables that were missing before are now present, so compare common knowledge:
    # every feature that existed with data before is unchanged
    comparable = [c for c in features.columns if features[c].notna().any()]
    pd.testing.assert_frame_equal(later[comparable], features[comparable])
    # except this year's round: its applications are in before it is decided on as_of
    assert later.loc[CODE_A, "applied_this_round"] == 1
    zero_or_missing = later.drop(columns=[*comparable, "applied_this_round"]).fillna(0)
    assert (zero_or_missing == 0).all().all()


def test_renaming_a_firm_changes_no_feature(config: FeatureConfig, features: pd.DataFrame) -> None:
    # given firm A registered under a new name (mentions are already attributed by code)
    data = base_source()
    firms = data.tables["firms"].copy()
    firms.loc[firms["credit_code"] == CODE_A, "name"] = "深圳华芯半导体科技股份有限公司"
    renamed = type(data)({**data.tables, "firms": firms})
    # when / then
    pd.testing.assert_frame_equal(build_features(renamed, AS_OF, config), features)


def test_region_is_a_feature_only_when_switched_on(config: FeatureConfig) -> None:
    on = config.model_copy(update={"include_region": True})
    assert not any(c.startswith("province_") for c in build_features(base_source(), AS_OF, config))
    assert {"province_44", "province_32"} <= set(build_features(base_source(), AS_OF, on))


def test_every_feature_has_a_chinese_label(features: pd.DataFrame) -> None:
    for column in features.columns:
        assert feature_label(column) != column, column
    assert set(FEATURE_LABELS) >= {c for c in features if not c.startswith("industry_")}


def test_values_are_written_for_people() -> None:
    assert describe_value("revenue", 64e6) == "6,400万元"
    assert describe_value("debt_ratio", 0.4) == "40.0%"
    assert describe_value("class1_ip_count", 2.0) == "2"
    assert describe_value("debt_ratio", float("nan")) == "缺失"
