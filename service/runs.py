"""Reading published runs (outputs.md): one immutable directory per run, loaded once and cached.

Every firm is attributed to the province of its registered region code (属地原则, Articles 7-8),
taken from the published files that carry one. A firm no file places in a province is shown to
the ministry only: a province never sees a firm it cannot be shown to own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from models.invitations import LIST_COLUMNS, NO_PROVINCE, SCORE_COLUMNS, province_of

PRIORITY_COLUMNS = [c for c in SCORE_COLUMNS if c not in ("score", "reasons")]

RUN_ID_PATTERN = r"^(latest|[0-9A-Za-z][0-9A-Za-z_-]{0,79})$"
LATEST = "latest"
TIERS = ("specialized", "little_giant")
MODES = ("discovery", "renewal")
CANDIDATE_COLUMNS = ["credit_code", "tier", "mode", "criterion", "verdict", "evidence"]
RENEWAL_COLUMNS = ["credit_code", "name", "region_code", "tier", "outcome", "failing", "unknown"]
SortField = Literal["rank", "score", "name", "credit_code", "region_code"]
SortOrder = Literal["asc", "desc"]
FileFormat = Literal["csv", "xlsx"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_RUN_ID = re.compile(RUN_ID_PATTERN)


@dataclass(frozen=True)
class RunData:
    """Everything the service shows from one run, read once."""

    run_id: str
    path: Path
    manifest: dict[str, Any]
    invitations: pd.DataFrame  # LIST_COLUMNS + province
    list_files: dict[str, dict[str, Path]]  # province → {"csv": …, "xlsx": …}
    candidates: pd.DataFrame  # CANDIDATE_COLUMNS, indexed and sorted by credit_code
    cultivation: pd.DataFrame  # the file's columns + name, region_code, province
    renewals: pd.DataFrame  # RENEWAL_COLUMNS + province
    firm_region: dict[str, str] = field(repr=False)
    firm_name: dict[str, str] = field(repr=False)

    @property
    def provinces(self) -> list[str]:
        return sorted(self.list_files)

    def province_of_firm(self, credit_code: str) -> str | None:
        region = self.firm_region.get(credit_code)
        return _province(region) if region else None

    def funnel(self) -> list[dict[str, Any]]:
        counts = self.manifest.get("counts")
        rows = counts.get("funnel") if isinstance(counts, dict) else None
        return [row for row in rows or [] if isinstance(row, dict)]


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


class RunStore:
    """The runs directory: which runs are published, and their (cached) contents."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    def run_ids(self) -> list[str]:
        """Published runs, newest first (run ids start with the as-of date and a timestamp)."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(
            (
                p.name
                for p in self.runs_dir.iterdir()
                if not p.is_symlink()
                and p.is_dir()
                and _RUN_ID.match(p.name)
                and p.name != LATEST
                and (p / "manifest.json").is_file()
            ),
            reverse=True,
        )

    def latest_id(self) -> str | None:
        link = self.runs_dir / LATEST
        if not link.is_symlink() and not link.is_dir():
            return None
        target = link.resolve()
        if target.parent != self.runs_dir.resolve() or not (target / "manifest.json").is_file():
            return None
        return target.name

    def resolve(self, run_id: str) -> Path | None:
        """The run's directory, or None when no such complete run is published."""
        if not _RUN_ID.match(run_id):
            return None
        name = self.latest_id() if run_id == LATEST else run_id
        if name is None:
            return None
        path = (self.runs_dir / name).resolve()
        if path.parent != self.runs_dir.resolve() or not (path / "manifest.json").is_file():
            return None
        return path

    def load(self, run_id: str) -> RunData | None:
        path = self.resolve(run_id)
        return load_run(path) if path is not None else None


