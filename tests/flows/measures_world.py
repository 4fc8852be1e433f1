"""A small data set written from the measures (issue 23), one firm per case, as CSV files.

Every firm is the model firm of tests/models/frames.py (a specialized SME meeting every
condition of both annexes on AS_OF) with one thing changed. Province 44's firms declared no
products. `CASES` names each firm's credit code by the case it stands for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from features.schemas import SCHEMAS, with_check_character
from tests.models.frames import AS_OF, CODE_A, Y, model_firm

CASES = (
    "control",  # meets both annexes: invited to the 小巨人 list
    "revoked_without_date",  # specialized_sme revoked for data fraud, no revoked_on
    "expired_with_later_expiry",  # specialized_sme marked expired, expires_on in 2027
    "cancelled_with_current_accounts",  # cancelled; filed accounts for AS_OF's year
    "product_outside_fields",  # main product of field `other`; a refused supply row names it
    "lift_before_revocation",  # a little_giant revoked for dishonesty, repaired before that
    "current_year_award_only",  # tech_sme, no class-I IP, a provincial award of AS_OF's year
    "refused_old_accounts",  # a refused financials row of FY2010
    "moved_to_44",  # moved out to 440305
    "no_products_44",  # province 44: no products declared
    "no_products_44b",
)


def code_of(case: str) -> str:
    number = CASES.index(case) + 1
    region = "440305" if case.endswith("_44") or case.endswith("_44b") else "110108"
    return with_check_character(f"91{region}MA{number:07d}")


def _rows(case: str, products_in_44: bool) -> dict[str, list[dict[str, Any]]]:
    code = code_of(case)
    tables = model_firm()
    if case in ("no_products_44", "no_products_44b"):
        tables["firms"][0]["region_code"] = "440305"
        if not products_in_44:
            tables["products"] = []
    if case == "revoked_without_date":
        tables["certifications"][0].update(status="revoked", revoke_reason="data_fraud")
    if case == "expired_with_later_expiry":
        tables["certifications"][0].update(status="expired", expires_on="2027-12-31")
    if case == "cancelled_with_current_accounts":
        tables["firms"][0]["status"] = "cancelled"
        tables["financials"].append({**tables["financials"][-1], "fiscal_year": AS_OF.year})
    if case == "product_outside_fields":
        tables["products"][0]["category"] = "other"
    if case == "lift_before_revocation":
        tables["certifications"].append(
            {
                **tables["certifications"][0],
                "title": "little_giant",
                "status": "revoked",
                "revoked_on": "2025-03-01",
                "revoke_reason": "dishonesty",
                "ban_lifted_on": "2024-12-01",
            }
        )
    if case == "current_year_award_only":
        tables["certifications"][0]["title"] = "tech_sme"
        tables["ip_rights"], tables["ip_holders"] = [], []
        tables["awards"] = [
            {
                "award_name": "北京市科学技术奖",
                "level": "provincial",
                "year": AS_OF.year,
                "unit_name": f"北京测试{CASES.index(case)}科技有限公司",
                "unit_rank": 1,
                "unit_credit_code": code,
            }
        ]
    if case == "moved_to_44":
        tables["firms"][0].update(status="moved_out", moved_to_region_code="440305")
    for rows in tables.values():
        for row in rows:
            for column in ("credit_code", "holder_credit_code", "supplier_credit_code"):
                if row.get(column) == CODE_A:
                    row[column] = code
            if "ip_id" in row:
                row["ip_id"] = f"{row['ip_id']}-{CASES.index(case)}"
    tables["firms"][0]["name"] = f"北京测试{CASES.index(case)}科技有限公司"
    return tables


def write_measures_world(directory: Path, products_in_44: bool = False) -> Path:
    """Write the data set; returns the directory. `products_in_44`: province 44's firms
    declare their products too (the run before issue 23 stopped without them)."""
    directory.mkdir(parents=True, exist_ok=True)
    merged: dict[str, list[dict[str, Any]]] = {}
    for case in CASES:
        for name, rows in _rows(case, products_in_44).items():
            if name == "chain_nodes":
                merged[name] = rows
            else:
                merged.setdefault(name, []).extend(rows)
    for name, rows in merged.items():
        columns = [c for c, column in SCHEMAS[name].columns.items() if column.required]
        frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)
        for column in frame.columns:
            if frame[column].dtype == bool:
                frame[column] = frame[column].map({True: "true", False: "false"})
        frame.to_csv(directory / f"{name}.csv", index=False)
    # a supply row that names the product_outside_fields firm but breaks the contract
    supply = directory / "supply_chain.csv"
    header = supply.read_text(encoding="utf-8").splitlines()[0].split(",")
    cells = {
        "supplier_name": "北京测试4科技有限公司",
        "supplier_credit_code": code_of("product_outside_fields"),
        "customer_name": "链主公司",
        "chain": "集成电路",
        "node": "光刻胶",
        "year": str(Y),
        "amount": "-5",
    }
    with supply.open("a", encoding="utf-8") as handle:
        handle.write(",".join(cells.get(c, "") for c in header) + "\n")
    financials = directory / "financials.csv"
    header = financials.read_text(encoding="utf-8").splitlines()[0].split(",")
    refused = {"credit_code": code_of("refused_old_accounts"), "fiscal_year": "2010"}
    refused |= {"revenue": "-1", "employees": "10"}
    with financials.open("a", encoding="utf-8") as handle:
        handle.write(",".join(refused.get(c, "") for c in header) + "\n")
    return directory
