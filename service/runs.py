"""Reading published runs (outputs.md): one immutable directory per run, read in parts.

A run's summary comes from its `manifest.json` and the names of its files only. Its tables are
read when a page needs them, each once under concurrent requests, and kept in a cache bounded by
bytes (configs/service.yaml): a province's list, the renewal and cultivation lists, and the
footer of `candidates.parquet`. The candidates table itself (every firm × tier × criterion,
about 34M rows at national scale) is never read whole: a firm page reads the row groups whose
statistics can hold its credit code, through an Arrow filter.

Only regular files inside the run directory are served or read: a symlink is never followed
(except `latest`, which names a run directory beside it).

Every firm is attributed to the province of its registered region code (属地原则, Articles 7-8),
taken from the published files that carry one. A firm no file places in a province is shown to
the ministry only: a province never sees a firm it cannot be shown to own.
"""

from __future__ import annotations

import csv
import json
import math
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from models.criteria.engine import TIERS
from models.invitations import LIST_COLUMNS, NO_PROVINCE, SCORE_COLUMNS, province_of

PRIORITY_COLUMNS = [c for c in SCORE_COLUMNS if c not in ("score", "reasons")]

RUN_ID_PATTERN = r"^(latest|[0-9A-Za-z][0-9A-Za-z_-]{0,79})$"
LATEST = "latest"

MODES = ("discovery", "renewal")
CANDIDATE_COLUMNS = ["credit_code", "tier", "mode", "criterion", "verdict", "evidence"]
CANDIDATE_COLUMNS_AND_FACTS = (*CANDIDATE_COLUMNS, "name", "region_code")  # facts: if present
RENEWAL_COLUMNS = ["credit_code", "name", "region_code", "tier", "outcome", "failing", "unknown"]
SortField = Literal["rank", "score", "name", "credit_code", "region_code"]
SortOrder = Literal["asc", "desc"]
FileFormat = Literal["csv", "xlsx"]
TableKind = Literal["cultivation", "renewals"]
DEFAULT_ORDER = ("rank", "asc")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_RUN_ID = re.compile(RUN_ID_PATTERN)
_PROVINCE_FILE = re.compile(r"[0-9]{2}")  # ASCII digits only
DEFAULT_CACHE_BYTES = 256 << 20
V = TypeVar("V")


class ByteCache:
    """Least-recently-used values bounded by their total size in bytes; thread-safe.

    A missing value is loaded once however many requests ask for it at the same time: the
    others wait for that load (single flight); at most `max_concurrent_loads` different values
    load at once, which bounds the memory their reading takes. A value larger than the whole
    budget is still returned, and kept only until the next value arrives.
    """

    def __init__(self, max_bytes: int, max_concurrent_loads: int = 4) -> None:
        self.max_bytes = max_bytes
        self.loads = 0
        self._loaders = threading.BoundedSemaphore(max_concurrent_loads)  # bounds the transients
        self._nesting = threading.local()
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._loading: dict[Hashable, threading.Lock] = {}
        self._bytes = 0

    def _load(self, load: Callable[[], tuple[V, int]]) -> tuple[V, int]:
        """One load under the bound; a load that needs another value (nested) already holds
        its thread's place, so nesting never waits for itself."""
        if getattr(self._nesting, "depth", 0):
            self._nesting.depth += 1
            try:
                return load()
            finally:
                self._nesting.depth -= 1
        with self._loaders:
            self._nesting.depth = 1
            try:
                return load()
            finally:
                self._nesting.depth = 0

    @property
    def size(self) -> int:
        return self._bytes

    def _hit(self, key: Hashable) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        self._entries.move_to_end(key)
        return True, entry[0]

    def get(self, key: Hashable, load: Callable[[], tuple[V, int]]) -> V:
        """The cached value of `key`, or `load()` → (value, size in bytes) once."""
        with self._lock:
            found, value = self._hit(key)
            if found:
                return value  # type: ignore[no-any-return]
            flight = self._loading.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                found, value = self._hit(key)
                if found:
                    return value  # type: ignore[no-any-return]
            try:
                loaded, size = self._load(load)
                with self._lock:
                    self.loads += 1
                    self._entries[key] = (loaded, size)
                    self._bytes += size
                    while self._bytes > self.max_bytes and len(self._entries) > 1:
                        _, (_, dropped) = self._entries.popitem(last=False)
                        self._bytes -= dropped
            finally:
                with self._lock:
                    self._loading.pop(key, None)
        return loaded


