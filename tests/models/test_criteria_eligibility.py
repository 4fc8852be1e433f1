"""Article 11 and Article 20 criteria, table-driven: each boundary from both sides."""

from __future__ import annotations

from typing import Any

import pytest

from tests.models.conftest import Judge
from tests.models.frames import AS_OF, CODE_A, Y, financial_year, model_firm


def _firm(**changes: Any) -> list[dict[str, Any]]:
    return [{**model_firm()["firms"][0], **changes}]


@pytest.mark.parametrize(
    ("changes", "expected", "evidence"),
    [
        ({"status": "operating"}, "pass", "存续"),
        ({"status": "cancelled"}, "fail", "注销"),
        ({"status": "revoked"}, "fail", "吊销"),
        # issue 23: a moved firm is still 境内依法设立 (第十九条): never `fail` for the move alone
        ({"status": "moved_out"}, "unknown", "迁入地不详"),
        ({"status": "moved_out", "moved_to_region_code": "440305"}, "pass", "440305"),
        ({"established_on": "2026-07-01"}, "fail", "晚于评估日"),
        ({"established_on": "2026-06-30"}, "pass", "存续"),
    ],
)
def test_art11_registered(
    judge: Judge, changes: dict[str, Any], expected: str, evidence: str
) -> None:
    # given a registry row / when judged / then
    verdict, text = judge("art11_registered", firms=_firm(**changes))
    assert verdict == expected
    assert evidence in text


# 2011 table: SME when ANY listed figure is below the line (strictly: 1000人以下 = < 1000).
@pytest.mark.parametrize(
    ("industry", "employees", "revenue", "assets", "expected"),
    [
        ("C3976", 999, 500e6, 1e6, "pass"),  # industrial: employees below 1000
        ("C3976", 1000, 399_999_999.99, 1e6, "pass"),  # … or revenue below 40000万
        ("C3976", 1000, 400e6, 1e6, "fail"),  # both at the line: not an SME
        ("C3976", None, 500e6, 1e6, "unknown"),  # employees unknown, revenue above
        ("C3976", None, 100e6, 1e6, "pass"),  # revenue alone shows SME
        ("I6513", 299, 200e6, 1e6, "pass"),  # software: 300人
        ("I6513", 300, 100e6, 1e6, "fail"),  # … 10000万
        ("F5123", 199, 500e6, 1e6, "pass"),  # wholesale: 200人
        ("F5123", 200, 400e6, 1e6, "fail"),
        ("K7010", 5000, 1_999_999_999, 200e6, "pass"),  # real estate development: revenue
        ("K7010", 5000, 2e9, 100e6, "fail"),  # … and assets 10000万 both at the line
        ("E4710", 5000, 900e6, 799_999_999, "pass"),  # construction: assets below
        ("A0111", 5000, 199_999_999, 1e6, "pass"),  # agriculture: revenue only
        ("A0111", 10, 200e6, 1e6, "fail"),  # … employees do not count there
        ("M7320", 299, 10e9, 10e9, "pass"),  # other industries: 300人 only
        ("M7320", 300, 1.0, 1.0, "fail"),
        ("K70", 10, 1.0, 1.0, "unknown"),  # 701 or 702 or other: too coarse to classify
    ],
)
def test_art11_sme_size(
    judge: Judge,
    industry: str,
    employees: int | None,
    revenue: float,
    assets: float,
    expected: str,
) -> None:
    # given the firm's industry and year-Y figures
    year = financial_year(
        Y, revenue, employees=employees, total_assets=assets, total_liabilities=0.0
    )
    # when
    verdict, text = judge(
        "art11_sme_size",
        firms=_firm(industry_code=industry),
        financials=[financial_year(Y - 1), year],
    )
    # then
    assert verdict == expected, text


def test_art11_sme_size_unknown_without_industry_code_or_year_figures(judge: Judge) -> None:
    assert judge("art11_sme_size", firms=_firm(industry_code=None))[0] == "unknown"
    verdict, text = judge("art11_sme_size", financials=[financial_year(Y - 1)])
    assert (verdict, "缺少2025年财务数据" in text) == ("unknown", True)


def _event(event_type: str, occurred_on: str, resolved_on: str | None = None) -> dict[str, Any]:
    return {
        "credit_code": CODE_A,
        "event_type": event_type,
        "occurred_on": occurred_on,
        "resolved_on": resolved_on,
    }


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], "pass"),
        ([_event("abnormal_operation", "2026-01-01")], "fail"),
        ([_event("serious_dishonesty", "2020-01-01")], "fail"),  # still listed, however old
        ([_event("abnormal_operation", "2026-01-01", "2026-06-30")], "pass"),  # removed by as_of
        ([_event("abnormal_operation", "2026-01-01", "2026-07-01")], "fail"),  # removed later
        ([_event("abnormal_operation", "2026-07-01")], "pass"),  # listed after as_of
        ([_event("major_safety_accident", "2026-01-01")], "pass"),  # not a list
    ],
)
def test_art11_credit_lists(judge: Judge, events: list[dict[str, Any]], expected: str) -> None:
    verdict, text = judge("art11_credit_lists", credit_events=events)
    assert verdict == expected, text


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], "pass"),
        ([_event("major_safety_accident", f"{Y - 2}-01-01")], "fail"),  # first day of 近三年
        ([_event("major_safety_accident", f"{Y - 3}-12-31")], "pass"),  # day before
        ([_event("serious_quality_issue", "2026-06-30")], "fail"),  # on as_of
        ([_event("major_cyber_incident", "2026-07-01")], "pass"),  # after as_of
        ([_event("major_environmental_violation", "2024-05-01", "2024-06-01")], "fail"),
        ([_event("serious_industry_violation", "2025-05-01")], "fail"),
        ([_event("data_fraud", "2025-05-01")], "unknown"),  # project reading: a person checks
        ([_event("data_fraud", "2021-05-01")], "pass"),
        ([_event("abnormal_operation", "2025-05-01")], "pass"),  # a list, not an incident
    ],
)
def test_art11_incidents(judge: Judge, events: list[dict[str, Any]], expected: str) -> None:
    verdict, text = judge("art11_incidents", credit_events=events)
    assert verdict == expected, text


