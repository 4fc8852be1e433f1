"""Typed source frames for tests: the dtypes the loader produces (features/schemas.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from features.schemas import SCHEMAS, pandas_dtype
from features.sources import SourceData

CODE_A = "91110108551385082Q"  # valid GB 32100 codes (facts.md §2)
CODE_B = "914403001922038216"


def frame(table: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A table of the source contract with its loader dtypes; absent optional columns stay absent
    unless a row names them."""
    schema = SCHEMAS[table]
    named = {key for row in rows for key in row}
    columns = [name for name, col in schema.columns.items() if col.required or name in named]
    data = {
        name: pd.Series([row.get(name) for row in rows], dtype=pandas_dtype(schema.columns[name]))
        for name in columns
    }
    return pd.DataFrame(data, columns=columns)


def source(**tables: Sequence[Mapping[str, Any]]) -> SourceData:
    """SourceData from row lists per table name (a table not given is missing)."""
    return SourceData({name: frame(name, rows) for name, rows in tables.items()})


AS_OF = dt.date(2026, 6, 30)  # Y (上年度) = 2025
Y = AS_OF.year - 1


def financial_year(year: int, revenue: float | None = 80e6, **figures: Any) -> dict[str, Any]:
    """A year of accounts that meets every Annex 1 and Annex 2 figure unless overridden."""
    row: dict[str, Any] = {
        "credit_code": CODE_A,
        "fiscal_year": year,
        "revenue": revenue,
        "main_business_revenue": None if revenue is None else revenue * 0.95,
        "rd_expense": None if revenue is None else revenue * 0.1,
        "total_assets": 100e6,
        "total_liabilities": 40e6,
        "employees": 200,
    }
    row.update(figures)
    return row


def class1_ip(n: int, **overrides: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`n` valid, self-developed invention patents held first by firm A: (ip_rights, ip_holders)."""
    rights, holders = [], []
    for i in range(n):
        ip_id = f"ZL2020{i:06d}.X"
        right = {
            "ip_id": ip_id,
            "ip_type": "invention_patent",
            "title": f"一种装置{i}",
            "granted_on": "2021-05-01",
            "status": "valid",
            "transferred_in": False,
        }
        holder = {
            "ip_id": ip_id,
            "holder_name": "甲公司",
            "holder_rank": 1,
            "holder_credit_code": CODE_A,
        }
        for key, value in overrides.items():
            (right if key in right else holder)[key] = value
        rights.append(right)
        holders.append(holder)
    return rights, holders


def model_firm(**tables: Any) -> dict[str, list[dict[str, Any]]]:
    """Row lists for firm A, a specialized SME that meets every condition of both annexes on
    AS_OF. Keyword arguments replace whole tables; pass None to drop a table (missing)."""
    rights, holders = class1_ip(5)
    base: dict[str, list[dict[str, Any]]] = {
        "firms": [
            {
                "credit_code": CODE_A,
                "name": "甲公司",
                "established_on": "2010-01-01",
                "region_code": "110108",
                "industry_code": "C3976",
                "status": "operating",
            }
        ],
        "financials": [financial_year(Y - 2, 60e6), financial_year(Y - 1, 70e6), financial_year(Y)],
        "certifications": [
            {
                "credit_code": CODE_A,
                "title": "specialized_sme",
                "certified_on": "2024-01-01",
                "expires_on": "2027-12-31",
                "status": "valid",
            }
        ],
        "credit_events": [],
        "products": [
            {
                "credit_code": CODE_A,
                "product_name": "光刻胶",
                "revenue_share": 0.8,
                "niche_since": "2015-03-01",
                "market_scope": "domestic",
                "market_share": 0.15,
                "domestic_rank": 2,
                "category": "key_materials",
                "catalogue_class": "encouraged",
            }
        ],
        "ip_rights": rights,
        "ip_holders": holders,
        "investments": [],
        "awards": [],
        "rd_institutions": [],
        "supply_chain": [
            {
                "supplier_name": "甲公司",
                "supplier_credit_code": CODE_A,
                "customer_name": "链主公司",
                "chain": "集成电路",
                "node": "光刻胶",
                "year": Y,
                "amount": 5e6,
            }
        ],
        "chain_nodes": [
            {
                "chain": "集成电路",
                "node": "光刻胶",
                "category": "key_materials",
                "is_key_link": True,
            }
        ],
        "evaluation_scores": [{"credit_code": CODE_A, "year": AS_OF.year, "score": 70.0}],
    }
    for name, rows in tables.items():
        if rows is None:
            base.pop(name, None)
        else:
            base[name] = rows
    return base


def with_rows(rows: Sequence[Mapping[str, Any]], **changes: Any) -> list[dict[str, Any]]:
    """The rows with `changes` applied to each."""
    return [{**row, **changes} for row in rows]
