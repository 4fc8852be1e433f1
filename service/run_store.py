"""The runs directory as the service holds it: runs and their indexes in a cache.

`RunStore` answers which runs are published and reads their parts (a run's manifest and file
names, a list's row index, the candidates footer) once each; what is held is cached, bounded by
bytes (configs/service.yaml), each part loaded once under concurrent requests (`ByteCache`).
Each row of the run-wide lists is given its province from its registered region code (属地原则,
Articles 7-8), completed from the other lists where the file has none.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.run_layout import (
    CANDIDATES,
    LATEST,
    LIST_COLUMNS,
    REAPPLY_COLUMNS,
    RENEWAL_COLUMNS,
)
from models.invitations import NO_PROVINCE
from service.run_index import (
    PagedList,
    empty_index,
    index_candidates,
    province_list,
    row_index_table,
    rows_of_code,
)
from service.run_listing import (
    Listing,
    RunData,
    listing_stamp,
    read_listing,
    read_run,
    regular_file,
)

TABLES = ("renewals", "cultivation")  # the run-wide lists, beside the provinces' lists
CANDIDATE_COLUMNS = ["credit_code", "tier", "mode", "criterion", "verdict", "evidence"]
CANDIDATE_COLUMNS_AND_FACTS = (*CANDIDATE_COLUMNS, "name", "region_code")  # facts: if present
TableKind = Literal["cultivation", "renewals"]


DEFAULT_CACHE_BYTES = 512 << 20
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

    def peek(self, key: Hashable) -> Any:
        """The cached value of `key`, or None; never loads."""
        with self._lock:
            return self._hit(key)[1]

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


class RunStore:
    """The runs directory: which runs are published, and their contents, read in cached parts."""

    def __init__(self, runs_dir: Path, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.runs_dir = runs_dir
        self.cache = ByteCache(cache_bytes)
        self._listing: Listing | None = None
        self._listing_lock = threading.Lock()

    def listing(self) -> Listing:
        """Which runs are published, read again only when the runs directory or its `latest`
        link changes (publishing renames a run into place, then switches `latest`)."""
        stamp = listing_stamp(self.runs_dir)
        listing = self._listing
        if listing is not None and listing.stamp == stamp:
            return listing
        with self._listing_lock:
            if self._listing is None or self._listing.stamp != stamp:
                self._listing = read_listing(self.runs_dir, stamp)
            return self._listing

    def run_ids(self) -> list[str]:
        """Published runs, newest first (run ids start with the as-of date and a timestamp)."""
        return list(self.listing().run_ids)

    def latest_id(self) -> str | None:
        return self.listing().latest

    def resolve(self, run_id: str) -> Path | None:
        """The run's directory, or None when no such complete run is published."""
        listing = self.listing()
        name = listing.latest if run_id == LATEST else run_id
        if name is None or name not in listing.published:
            return None
        return listing.root / name

    def published(self) -> tuple[str | None, list[RunData]]:
        """The run `latest` names and every published run, newest first."""
        listing = self.listing()
        runs = (self._read(listing.root / run_id) for run_id in listing.run_ids)
        return listing.latest, [run for run in runs if run is not None]

    def load(self, run_id: str) -> RunData | None:
        """The run's manifest and file names (cached; a published run never changes)."""
        path = self.resolve(run_id)
        return None if path is None else self._read(path)

    def _read(self, path: Path) -> RunData | None:
        try:
            return self.cache.get(("run", path), lambda: _sized(read_run(path)))
        except (OSError, ValueError):  # removed or broken since it was listed
            return None

    def invitations(self, run: RunData, province: str) -> PagedList:
        """One province's invitation list, in list order (rank, tier, credit code)."""
        path = run.list_files.get(province, {}).get("csv")
        if path is None:
            return PagedList.of(None, tuple(LIST_COLUMNS), empty_index(LIST_COLUMNS))
        return self.cache.get(
            ("list", run.path, province), lambda: _sized(province_list(run.path, path, province))
        )

    def reapply(self, run: RunData, province: str) -> PagedList | None:
        """One province's re-application list, in list order; None when the run published
        none for it (a run published before the lists were split)."""
        path = run.reapply_files.get(province, {}).get("csv")
        if path is None:
            return None
        return self.cache.get(
            ("reapply", run.path, province),
            lambda: _sized(province_list(run.path, path, province, REAPPLY_COLUMNS)),
        )

    def table(self, run: RunData, which: TableKind) -> PagedList:
        """The cultivation or renewal list of the whole run, each row with its name, region
        code (from the other lists where the file has none) and province."""

        def load() -> tuple[PagedList, int]:
            header, index = row_index_table(run.path, run.path / f"{which}.csv", _required(which))
            for column in ("name", "region_code"):
                if column not in index.column_names:
                    index = index.append_column(column, pa.array([""] * index.num_rows))
            completed = any(pc.any(pc.equal(index[c], "")).as_py() for c in ("name", "region_code"))
            if completed:  # from the other lists, as they name the firm (first wins)
                tables = [self.invitations(run, p).index for p in run.provinces]
                tables += [
                    row_index_table(run.path, run.path / f"{t}.csv", _required(t))[1]
                    for t in TABLES
                ]
                directory = _firm_directory(t.to_pandas() for t in tables)
                frame = index.to_pandas()
                for column in ("name", "region_code"):
                    known = frame["credit_code"].map(directory[column]).fillna("")
                    frame[column] = frame[column].where(frame[column] != "", known)
                    index = index.set_column(
                        index.column_names.index(column),
                        column,
                        pa.array(frame[column], pa.string()),
                    )
            index = index.append_column("province", _provinces(index["region_code"]))
            overlay = ("name", "region_code") if completed else ()
            return _sized(PagedList.of(run.path / f"{which}.csv", header, index, overlay=overlay))

        return self.cache.get((which, run.path), load)

    def candidates(self, run: RunData, credit_code: str) -> list[dict[str, str]]:
        """The candidates rows of one firm, read through an Arrow filter on the credit code:
        only the row groups whose statistics may hold it are read, never the whole table."""
        path = regular_file(run.path / CANDIDATES, run.path)
        if path is None:
            return []
        index = self.cache.get(("candidates", path), lambda: index_candidates(path))
        groups = index.groups_holding(credit_code)
        columns = [c for c in CANDIDATE_COLUMNS_AND_FACTS if c in index.columns]
        if not groups or "credit_code" not in columns:
            return []
        parquet = pq.ParquetFile(  # text as dictionaries: only this firm's rows are decoded
            pa.OSFile(str(path)), metadata=index.metadata, read_dictionary=columns
        )
        try:
            table = parquet.read_row_groups(groups, columns=columns, use_threads=False)
        finally:
            parquet.close()
        rows = rows_of_code(table, credit_code).cast(
            pa.schema([pa.field(c, pa.string()) for c in columns])
        )
        blank = dict.fromkeys(CANDIDATE_COLUMNS_AND_FACTS, "")
        return [{**blank, **{k: v or "" for k, v in row.items()}} for row in rows.to_pylist()]

    def rows_of(self, run: RunData, table: str, credit_code: str) -> list[dict[str, Any]]:
        """A firm's rows, JSON-ready, of a province's list (`table` = its code) or of the
        renewal or cultivation list."""
        listed = (
            self.table(run, table)  # type: ignore[arg-type]
            if table in TABLES
            else self.invitations(run, table)
        )
        return listed.rows(listed.positions_of(credit_code))

    def firm_facts(
        self,
        run: RunData,
        credit_code: str,
        candidates: list[dict[str, str]] = (),  # type: ignore[assignment]
    ) -> tuple[str | None, str | None]:
        """(region_code, name) of a firm: the first the lists give (province lists, then the
        renewal and cultivation lists), else from its candidates rows."""
        region = name = None
        listed = [self.invitations(run, p) for p in run.provinces]
        listed += [self.table(run, "renewals"), self.table(run, "cultivation")]
        again = (self.reapply(run, p) for p in sorted(run.reapply_files))
        listed += [paged for paged in again if paged is not None]
        for paged in listed:
            found = paged.positions_of(credit_code)
            if not len(found):
                continue
            facts = paged.index.select(["name", "region_code"]).take(found).to_pylist()
            for row in facts:
                region = region or row["region_code"] or None
                name = name or row["name"] or None
            if region and name:
                break
        for row in candidates:
            region = region or row["region_code"] or None
            name = name or row["name"] or None
        return region, name


def _sized(value: Any) -> tuple[Any, int]:
    if isinstance(value, PagedList):
        arrays = value.codes.nbytes + value.order.nbytes + value.name_starts.nbytes
        arrays += value.spans.nbytes
        return value, value.index.nbytes + arrays + sys.getsizeof(value.names) + 4096
    if isinstance(value, pd.DataFrame):
        return value, int(value.memory_usage(deep=True).sum()) + 1024
    if isinstance(value, RunData):
        return value, len(json.dumps(value.manifest, default=str)) * 4 + 4096
    return value, 4096


def _required(which: str) -> list[str]:
    return RENEWAL_COLUMNS if which == "renewals" else ["credit_code", "tier"]


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


def _provinces(region_codes: pa.ChunkedArray) -> pa.ChunkedArray:
    """Province per row, as `province_of` reads region codes; NO_PROVINCE ("00") where no file
    gives a region (ministry only)."""
    codes = pc.utf8_slice_codeunits(region_codes, 0, 2)
    return pc.if_else(pc.match_substring_regex(codes, "^[0-9]{2}$"), codes, NO_PROVINCE)
