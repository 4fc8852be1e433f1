"""The source contract (../shared/contracts/sources.md) as one pandera schema per table.

Every schema describes the *typed* table the pipeline uses. The loader (features/sources.py)
reads each column according to its dtype and `metadata["kind"]`, then validates with these
schemas; a row that fails goes to the rejects table with the check's `error` text as reason.

Column kinds (metadata "kind"): text, name (a firm or unit name), code (credit code), enum,
date, int, float, bool. Optional columns of the contract are `required=False`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc

# Contract sanity limits: values outside them are data errors, not business rules.
MAX_NAME_LENGTH = 200  # longest registered Chinese firm names are well under 100 characters
MAX_TEXT_LENGTH = 2000
EARLIEST_DATE = pd.Timestamp("1900-01-01")
LATEST_DATE = pd.Timestamp("2100-12-31")
EARLIEST_YEAR = 1900
LATEST_YEAR = 2100

# GB 32100-2015 (facts.md §2): 31-character set, weights 3^i mod 31 for positions 1-17.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = np.array(
    [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int32
)
_CHAR_VALUE = np.full(256, -1, dtype=np.int32)
for _value, _char in enumerate(CREDIT_CODE_CHARSET):
    _CHAR_VALUE[ord(_char)] = _value


def with_check_character(first17: str) -> str:
    """The full code for 17 characters: GB 32100-2015's check character appended."""
    values = [CREDIT_CODE_CHARSET.index(c) for c in first17]
    total = sum(v * int(w) for v, w in zip(values, CREDIT_CODE_WEIGHTS, strict=True))
    return first17 + CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def credit_code_is_valid(codes: pd.Series) -> pd.Series:
    """True where the code has 18 characters from the charset and the right check character.

    Read from the codes' Arrow bytes (18 ASCII bytes each), not as Python strings: every table
    names firms by code, so this runs on millions of codes per run (issue 25)."""
    text = pa_arrow.chunked_array(pa_arrow.array(codes.astype("str").array))
    text = text.cast(pa_arrow.large_string()).combine_chunks()
    shaped = pc.fill_null(
        pc.and_(pc.equal(pc.binary_length(text), 18), pc.string_is_ascii(text)), False
    )
    result = np.zeros(len(codes), dtype=bool)
    kept = text.filter(shaped)  # its bytes contiguous, 18 per code
    if len(kept):
        offsets = np.frombuffer(kept.buffers()[1], dtype=np.int64)[kept.offset :]
        data = np.frombuffer(kept.buffers()[2], dtype=np.uint8)
        as_bytes = data[offsets[0] : offsets[len(kept)]].reshape(-1, 18)
        values = _CHAR_VALUE[as_bytes]
        known = (values >= 0).all(axis=1)
        expected = (31 - (values[:, :17] @ CREDIT_CODE_WEIGHTS) % 31) % 31
        result[np.asarray(shaped)] = known & (values[:, 17] == expected)
    return pd.Series(result, index=codes.index)


def _column(
    dtype: str,
    kind: str,
    *checks: pa.Check,
    nullable: bool = False,
    required: bool = True,
    **metadata: object,
) -> pa.Column:
    return pa.Column(
        dtype,
        list(checks),
        nullable=nullable,
        required=required,
        metadata={"kind": kind, **metadata},
    )


def _enum(values: list[str], *, nullable: bool = False, required: bool = True) -> pa.Column:
    check = pa.Check.isin(values, error=f"unknown value (expected one of {', '.join(values)})")
    return _column("str", "enum", check, nullable=nullable, required=required)


def _code(*, nullable: bool = False, required: bool = True) -> pa.Column:
    """A credit code that identifies the row's firm: an invalid one refuses the row."""
    check = pa.Check(credit_code_is_valid, error="invalid unified social credit code")
    return _column("str", "code", check, nullable=nullable, required=required)


def _mention_code() -> pa.Column:
    """An optional credit code beside a name: an invalid one is ignored (the name still links)."""
    check = pa.Check(credit_code_is_valid, error="invalid unified social credit code")
    return _column("str", "code", check, nullable=True, required=False, on_invalid="ignore")


def _name(*, nullable: bool = False) -> pa.Column:
    check = pa.Check.str_length(
        1, MAX_NAME_LENGTH, error=f"name longer than {MAX_NAME_LENGTH} characters"
    )
    return _column("str", "name", check, nullable=nullable)