@lru_cache(maxsize=4)
def load_run(path: Path) -> RunData:
    """Read one run directory. Cached: a published run directory never changes."""
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    invitations, list_files = _read_invitations(path / "invitations")
    renewals = _read_csv(path / "renewals.csv", RENEWAL_COLUMNS)
    cultivation = _read_csv(path / "cultivation.csv", ["credit_code", "tier"])
    candidates = _read_candidates(path / "candidates.parquet")
    frames = [invitations, renewals, cultivation, candidates.reset_index()]
    firm_region = _first_by_code(frames, "region_code")
    firm_name = _first_by_code(frames, "name")
    for frame in (cultivation, renewals):
        known_names = frame["credit_code"].map(firm_name).fillna("")
        own_names = frame["name"] if "name" in frame.columns else known_names
        frame["name"] = own_names.where(own_names != "", known_names)
        frame["region_code"] = frame["credit_code"].map(firm_region).fillna("")
        frame["province"] = _provinces(frame["region_code"])
    return RunData(
        run_id=path.name,
        path=path,
        manifest=manifest if isinstance(manifest, dict) else {},
        invitations=invitations,
        list_files=list_files,
        candidates=candidates,
        cultivation=cultivation,
        renewals=renewals,
        firm_region=firm_region,
        firm_name=firm_name,
    )


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="object") for c in required})
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for column in required:
        if column not in frame.columns:
            frame[column] = ""
    return frame


def _read_invitations(directory: Path) -> tuple[pd.DataFrame, dict[str, dict[str, Path]]]:
    files: dict[str, dict[str, Path]] = {}
    frames = []
    for path in sorted(directory.glob("*")) if directory.is_dir() else []:
        if not re.fullmatch(r"\d{2}", path.stem) or path.suffix not in (".csv", ".xlsx"):
            continue
        files.setdefault(path.stem, {})[path.suffix[1:]] = path
        if path.suffix == ".csv":
            frame = _read_csv(path, LIST_COLUMNS)
            frame["province"] = path.stem
            frames.append(frame)
    columns = [*LIST_COLUMNS, "province"]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns}), files
    lists = pd.concat(frames, ignore_index=True)
    lists["rank"] = pd.to_numeric(lists["rank"], errors="coerce").astype("Int64")
    for column in ("score", *PRIORITY_COLUMNS):
        lists[column] = pd.to_numeric(lists[column], errors="coerce")
    return lists, files


def _read_candidates(path: Path) -> pd.DataFrame:
    if path.is_file():
        frame = pd.read_parquet(path)
        for column in CANDIDATE_COLUMNS:
            if column not in frame.columns:
                frame[column] = ""
        # Firm names and region codes are used when present (they place a firm in a province).
        kept = [*CANDIDATE_COLUMNS, *(c for c in ("name", "region_code") if c in frame.columns)]
        frame = frame[kept].copy()
        for column in kept:  # categorical or nullable columns → plain text
            values = frame[column].astype("object")
            frame[column] = values.where(values.notna(), "").astype("str")
    else:
        frame = pd.DataFrame({c: pd.Series(dtype="str") for c in CANDIDATE_COLUMNS})
    return frame.set_index("credit_code").sort_index(kind="stable")


def _first_by_code(frames: Iterable[pd.DataFrame], column: str) -> dict[str, str]:
    """credit_code → the first non-empty value of `column` in the frames, in order."""
    found: dict[str, str] = {}
    for frame in frames:
        if column not in frame.columns or "credit_code" not in frame.columns:
            continue
        pairs = frame[["credit_code", column]].astype("str")
        pairs = pairs[(pairs[column] != "") & (pairs[column] != "nan")]
        for code, value in pairs.drop_duplicates("credit_code").itertuples(index=False):
            found.setdefault(code, value)
    return found


def _province(region_code: str) -> str | None:
    code = province_of(pd.Series([region_code])).iloc[0]
    return None if code == NO_PROVINCE else str(code)


def _provinces(region_codes: pd.Series) -> pd.Series:
    """Province per row; NO_PROVINCE ("00") where no file gives a region (ministry only)."""
    return province_of(region_codes.astype("str"))


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: missing values become None, numpy scalars Python ones."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


