"""Small typed source data for the feature and ranking tests (loader dtypes, valid codes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd

from features.schemas import SCHEMAS, pandas_dtype, with_check_character
from features.sources import SourceData

AS_OF = date(2024, 6, 30)  # Y = 2023


def valid_code(number: int, region: str = "440300") -> str:
    """A GB 32100 credit code with a correct check character (facts.md §2)."""
    return with_check_character(f"91{region}MA{number:07d}")


def typed(table: str, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A contract table with the loader's dtypes; every contract column present."""
    schema = SCHEMAS[table]
    return pd.DataFrame(
        {
            name: pd.Series([row.get(name) for row in rows], dtype=pandas_dtype(column))
            for name, column in schema.columns.items()
        }
    )


def make_source(**tables: Sequence[Mapping[str, Any]]) -> SourceData:
    """SourceData from row lists per table (a table not given is missing)."""
    return SourceData({name: typed(name, rows) for name, rows in tables.items()})


def with_rows(data: SourceData, **extra: Sequence[Mapping[str, Any]]) -> SourceData:
    """A copy of `data` with rows appended to some tables (created if missing)."""
    tables = dict(data.tables)
    for name, rows in extra.items():
        added = typed(name, rows)
        tables[name] = (
            pd.concat([tables[name], added], ignore_index=True) if name in tables else added
        )
    return SourceData(tables)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


CODE_A, CODE_B, CODE_C, LEADER = (valid_code(n) for n in (1, 2, 3, 4))


def firm(code: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "credit_code": code,
        "name": name,
        "established_on": ts("2012-05-18"),
        "region_code": "440305",
        "industry_code": "C3973",
        "status": "operating",
    } | extra


def accounts(code: str, year: int, revenue: float, **extra: Any) -> dict[str, Any]:
    return {
        "credit_code": code,
        "fiscal_year": year,
        "revenue": revenue,
        "main_business_revenue": revenue * 0.9,
        "rd_expense": revenue * 0.05,
        "total_assets": revenue * 1.5,
        "total_liabilities": revenue * 0.6,
        "employees": 100,
        "rd_staff": 20,
        "net_profit": revenue * 0.08,
        "audited": True,
    } | extra


def base_source() -> SourceData:
    """Three firms with two to three years of accounts, IP, titles and supply relations."""
    return make_source(
        firms=[
            firm(CODE_A, "深圳市华芯微电子有限公司"),
            firm(CODE_B, "深圳市蓝海精密机械有限公司", established_on=ts("2018-03-01")),
            firm(CODE_C, "深圳市远航材料有限公司", industry_code="I6513"),
            firm(LEADER, "深圳市链主集团有限公司", region_code="320500"),
        ],
        financials=[
            accounts(CODE_A, 2021, 40e6),
            accounts(CODE_A, 2022, 50e6),
            accounts(CODE_A, 2023, 64e6),
            accounts(CODE_B, 2022, 20e6),
            accounts(CODE_B, 2023, 22e6, total_liabilities=30e6),
            accounts(LEADER, 2023, 900e6),
        ],
        ip_rights=[
            {
                "ip_id": "P1",
                "ip_type": "invention_patent",
                "title": "t",
                "granted_on": ts("2022-03-01"),
                "status": "valid",
                "transferred_in": False,
            },
            {
                "ip_id": "P2",
                "ip_type": "invention_patent",
                "title": "t",
                "granted_on": ts("2023-05-01"),
                "status": "valid",
                "transferred_in": True,
            },
            {
                "ip_id": "P3",
                "ip_type": "ic_layout",
                "title": "t",
                "granted_on": ts("2020-01-10"),
                "status": "valid",
                "transferred_in": False,
            },
            {
                "ip_id": "U1",
                "ip_type": "utility_model",
                "title": "t",
                "granted_on": ts("2021-01-10"),
                "status": "valid",
                "transferred_in": False,
            },
        ],
        ip_holders=[
            {"ip_id": "P1", "holder_name": "华芯", "holder_rank": 1, "holder_credit_code": CODE_A},
            {"ip_id": "P2", "holder_name": "华芯", "holder_rank": 1, "holder_credit_code": CODE_A},
            {"ip_id": "P3", "holder_name": "某大学", "holder_rank": 1},
            {"ip_id": "P3", "holder_name": "蓝海", "holder_rank": 4, "holder_credit_code": CODE_B},
            {"ip_id": "P3", "holder_name": "华芯", "holder_rank": 2, "holder_credit_code": CODE_A},
            {"ip_id": "U1", "holder_name": "蓝海", "holder_rank": 1, "holder_credit_code": CODE_B},
        ],
        certifications=[
            {
                "credit_code": CODE_A,
                "title": "innovative_sme",
                "certified_on": ts("2022-09-30"),
                "expires_on": ts("2025-09-29"),
                "status": "valid",
            },
            {
                "credit_code": CODE_B,
                "title": "tech_sme",
                "certified_on": ts("2022-04-30"),
                "expires_on": ts("2023-04-29"),
                "status": "expired",
            },
        ],
        supply_chain=[
            {
                "supplier_name": "华芯",
                "supplier_credit_code": CODE_A,
                "customer_name": "链主",
                "customer_credit_code": LEADER,
                "chain": "集成电路",
                "node": "芯片设计",
                "year": 2023,
                "amount": 5e6,
            },
            {
                "supplier_name": "蓝海",
                "supplier_credit_code": CODE_B,
                "customer_name": "链主",
                "customer_credit_code": LEADER,
                "chain": "集成电路",
                "node": "芯片设计",
                "year": 2022,
                "amount": 1e6,
            },
            {
                "supplier_name": "远航",
                "supplier_credit_code": CODE_C,
                "customer_name": "海外客户",
                "chain": "新材料",
                "node": "先进陶瓷",
                "year": 2023,
                "amount": 2e6,
            },
        ],
        chain_nodes=[
            {
                "chain": "集成电路",
                "node": "芯片设计",
                "category": "core_electronic_components",
                "is_key_link": True,
            },
            {
                "chain": "新材料",
                "node": "先进陶瓷",
                "category": "key_materials",
                "is_key_link": False,
            },
        ],
    )
