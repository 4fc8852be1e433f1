"""The generated world in truth form, and its contract-shaped snapshot on any date.

Truth tables refer to firms by integer id (`firm`, -1 = a unit that is no registry firm) and
hold dates as day numbers (days since 1970-01-01, -1 = none). `snapshot` turns them into the
typed frames of `features.sources.SourceData` as the data stood on a date, with every
credit code resolved: that is what the reviewers (and the criteria engine) see.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.schemas import SCHEMAS, pandas_dtype
from features.sources import SourceData
from synth.names import NameParts
from synth.population import day_number
from synth.regions import Regions

NAME_COLUMNS = {
    "ip_holders": ("holder_name", "holder_credit_code"),
    "investments": ("investee_name", "investee_credit_code"),
    "awards": ("unit_name", "unit_credit_code"),
    "rd_institutions": ("unit_name", "unit_credit_code"),
    "talent": ("unit_name", "unit_credit_code"),
}


@dataclass
class World:
    """Everything the generator decided, before any of it is hidden or made messy."""

    firms: pd.DataFrame
    parts: NameParts
    name_history: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    chain_nodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    firm_nodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    regions: Regions | None = None

    @property
    def codes(self) -> np.ndarray:
        return self.firms["credit_code"].to_numpy()


@dataclass(frozen=True)
class Guests:
    """Large firms of other provinces that one province's records may name (national runs):
    what a mention needs to write and resolve them. Position = guest id."""

    codes: np.ndarray
    parts: NameParts  # current registered name
    province: np.ndarray  # 2-digit code
    industry: np.ndarray
    name_history: pd.DataFrame  # firm (guest id), former_name, changed_on (day number)

    @property
    def names(self) -> np.ndarray:
        return self.parts.full()


def to_dates(days: np.ndarray | pd.Series) -> np.ndarray:
    """Day numbers → datetime64[us], -1 → NaT."""
    values = np.asarray(days, dtype=np.int64)
    out = values.astype("datetime64[D]").astype("datetime64[us]")
    out[values < 0] = np.datetime64("NaT")
    return out


def typed(table: str, columns: dict[str, object]) -> pd.DataFrame:
    """A frame with exactly the contract's columns (order and dtypes) of `table`."""
    schema = SCHEMAS[table]
    data = {}
    for name, column in schema.columns.items():
        if name not in columns:
            continue
        dtype = pandas_dtype(column)
        values = columns[name]
        if dtype == "datetime64[us]":
            data[name] = pd.Series(to_dates(np.asarray(values)), dtype=dtype)
        elif dtype == "boolean":
            data[name] = pd.Series(values, dtype="boolean")
        elif dtype == "Int64":
            data[name] = pd.Series(values, dtype="Int64")
        elif dtype == "float64":
            data[name] = pd.Series(values, dtype="float64")
        else:
            data[name] = pd.Series(values, dtype=object).astype("str")
    return pd.DataFrame(data)


def _code_or_na(codes: np.ndarray, firm: np.ndarray) -> np.ndarray:
    firm = np.asarray(firm, dtype=np.int64)
    out = np.full(firm.size, None, dtype=object)
    known = firm >= 0
    out[known] = codes[firm[known]]
    return out


def _name_or_nil(names: np.ndarray, firm: np.ndarray, nil: pd.Series) -> np.ndarray:
    firm = np.asarray(firm, dtype=np.int64)
    out = nil.to_numpy(dtype=object).copy()
    known = firm >= 0
    out[known] = names[firm[known]]
    return out