def _text(*, nullable: bool = True, required: bool = True) -> pa.Column:
    check = pa.Check.str_length(
        0, MAX_TEXT_LENGTH, error=f"text longer than {MAX_TEXT_LENGTH} characters"
    )
    return _column("str", "text", check, nullable=nullable, required=required)


def _date(*, nullable: bool = False, required: bool = True) -> pa.Column:
    check = pa.Check.in_range(
        EARLIEST_DATE, LATEST_DATE, error="date outside 1900-01-01..2100-12-31"
    )
    return _column("datetime64[us]", "date", check, nullable=nullable, required=required)


def _year() -> pa.Column:
    check = pa.Check.in_range(
        EARLIEST_YEAR, LATEST_YEAR, error=f"year outside {EARLIEST_YEAR}..{LATEST_YEAR}"
    )
    return _column("Int64", "int", check)


def _amount(*, nullable: bool = True, required: bool = True, signed: bool = False) -> pa.Column:
    checks = [] if signed else [pa.Check.ge(0, error="negative amount")]
    return _column("float64", "float", *checks, nullable=nullable, required=required)


def _count(*, nullable: bool = True, required: bool = True, minimum: int = 0) -> pa.Column:
    error = "negative count" if minimum == 0 else f"must be ≥ {minimum}"
    return _column(
        "Int64", "int", pa.Check.ge(minimum, error=error), nullable=nullable, required=required
    )


def _fraction(*, nullable: bool = True, required: bool = True) -> pa.Column:
    check = pa.Check.in_range(0, 1, error="fraction outside 0..1 (write 0.8, not 80)")
    return _column("float64", "float", check, nullable=nullable, required=required)


def _flag(*, nullable: bool = True, required: bool = True) -> pa.Column:
    return _column("boolean", "bool", nullable=nullable, required=required)


def _not_before(later: str, earlier: str) -> pa.Check:
    """Row check: `later` is empty or on/after `earlier`."""
    return pa.Check(
        lambda df: df[later].isna() | df[earlier].isna() | (df[later] >= df[earlier]),
        error=f"{later} before {earlier}",
    )


FIRM_STATUS = ["operating", "revoked", "cancelled", "moved_out"]
IP_TYPES = [
    "invention_patent",
    "defense_patent",
    "plant_variety",
    "crop_variety",
    "new_drug",
    "tcm_protected_class1",
    "ic_layout",
    "utility_model",
    "design",
    "software_copyright",
    "trademark",
]
IP_STATUS = ["valid", "expired", "invalid"]
AWARD_LEVELS = ["national", "provincial", "municipal", "other"]
INSTITUTION_KINDS = [
    "tech_center",
    "engineering_center",
    "design_center",
    "key_lab",
    "research_institute",
    "other",
]
TALENT_LEVELS = ["national", "provincial", "municipal"]
NODE_CATEGORIES = [
    "core_components",
    "core_electronic_components",
    "key_software",
    "advanced_process",
    "key_materials",
    "industrial_tech_base",
    "traditional_upgrade",
    "emerging_industry",
    "future_industry",
    "other",
]
MARKET_SCOPES = ["domestic", "international"]
CATALOGUE_CLASSES = ["encouraged", "allowed", "restricted", "eliminated"]
TITLES = ["tech_sme", "innovative_sme", "specialized_sme", "little_giant"]
CERT_STATUS = ["valid", "expired", "revoked"]
REVOKE_REASONS = [
    "incident",
    "dishonesty",
    "data_fraud",
    "not_updated",
    "unreported_change",
    "no_longer_qualified",
    "other",
]
CREDIT_EVENT_TYPES = [
    "abnormal_operation",
    "serious_dishonesty",
    "major_safety_accident",
    "major_cyber_incident",
    "major_environmental_violation",
    "serious_quality_issue",
    "serious_industry_violation",
    "data_fraud",
]
APPLICATION_TITLES = ["specialized_sme", "little_giant"]
MAJOR_CHANGE_TYPES = ["merger", "split", "restructuring", "main_product_change", "other"]
APPLICATION_OUTCOMES = ["approved", "rejected", "withdrawn"]