def invitation_page(
    run: RunData, province: str, query: InvitationQuery
) -> tuple[int, list[dict[str, Any]]]:
    """The matching rows of one province's list (total before paging, and the page)."""
    rows = run.invitations[run.invitations["province"] == province]
    if query.tier:
        rows = rows[rows["tier"] == query.tier]
    if query.outcome:
        rows = rows[rows["outcome"] == query.outcome]
    if query.min_score is not None:
        rows = rows[rows["score"] >= query.min_score]
    if query.q:
        needle = query.q.strip()
        hits = rows["name"].str.contains(needle, case=False, regex=False) | rows[
            "credit_code"
        ].str.startswith(needle.upper())
        rows = rows[hits]
    ascending = query.order == "asc"
    rows = rows.sort_values(
        [query.sort, "tier", "credit_code"],
        ascending=[ascending, True, True],
        kind="stable",
        na_position="last",
    )
    return len(rows), records(_page(rows, query.page, query.page_size)[LIST_COLUMNS])


def table_page(
    frame: pd.DataFrame,
    provinces: set[str] | None,
    tier: str | None,
    outcome: str | None,
    page: int,
    page_size: int,
) -> tuple[int, list[dict[str, Any]]]:
    """A generic published table (cultivation, renewals) restricted to readable provinces."""
    rows = frame if provinces is None else frame[frame["province"].isin(provinces)]
    if tier:
        rows = rows[rows["tier"] == tier]
    if outcome and "outcome" in rows.columns:
        rows = rows[rows["outcome"] == outcome]
    return len(rows), records(_page(rows, page, page_size))


def _page(rows: pd.DataFrame, page: int, page_size: int) -> pd.DataFrame:
    start = (page - 1) * page_size
    return rows.iloc[start : start + page_size]


def firm_detail(run: RunData, credit_code: str) -> dict[str, Any] | None:
    """Every verdict and its evidence, per tier and mode, with the list entries; None if unknown."""
    candidates = run.candidates
    rows = (
        candidates.loc[[credit_code]].reset_index()
        if credit_code in candidates.index
        else candidates.iloc[0:0].reset_index()
    )
    listed = run.invitations[run.invitations["credit_code"] == credit_code]
    if rows.empty and listed.empty and credit_code not in run.firm_region:
        return None
    renewals = run.renewals[run.renewals["credit_code"] == credit_code]
    cultivation = run.cultivation[run.cultivation["credit_code"] == credit_code]
    tiers = []
    order = {(t, m): i for i, (t, m) in enumerate((t, m) for t in TIERS for m in MODES)}
    groups = sorted(
        rows.groupby(["tier", "mode"], sort=False), key=lambda g: order.get(g[0], len(order))
    )
    for (tier, mode), group in groups:
        is_outcome = group["criterion"] == "outcome"
        criteria = group[~is_outcome]
        outcome = group.loc[is_outcome, "verdict"]
        invitation = listed[listed["tier"] == tier] if mode == "discovery" else listed.iloc[0:0]
        tiers.append(
            {
                "tier": tier,
                "mode": mode,
                "outcome": str(outcome.iloc[0]) if len(outcome) else None,
                "criteria": records(criteria[["criterion", "verdict", "evidence"]]),
                "data_gaps": criteria.loc[criteria["verdict"] == "unknown", "criterion"].tolist(),
                "failing": criteria.loc[criteria["verdict"] == "fail", "criterion"].tolist(),
                "invitation": records(invitation[LIST_COLUMNS])[0] if len(invitation) else None,
                "renewal": _first_record(renewals[renewals["tier"] == tier])
                if mode == "renewal"
                else None,
                "cultivation": _first_record(cultivation[cultivation["tier"] == tier])
                if mode == "discovery"
                else None,
            }
        )
    region = run.firm_region.get(credit_code)
    return {
        "run_id": run.run_id,
        "credit_code": credit_code,
        "name": run.firm_name.get(credit_code),
        "region_code": region,
        "province": run.province_of_firm(credit_code),
        "tiers": tiers,
    }


def _first_record(frame: pd.DataFrame) -> dict[str, Any] | None:
    return records(frame.drop(columns=["province"], errors="ignore"))[0] if len(frame) else None