def snapshot(world: World, as_of: dt.date, firms_subset: np.ndarray | None = None) -> SourceData:
    """The truth as it stood on `as_of`, every firm named by its code; optionally some firms."""
    today = day_number(as_of)
    codes = world.codes
    names = world.firms["name"].to_numpy(dtype=object)
    keep_firm = np.zeros(len(world.firms), dtype=bool)
    if firms_subset is None:
        keep_firm[:] = True
    else:
        keep_firm[firms_subset] = True
    t = world.tables

    def mine(firm: np.ndarray) -> np.ndarray:
        firm = np.asarray(firm, dtype=np.int64)
        return (firm >= 0) & keep_firm[np.maximum(firm, 0)]

    f = world.firms
    alive = keep_firm & (f["established_on"].to_numpy() <= today)
    status_on = f["status_on"].to_numpy()
    status = np.where((status_on >= 0) & (status_on <= today), f["status"].to_numpy(), "operating")
    moved = (f["relocated_on"].to_numpy() >= 0) & (f["relocated_on"].to_numpy() <= today)
    region = np.where(moved, f["region_code"].to_numpy(), f["original_region"].to_numpy())
    tables: dict[str, pd.DataFrame] = {}
    tables["firms"] = typed(
        "firms",
        {
            "credit_code": codes[alive],
            "name": names[alive],
            "established_on": f["established_on"].to_numpy()[alive],
            "region_code": region[alive],
            "industry_code": f["industry_code"].to_numpy()[alive],
            "status": status[alive],
        },
    )

    fin = t["financials"]
    fin = fin[(fin["fiscal_year"].to_numpy() < as_of.year) & mine(fin["firm"].to_numpy())]
    tables["financials"] = typed(
        "financials",
        {
            "credit_code": codes[fin["firm"].to_numpy()],
            **{c: fin[c].to_numpy() for c in fin.columns if c != "firm"},
        },
    )

    holders = t["ip_holders"]
    holders = holders[holders["mention_day"].to_numpy() <= today]
    rights = t["ip_rights"]
    held_ip = np.zeros(len(rights), dtype=bool)
    held_ip[holders["ip"].to_numpy()[mine(holders["firm"].to_numpy())]] = True
    rights = rights[held_ip]
    status_ip = np.where(
        (rights["status_on"].to_numpy() >= 0) & (rights["status_on"].to_numpy() <= today),
        rights["status_after"].to_numpy(),
        "valid",
    )
    tables["ip_rights"] = typed(
        "ip_rights",
        {
            "ip_id": rights["ip_id"].to_numpy(),
            "ip_type": rights["ip_type"].to_numpy(),
            "title": rights["title"].to_numpy(),
            "granted_on": rights["granted_on"].to_numpy(),
            "status": status_ip,
            "transferred_in": rights["transferred_in"].to_numpy(),
        },
    )
    holders = holders[held_ip[holders["ip"].to_numpy()]]
    tables["ip_holders"] = typed(
        "ip_holders",
        {
            "ip_id": holders["ip_id"].to_numpy(),
            "holder_name": _name_or_nil(names, holders["firm"].to_numpy(), holders["nil_name"]),
            "holder_rank": holders["holder_rank"].to_numpy(),
            "holder_credit_code": _code_or_na(codes, holders["firm"].to_numpy()),
        },
    )

    for table in ("investments", "rd_institutions"):
        df = t[table]
        df = df[(df["mention_day"].to_numpy() <= today) & mine(df["firm"].to_numpy())]
        name_col, code_col = NAME_COLUMNS[table]
        cols = {c: df[c].to_numpy() for c in df.columns}
        cols[name_col] = _name_or_nil(names, df["firm"].to_numpy(), df["nil_name"])
        cols[code_col] = _code_or_na(codes, df["firm"].to_numpy())
        tables[table] = typed(table, cols)
    for table in ("awards", "talent"):
        df = t[table]
        df = df[(df["year"].to_numpy() < as_of.year) & mine(df["firm"].to_numpy())]
        name_col, code_col = NAME_COLUMNS[table]
        cols = {c: df[c].to_numpy() for c in df.columns}
        cols[name_col] = _name_or_nil(names, df["firm"].to_numpy(), df["nil_name"])
        cols[code_col] = _code_or_na(codes, df["firm"].to_numpy())
        tables[table] = typed(table, cols)

    sc = t["supply_chain"]
    sc = sc[(sc["year"].to_numpy() < as_of.year) & mine(sc["supplier"].to_numpy())]
    tables["supply_chain"] = typed(
        "supply_chain",
        {
            "supplier_name": _name_or_nil(names, sc["supplier"].to_numpy(), sc["supplier_nil"]),
            "supplier_credit_code": _code_or_na(codes, sc["supplier"].to_numpy()),
            "customer_name": _name_or_nil(names, sc["customer"].to_numpy(), sc["customer_nil"]),
            "customer_credit_code": _code_or_na(codes, sc["customer"].to_numpy()),
            "chain": sc["chain"].to_numpy(),
            "node": sc["node"].to_numpy(),
            "year": sc["year"].to_numpy(),
            "amount": sc["amount"].to_numpy(),
        },
    )
    tables["chain_nodes"] = typed(
        "chain_nodes", {c: world.chain_nodes[c].to_numpy() for c in world.chain_nodes}
    )

    pr = t["products"]
    pr = pr[mine(pr["firm"].to_numpy())]
    tables["products"] = typed(
        "products",
        {
            "credit_code": codes[pr["firm"].to_numpy()],
            **{c: pr[c].to_numpy() for c in pr.columns if c != "firm"},
        },
    )

    # Titles granted in the day's own decisions are not part of what that decision saw.
    tables["certifications"] = certifications_on(world, today, keep_firm, granted_before=True)

    ev = t["credit_events"]
    ev = ev[(ev["occurred_on"].to_numpy() <= today) & mine(ev["firm"].to_numpy())]
    resolved = ev["resolved_on"].to_numpy()
    tables["credit_events"] = typed(
        "credit_events",
        {
            "credit_code": codes[ev["firm"].to_numpy()],
            "event_type": ev["event_type"].to_numpy(),
            "occurred_on": ev["occurred_on"].to_numpy(),
            "resolved_on": np.where(resolved <= today, resolved, -1),
        },
    )
    scores = t["evaluation_scores"]
    scores = scores[(scores["year"].to_numpy() <= as_of.year) & mine(scores["firm"].to_numpy())]
    tables["evaluation_scores"] = typed(
        "evaluation_scores",
        {
            "credit_code": codes[scores["firm"].to_numpy()],
            "year": scores["year"].to_numpy(),
            "score": scores["score"].to_numpy(),
        },
    )
    nh = world.name_history
    nh = nh[(nh["changed_on"].to_numpy() <= today) & mine(nh["firm"].to_numpy())]
    tables["name_history"] = typed(
        "name_history",
        {
            "credit_code": codes[nh["firm"].to_numpy()],
            "former_name": nh["former_name"].to_numpy(),
            "changed_on": nh["changed_on"].to_numpy(),
        },
    )
    return SourceData(tables=tables)