@dataclass(frozen=True)
class RunData:
    """What the service knows of a run without reading its tables: manifest and file names."""

    run_id: str
    path: Path
    manifest: dict[str, Any]
    list_files: dict[str, dict[str, Path]]  # province → {"csv": …, "xlsx": …}

    @property
    def provinces(self) -> list[str]:
        return sorted(self.list_files)

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


def regular_file(path: Path, directory: Path) -> Path | None:
    """`path` if it is a regular file (not a symlink) directly inside `directory`."""
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or path.parent != directory:
        return None
    return path


def is_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


class RunStore:
    """The runs directory: which runs are published, and their contents, read in cached parts."""

    def __init__(self, runs_dir: Path, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.runs_dir = runs_dir
        self.cache = ByteCache(cache_bytes)

    def run_ids(self) -> list[str]:
        """Published runs, newest first (run ids start with the as-of date and a timestamp)."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(
            (
                p.name
                for p in self.runs_dir.iterdir()
                if _RUN_ID.match(p.name)
                and p.name != LATEST
                and is_directory(p)
                and regular_file(p / "manifest.json", p) is not None
            ),
            reverse=True,
        )

    def latest_id(self) -> str | None:
        link = self.runs_dir / LATEST
        if not link.is_symlink() and not link.is_dir():
            return None
        target = link.resolve()
        if target.parent != self.runs_dir.resolve() or not _RUN_ID.match(target.name):
            return None
        if not is_directory(target) or regular_file(target / "manifest.json", target) is None:
            return None
        return target.name

    def resolve(self, run_id: str) -> Path | None:
        """The run's directory, or None when no such complete run is published."""
        if not _RUN_ID.match(run_id):
            return None
        name = self.latest_id() if run_id == LATEST else run_id
        if name is None or name == LATEST:
            return None
        path = self.runs_dir.resolve() / name
        if not is_directory(path) or regular_file(path / "manifest.json", path) is None:
            return None
        return path

    def load(self, run_id: str) -> RunData | None:
        """The run's manifest and file names (cached; a published run never changes)."""
        path = self.resolve(run_id)
        if path is None:
            return None
        return self.cache.get(("run", path), lambda: _sized(read_run(path)))

    def invitations(self, run: RunData, province: str) -> pd.DataFrame:
        """One province's invitation list (LIST_COLUMNS + province)."""
        csv = run.list_files.get(province, {}).get("csv")
        if csv is None:
            return _empty([*LIST_COLUMNS, "province"])
        return self.cache.get(
            ("list", run.path, province), lambda: _sized(_read_list(csv, province))
        )

    def table(self, run: RunData, which: TableKind) -> pd.DataFrame:
        """The cultivation or renewal list of the whole run, each row with its name, region
        code (from the other lists where the file has none) and province."""

        def load() -> tuple[pd.DataFrame, int]:
            frame = _read_table(run, which)
            directory = self.directory(run)
            for column in ("name", "region_code"):
                known = frame["credit_code"].map(directory[column]).fillna("")
                own = frame[column] if column in frame.columns else known
                frame[column] = own.where(own != "", known)
            frame["province"] = _provinces(frame["region_code"])
            return _sized(frame)

        return self.cache.get((which, run.path), load)

    def directory(self, run: RunData) -> pd.DataFrame:
        """credit_code → name, region_code of every firm the run's lists name (first wins)."""

        def load() -> tuple[pd.DataFrame, int]:
            frames = [self.invitations(run, p) for p in run.provinces]
            frames += [_read_table(run, "renewals"), _read_table(run, "cultivation")]
            return _sized(_firm_directory(frames))

        return self.cache.get(("directory", run.path), load)

    def candidates(self, run: RunData, credit_code: str) -> list[dict[str, str]]:
        """The candidates rows of one firm, read through an Arrow filter on the credit code:
        only the row groups whose statistics may hold it are read, never the whole table."""
        path = regular_file(run.path / "candidates.parquet", run.path)
        if path is None:
            return []
        index = self.cache.get(("candidates", path), lambda: _index_candidates(path))
        groups = index.groups_holding(credit_code)
        columns = [c for c in CANDIDATE_COLUMNS_AND_FACTS if c in index.columns]
        if not groups or "credit_code" not in columns:
            return []
        parquet = pq.ParquetFile(path, metadata=index.metadata)
        try:
            table = parquet.read_row_groups(groups, columns=columns, use_threads=False)
        finally:
            parquet.close()
        codes = pc.cast(table["credit_code"], pa.string())
        table = table.filter(pc.equal(codes, credit_code))
        values = {  # decoded here: only this firm's rows, not the row groups' dictionaries
            name: pc.fill_null(pc.cast(table[name], pa.string()), "").to_pylist()
            for name in columns
        }
        empty = [""] * table.num_rows
        return [
            dict(zip(CANDIDATE_COLUMNS_AND_FACTS, row, strict=True))
            for row in zip(
                *(values.get(name, empty) for name in CANDIDATE_COLUMNS_AND_FACTS), strict=True
            )
        ]

    def rows_of(self, run: RunData, table: str, credit_code: str) -> list[dict[str, Any]]:
        """A firm's rows, JSON-ready, of a province's list (`table` = its code) or of the
        renewal or cultivation list, found through a cached credit code → rows index."""
        if table in ("renewals", "cultivation"):
            frame = self.table(run, table)  # type: ignore[arg-type]
        else:
            frame = self.invitations(run, table)
        positions = self.cache.get(("positions", run.path, table), lambda: _positions(frame))
        found = positions.get(credit_code)
        if found is None:
            return []
        return records(frame.iloc[found].drop(columns=["province"], errors="ignore"))

    def province_of_firm(self, run: RunData, credit_code: str) -> str | None:
        region, _ = self.firm_facts(run, credit_code)
        return _province(region) if region else None

    def firm_facts(
        self,
        run: RunData,
        credit_code: str,
        candidates: list[dict[str, str]] = (),  # type: ignore[assignment]
    ) -> tuple[str | None, str | None]:
        """(region_code, name) of a firm from the lists, else from its candidates rows."""
        directory = self.directory(run)
        region = name = None
        if credit_code in directory.index:
            row = directory.loc[credit_code]
            region, name = row["region_code"] or None, row["name"] or None
        for row in candidates:
            region = region or row["region_code"] or None
            name = name or row["name"] or None
        return region, name


def read_run(path: Path) -> RunData:
    """A run's manifest and the names of its list files; no table is read."""
    text = (path / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text)
    files: dict[str, dict[str, Path]] = {}
    folder = path / "invitations"
    if is_directory(folder):
        for item in sorted(folder.iterdir()):
            if (
                _PROVINCE_FILE.fullmatch(item.stem)
                and item.suffix in (".csv", ".xlsx")
                and regular_file(item, folder) is not None
            ):
                files.setdefault(item.stem, {})[item.suffix[1:]] = item
    return RunData(
        run_id=path.name,
        path=path,
        manifest=manifest if isinstance(manifest, dict) else {},
        list_files=files,
    )


def _sized(value: Any) -> tuple[Any, int]:
    if isinstance(value, pd.DataFrame):
        return value, int(value.memory_usage(deep=True).sum()) + 1024
    if isinstance(value, RunData):
        return value, len(json.dumps(value.manifest, default=str)) * 4 + 4096
    return value, 4096


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


@dataclass(frozen=True)
class CandidatesIndex:
    """The footer of candidates.parquet: per row group, the smallest and largest credit code."""

    metadata: pq.FileMetaData
    columns: tuple[str, ...]
    lowest: np.ndarray  # object arrays of str; None where a group has no statistics
    highest: np.ndarray

    def groups_holding(self, credit_code: str) -> list[int]:
        unknown = np.array([v is None for v in self.lowest], dtype=bool)
        low = np.where(unknown, "", self.lowest).astype(str)
        high = np.where(unknown, "", self.highest).astype(str)
        may_hold = unknown | ((low <= credit_code) & (credit_code <= high))
        return [int(i) for i in np.flatnonzero(may_hold)]


def _index_candidates(path: Path) -> tuple[CandidatesIndex, int]:
    metadata = pq.read_metadata(path)
    names = metadata.schema.to_arrow_schema().names
    lowest: list[str | None] = []
    highest: list[str | None] = []
    position = names.index("credit_code") if "credit_code" in names else None
    for group in range(metadata.num_row_groups):
        stats = (
            metadata.row_group(group).column(position).statistics if position is not None else None
        )
        has = stats is not None and stats.has_min_max
        lowest.append(_text(stats.min) if has else None)  # type: ignore[union-attr]
        highest.append(_text(stats.max) if has else None)  # type: ignore[union-attr]
    index = CandidatesIndex(
        metadata,
        tuple(names),
        np.array(lowest, dtype=object),
        np.array(highest, dtype=object),
    )
    return index, int(metadata.serialized_size) * 4 + metadata.num_row_groups * 200 + 4096


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _read_list(path: Path, province: str) -> pd.DataFrame:
    frame = _read_csv(path, LIST_COLUMNS)
    frame["province"] = province
    frame["rank"] = pd.to_numeric(frame["rank"], errors="coerce").astype("Int64")
    for column in ("score", *PRIORITY_COLUMNS):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame.sort_values(
        ["rank", "tier", "credit_code"], kind="stable", na_position="last", ignore_index=True
    )


def _positions(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], int]:
    """credit_code → the row positions of that firm in the frame."""
    if frame.empty:
        return {}, 1024
    index = {str(k): v for k, v in frame.groupby("credit_code", sort=False).indices.items()}
    return index, sum(v.nbytes + 120 for v in index.values()) + 1024