def _schema(
    name: str,
    columns: dict[str, pa.Column],
    *,
    key: list[str] | None = None,
    checks: list[pa.Check] | None = None,
) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        columns,
        checks=checks or [],
        name=name,
        unique=key,
        report_duplicates="all",
        strict=False,
        metadata={"key": key or []},
    )


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "firms": _schema(
        "firms",
        {
            "credit_code": _code(),
            "name": _name(),
            "established_on": _date(nullable=True),
            "region_code": _column(
                "str",
                "text",
                pa.Check.str_matches(r"^\d{6}$", error="region_code is not 6 digits"),
                nullable=True,
            ),
            "industry_code": _column(
                "str",
                "text",
                pa.Check.str_matches(
                    r"^[A-T]\d{2,4}$", error="industry_code is not a GB/T 4754 code (e.g. C3976)"
                ),
                nullable=True,
            ),
            "status": _enum(FIRM_STATUS),
            # 第十九条: where a `moved_out` firm went, when the registry says (optional).
            "moved_to_region_code": _column(
                "str",
                "text",
                pa.Check.str_matches(r"^\d{6}$", error="moved_to_region_code is not 6 digits"),
                nullable=True,
                required=False,
            ),
        },
        key=["credit_code"],
    ),
    "name_history": _schema(
        "name_history",
        {"credit_code": _code(), "former_name": _name(), "changed_on": _date(nullable=True)},
    ),
    "financials": _schema(
        "financials",
        {
            "credit_code": _code(),
            "fiscal_year": _year(),
            "revenue": _amount(),
            "main_business_revenue": _amount(),
            "rd_expense": _amount(),
            "total_assets": _amount(),
            "total_liabilities": _amount(),
            "employees": _count(),
            "rd_staff": _count(required=False),
            "net_profit": _amount(required=False, signed=True),
            "audited": _flag(required=False),
        },
        key=["credit_code", "fiscal_year"],
        checks=[
            pa.Check(
                lambda df: ~(df["main_business_revenue"] > df["revenue"]).fillna(False),
                error="main_business_revenue exceeds revenue",
            ),
        ],
    ),
    "ip_rights": _schema(
        "ip_rights",
        {
            "ip_id": _column("str", "text", pa.Check.str_length(1, 64, error="bad ip_id")),
            "ip_type": _enum(IP_TYPES),
            "title": _text(),
            "granted_on": _date(nullable=True),
            "status": _enum(IP_STATUS),
            "transferred_in": _flag(),
        },
        key=["ip_id"],
    ),
    "ip_holders": _schema(
        "ip_holders",
        {
            "ip_id": _column("str", "text", pa.Check.str_length(1, 64, error="bad ip_id")),
            "holder_name": _name(),
            "holder_rank": _count(nullable=False, minimum=1),
            "holder_credit_code": _mention_code(),
        },
        key=["ip_id", "holder_rank"],
    ),
    "investments": _schema(
        "investments",
        {
            "investee_name": _name(),
            "investee_credit_code": _mention_code(),
            "investor_name": _name(nullable=True),
            "investor_qualified": _flag(),
            "paid_in_amount": _amount(nullable=False),
            "paid_in_on": _date(),
        },
    ),
    "awards": _schema(
        "awards",
        {
            "award_name": _name(),
            "level": _enum(AWARD_LEVELS),
            "year": _year(),
            "unit_name": _name(),
            "unit_rank": _count(nullable=False, minimum=1),
            "unit_credit_code": _mention_code(),
        },
    ),
    "rd_institutions": _schema(
        "rd_institutions",
        {
            "unit_name": _name(),
            "unit_credit_code": _mention_code(),
            "institution_name": _text(),
            "kind": _enum(INSTITUTION_KINDS),
            "level": _enum(AWARD_LEVELS),
            "recognized_on": _date(),
            "valid_until": _date(nullable=True, required=False),
        },
        checks=[_not_before("valid_until", "recognized_on")],
    ),
    "talent": _schema(
        "talent",
        {
            "unit_name": _name(),
            "unit_credit_code": _mention_code(),
            "programme": _text(),
            "level": _enum(TALENT_LEVELS),
            "year": _year(),
            "headcount": _count(),
        },
    ),
    "supply_chain": _schema(
        "supply_chain",
        {
            "supplier_name": _name(),
            "supplier_credit_code": _mention_code(),
            "customer_name": _name(),
            "customer_credit_code": _mention_code(),
            "chain": _text(nullable=False),
            "node": _text(nullable=False),
            "year": _year(),
            "amount": _amount(),
        },
    ),
    "chain_nodes": _schema(
        "chain_nodes",
        {
            "chain": _text(nullable=False),
            "node": _text(nullable=False),
            "category": _enum(NODE_CATEGORIES),
            "is_key_link": _flag(nullable=False),
        },
        key=["chain", "node"],
    ),
    "products": _schema(
        "products",
        {
            "credit_code": _code(),
            "product_name": _text(nullable=False),
            "revenue_share": _fraction(),
            "niche_since": _date(nullable=True),
            "niche_since_year_only": _flag(required=False),
            "market_scope": _enum(MARKET_SCOPES, nullable=True),
            "market_share": _fraction(required=False),
            "domestic_rank": _count(required=False, minimum=1),
            "category": _enum(NODE_CATEGORIES, nullable=True, required=False),
            "catalogue_class": _enum(CATALOGUE_CLASSES, nullable=True, required=False),
        },
    ),
    "certifications": _schema(
        "certifications",
        {
            "credit_code": _code(),
            "title": _enum(TITLES),
            "certified_on": _date(),
            "expires_on": _date(),
            "status": _enum(CERT_STATUS),
            "revoked_on": _date(nullable=True, required=False),
            "revoke_reason": _enum(REVOKE_REASONS, nullable=True, required=False),
            "ban_lifted_on": _date(nullable=True, required=False),
        },
        checks=[_not_before("expires_on", "certified_on")],
    ),
    "credit_events": _schema(
        "credit_events",
        {
            "credit_code": _code(),
            "event_type": _enum(CREDIT_EVENT_TYPES),
            "occurred_on": _date(),
            "resolved_on": _date(nullable=True, required=False),
        },
        checks=[_not_before("resolved_on", "occurred_on")],
    ),
    "evaluation_scores": _schema(
        "evaluation_scores",
        {
            "credit_code": _code(),
            "year": _year(),
            "score": _column(
                "float64", "float", pa.Check.in_range(0, 100, error="score outside 0..100")
            ),
        },
        key=["credit_code", "year"],
    ),
    "annual_updates": _schema(
        "annual_updates",
        {"credit_code": _code(), "year": _year(), "updated_on": _date(nullable=True)},
        key=["credit_code", "year"],
    ),
    "major_changes": _schema(
        "major_changes",
        {
            "credit_code": _code(),
            "change_type": _enum(MAJOR_CHANGE_TYPES),
            "occurred_on": _date(),
            "reported_on": _date(nullable=True),
        },
        checks=[_not_before("reported_on", "occurred_on")],
    ),
    "applications": _schema(
        "applications",
        {
            "credit_code": _code(),
            "year": _year(),
            "title": _enum(APPLICATION_TITLES),
            "outcome": _enum(APPLICATION_OUTCOMES),
            # sources.md: when the application reached the province; known on D only if by D
            "submitted_on": _date(nullable=True, required=False),
        },
    ),
}