def certifications_on(
    world: World, today: int, keep_firm: np.ndarray | None = None, granted_before: bool = False
) -> pd.DataFrame:
    """certifications as known on day `today` (status, revocation and lifted ban as of then);
    with `granted_before`, without the titles granted on that very day."""
    certs = world.tables["certifications"]
    if keep_firm is not None:
        certs = certs[keep_firm[certs["firm"].to_numpy()]]
    granted = certs["certified_on"].to_numpy()
    certs = certs[(granted < today) if granted_before else (granted <= today)]
    revoked_on = certs["revoked_on"].to_numpy()
    revoked = (revoked_on >= 0) & (revoked_on <= today)
    expired = certs["expires_on"].to_numpy() < today
    status = np.where(revoked, "revoked", np.where(expired, "expired", "valid"))
    lifted = certs["ban_lifted_on"].to_numpy()
    return typed(
        "certifications",
        {
            "credit_code": world.codes[certs["firm"].to_numpy()],
            "title": certs["title"].to_numpy(),
            "certified_on": certs["certified_on"].to_numpy(),
            "expires_on": certs["expires_on"].to_numpy(),
            "status": status,
            "revoked_on": np.where(revoked, revoked_on, -1),
            "revoke_reason": np.where(revoked, certs["revoke_reason"].to_numpy(dtype=object), None),
            "ban_lifted_on": np.where(revoked & (lifted >= 0) & (lifted <= today), lifted, -1),
        },
    )
