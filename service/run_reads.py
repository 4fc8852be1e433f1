"""What the endpoints ask of a run: filtered, ordered pages of its lists, and a firm's detail.

Every firm is attributed to the province of its registered region code (属地原则, Articles 7-8),
taken from the published files that carry one. A firm no file places in a province is shown to
the ministry only: a province never sees a firm it cannot be shown to own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.run_layout import LIST_COLUMNS, REAPPLY_COLUMNS
from models.criteria.engine import TIERS
from models.invitations import NO_PROVINCE
from service.run_index import PagedList
from service.run_listing import RunData
from service.run_store import RunStore

MODES = ("discovery", "renewal")
SortField = Literal["rank", "score", "name", "credit_code", "region_code"]
SortOrder = Literal["asc", "desc"]
DEFAULT_ORDER = ("rank", "asc")


@dataclass(frozen=True)
class InvitationQuery:
    """Filters, order and page of an invitation list."""

    tier: str | None = None
    outcome: str | None = None
    min_score: float | None = None
    q: str | None = None
    sort: SortField = "rank"
    order: SortOrder = "asc"
    page: int = 1
    page_size: int = 50


def _province(region_code: str) -> str | None:
    """The province of one region code, as `province_of` reads a column of them."""
    code = region_code[:2]
    if len(code) != 2 or not (code.isascii() and code.isdigit()) or code == NO_PROVINCE:
        return None
    return code


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: missing values become None, numpy scalars Python ones."""
    return [
        {key: _plain(value) for key, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _plain(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        plain = value.item()
        return None if isinstance(plain, float) and math.isnan(plain) else plain
    return value


def invitation_page(
    listed: PagedList, query: InvitationQuery, columns: list[str] = LIST_COLUMNS
) -> tuple[int, list[dict[str, Any]]]:
    """The matching rows of one province's list (total before paging, and the page): the
    invitation list, or with REAPPLY_COLUMNS the re-application list."""
    index = listed.index
    keep = np.ones(index.num_rows, dtype=bool)
    if query.tier:
        keep &= _true(pc.equal(index["tier"], query.tier))
    if query.outcome:
        keep &= _true(pc.equal(index["outcome"], query.outcome))
    if query.min_score is not None:
        keep &= _true(pc.greater_equal(index["score"], query.min_score))
    if query.q:
        needle = query.q.strip()
        hits = _true(pc.starts_with(index["credit_code"], needle.upper()))
        hits[listed.name_hits(needle)] = True
        keep &= hits
    chosen = np.flatnonzero(keep)
    if (query.sort, query.order) != DEFAULT_ORDER:  # lists are held in the default order
        direction = "ascending" if query.order == "asc" else "descending"
        keys: list[tuple[str, str, str]] = [(query.sort, direction, "at_end")]
        keys += [(k, "ascending", "at_end") for k in ("tier", "credit_code") if k != query.sort]
        subset = index.select([k for k, _, _ in keys]).take(pa.array(chosen, type=pa.int64()))
        ordered = pc.sort_indices(subset, sort_keys=keys)
        chosen = chosen[ordered.to_numpy()]
    shown = listed.rows(_page(chosen, query.page, query.page_size))
    return len(chosen), [{column: row.get(column) for column in columns} for row in shown]


def table_page(
    listed: PagedList,
    provinces: set[str] | None,
    tier: str | None,
    outcome: str | None,
    page: int,
    page_size: int,
) -> tuple[int, list[dict[str, Any]]]:
    """A generic published table (cultivation, renewals) restricted to readable provinces."""
    index = listed.index
    keep = np.ones(index.num_rows, dtype=bool)
    if provinces is not None:
        keep &= _true(pc.is_in(index["province"], value_set=pa.array(sorted(provinces))))
    if tier:
        keep &= _true(pc.equal(index["tier"], tier))
    if outcome and "outcome" in index.column_names:
        keep &= _true(pc.equal(index["outcome"], outcome))
    chosen = np.flatnonzero(keep)
    return len(chosen), listed.rows(_page(chosen, page, page_size), extra=("province",))


def _true(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean mask as numpy, missing values false (as pandas compares NaN)."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _page(positions: np.ndarray, page: int, page_size: int) -> list[int]:
    start = (page - 1) * page_size
    return [int(p) for p in positions[start : start + page_size]]


def firm_detail(
    store: RunStore, run: RunData, credit_code: str, may_read: Callable[[str | None], bool]
) -> dict[str, Any] | None:
    """Every verdict and its evidence, per tier and mode, with the list entries; None if the
    firm is unknown to the run or `may_read` refuses its province."""
    rows = store.candidates(run, credit_code)
    region, name = store.firm_facts(run, credit_code, rows)
    province = _province(region) if region else None
    if not may_read(province):
        return None
    listed = store.rows_of(run, province, credit_code) if province else []
    again = store.reapply(run, province) if province else None
    reapplied = again.rows(again.positions_of(credit_code)) if again is not None else []
    if not rows and not listed and region is None and name is None:
        return None
    renewals = store.rows_of(run, "renewals", credit_code)
    cultivation = store.rows_of(run, "cultivation", credit_code)
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault((row["tier"], row["mode"]), []).append(row)
    order = [(t, m) for t in TIERS for m in MODES]
    tiers = []
    for tier, mode in sorted(groups, key=lambda g: order.index(g) if g in order else len(order)):
        group = groups[(tier, mode)]
        criteria = [
            {k: row[k] for k in ("criterion", "verdict", "evidence")}
            for row in group
            if row["criterion"] != "outcome"
        ]
        outcome = next((r["verdict"] for r in group if r["criterion"] == "outcome"), None)
        invitation = [r for r in listed if r["tier"] == tier] if mode == "discovery" else []
        renewal = [r for r in renewals if r["tier"] == tier] if mode == "renewal" else []
        cultivated = [r for r in cultivation if r["tier"] == tier] if mode == "discovery" else []
        reapply = [r for r in reapplied if r["tier"] == tier] if mode == "discovery" else []
        tiers.append(
            {
                "tier": tier,
                "mode": mode,
                "outcome": outcome,
                "criteria": criteria,
                "data_gaps": [c["criterion"] for c in criteria if c["verdict"] == "unknown"],
                "failing": [c["criterion"] for c in criteria if c["verdict"] == "fail"],
                "invitation": {k: invitation[0].get(k) for k in LIST_COLUMNS}
                if invitation
                else None,
                "reapply": {k: reapply[0].get(k) for k in REAPPLY_COLUMNS} if reapply else None,
                "renewal": renewal[0] if renewal else None,
                "cultivation": cultivated[0] if cultivated else None,
            }
        )
    return {
        "run_id": run.run_id,
        "credit_code": credit_code,
        "name": name,
        "region_code": region,
        "province": province,
        "tiers": tiers,
    }