def test_art11_incidents_evidence_names_event_and_date(judge: Judge) -> None:
    verdict, text = judge(
        "art11_incidents", credit_events=[_event("major_safety_accident", "2024-03-05")]
    )
    assert verdict == "fail"
    assert "2024-03-05" in text and "较大及以上生产安全事故" in text


def _products(*classes: str | None) -> list[dict[str, Any]]:
    base = model_firm()["products"][0]
    return [
        {
            **base,
            "product_name": f"产品{i}",
            "revenue_share": 0.8 if i == 0 else 0.1,
            "catalogue_class": c,
        }
        for i, c in enumerate(classes)
    ]


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (("encouraged",), "pass"),
        (("allowed", "encouraged"), "pass"),
        (("restricted",), "fail"),
        (("encouraged", "eliminated"), "fail"),  # any product, not only the main one
        ((None,), "unknown"),
        (("encouraged", None), "unknown"),
    ],
)
def test_art11_products_allowed(
    judge: Judge, classes: tuple[str | None, ...], expected: str
) -> None:
    verdict, text = judge("art11_products_allowed", products=_products(*classes))
    assert verdict == expected, text
    if expected != "fail":
        assert "需申报说明" in text


def _revocation(**changes: Any) -> dict[str, Any]:
    row = {
        "credit_code": CODE_A,
        "title": "specialized_sme",
        "certified_on": "2020-01-01",
        "expires_on": "2026-12-31",
        "status": "revoked",
        "revoked_on": "2023-07-01",
        "revoke_reason": "data_fraud",
        "ban_lifted_on": None,
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "fail"),  # revoked 2023-07-01: banned until 2026-07-01, as_of 2026-06-30
        ({"revoked_on": "2023-06-30"}, "pass"),  # exactly three years before as_of: ended
        ({"revoke_reason": "incident"}, "fail"),
        ({"revoke_reason": "dishonesty"}, "fail"),
        ({"revoke_reason": "not_updated"}, "pass"),  # Article 17: no three-year ban
        ({"revoke_reason": "no_longer_qualified"}, "pass"),
        # 第二十条: data fraud has no early exit; it bans for the full three years (issue 11)
        ({"ban_lifted_on": "2026-06-30"}, "fail"),
        # credit repair (失信) / accepted rectification (事故事件) lift the ban early
        ({"revoke_reason": "dishonesty", "ban_lifted_on": "2026-06-30"}, "pass"),
        ({"revoke_reason": "incident", "ban_lifted_on": "2026-06-30"}, "pass"),
        ({"revoke_reason": "incident", "ban_lifted_on": "2026-07-01"}, "fail"),  # after as_of
        ({"revoke_reason": None}, "unknown"),
        ({"revoke_reason": None, "ban_lifted_on": "2026-06-30"}, "unknown"),  # liftable?
        ({"title": "tech_sme"}, "pass"),  # Article 20 covers the two tiers only
        ({"title": "little_giant"}, "fail"),
        ({"revoked_on": "2026-07-01"}, "pass"),  # not yet revoked on as_of
    ],
)
def test_art20_ban(judge: Judge, changes: dict[str, Any], expected: str) -> None:
    # given a revoked title next to a valid tech_sme title
    certifications = [
        _revocation(**changes),
        {
            "credit_code": CODE_A,
            "title": "tech_sme",
            "certified_on": "2025-01-01",
            "expires_on": "2028-01-01",
            "status": "valid",
        },
    ]
    # when
    verdict, text = judge("art20_ban", tier="specialized", certifications=certifications)
    # then
    assert verdict == expected, text


def test_art20_ban_evidence_states_reason_and_end(judge: Judge) -> None:
    verdict, text = judge("art20_ban", certifications=[_revocation()])
    assert verdict == "fail"
    assert "数据造假" in text and "2023-07-01" in text and "2026-07-01" in text


def test_as_of_is_a_parameter(judge: Judge) -> None:
    # the same revocation no longer bans one day later
    assert judge("art20_ban", certifications=[_revocation()])[0] == "fail"
    later = AS_OF.replace(day=AS_OF.day)  # 2026-06-30
    assert (
        judge("art20_ban", as_of=later.replace(month=7, day=1), certifications=[_revocation()])[0]
        == "pass"
    )
