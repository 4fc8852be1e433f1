"""Output shape, outcome logic, renewal rules, missing tables and the cultivation list."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from models.criteria import (
    CRITERIA,
    OUTPUT_COLUMNS,
    TIER_CRITERIA,
    cultivation_list,
    evaluate_criteria,
)
from models.criteria_config import CriteriaConfig
from tests.models.conftest import Judge, rows_of
from tests.models.frames import AS_OF, CODE_A, CODE_B, Y, financial_year, model_firm, source

A1, A2 = "specialized", "little_giant"


def _cert(title: str, expires_on: str = "2027-12-31", **changes: Any) -> dict[str, Any]:
    row = {
        "credit_code": CODE_A,
        "title": title,
        "certified_on": "2024-01-01",
        "expires_on": expires_on,
        "status": "valid",
    }
    row.update(changes)
    return row


def _evaluate(config: CriteriaConfig, **tables: Any) -> pd.DataFrame:
    return evaluate_criteria(source(**model_firm(**tables)), AS_OF, config)


def test_output_columns_and_one_row_per_firm_tier_criterion(config: CriteriaConfig) -> None:
    # given two firms, one of them with no data beyond the registry
    tables = model_firm()
    tables["firms"] = [
        *tables["firms"],
        {**tables["firms"][0], "credit_code": CODE_B, "name": "乙"},
    ]
    # when
    out = evaluate_criteria(source(**tables), AS_OF, config)
    # then
    assert list(out.columns) == OUTPUT_COLUMNS
    discovery = rows_of(out, mode="discovery")
    for tier, ids in TIER_CRITERIA.items():
        for code in (CODE_A, CODE_B):
            got = discovery[(discovery["tier"] == tier) & (discovery["credit_code"] == code)]
            assert sorted(got["criterion"].astype(str)) == sorted([*ids, "outcome"])
    assert set(out["criterion"].astype(str)) <= set(CRITERIA)
    criteria_rows = out[out["criterion"] != "outcome"]
    assert set(criteria_rows["verdict"].astype(str)) <= {"pass", "fail", "unknown"}
    assert out["evidence"].astype(str).str.len().min() > 0


@pytest.mark.parametrize(
    ("tables", "tier", "expected"),
    [
        ({}, A2, "eligible"),  # the model firm meets everything for 小巨人
        ({}, A1, "already_certified"),  # … and already holds the specialized title
        ({"certifications": [_cert("tech_sme")]}, A1, "eligible"),
        ({"certifications": [_cert("tech_sme")]}, A2, "ineligible"),  # no specialized title
        ({"evaluation_scores": []}, A2, "to_verify"),  # score unknown blocks
        ({"certifications": [_cert("little_giant")]}, A2, "already_certified"),
        ({"certifications": [_cert("little_giant")]}, A1, "already_certified"),  # or higher
        ({"certifications": None}, A2, "to_verify"),  # titles unknown
    ],
)
def test_outcome(config: CriteriaConfig, tables: dict[str, Any], tier: str, expected: str) -> None:
    out = _evaluate(config, **tables)
    outcome = rows_of(out, tier=tier, mode="discovery", criterion="outcome")
    assert outcome["verdict"].astype(str).tolist() == [expected]


def test_self_declared_unknowns_do_not_block_eligible(judge: Judge) -> None:
    # given no market data and no catalogue class: the firm states them at application
    products = [
        {
            **model_firm()["products"][0],
            "market_share": None,
            "domestic_rank": None,
            "catalogue_class": None,
        }
    ]
    # when
    market, _ = judge("a2_5_market", products=products)
    catalogue, _ = judge("art11_products_allowed", products=products)
    outcome, evidence = judge("outcome", products=products)
    # then
    assert (market, catalogue, outcome) == ("unknown", "unknown", "eligible")
    assert "a2_5_market" in evidence and "art11_products_allowed" in evidence


def test_a_self_declared_fail_still_makes_ineligible(judge: Judge) -> None:
    products = [{**model_firm()["products"][0], "catalogue_class": "eliminated"}]
    verdict, evidence = judge("outcome", products=products)
    assert verdict == "ineligible"
    assert "art11_products_allowed" in evidence


def test_ineligible_evidence_lists_failing_criteria(judge: Judge) -> None:
    financials = [
        financial_year(Y - 2, 60e6),
        financial_year(Y - 1, 70e6),
        financial_year(Y, 49e6, total_liabilities=90e6),
    ]
    verdict, evidence = judge("outcome", financials=financials)
    assert verdict == "ineligible"
    assert "a2_2_revenue" in evidence and "a2_2_debt_ratio" in evidence


# --- renewal (第十六条, 附件3（十一）) ------------------------------------------------------


def _modes(out: pd.DataFrame, tier: str) -> set[str]:
    return set(rows_of(out, tier=tier)["mode"].astype(str))


@pytest.mark.parametrize(
    ("certs", "renewing"),
    [
        ([_cert("specialized_sme", "2026-12-27")], {A1}),  # 180 days after as_of: due
        ([_cert("specialized_sme", "2026-12-28")], set()),  # 181 days: not yet
        ([_cert("specialized_sme", "2026-06-30")], {A1}),  # expires on as_of
        ([_cert("specialized_sme", "2026-06-29")], set()),  # expired: nothing to renew
        ([_cert("specialized_sme", "2026-09-01", status="revoked")], set()),
        ([_cert("little_giant", "2026-09-01")], {A2}),
        # 附件3（十一）: only the highest title is renewed
        ([_cert("little_giant", "2026-09-01"), _cert("specialized_sme", "2026-08-01")], {A2}),
        ([_cert("little_giant", "2028-09-01"), _cert("specialized_sme", "2026-08-01")], set()),
        ([_cert("tech_sme", "2026-08-01")], set()),
    ],
)
def test_renewal_rows(
    config: CriteriaConfig, certs: list[dict[str, Any]], renewing: set[str]
) -> None:
    out = _evaluate(config, certifications=certs)
    assert {tier for tier in (A1, A2) if "renewal" in _modes(out, tier)} == renewing
    for tier in renewing:
        renewal = rows_of(out, tier=tier, mode="renewal")
        assert sorted(renewal["criterion"].astype(str)) == sorted([*TIER_CRITERIA[tier], "outcome"])
        assert "already_certified" not in set(renewal["verdict"].astype(str))


def test_renewal_window_is_configuration(config: CriteriaConfig) -> None:
    wider = config.model_copy(
        update={"renewal": config.renewal.model_copy(update={"window_days": 400})}
    )
    out = evaluate_criteria(
        source(**model_firm(certifications=[_cert("specialized_sme", "2027-06-30")])), AS_OF, wider
    )
    assert "renewal" in _modes(out, A1)


def test_renewal_rules_growth_title_and_either_year_score(judge: Judge) -> None:
    # given a little giant due for renewal whose revenue fell and whose score of this year is low
    certs = [_cert("little_giant", "2026-09-01")]
    financials = [financial_year(Y - 2, 90e6), financial_year(Y - 1, 85e6), financial_year(Y, 80e6)]
    scores = [
        {"credit_code": CODE_A, "year": 2025, "score": 61.0},
        {"credit_code": CODE_A, "year": 2026, "score": 40.0},
    ]
    tables = {"certifications": certs, "financials": financials, "evaluation_scores": scores}
    # when / then: growth is not examined in renewal (附件2（二）)
    assert judge("a2_2_growth", mode="discovery", **tables)[0] == "fail"
    verdict, text = judge("a2_2_growth", mode="renewal", **tables)
    assert verdict == "pass" and "复核企业不考查" in text
    # the title under review meets the title condition
    assert judge("a2_1_title", mode="renewal", **tables)[0] == "pass"
    # 附件2（七）: either of the last two years reaching 60 is enough
    assert judge("a2_7_evaluation", mode="discovery", **tables)[0] == "fail"
    assert judge("a2_7_evaluation", mode="renewal", **tables)[0] == "pass"
    assert judge("outcome", mode="renewal", **tables)[0] == "eligible"


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([(2025, 49.0), (2026, 49.9)], "fail"),
        ([(2025, 49.0)], "unknown"),
        ([(2024, 90.0)], "unknown"),  # outside the last two years
        ([(2026, 50.0)], "pass"),
    ],
)
def test_renewal_evaluation(judge: Judge, scores: list[tuple[int, float]], expected: str) -> None:
    rows = [{"credit_code": CODE_A, "year": y, "score": s} for y, s in scores]
    verdict, text = judge(
        "a1_6_evaluation",
        tier=A1,
        mode="renewal",
        certifications=[_cert("specialized_sme", "2026-09-01")],
        evaluation_scores=rows,
    )
    assert verdict == expected, text


# --- missing tables -------------------------------------------------------------------------

NEEDS = {
    "financials": [
        "art11_sme_size",
        "a2_2_revenue",
        "a2_2_main_business",
        "a2_2_growth",
        "a2_2_debt_ratio",
        "a2_3_rd",
    ],
    "certifications": ["a2_1_title", "art20_ban"],
    "credit_events": ["art11_credit_lists", "art11_incidents"],
    "products": ["a2_1_niche_years", "a2_5_market", "a2_6_domain", "art11_products_allowed"],
    "ip_rights": ["a2_4_ip"],
    "ip_holders": ["a2_4_ip"],
    "evaluation_scores": ["a2_7_evaluation"],
    "chain_nodes": ["a2_6_domain"],
}


@pytest.mark.parametrize("table", sorted(NEEDS))
def test_missing_table_makes_its_criteria_unknown_naming_it(
    config: CriteriaConfig, table: str
) -> None:
    # given the model firm without `table`
    out = _evaluate(config, **{table: None})
    rows = rows_of(out, tier=A2, mode="discovery")
    verdicts = dict(zip(rows["criterion"].astype(str), rows["verdict"].astype(str), strict=True))
    evidence = dict(zip(rows["criterion"].astype(str), rows["evidence"].astype(str), strict=True))
    # then every criterion that needs it is unknown and says which table is missing
    for criterion in NEEDS[table]:
        assert verdicts[criterion] == "unknown", criterion
        assert table in evidence[criterion], evidence[criterion]
    # and criteria that do not need it keep their verdict
    assert verdicts["art11_registered"] == "pass"


def test_only_firms_table(config: CriteriaConfig) -> None:
    out = evaluate_criteria(source(firms=model_firm()["firms"]), AS_OF, config)
    outcome = rows_of(out, criterion="outcome")
    assert set(outcome["verdict"].astype(str)) == {"to_verify"}


def test_name_bearing_tables_are_attributed_by_credit_code_only(judge: Judge) -> None:
    # given a patent whose holder code is empty (the matcher did not resolve the name)
    rights, holders = (
        [model_firm()["ip_rights"][0]],
        [{**model_firm()["ip_holders"][0], "holder_credit_code": None}],
    )
    verdict, _ = judge("a1_4_ip", tier=A1, ip_rights=rights, ip_holders=holders)
    assert verdict == "fail"


# --- cultivation list (第四章) ---------------------------------------------------------------


def _two_firms(config: CriteriaConfig, b_changes: dict[str, Any]) -> pd.DataFrame:
    tables = model_firm(certifications=[_cert("tech_sme")])
    for name, rows in b_changes.items():
        tables[name] = [*tables.get(name, []), *rows]
    tables["firms"] = [
        *tables["firms"],
        {**tables["firms"][0], "credit_code": CODE_B, "name": "乙"},
    ]
    for name in ("financials", "products", "evaluation_scores"):
        tables[name] = [*tables[name], *({**r, "credit_code": CODE_B} for r in model_firm()[name])]
    tables["certifications"] = [*tables["certifications"], _cert("tech_sme", credit_code=CODE_B)]
    return evaluate_criteria(source(**tables), AS_OF, config)


def test_cultivation_list_near_misses(config: CriteriaConfig) -> None:
    # given firm A missing only the specialized title for 小巨人 (cultivable),
    # and firm B additionally listed as seriously dishonest (not cultivable)
    event = {"credit_code": CODE_B, "event_type": "serious_dishonesty", "occurred_on": "2026-01-01"}
    out = _two_firms(config, {"credit_events": [event]})
    # when
    near = cultivation_list(out, config)
    # then
    assert list(near.columns) == ["credit_code", "tier", "failing_criteria", "evidence"]
    assert near[["credit_code", "tier", "failing_criteria"]].values.tolist() == [
        [CODE_A, A2, "a2_1_title"]
    ]
    assert "专精特新中小企业" in near["evidence"].iloc[0]


def test_cultivation_list_respects_max_failing(config: CriteriaConfig) -> None:
    # given firm A failing two cultivable criteria for 小巨人 (title and evaluation score)
    tables = model_firm(
        certifications=[_cert("tech_sme")],
        evaluation_scores=[{"credit_code": CODE_A, "year": 2026, "score": 55.0}],
    )
    out = evaluate_criteria(source(**tables), AS_OF, config)
    # when / then: one failing criterion allowed by default, two when configured
    assert rows_of(cultivation_list(out, config), tier=A2).empty
    two = config.model_copy(
        update={"cultivation": config.cultivation.model_copy(update={"max_failing": 2})}
    )
    listed = rows_of(cultivation_list(out, two), tier=A2)
    assert listed["failing_criteria"].tolist() == ["a2_1_title,a2_7_evaluation"]


def test_cultivation_list_never_contains_renewal_or_certified(config: CriteriaConfig) -> None:
    out = _evaluate(config, certifications=[_cert("specialized_sme", "2026-08-01")])
    assert cultivation_list(out, config).empty
