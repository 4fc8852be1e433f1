"""Annex 1 and Annex 2 criteria, table-driven: boundaries from both sides, waivers, exclusions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.models.conftest import Judge
from tests.models.frames import CODE_A, Y, class1_ip, financial_year, model_firm

A1, A2 = "specialized", "little_giant"


def _cert(title: str, **changes: Any) -> dict[str, Any]:
    row = {
        "credit_code": CODE_A,
        "title": title,
        "certified_on": "2024-01-01",
        "expires_on": "2027-12-31",
        "status": "valid",
    }
    row.update(changes)
    return row


# --- titles (附件1（一）、附件2（一）、第三十条) -------------------------------------------


@pytest.mark.parametrize(
    ("tier", "criterion", "certs", "expected"),
    [
        (A1, "a1_1_title", [_cert("tech_sme")], "pass"),
        (A1, "a1_1_title", [_cert("innovative_sme")], "pass"),  # 第三十条: 科技型 or 创新型
        (A1, "a1_1_title", [_cert("tech_sme", expires_on="2026-06-30")], "pass"),  # on the day
        (A1, "a1_1_title", [_cert("tech_sme", expires_on="2026-06-29")], "fail"),
        (A1, "a1_1_title", [_cert("tech_sme", status="expired")], "fail"),
        (A1, "a1_1_title", [_cert("tech_sme", status="revoked")], "fail"),
        (A1, "a1_1_title", [_cert("tech_sme", certified_on="2026-07-01")], "fail"),
        (A1, "a1_1_title", [], "fail"),
        (A2, "a2_1_title", [_cert("specialized_sme")], "pass"),
        (A2, "a2_1_title", [_cert("tech_sme")], "fail"),
        (A2, "a2_1_title", [_cert("specialized_sme", expires_on="2026-06-29")], "fail"),
    ],
)
def test_titles(
    judge: Judge, tier: str, criterion: str, certs: list[dict[str, Any]], expected: str
) -> None:
    verdict, text = judge(criterion, tier=tier, certifications=certs)
    assert verdict == expected, text


# --- niche years (附件1/2（一）: niche_since ≤ (Y-3)-12-31) ----------------------------------


def _product(**changes: Any) -> list[dict[str, Any]]:
    return [{**model_firm()["products"][0], **changes}]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"niche_since": f"{Y - 3}-12-31"}, "pass"),
        ({"niche_since": f"{Y - 2}-01-01"}, "fail"),
        ({"niche_since": f"{Y - 3}-01-01", "niche_since_year_only": True}, "pass"),
        ({"niche_since": f"{Y - 2}-01-01", "niche_since_year_only": True}, "fail"),
        ({"niche_since": None}, "unknown"),
        ({"revenue_share": 0.5}, "unknown"),  # 超过50%: exactly half is not a main product
        ({"revenue_share": 0.5000001}, "pass"),
    ],
)
@pytest.mark.parametrize(
    ("tier", "criterion"), [(A1, "a1_1_niche_years"), (A2, "a2_1_niche_years")]
)
def test_niche_years(
    judge: Judge, tier: str, criterion: str, changes: dict[str, Any], expected: str
) -> None:
    verdict, text = judge(criterion, tier=tier, products=_product(**changes))
    assert verdict == expected, text


# --- scale, main business, debt (附件1（二）、附件2（二）) ------------------------------------


def _year(revenue: float = 80e6, **figures: Any) -> list[dict[str, Any]]:
    return [
        financial_year(Y - 2, 60e6),
        financial_year(Y - 1, 70e6),
        financial_year(Y, revenue, **figures),
    ]


def _investment(amount: float, paid_in_on: str, qualified: bool | None = True) -> dict[str, Any]:
    return {
        "investee_name": "甲公司",
        "investee_credit_code": CODE_A,
        "investor_name": "某基金",
        "investor_qualified": qualified,
        "paid_in_amount": amount,
        "paid_in_on": paid_in_on,
    }


@pytest.mark.parametrize(
    ("revenue", "investments", "expected"),
    [
        (15_000_000.00, [], "pass"),
        (14_999_999.99, [], "fail"),
        (1e6, [_investment(20_000_000.00, f"{Y - 1}-01-01")], "pass"),  # first day of 近两年
        (1e6, [_investment(19_999_999.99, f"{Y}-12-31")], "fail"),
        (1e6, [_investment(20e6, f"{Y}-12-31")], "pass"),  # last day of fiscal year Y
        (1e6, [_investment(20e6, f"{Y + 1}-01-01")], "fail"),  # after Y: not 近两年 (issue 11)
        (1e6, [_investment(20e6, "2026-06-30")], "fail"),  # on as_of, but after Y
        (1e6, [_investment(20e6, f"{Y - 2}-12-31")], "fail"),  # before the window
        (1e6, [_investment(20e6, "2026-07-01")], "fail"),  # after as_of
        (1e6, [_investment(20e6, "2025-03-01", qualified=False)], "fail"),  # not qualified
        (1e6, [_investment(12e6, "2025-03-01"), _investment(8e6, "2024-01-01")], "pass"),
        (1e6, [_investment(12e6, "2025-03-01"), _investment(8e6, "2026-01-01")], "fail"),
        (1e6, [_investment(20e6, "2025-03-01", qualified=None)], "unknown"),
        (1e6, None, "unknown"),  # investments table missing: the equity route is unknown
    ],
)
def test_a1_2_scale(
    judge: Judge, revenue: float, investments: list[dict[str, Any]] | None, expected: str
) -> None:
    verdict, text = judge("a1_2_scale", tier=A1, financials=_year(revenue), investments=investments)
    assert verdict == expected, text
    if expected == "unknown" and investments is None:
        assert "investments" in text


def test_a1_2_scale_evidence_in_wan_with_threshold(judge: Judge) -> None:
    verdict, text = judge("a1_2_scale", tier=A1, financials=_year(16_500_000))
    assert verdict == "pass"
    assert "2025年营业收入 1,650.0万元 ≥ 1,500万元" in text
    verdict, text = judge("a1_2_scale", tier=A1, financials=_year(14_999_999.99), investments=[])
    assert "1,499.9万元 < 1,500万元" in text  # shown figure rounded towards the verdict


@pytest.mark.parametrize(
    ("revenue", "expected"), [(50_000_000.00, "pass"), (49_999_999.99, "fail"), (None, "unknown")]
)
def test_a2_2_revenue(judge: Judge, revenue: float | None, expected: str) -> None:
    verdict, _ = judge("a2_2_revenue", financials=_year(revenue))  # type: ignore[arg-type]
    assert verdict == expected


@pytest.mark.parametrize(
    ("tier", "criterion", "revenue", "main", "expected"),
    [
        (A1, "a1_2_main_business", 12_345_678.90, 9_876_543.12, "pass"),  # exactly 80%
        (A1, "a1_2_main_business", 12_345_678.90, 9_876_543.11, "fail"),
        (A2, "a2_2_main_business", 61_728_394.50, 55_555_555.05, "pass"),  # exactly 90%
        (A2, "a2_2_main_business", 61_728_394.50, 55_555_555.04, "fail"),
        (A2, "a2_2_main_business", 61_728_394.50, None, "unknown"),
        (A2, "a2_2_main_business", 0.0, 0.0, "unknown"),
    ],
)
def test_main_business_share(
    judge: Judge, tier: str, criterion: str, revenue: float, main: float | None, expected: str
) -> None:
    verdict, text = judge(
        criterion, tier=tier, financials=_year(revenue, main_business_revenue=main)
    )
    assert verdict == expected, text


@pytest.mark.parametrize(
    ("tier", "criterion", "assets", "liabilities", "expected"),
    [
        (A1, "a1_2_debt_ratio", 33_333_333.35, 26_666_666.68, "pass"),  # exactly 80%
        (A1, "a1_2_debt_ratio", 33_333_333.35, 26_666_666.69, "fail"),
        (A2, "a2_2_debt_ratio", 77_777_777.76, 58_333_333.32, "pass"),  # exactly 75%
        (A2, "a2_2_debt_ratio", 77_777_777.76, 58_333_333.33, "fail"),
        (A2, "a2_2_debt_ratio", 0.0, 0.0, "unknown"),
        (A2, "a2_2_debt_ratio", 1e6, None, "unknown"),
    ],
)
def test_debt_ratio(
    judge: Judge, tier: str, criterion: str, assets: float, liabilities: float | None, expected: str
) -> None:
    financials = _year(total_assets=assets, total_liabilities=liabilities)
    verdict, text = judge(criterion, tier=tier, financials=financials)
    assert verdict == expected, text


@pytest.mark.parametrize(
    ("base", "now", "expected"),
    [
        (40_000_000.00, 44_100_000.00, "pass"),  # (44.1/40) ** 0.5 - 1 = 5% exactly
        (40_000_000.00, 44_099_999.99, "fail"),
        (0.0, 44_100_000.00, "unknown"),  # growth from zero is undefined
        (None, 44_100_000.00, "unknown"),
    ],
)
def test_a2_2_growth(judge: Judge, base: float | None, now: float, expected: str) -> None:
    financials = [financial_year(Y - 2, base), financial_year(Y - 1), financial_year(Y, now)]  # type: ignore[arg-type]
    verdict, text = judge("a2_2_growth", financials=financials)
    assert verdict == expected, text
    if expected == "pass":
        assert "5.00% ≥ 5%" in text


# --- R&D (附件1（三）、附件2（三）) -----------------------------------------------------------


def _rd(
    prev: tuple[float | None, float | None], last: tuple[float | None, float | None]
) -> list[dict[str, Any]]:
    """(revenue, rd) of Y-1 and Y."""
    return [
        financial_year(Y - 2, 60e6),
        financial_year(Y - 1, prev[0], rd_expense=prev[1]),  # type: ignore[arg-type]
        financial_year(Y, last[0], rd_expense=last[1]),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(
    ("prev", "last", "expected"),
    [
        ((40e6, 1_200_000.00), (40e6, 1_200_000.00), "pass"),  # exactly 3% both years
        ((40e6, 1_199_999.99), (40e6, 1_200_000.00), "fail"),  # 2.99999975%
        ((123_456_789.00, 3_703_703.67), (40e6, 2e6), "pass"),  # exactly 3% of an awkward number
        ((123_456_789.00, 3_703_703.66), (40e6, 2e6), "fail"),
        ((1e8 / 3, 999_999.9999), (40e6, 2e6), "pass"),  # 1e6 ≥ 3% of 33,333,333.33 (fen)
        ((10e6, 1_000_000.00), (10e6, 999_999.99), "fail"),  # each year ≥ 100万
        ((None, None), (40e6, 2e6), "unknown"),
        ((None, None), (40e6, 1e6), "fail"),  # the known year already fails (2.5%)
        ((None, 2e6), (40e6, 2e6), "unknown"),  # revenue unknown: intensity unknown
    ],
)
def test_a1_3_rd(judge: Judge, prev: Any, last: Any, expected: str) -> None:
    verdict, text = judge("a1_3_rd", tier=A1, financials=_rd(prev, last))
    assert verdict == expected, text


@pytest.mark.parametrize(
    ("prev", "last", "expected"),
    [
        ((100e6, 5_000_000.00), (100e6, 7_000_000.00), "pass"),  # total exactly 1200万
        ((100e6, 5_000_000.00), (100e6, 6_999_999.99), "fail"),
        ((200e6, 5_999_999.99), (100e6, 7e6), "fail"),  # total ok, Y-1 below 3%
        # exactly 3%, where float division gives 0.029999999999999995
        ((8_813_372.00, 264_401.16), (100e6, 12e6), "pass"),
        ((8_813_372.00, 264_401.15), (100e6, 12e6), "fail"),
        ((None, None), (100e6, 13e6), "unknown"),  # one year alone cannot show the total
        ((None, None), (500e6, 13e6), "fail"),  # … but its 2.6% intensity fails
    ],
)
def test_a2_3_rd(judge: Judge, prev: Any, last: Any, expected: str) -> None:
    verdict, text = judge("a2_3_rd", financials=_rd(prev, last))
    assert verdict == expected, text


def test_rd_evidence_shows_each_year_and_threshold(judge: Judge) -> None:
    verdict, text = judge("a1_3_rd", tier=A1, financials=_rd((40e6, 1.2e6), (40e6, 1.3e6)))
    assert verdict == "pass"
    assert "2024年研发费用 120.0万元（占营业收入 3.00%）" in text
    assert "≥ 100万元" in text and "≥ 3%" in text


# --- class-I IP and waivers (附件1（四）、附件2（四）、附件3（五）（六）（七）) -------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "pass"),
        ({"holder_rank": 3}, "pass"),
        ({"holder_rank": 4}, "fail"),  # not among the first three holders
        ({"transferred_in": True}, "fail"),  # 转入
        ({"transferred_in": None}, "unknown"),
        ({"ip_type": "utility_model"}, "fail"),  # not class I
        ({"ip_type": "ic_layout"}, "pass"),
        ({"ip_type": "defense_patent"}, "pass"),
        ({"status": "expired"}, "fail"),
        ({"granted_on": "2026-07-01"}, "fail"),  # granted after as_of
        ({"granted_on": None}, "unknown"),
    ],
)
def test_a1_4_ip_exclusions(judge: Judge, overrides: dict[str, Any], expected: str) -> None:
    rights, holders = class1_ip(1, **overrides)
    verdict, text = judge("a1_4_ip", tier=A1, ip_rights=rights, ip_holders=holders)
    assert verdict == expected, text


def _award(level: str, year: int, rank: int, name: str = "广东省科学技术奖") -> dict[str, Any]:
    return {
        "award_name": name,
        "level": level,
        "year": year,
        "unit_name": "甲公司",
        "unit_rank": rank,
        "unit_credit_code": CODE_A,
    }


def _institution(
    level: str, valid_until: str | None = None, recognized_on: str = "2020-01-01"
) -> dict[str, Any]:
    return {
        "unit_name": "甲公司",
        "unit_credit_code": CODE_A,
        "institution_name": "省级企业技术中心",
        "kind": "tech_center",
        "level": level,
        "recognized_on": recognized_on,
        "valid_until": valid_until,
    }


@pytest.mark.parametrize(
    ("awards", "institutions", "expected"),
    [
        ([_award("provincial", Y - 2, 3)], [], "pass"),  # 近三年, 排名前三
        ([_award("provincial", Y - 3, 1)], [], "fail"),  # outside the window
        ([_award("provincial", Y, 4)], [], "fail"),  # ranked fourth
        ([_award("national", Y, 1, "国家技术发明奖")], [], "pass"),  # 省部级以上
        ([_award("municipal", Y, 1)], [], "fail"),
        ([], [_institution("provincial")], "pass"),
        ([], [_institution("national", valid_until="2026-06-30")], "pass"),
        ([], [_institution("provincial", valid_until="2026-06-29")], "fail"),  # lapsed
        ([], [_institution("provincial", recognized_on="2026-07-01")], "fail"),  # not yet
        ([], [_institution("municipal")], "fail"),
        (None, [], "unknown"),  # awards table missing: the waiver cannot be ruled out
    ],
)
def test_a1_4_ip_waivers(
    judge: Judge,
    awards: list[dict[str, Any]] | None,
    institutions: list[dict[str, Any]],
    expected: str,
) -> None:
    # given a firm without class-I IP
    verdict, text = judge(
        "a1_4_ip", tier=A1, ip_rights=[], ip_holders=[], awards=awards, rd_institutions=institutions
    )
    assert verdict == expected, text
    if expected == "pass":
        assert "不考察本项指标" in text


@pytest.mark.parametrize(
    ("n", "awards", "expected"),
    [
        (4, [], "pass"),
        (3, [], "fail"),
        (0, [_award("national", Y - 2, 3, "国家科学技术进步奖")], "pass"),
        (0, [_award("national", Y, 1, "国防科技奖")], "pass"),
        (0, [_award("national", Y - 3, 1, "国家自然科学奖")], "fail"),  # outside the window
        (0, [_award("national", Y, 4, "国家自然科学奖")], "fail"),  # ranked fourth
        (0, [_award("provincial", Y, 1)], "fail"),  # provincial awards do not waive Annex 2
        # 附件3（五）: `level = national` is the contract's definition of the four national
        # awards; the name as written does not decide (issue 11, item 9)
        (0, [_award("national", Y, 1, "国防科学技术奖")], "pass"),
        (0, [_award("national", Y, 1, "某某国家级奖项")], "pass"),
        (0, [_award("provincial", Y, 1, "国家科学技术进步奖")], "fail"),  # the level decides
    ],
)
def test_a2_4_ip(judge: Judge, n: int, awards: list[dict[str, Any]], expected: str) -> None:
    rights, holders = class1_ip(n)
    # an R&D institution does not waive Annex 2 (四)
    verdict, text = judge(
        "a2_4_ip",
        ip_rights=rights,
        ip_holders=holders,
        awards=awards,
        rd_institutions=[_institution("national")],
    )
    assert verdict == expected, text


def test_ip_pass_lists_the_declaration(judge: Judge) -> None:
    verdict, text = judge("a2_4_ip")
    assert verdict == "pass" and "需申报说明" in text and "实际应用" in text


# --- market, domain, evaluation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "rank", "expected"),
    [
        (0.10, None, "pass"),
        (0.0999, None, "unknown"),  # never `fail` on data (附件3（四）)
        (None, 3, "pass"),
        (None, 4, "unknown"),
        (None, None, "unknown"),
        (0.01, 30, "unknown"),
    ],
)
@pytest.mark.parametrize(("tier", "criterion"), [(A1, "a1_5_market"), (A2, "a2_5_market")])
def test_market(
    judge: Judge, tier: str, criterion: str, share: float | None, rank: int | None, expected: str
) -> None:
    products = _product(market_share=share, domestic_rank=rank)
    verdict, text = judge(criterion, tier=tier, products=products)
    assert verdict == expected, text
    assert "需" in text  # a declaration or a statement by the firm is always asked for


def _chain(is_key_link: bool, year: int = Y, category: str = "key_materials") -> dict[str, Any]:
    supply = [{**model_firm()["supply_chain"][0], "year": year}]
    node = {**model_firm()["chain_nodes"][0], "is_key_link": is_key_link, "category": category}
    return {"supply_chain": supply, "chain_nodes": [node]}


@pytest.mark.parametrize(
    ("category", "chain", "expected"),
    [
        ("key_materials", _chain(True), "pass"),
        ("future_industry", _chain(True, category="future_industry"), "pass"),
        # issue 23: the key-link node must be of the main product's field (sources.md)
        ("future_industry", _chain(True), "unknown"),
        ("key_materials", _chain(False), "unknown"),  # in the fields, key link not shown
        ("key_materials", _chain(True, year=Y - 2), "unknown"),  # supply too old
        ("key_materials", _chain(True, year=Y - 1), "pass"),  # Y-1..Y
        ("key_materials", _chain(True, year=Y + 1), "unknown"),  # issue 23: outside Y-1..Y
        ("other", _chain(True), "fail"),  # field known and outside the list
        (None, _chain(True), "unknown"),
        ("key_materials", {"supply_chain": None}, "unknown"),
    ],
)
def test_a2_6_domain(
    judge: Judge, category: str | None, chain: dict[str, Any], expected: str
) -> None:
    verdict, text = judge("a2_6_domain", products=_product(category=category), **chain)
    assert verdict == expected, text


def _score(year: int, score: float) -> dict[str, Any]:
    return {"credit_code": CODE_A, "year": year, "score": score}


@pytest.mark.parametrize(
    ("tier", "criterion", "scores", "expected"),
    [
        (A1, "a1_6_evaluation", [_score(2026, 50.0)], "pass"),
        (A1, "a1_6_evaluation", [_score(2026, 49.9)], "fail"),
        (A2, "a2_7_evaluation", [_score(2026, 60.0)], "pass"),
        (A2, "a2_7_evaluation", [_score(2026, 59.99)], "fail"),
        (A2, "a2_7_evaluation", [_score(2025, 90.0)], "unknown"),  # 本年度 = year of as_of
        (A2, "a2_7_evaluation", [], "unknown"),  # no official score yet
    ],
)
def test_evaluation(
    judge: Judge, tier: str, criterion: str, scores: list[dict[str, Any]], expected: str
) -> None:
    verdict, text = judge(criterion, tier=tier, evaluation_scores=scores)
    assert verdict == expected, text
