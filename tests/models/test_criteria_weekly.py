"""Issue 23: the standards as the weekly run applies them — live reading of the data, doubts
by a refused row's content, the listed tightenings, and empty tables per province."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from features.point_in_time import point_in_time
from features.schemas import SCHEMAS
from features.sources import SourceData
from models.criteria import evaluate_criteria
from models.criteria.doubts import REFUSED_ROW_DOUBTS, could_fail
from models.criteria_config import CriteriaConfig
from models.invitations import home_province
from models.watchlist import watchlist_rows
from models.watchlist_config import load_watchlist_config
from tests.models.conftest import rows_of
from tests.models.frames import AS_OF, CODE_A, Y, financial_year, model_firm, source

LG, SP = "little_giant", "specialized"


def _live(
    config: CriteriaConfig,
    criterion: str,
    tier: str = LG,
    refused: pd.DataFrame | None = None,
    **tables: Any,
) -> tuple[str, str, str]:
    """(verdict, evidence, outcome) of firm A, read as the weekly run reads it (live)."""
    data = point_in_time(source(**model_firm(**tables)), AS_OF, live=True)
    out = evaluate_criteria(data, AS_OF, config, refused=refused)
    mine = rows_of(out, credit_code=CODE_A, tier=tier, mode="discovery")
    row = mine[mine["criterion"] == criterion]
    outcome = mine[mine["criterion"] == "outcome"]
    return (
        str(row["verdict"].iloc[0]),
        str(row["evidence"].iloc[0]),
        str(outcome["verdict"].iloc[0]),
    )


def _title(**changes: Any) -> list[dict[str, Any]]:
    return [{**model_firm()["certifications"][0], **changes}]


# --- Why, the flow: what the engine forbids must not be published ---------------------------


def test_a_revocation_without_a_date_keeps_the_title_lost_and_the_ban_open(
    config: CriteriaConfig,
) -> None:
    certs = _title(status="revoked", revoke_reason="data_fraud")
    assert _live(config, "a2_1_title", certifications=certs)[0] == "fail"
    verdict, text, outcome = _live(config, "art20_ban", certifications=certs)
    assert (verdict, outcome) == ("unknown", "ineligible")
    assert "第二十条" in text


def test_an_expired_title_with_a_later_expiry_date_stays_expired(config: CriteriaConfig) -> None:
    certs = _title(status="expired", expires_on="2027-12-31")
    verdict, _, outcome = _live(config, "a2_1_title", certifications=certs)
    assert (verdict, outcome) == ("fail", "ineligible")


def test_a_cancelled_firm_with_current_year_accounts_stays_cancelled(
    config: CriteriaConfig,
) -> None:
    firms = [{**model_firm()["firms"][0], "status": "cancelled"}]
    accounts = [*model_firm()["financials"], financial_year(AS_OF.year)]
    verdict, text, outcome = _live(config, "art11_registered", firms=firms, financials=accounts)
    assert (verdict, outcome) == ("fail", "ineligible")
    assert "注销" in text


def _refused(table: str, **content: Any) -> pd.DataFrame:
    row = {"credit_code": CODE_A, "table": table, "row": 9, "reason": "amount: negative"}
    return pd.DataFrame([{**row, **content}])


def test_a_refused_supply_row_cannot_lift_a_main_product_outside_the_fields(
    config: CriteriaConfig,
) -> None:
    products = [{**model_firm()["products"][0], "category": "other"}]
    refused = _refused("supply_chain", year=Y)
    verdict, text, outcome = _live(config, "a2_6_domain", refused=refused, products=products)
    assert (verdict, outcome) == ("fail", "ineligible"), text
    # a refused products row can: it could be the main product, in a listed field
    lifted = _live(config, "a2_6_domain", refused=_refused("products"), products=products)
    assert lifted[0] == "unknown" and "主导产品［products］第9行被拒收" in lifted[1]


def test_a_ban_lift_before_the_revocation_lifts_nothing(config: CriteriaConfig) -> None:
    revoked = {
        **model_firm()["certifications"][0],
        "title": "little_giant",
        "status": "revoked",
        "revoked_on": "2025-03-01",
        "revoke_reason": "dishonesty",
        "ban_lifted_on": "2024-12-01",
    }
    certs = [*model_firm()["certifications"], revoked]
    verdict, text, outcome = _live(config, "art20_ban", certifications=certs)
    assert (verdict, outcome) == ("fail", "ineligible")
    assert "2024-12-01" in text and "早于取消认定日期" in text and "至2028-03-01" in text
    # the same repair after the revocation lifts it (第二十条)
    after = [*model_firm()["certifications"], {**revoked, "ban_lifted_on": "2025-06-01"}]
    assert _live(config, "art20_ban", certifications=after)[0] == "pass"


def test_a_provincial_award_of_the_current_year_counts_in_a_live_run(
    config: CriteriaConfig,
) -> None:
    award = {
        "award_name": "北京市科学技术奖",
        "level": "provincial",
        "year": AS_OF.year,
        "unit_name": "甲公司",
        "unit_rank": 1,
        "unit_credit_code": CODE_A,
    }
    certs = _title(title="tech_sme")
    verdict, text, _ = _live(
        config,
        "a1_4_ip",
        tier=SP,
        ip_rights=[],
        ip_holders=[],
        awards=[award],
        certifications=certs,
    )
    assert verdict == "pass", text
    assert f"{AS_OF.year}年北京市科学技术奖" in text


def test_the_current_year_score_counts_in_a_live_run(config: CriteriaConfig) -> None:
    assert _live(config, "a2_7_evaluation")[0] == "pass"


# --- Why, the review -------------------------------------------------------------------------


def test_a_title_revoked_by_as_of_is_not_valid_whatever_status_says(
    config: CriteriaConfig,
) -> None:
    certs = _title(revoked_on="2026-01-10", revoke_reason="other")
    out = evaluate_criteria(source(**model_firm(certifications=certs)), AS_OF, config)
    title = rows_of(out, credit_code=CODE_A, tier=LG, mode="discovery", criterion="a2_1_title")
    assert title["verdict"].tolist() == ["fail"]


@pytest.mark.parametrize(
    ("node_category", "year", "expected"),
    [
        ("key_materials", Y, "pass"),
        ("core_components", Y, "unknown"),  # a key node of another field than the product's
        ("key_materials", AS_OF.year, "unknown"),  # the current year is outside Y-1..Y
    ],
)
def test_the_key_link_is_a_supply_of_the_main_products_field_within_y_minus_1_to_y(
    config: CriteriaConfig, node_category: str, year: int, expected: str
) -> None:
    supply = [{**model_firm()["supply_chain"][0], "year": year}]
    nodes = [{**model_firm()["chain_nodes"][0], "category": node_category}]
    verdict, text, _ = _live(config, "a2_6_domain", supply_chain=supply, chain_nodes=nodes)
    assert verdict == expected, text


def test_a_blank_founding_date_leaves_the_niche_years_unknown(config: CriteriaConfig) -> None:
    firms = [{**model_firm()["firms"][0], "established_on": None}]
    verdict, text, outcome = _live(config, "a2_1_niche_years", firms=firms)
    assert (verdict, outcome) == ("unknown", "to_verify")
    assert "缺少成立日期" in text
    # an entry too late still fails: the later of the two dates is later still
    late = [{**model_firm()["products"][0], "niche_since": f"{Y - 1}-01-01"}]
    assert _live(config, "a2_1_niche_years", firms=firms, products=late)[0] == "fail"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"year": 2010}, "pass"),  # a year no criterion reads
        ({"year": Y}, "unknown"),
        ({}, "unknown"),  # the year could not be read: it could be any
    ],
)
def test_a_refused_financials_row_doubts_only_the_years_it_could_be(
    config: CriteriaConfig, content: dict[str, Any], expected: str
) -> None:
    refused = _refused("financials", **content)
    for criterion in ("a2_2_revenue", "a2_2_debt_ratio", "art11_sme_size"):
        assert _live(config, criterion, refused=refused)[0] == expected, criterion
    # growth reads Y-2 and Y only
    growth = _live(config, "a2_2_growth", refused=_refused("financials", year=Y - 1))
    assert growth[0] == "pass"


def test_a_refused_score_of_another_year_does_not_lift_an_evaluation_fail(
    config: CriteriaConfig,
) -> None:
    low = [{"credit_code": CODE_A, "year": AS_OF.year, "score": 40.0}]
    other_year = _refused("evaluation_scores", year=Y)
    assert _live(config, "a2_7_evaluation", refused=other_year, evaluation_scores=low)[0] == "fail"
    this_year = _refused("evaluation_scores", year=AS_OF.year)
    verdict = _live(config, "a2_7_evaluation", refused=this_year, evaluation_scores=low)[0]
    assert verdict == "unknown"


def test_a_refused_title_of_a_kind_that_cannot_count_does_not_lift_the_title(
    config: CriteriaConfig,
) -> None:
    certs = _title(title="tech_sme")  # no specialized_sme title: a2_1_title fails
    assert _live(config, "a2_1_title", certifications=certs)[0] == "fail"
    tech = _refused("certifications", kind="tech_sme")
    assert _live(config, "a2_1_title", refused=tech, certifications=certs)[0] == "fail"
    specialized = _refused("certifications", kind="specialized_sme")
    verdict = _live(config, "a2_1_title", refused=specialized, certifications=certs)[0]
    assert verdict == "unknown"


def test_the_doubt_mapping_is_data_and_a2_6_has_two_halves() -> None:
    a2_6 = {(d.table, d.effect, d.part) for d in REFUSED_ROW_DOUBTS if d.criterion == "a2_6_domain"}
    assert a2_6 == {
        ("products", "worsen", "field"),
        ("products", "lift", "field"),
        ("supply_chain", "lift", "key_link"),
    }


def test_could_fail_names_the_criteria_a_refused_row_could_fail(config: CriteriaConfig) -> None:
    refused = pd.concat([_refused("financials", year=2010), _refused("credit_events")])
    criteria = set(could_fail(refused, AS_OF, config)["criterion"])
    assert criteria == {"art11_credit_lists", "art11_incidents"}


@pytest.mark.parametrize(
    ("moved_to", "expected", "province"), [("440305", "pass", "44"), (None, "unknown", "11")]
)
def test_a_moved_firm_belongs_to_its_receiving_province(
    config: CriteriaConfig, moved_to: str | None, expected: str, province: str
) -> None:
    firms = [{**model_firm()["firms"][0], "status": "moved_out", "moved_to_region_code": moved_to}]
    verdict, text, _ = _live(config, "art11_registered", firms=firms)
    assert verdict == expected and "第十九条" in text
    assert home_province(source(firms=firms).tables["firms"]).tolist() == [province]


# --- item 4: every optional table may be empty for a province --------------------------------


@pytest.mark.parametrize("table", [t for t in SCHEMAS if t != "firms"])
def test_a_province_with_an_empty_table_is_evaluated(config: CriteriaConfig, table: str) -> None:
    # given a province whose firms have no row in `table` (the table exists elsewhere)
    tables = model_firm()
    tables[table] = []
    data = point_in_time(source(**tables), AS_OF, live=True)
    # when the province task's pure steps run
    out = evaluate_criteria(data, AS_OF, config)
    watchlist_rows(out, data, AS_OF, load_watchlist_config())
    # then every firm has its verdicts, and the run goes on
    assert set(out["credit_code"]) == {CODE_A}
    assert len(rows_of(out, criterion="outcome", mode="discovery")) == 2


def test_evaluate_criteria_on_an_empty_subset_of_every_table(config: CriteriaConfig) -> None:
    tables = {name: [] for name in SCHEMAS if name != "firms"}
    data = SourceData({**source(**tables).tables, "firms": source(**model_firm()).tables["firms"]})
    out = evaluate_criteria(point_in_time(data, AS_OF, live=True), AS_OF, config)
    assert set(rows_of(out, criterion="outcome")["verdict"]) <= {"to_verify", "ineligible"}


def test_the_flow_refuses_a_date_before_the_measures(tmp_path: Any) -> None:
    from flows.discovery import discovery
    from models.criteria_config import NotInForce

    with pytest.raises(NotInForce, match="第三十一条"):
        discovery.fn(data_dir=tmp_path, as_of=dt.date(2026, 3, 31), runs_dir=tmp_path)
