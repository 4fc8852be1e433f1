"""Directional properties (hypothesis): a figure moving the wrong way never improves a verdict.

Each example evaluates two firms side by side: A with the drawn figures, B identical except one
figure moved the wrong way. B's verdict must never rank above A's (fail < unknown < pass).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from models.criteria import evaluate_criteria
from models.criteria_config import load_criteria_config
from tests.models.frames import (
    AS_OF,
    CODE_A,
    CODE_B,
    Y,
    class1_ip,
    financial_year,
    model_firm,
    source,
)

CONFIG = load_criteria_config()
RANK = {
    "fail": 0,
    "unknown": 1,
    "pass": 2,
    "ineligible": 0,
    "to_verify": 1,
    "eligible": 2,
    "already_certified": 3,
}
CODE_COLUMNS = (
    "credit_code",
    "holder_credit_code",
    "investee_credit_code",
    "unit_credit_code",
    "supplier_credit_code",
)
Tables = dict[str, list[dict[str, Any]]]

# Amounts in yuan with fen precision; many draws sit on or near the thresholds.
amount = st.one_of(
    st.integers(0, 200_000_000_00).map(lambda fen: fen / 100),
    st.sampled_from([15e6, 50e6, 12e6, 1e6, 20e6, 40e6, 44.1e6, 1e8 / 3]),
)
worse = st.integers(0, 5_000_000_00).map(lambda fen: fen / 100)


def _as_b(tables: Tables) -> Tables:
    """Firm A's rows re-keyed to firm B (IP ids prefixed so both firms hold their own rights)."""
    out: Tables = {}
    for name, rows in tables.items():
        if name == "chain_nodes":
            continue
        moved = []
        for row in rows:
            row = dict(row)
            for column in CODE_COLUMNS:
                if row.get(column) == CODE_A:
                    row[column] = CODE_B
            if "ip_id" in row:
                row["ip_id"] = "B-" + row["ip_id"]
            if name == "firms":
                row["name"] = "乙公司"
            moved.append(row)
        out[name] = moved
    return out


def _pair(tables_a: Tables, tables_b: Tables) -> pd.DataFrame:
    merged = {name: [*rows, *_as_b(tables_b).get(name, [])] for name, rows in tables_a.items()}
    out = evaluate_criteria(source(**merged), AS_OF, CONFIG)
    return out[out["mode"] == "discovery"]


def _never_better(out: pd.DataFrame, criteria: list[str]) -> None:
    for criterion in criteria:
        rows = out[out["criterion"] == criterion]
        for tier in rows["tier"].astype(str).unique():
            by_firm = rows[rows["tier"] == tier].set_index(
                rows[rows["tier"] == tier]["credit_code"].astype(str)
            )
            a, b = str(by_firm.loc[CODE_A, "verdict"]), str(by_firm.loc[CODE_B, "verdict"])
            assert RANK[b] <= RANK[a], f"{tier}/{criterion}: A {a}, worse B {b}"


def _check(base: Tables, change: Callable[[Tables], None], criteria: list[str]) -> None:
    worse_tables = copy.deepcopy(base)
    change(worse_tables)
    _never_better(_pair(base, worse_tables), criteria)


def _financials(revenue: float, base_revenue: float, **figures: Any) -> list[dict[str, Any]]:
    return [
        financial_year(Y - 2, base_revenue),
        financial_year(Y - 1, 70e6),
        financial_year(Y, revenue, **figures),
    ]


@settings(max_examples=25, deadline=None)
@given(revenue=amount, base=amount, less=worse)
def test_less_revenue_never_improves_scale_or_growth(
    revenue: float, base: float, less: float
) -> None:
    tables = model_firm(financials=_financials(revenue, base))

    def change(t: Tables) -> None:
        t["financials"][-1]["revenue"] = max(0.0, revenue - less)

    _check(tables, change, ["a1_2_scale", "a2_2_revenue", "a2_2_growth"])


@settings(max_examples=25, deadline=None)
@given(assets=amount, liabilities=amount, more=worse)
def test_higher_liabilities_never_improve_debt_ratio(
    assets: float, liabilities: float, more: float
) -> None:
    tables = model_firm(
        financials=_financials(80e6, 60e6, total_assets=assets, total_liabilities=liabilities)
    )

    def change(t: Tables) -> None:
        t["financials"][-1]["total_liabilities"] = liabilities + more

    _check(tables, change, ["a1_2_debt_ratio", "a2_2_debt_ratio"])


@settings(max_examples=25, deadline=None)
@given(revenue=amount, share=st.floats(0, 1), less=worse)
def test_less_main_business_revenue_never_improves_share(
    revenue: float, share: float, less: float
) -> None:
    main = round(revenue * share, 2)
    tables = model_firm(financials=_financials(revenue, 60e6, main_business_revenue=main))

    def change(t: Tables) -> None:
        t["financials"][-1]["main_business_revenue"] = max(0.0, main - less)

    _check(tables, change, ["a1_2_main_business", "a2_2_main_business"])