def _read_table(run: RunData, which: TableKind) -> pd.DataFrame:
    required = RENEWAL_COLUMNS if which == "renewals" else ["credit_code", "tier"]
    return _read_csv(run.path / f"{which}.csv", required)


def _firm_directory(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One row per credit code: its first non-empty name and region code in the frames."""
    parts = [
        frame[["credit_code", "name", "region_code"]].astype("str")
        for frame in frames
        if len(frame) and {"credit_code", "name", "region_code"} <= set(frame.columns)
    ]
    if not parts:
        return pd.DataFrame({"name": [], "region_code": []}, index=pd.Index([], dtype="str"))
    joined = pd.concat(parts, ignore_index=True).replace({"nan": "", "<NA>": ""})
    firms = {}
    for column in ("name", "region_code"):
        known = joined[joined[column] != ""]
        firms[column] = known.drop_duplicates("credit_code").set_index("credit_code")[column]
    directory = pd.DataFrame(firms).fillna("")
    return directory[~directory.index.duplicated()]


def _read_csv(path: Path, required: list[str]) -> pd.DataFrame:
    if regular_file(path, path.parent) is None:
        return _empty(required)
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    if not header:
        return _empty(required)
    table = pacsv.read_csv(  # Arrow: parallel, and every column kept as text
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
        ),
    )
    frame = table.to_pandas()
    for column in required:
        if column not in frame.columns:
            frame[column] = ""
    return frame


def _province(region_code: str) -> str | None:
    code = province_of(pd.Series([region_code])).iloc[0]
    return None if code == NO_PROVINCE else str(code)


def _provinces(region_codes: pd.Series) -> pd.Series:
    """Province per row; NO_PROVINCE ("00") where no file gives a region (ministry only)."""
    return province_of(region_codes.astype("str"))


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


def invitation_page(rows: pd.DataFrame, query: InvitationQuery) -> tuple[int, list[dict[str, Any]]]:
    """The matching rows of one province's list (total before paging, and the page)."""
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
    if (query.sort, query.order) != DEFAULT_ORDER:  # lists are read in the default order
        rows = rows.sort_values(
            [query.sort, "tier", "credit_code"],
            ascending=[query.order == "asc", True, True],
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