REQUIRED_TABLES = ("firms",)
# Tables whose rows belong to one registry firm through `credit_code`.
FIRM_KEYED_TABLES = (
    "name_history",
    "financials",
    "products",
    "certifications",
    "credit_events",
    "evaluation_scores",
    "annual_updates",
    "major_changes",
    "applications",
)

# Name-bearing columns per table: (name column, credit-code column). Entity matching fills the
# code column from the name; every later stage attributes the row through the code column.
MENTION_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "ip_holders": (("holder_name", "holder_credit_code"),),
    "investments": (("investee_name", "investee_credit_code"),),
    "awards": (("unit_name", "unit_credit_code"),),
    "rd_institutions": (("unit_name", "unit_credit_code"),),
    "talent": (("unit_name", "unit_credit_code"),),
    "supply_chain": (
        ("supplier_name", "supplier_credit_code"),
        ("customer_name", "customer_credit_code"),
    ),
}

REJECTS_COLUMNS = ["table", "row", "column", "reason", "value", "action"]
REJECTS_SCHEMA = pa.DataFrameSchema(
    {
        "table": pa.Column("str", pa.Check.isin(list(SCHEMAS))),
        "row": pa.Column("Int64", pa.Check.ge(0), nullable=True),
        "column": pa.Column("str", nullable=True),
        "reason": pa.Column("str"),
        "value": pa.Column("str", nullable=True),
        "action": pa.Column("str", pa.Check.isin(["row_refused", "value_ignored"])),
    },
    name="rejects",
    strict=True,
    ordered=True,
)


def typed_empty(table: str) -> pd.DataFrame:
    """An empty frame with the table's contract columns and dtypes (for tests and defaults)."""
    schema = SCHEMAS[table]
    return pd.DataFrame(
        {name: pd.Series(dtype=pandas_dtype(col)) for name, col in schema.columns.items()}
    )


def pandas_dtype(column: pa.Column) -> str:
    """The pandas dtype the loader produces for a contract column."""
    return {
        "code": "str",
        "name": "str",
        "text": "str",
        "enum": "str",
        "date": "datetime64[us]",
    }.get(column.metadata["kind"], str(column.dtype))