@settings(max_examples=25, deadline=None)
@given(revenue=amount, rd_prev=amount, rd_last=amount, less=worse)
def test_less_rd_never_improves_rd(
    revenue: float, rd_prev: float, rd_last: float, less: float
) -> None:
    financials = _financials(revenue, 60e6, rd_expense=rd_last)
    financials[1]["rd_expense"] = rd_prev
    tables = model_firm(financials=financials)

    def change(t: Tables) -> None:
        t["financials"][-1]["rd_expense"] = max(0.0, rd_last - less)

    _check(tables, change, ["a1_3_rd", "a2_3_rd"])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 6), fewer=st.integers(0, 6), awarded=st.booleans())
def test_fewer_class1_ip_never_improves_ip_or_outcome(n: int, fewer: int, awarded: bool) -> None:
    rights, holders = class1_ip(n)
    awards = (
        [
            {
                "award_name": "广东省科学技术奖",
                "level": "provincial",
                "year": Y,
                "unit_name": "甲公司",
                "unit_rank": 2,
                "unit_credit_code": CODE_A,
            }
        ]
        if awarded
        else []
    )
    tables = model_firm(ip_rights=rights, ip_holders=holders, awards=awards)

    def change(t: Tables) -> None:
        keep = max(0, n - fewer)
        t["ip_rights"], t["ip_holders"] = t["ip_rights"][:keep], t["ip_holders"][:keep]

    _check(tables, change, ["a1_4_ip", "a2_4_ip", "outcome"])


@settings(max_examples=25, deadline=None)
@given(score=st.floats(0, 100), less=st.floats(0, 30))
def test_lower_score_never_improves_evaluation(score: float, less: float) -> None:
    tables = model_firm(
        evaluation_scores=[{"credit_code": CODE_A, "year": AS_OF.year, "score": score}]
    )

    def change(t: Tables) -> None:
        t["evaluation_scores"][0]["score"] = max(0.0, score - less)

    _check(tables, change, ["a1_6_evaluation", "a2_7_evaluation", "outcome"])


@settings(max_examples=25, deadline=None)
@given(employees=st.integers(1, 3000), revenue=amount, more_staff=st.integers(0, 500), more=worse)
def test_bigger_firm_never_becomes_sme(
    employees: int, revenue: float, more_staff: int, more: float
) -> None:
    tables = model_firm(financials=_financials(revenue, 60e6, employees=employees))

    def change(t: Tables) -> None:
        t["financials"][-1]["employees"] = employees + more_staff
        t["financials"][-1]["revenue"] = revenue + more

    _check(tables, change, ["art11_sme_size"])


@settings(max_examples=25, deadline=None)
@given(
    share=st.one_of(st.none(), st.floats(0, 1)),
    rank=st.one_of(st.none(), st.integers(1, 20)),
    less=st.floats(0, 0.2),
    lower=st.integers(0, 5),
)
def test_weaker_market_position_never_improves_market(
    share: float | None, rank: int | None, less: float, lower: int
) -> None:
    product = {**model_firm()["products"][0], "market_share": share, "domestic_rank": rank}
    tables = model_firm(products=[product])

    def change(t: Tables) -> None:
        row = t["products"][0]
        row["market_share"] = None if share is None else max(0.0, share - less)
        row["domestic_rank"] = None if rank is None else rank + lower

    _check(tables, change, ["a1_5_market", "a2_5_market"])


@settings(max_examples=25, deadline=None)
@given(year=st.integers(2000, 2026), later=st.integers(0, 5))
def test_later_niche_entry_never_improves_niche_years(year: int, later: int) -> None:
    product = {**model_firm()["products"][0], "niche_since": f"{year}-06-01"}
    tables = model_firm(products=[product])

    def change(t: Tables) -> None:
        t["products"][0]["niche_since"] = f"{min(year + later, 2030)}-06-01"

    _check(tables, change, ["a1_1_niche_years", "a2_1_niche_years"])


@settings(max_examples=25, deadline=None)
@given(paid=amount, less=worse)
def test_less_qualified_equity_never_improves_scale(paid: float, less: float) -> None:
    def investment(value: float) -> dict[str, Any]:
        return {
            "investee_name": "甲公司",
            "investee_credit_code": CODE_A,
            "investor_name": "基金",
            "investor_qualified": True,
            "paid_in_amount": value,
            "paid_in_on": "2025-05-01",
        }

    tables = model_firm(financials=_financials(1e6, 60e6), investments=[investment(paid)])

    def change(t: Tables) -> None:
        t["investments"][0]["paid_in_amount"] = max(0.0, paid - less)

    _check(tables, change, ["a1_2_scale"])
