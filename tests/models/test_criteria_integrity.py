"""Issue 11: no path by which an ineligible firm reaches `eligible`/`to_verify` — each item from
both sides of its line, with Chinese evidence that cites the article."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from features.schemas import with_check_character
from features.sources import SourceData
from models.criteria import evaluate_criteria
from models.criteria_config import CriteriaConfig
from tests.models.conftest import rows_of
from tests.models.frames import (
    AS_OF,
    CODE_A,
    CODE_B,
    Y,
    financial_year,
    frame,
    model_firm,
    source,
)

LG, SP = "little_giant", "specialized"


def _refused(table: str, row: int, reason: str, code: str = CODE_A) -> pd.DataFrame:
    return pd.DataFrame({"credit_code": [code], "table": [table], "row": [row], "reason": [reason]})


def _judge(
    config: CriteriaConfig,
    criterion: str,
    tier: str = LG,
    as_of: dt.date = AS_OF,
    refused: pd.DataFrame | None = None,
    pending: SourceData | None = None,
    code: str = CODE_A,
    **tables: Any,
) -> tuple[str, str, str]:
    """(verdict, evidence, outcome) of firm A for `criterion` of `tier` (discovery mode)."""
    doubts = {k: v for k, v in (("refused", refused), ("pending", pending)) if v is not None}
    out = evaluate_criteria(source(**model_firm(**tables)), as_of, config, **doubts)
    mine = rows_of(out, credit_code=code, tier=tier, mode="discovery")
    row = mine[mine["criterion"] == criterion]
    outcome = mine[mine["criterion"] == "outcome"]
    assert len(row) == 1 and len(outcome) == 1
    return (
        str(row["verdict"].iloc[0]),
        str(row["evidence"].iloc[0]),
        str(outcome["verdict"].iloc[0]),
    )


@pytest.fixture
def firm_b() -> list[dict[str, Any]]:
    return [*model_firm()["firms"], {**model_firm()["firms"][0], "credit_code": CODE_B}]


# --- item 1: a refused row never disappears --------------------------------------------------


def test_refused_dishonesty_listing_makes_credit_lists_unknown(config: CriteriaConfig) -> None:
    # given firm A with no usable credit event
    verdict, _, outcome = _judge(config, "art11_credit_lists")
    assert (verdict, outcome) == ("pass", "eligible")
    # when its serious_dishonesty listing was refused for an unparseable occurred_on
    refused = _refused("credit_events", 3, "occurred_on: unparseable date (expected YYYY-MM-DD)")
    verdict, text, outcome = _judge(config, "art11_credit_lists", refused=refused)
    # then the pass cannot stand, and the evidence names the rejects entry
    assert (verdict, outcome) == ("unknown", "to_verify")
    assert "credit_events" in text and "第3行被拒收" in text and "occurred_on" in text
    assert "第十一条" in text and "第十条" in text
    # every criterion reading the table is unknown
    assert _judge(config, "art11_incidents", refused=refused)[0] == "unknown"


def test_refused_row_of_another_firm_changes_nothing(
    config: CriteriaConfig, firm_b: list[dict[str, Any]]
) -> None:
    refused = _refused("credit_events", 3, "occurred_on: unparseable date", code=CODE_B)
    verdict, _, outcome = _judge(config, "art11_credit_lists", refused=refused, firms=firm_b)
    assert (verdict, outcome) == ("pass", "eligible")


def test_refused_revocation_makes_art20_ban_unknown(config: CriteriaConfig) -> None:
    assert _judge(config, "art20_ban")[0] == "pass"
    refused = _refused("certifications", 1, "certified_on: missing value")
    verdict, text, outcome = _judge(config, "art20_ban", refused=refused)
    assert (verdict, outcome) == ("unknown", "to_verify")
    assert "认定记录［certifications］第1行被拒收" in text and "第二十条" in text


def test_fail_resting_on_present_rows_stays_fail(config: CriteriaConfig) -> None:
    # a listing the loader kept fails the firm; a refused row cannot make that better
    events = [
        {"credit_code": CODE_A, "event_type": "abnormal_operation", "occurred_on": "2026-01-01"}
    ]
    refused = _refused("credit_events", 3, "occurred_on: unparseable date")
    assert _judge(config, "art11_credit_lists", refused=refused, credit_events=events)[0] == "fail"


def test_refused_award_lifts_a_fail_resting_on_its_absence(config: CriteriaConfig) -> None:
    # given a firm without class-I IP and no award: the IP criterion fails
    assert _judge(config, "a2_4_ip", ip_rights=[], ip_holders=[])[0] == "fail"
    # when an award row naming it was refused, the fail rests on that row's absence
    refused = _refused("awards", 7, "year: not a number")
    verdict, text, _ = _judge(config, "a2_4_ip", refused=refused, ip_rights=[], ip_holders=[])
    assert verdict == "unknown"
    assert "科技奖项［awards］第7行被拒收" in text and "可能满足本项" in text
    # a refused award cannot turn a pass into anything else
    assert _judge(config, "a2_4_ip", refused=refused)[0] == "pass"


def test_refused_product_blocks_eligible_although_the_firm_declares_it(
    config: CriteriaConfig,
) -> None:
    # art11_products_allowed is self-declared, but a refused product could be eliminated-class
    refused = _refused("products", 2, "catalogue_class: unknown value")
    verdict, text, outcome = _judge(config, "art11_products_allowed", refused=refused)
    assert (verdict, outcome) == ("unknown", "to_verify")
    assert "主导产品［products］第2行被拒收" in text


# --- item 2: 第二十条 data fraud has no early exit; the end is the same day 3 years later ------


def _revocation(reason: str, revoked_on: str, lifted: str | None = None) -> dict[str, Any]:
    return {
        "credit_code": CODE_A,
        "title": "specialized_sme",
        "certified_on": "2022-01-01",
        "expires_on": "2024-12-31",
        "status": "revoked",
        "revoked_on": revoked_on,
        "revoke_reason": reason,
        "ban_lifted_on": lifted,
    }


@pytest.mark.parametrize(
    ("reason", "expected"), [("data_fraud", "fail"), ("dishonesty", "pass"), ("incident", "pass")]
)
def test_only_repair_or_rectification_lifts_the_ban(
    config: CriteriaConfig, reason: str, expected: str
) -> None:
    certs = [_revocation(reason, "2024-01-10", lifted="2025-01-10")]
    verdict, text, _ = _judge(config, "art20_ban", certifications=certs)
    assert verdict == expected, text
    if expected == "fail":
        assert "数据造假" in text and "至2027-01-10" in text and "第二十条" in text


@pytest.mark.parametrize(
    ("as_of", "expected"), [(dt.date(2027, 2, 28), "fail"), (dt.date(2027, 3, 1), "pass")]
)
def test_ban_from_29_february_ends_on_1_march(
    config: CriteriaConfig, as_of: dt.date, expected: str
) -> None:
    certs = [_revocation("data_fraud", "2024-02-29")]
    verdict, text, _ = _judge(config, "art20_ban", as_of=as_of, certifications=certs)
    assert verdict == expected, text
    if expected == "fail":
        assert "至2027-03-01" in text


# --- item 3: niche years count from the later of niche_since and established_on --------------


def _established(day: str) -> list[dict[str, Any]]:
    return [{**model_firm()["firms"][0], "established_on": day}]


def test_firm_set_up_after_the_cutoff_fails_without_product_data(config: CriteriaConfig) -> None:
    verdict, text, outcome = _judge(
        config, "a2_1_niche_years", firms=_established("2024-03-01"), products=None
    )
    assert (verdict, outcome) == ("fail", "ineligible")
    assert "成立日期 2024-03-01" in text and "附件2（一）" in text


def test_niche_since_before_establishment_counts_from_establishment(
    config: CriteriaConfig,
) -> None:
    # niche_since 2015, but the firm was set up in 2024: it cannot have 3 years
    verdict, text, _ = _judge(config, "a1_1_niche_years", tier=SP, firms=_established("2024-03-01"))
    assert verdict == "fail", text


@pytest.mark.parametrize(
    ("established", "expected"),
    [(f"{Y - 3}-12-31", "pass"), (f"{Y - 2}-01-01", "fail")],
)
def test_establishment_cutoff_from_both_sides(
    config: CriteriaConfig, established: str, expected: str
) -> None:
    verdict, text, _ = _judge(config, "a2_1_niche_years", firms=_established(established))
    assert verdict == expected, text
    if expected == "pass":
        assert "自成立日期" in text and f"截至{Y}年末已满3年" in text


# --- item 4: 第十一条 "企业": only 91 codes -----------------------------------------------------


@pytest.mark.parametrize(
    ("first17", "expected", "label"),
    [
        ("91110108551385082", "pass", "存续"),
        ("92110108MA0000001", "fail", "个体工商户"),
        ("93110108MA0000001", "fail", "农民专业合作社"),
        ("11110108MA0000001", "fail", "其他登记管理机关"),
        ("Y1110108MA0000001", "fail", "其他登记管理机关"),
    ],
)
def test_art11_registered_requires_an_enterprise_code(
    config: CriteriaConfig, first17: str, expected: str, label: str
) -> None:
    code = with_check_character(first17)
    firms = [{**model_firm()["firms"][0], "credit_code": code}]
    verdict, text, _ = _judge(config, "art11_registered", code=code, firms=firms)
    assert verdict == expected, text
    assert label in text and "第十一条" in text


# --- item 5: an undefined ratio is unknown ---------------------------------------------------


@pytest.mark.parametrize("tier,criterion", [(SP, "a1_3_rd"), (LG, "a2_3_rd")])
def test_rd_share_with_zero_revenue_is_unknown(
    config: CriteriaConfig, tier: str, criterion: str
) -> None:
    years = [
        financial_year(Y - 1, 70e6),
        financial_year(Y, 0.0, rd_expense=6e6, main_business_revenue=0.0),
    ]
    verdict, text, _ = _judge(config, criterion, tier=tier, financials=years)
    assert verdict == "unknown", text
    assert "营业收入为零，占比无法计算" in text
    # the other side: a positive revenue gives the share
    years[1] = financial_year(Y, 60e6, rd_expense=6e6)
    assert _judge(config, criterion, tier=tier, financials=years)[0] == "pass"


@pytest.mark.parametrize(
    ("criterion", "figures", "text"),
    [
        (
            "a2_2_main_business",
            {"revenue": 0.0, "main_business_revenue": 0.0},
            "主营业务收入占比无法计算",
        ),
        ("a2_2_debt_ratio", {"total_assets": 0.0, "total_liabilities": 0.0}, "资产负债率无法计算"),
    ],
)
def test_share_and_debt_ratio_with_zero_denominator_are_unknown(
    config: CriteriaConfig, criterion: str, figures: dict[str, float], text: str
) -> None:
    years = [financial_year(Y - 2, 60e6), financial_year(Y - 1, 70e6), financial_year(Y, **figures)]
    verdict, evidence, _ = _judge(config, criterion, financials=years)
    assert verdict == "unknown" and text in evidence and "附件2（二）" in evidence


def test_growth_from_zero_base_is_unknown(config: CriteriaConfig) -> None:
    years = [financial_year(Y - 2, 0.0), financial_year(Y - 1, 70e6), financial_year(Y)]
    verdict, text, _ = _judge(config, "a2_2_growth", financials=years)
    assert verdict == "unknown" and "复合增长率无法计算（附件2（二））" in text


# --- item 7: railway (division 53) is not 交通运输业 -------------------------------------------


@pytest.mark.parametrize(("industry", "expected"), [("G5310", "fail"), ("G5410", "pass")])
def test_railway_falls_to_other_industries(
    config: CriteriaConfig, industry: str, expected: str
) -> None:
    firms = [{**model_firm()["firms"][0], "industry_code": industry}]
    year = financial_year(Y, 1e6, employees=500, main_business_revenue=1e6, rd_expense=1e5)
    verdict, text, _ = _judge(
        config, "art11_sme_size", firms=firms, financials=[financial_year(Y - 1), year]
    )
    assert verdict == expected, text
    label = "其他未列明行业" if expected == "fail" else "交通运输业（不含铁路运输业）"
    assert label in text


# --- item 8: unaudited accounts cannot make a pass -------------------------------------------


@pytest.mark.parametrize(
    ("audited", "expected"), [(False, "unknown"), (True, "pass"), (None, "pass")]
)
def test_unaudited_year_cannot_pass(
    config: CriteriaConfig, audited: bool | None, expected: str
) -> None:
    years = [financial_year(Y - 2, 60e6), financial_year(Y - 1, 70e6), financial_year(Y)]
    if audited is not None:
        years[-1]["audited"] = audited
    verdict, text, outcome = _judge(config, "a2_2_revenue", financials=years)
    assert verdict == expected, text
    if expected == "unknown":
        assert outcome == "to_verify"
        assert "需提供2025年度审计报告" in text and "附件3（一）" in text


def test_unaudited_fail_stays_fail_and_equity_still_passes(config: CriteriaConfig) -> None:
    low = [financial_year(Y - 1, 70e6), financial_year(Y, 10e6, audited=False)]
    assert _judge(config, "a2_2_revenue", financials=low)[0] == "fail"
    # a1_2_scale: unaudited revenue cannot pass it, qualified equity can
    years = [financial_year(Y - 1, 70e6), financial_year(Y, 20e6, audited=False)]
    verdict, text, _ = _judge(config, "a1_2_scale", tier=SP, financials=years)
    assert verdict == "unknown" and "审计报告" in text
    investments = [
        {
            "investee_name": "甲公司",
            "investee_credit_code": CODE_A,
            "investor_name": "某基金",
            "investor_qualified": True,
            "paid_in_amount": 20e6,
            "paid_in_on": f"{Y}-05-01",
        }
    ]
    verdict, _, _ = _judge(config, "a1_2_scale", tier=SP, financials=years, investments=investments)
    assert verdict == "pass"


def test_unaudited_earlier_year_names_that_year(config: CriteriaConfig) -> None:
    years = [
        financial_year(Y - 2, 60e6),
        financial_year(Y - 1, 70e6, audited=False),
        financial_year(Y),
    ]
    verdict, text, _ = _judge(config, "a2_3_rd", financials=years)
    assert verdict == "unknown" and f"需提供{Y - 1}年度审计报告" in text
    assert _judge(config, "a2_2_revenue", financials=years)[0] == "pass"  # reads Y only


# --- item 11: a fail while a link is pending -------------------------------------------------


def _pending(table: str, rows: list[dict[str, Any]], codes: list[str]) -> SourceData:
    copies = frame(table, rows).assign(pending_mention=["第9行 unit_name「华芯」"] * len(rows))
    copies["unit_credit_code" if table != "investments" else "investee_credit_code"] = codes
    return SourceData({table: copies})


def _award(level: str, year: int = Y) -> dict[str, Any]:
    return {
        "award_name": "国家技术发明奖",
        "level": level,
        "year": year,
        "unit_name": "华芯",
        "unit_rank": 1,
        "unit_credit_code": None,
    }


def test_pending_award_mention_makes_the_ip_fail_unknown(config: CriteriaConfig) -> None:
    pending = _pending("awards", [_award("national")], [CODE_A])
    verdict, text, outcome = _judge(config, "a2_4_ip", pending=pending, ip_rights=[], ip_holders=[])
    assert (verdict, outcome) == ("unknown", "to_verify")
    assert "科技奖项［awards］第9行 unit_name「华芯」" in text and "第九条" in text


@pytest.mark.parametrize(
    ("award", "candidate"),
    [
        (_award("provincial"), CODE_A),
        (_award("national", Y - 3), CODE_A),
        (_award("national"), CODE_B),
    ],
)
def test_pending_mention_that_would_not_supply_it_leaves_the_fail(
    config: CriteriaConfig, firm_b: list[dict[str, Any]], award: dict[str, Any], candidate: str
) -> None:
    # a provincial award does not waive 附件2（四）; an old one is outside 近三年; a mention of
    # another firm supplies nothing for this one
    pending = _pending("awards", [award], [candidate])
    verdict, _, outcome = _judge(
        config, "a2_4_ip", pending=pending, ip_rights=[], ip_holders=[], firms=firm_b
    )
    assert (verdict, outcome) == ("fail", "ineligible")


def test_pending_investment_mention_makes_scale_unknown(config: CriteriaConfig) -> None:
    years = [financial_year(Y - 1, 70e6), financial_year(Y, 1e6)]
    assert _judge(config, "a1_2_scale", tier=SP, financials=years)[0] == "fail"
    row = {
        "investee_name": "华芯",
        "investor_name": "某基金",
        "investor_qualified": True,
        "paid_in_amount": 20e6,
        "paid_in_on": f"{Y}-05-01",
    }
    verdict, text, _ = _judge(
        config,
        "a1_2_scale",
        tier=SP,
        financials=years,
        pending=_pending("investments", [row], [CODE_A]),
    )
    assert verdict == "unknown" and "名称匹配待人工核对" in text
