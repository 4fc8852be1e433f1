"""Reading published runs (outputs.md): one immutable directory per run, read in parts.

A run's summary comes from its `manifest.json` and the names of its files only. A list
(a province's invitation and re-application lists, the cultivation and renewal lists) is held
as its row index: the columns pages filter, sort and find firms by, and where each row lies in
the CSV — the index written beside the list at publication (`index/…parquet`), or made from
the file once for runs published before. A page reads only its own rows' bytes from the CSV.
The candidates table (every firm × tier × criterion, about 34M rows at national scale) is never
read whole: a firm page reads the row group whose statistics can hold its credit code, through
an Arrow filter. What is held is cached, bounded by bytes (configs/service.yaml), each part
loaded once under concurrent requests.

Only regular files inside the run directory are served or read: a symlink is never followed
(except `latest`, which names a run directory beside it).

Every firm is attributed to the province of its registered region code (属地原则, Articles 7-8),
taken from the published files that carry one. A firm no file places in a province is shown to
the ministry only: a province never sees a firm it cannot be shown to own.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from models.criteria.engine import TIERS
from models.invitations import LIST_COLUMNS, NO_PROVINCE, REAPPLY_COLUMNS
from zjtx.publication import (
    ROW_INDEX_COLUMNS,
    ROW_INDEX_NUMBERS,
    ROW_LENGTH,
    ROW_OFFSET,
    row_index,
    row_index_path,
)

RUN_ID_PATTERN = r"^(latest|[0-9A-Za-z][0-9A-Za-z_-]{0,79})$"
LATEST = "latest"

MODES = ("discovery", "renewal")
TABLES = ("renewals", "cultivation")  # the run-wide lists, beside the provinces' lists
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
DOWNLOAD_CHUNK = 1 << 20


class DownloadResponse(Response):
    """A published file, whole (no ranges), read in 1 MiB pieces on the event loop.

    Published files are small enough to sit in the page cache, where a read takes a fraction
    of a millisecond; Starlette's FileResponse sends every 64 KiB read through the thread pool,
    where under load each piece of a 12 MB national list queues behind page requests."""

    def __init__(self, path: Path, media_type: str, filename: str) -> None:
        super().__init__(media_type=media_type)
        self.path = path
        info = path.stat()
        self.headers["content-length"] = str(info.st_size)
        self.headers["last-modified"] = formatdate(info.st_mtime, usegmt=True)
        self.headers["content-disposition"] = f"attachment; filename*=utf-8''{quote(filename)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if scope.get("method") == "HEAD":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        with self.path.open("rb") as handle:
            more = True
            while more:
                chunk = handle.read(DOWNLOAD_CHUNK)
                more = len(chunk) == DOWNLOAD_CHUNK
                await send({"type": "http.response.body", "body": chunk, "more_body": more})


_RUN_ID = re.compile(RUN_ID_PATTERN)
_PROVINCE_FILE = re.compile(r"[0-9]{2}")  # ASCII digits only
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


@dataclass(frozen=True)
class RunData:
    """What the service knows of a run without reading its tables: manifest and file names."""

    run_id: str
    path: Path
    manifest: dict[str, Any]
    list_files: dict[str, dict[str, Path]]  # province → {"csv": …, "xlsx": …}
    # reapply/: the re-application lists (issue 24); none in runs published before them
    reapply_files: dict[str, dict[str, Path]] = field(default_factory=dict)

    @property
    def provinces(self) -> list[str]:
        return sorted(self.list_files)

    @property
    def failed(self) -> dict[str, dict[str, str | None]]:
        """Provinces whose task failed in this run: nothing of theirs was published."""
        return failed_provinces(self.manifest)

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


def published_download(
    files: dict[str, dict[str, Path]], province: str, file_format: str, title: str, run_id: str
) -> DownloadResponse | None:
    """A province's published list file as a download named `<title>-<province>-<run>`; None
    when the run has no such regular file (the caller answers 404)."""
    path = files.get(province, {}).get(file_format)
    if path is None or regular_file(path, path.parent) is None:
        return None
    return DownloadResponse(
        path,
        media_type=MEDIA_TYPES[file_format],
        filename=f"{title}-{province}-{run_id}.{file_format}",
    )


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
        self._listing: Listing | None = None
        self._listing_lock = threading.Lock()

    def listing(self) -> Listing:
        """Which runs are published, read again only when the runs directory or its `latest`
        link changes (publishing renames a run into place, then switches `latest`)."""
        stamp = _listing_stamp(self.runs_dir)
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
            return PagedList.of(None, tuple(LIST_COLUMNS), _empty_index(LIST_COLUMNS))
        return self.cache.get(
            ("list", run.path, province), lambda: _sized(_invitation_list(run.path, path, province))
        )

    def reapply(self, run: RunData, province: str) -> PagedList | None:
        """One province's re-application list, in list order; None when the run published
        none for it (a run published before the lists were split)."""
        path = run.reapply_files.get(province, {}).get("csv")
        if path is None:
            return None
        return self.cache.get(
            ("reapply", run.path, province),
            lambda: _sized(_invitation_list(run.path, path, province, REAPPLY_COLUMNS)),
        )

    def table(self, run: RunData, which: TableKind) -> PagedList:
        """The cultivation or renewal list of the whole run, each row with its name, region
        code (from the other lists where the file has none) and province."""

        def load() -> tuple[PagedList, int]:
            header, index = _row_index_table(run.path, run.path / f"{which}.csv", _required(which))
            for column in ("name", "region_code"):
                if column not in index.column_names:
                    index = index.append_column(column, pa.array([""] * index.num_rows))
            completed = any(pc.any(pc.equal(index[c], "")).as_py() for c in ("name", "region_code"))
            if completed:  # from the other lists, as they name the firm (first wins)
                tables = [self.invitations(run, p).index for p in run.provinces]
                tables += [
                    _row_index_table(run.path, run.path / f"{t}.csv", _required(t))[1]
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
        path = regular_file(run.path / "candidates.parquet", run.path)
        if path is None:
            return []
        index = self.cache.get(("candidates", path), lambda: _index_candidates(path))
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
        rows = _rows_of_code(table, credit_code).cast(
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


@dataclass(frozen=True)
class PagedList:
    """A published list as the service pages through it: its row index in memory (the columns
    it filters, sorts and finds firms by, typed, and each row's byte span in the CSV), and the
    rows a page shows read from the CSV itself. Arrow and numpy, not pandas: a page costs
    microseconds of bookkeeping, not milliseconds."""

    path: Path | None
    header: tuple[str, ...]  # the file's columns, then the required ones it lacks
    index: pa.Table  # indexed columns (and province), in list order
    spans: np.ndarray  # (offset, length) of each row's record in the file
    numbers: tuple[tuple[str, bool], ...]  # (column, integral) read as numbers
    overlay: tuple[str, ...]  # indexed columns completed beyond the file (name, region)
    codes: np.ndarray  # credit codes, sorted
    order: np.ndarray  # index positions in that order
    names: str  # every name, NUL-separated, for substring search
    name_starts: np.ndarray  # where each row's name starts in `names`

    @classmethod
    def of(
        cls,
        path: Path | None,
        header: tuple[str, ...],
        table: pa.Table,
        numbers: tuple[tuple[str, bool], ...] = (),
        overlay: tuple[str, ...] = (),
    ) -> PagedList:
        spans = np.column_stack(
            [table[ROW_OFFSET].to_numpy(), table[ROW_LENGTH].to_numpy()]
        ).astype(np.int64)
        index = table.drop_columns([ROW_OFFSET, ROW_LENGTH])
        codes = pc.cast(index["credit_code"], pa.binary()).to_numpy(zero_copy_only=False)
        codes = codes.astype(np.bytes_) if len(codes) else np.array([], dtype="S1")
        order = np.argsort(codes, kind="stable")
        names = index["name"] if "name" in index.column_names else pa.array([], pa.string())
        lengths = pc.utf8_length(names).to_numpy(zero_copy_only=False) + 1
        starts = np.concatenate([[0], np.cumsum(lengths[:-1])]).astype(np.int64)
        return cls(
            path,
            header,
            index,
            spans,
            numbers,
            overlay,
            codes[order],
            order,
            "\0".join(names.to_pylist()),
            starts,
        )

    def __len__(self) -> int:
        return self.index.num_rows

    def positions_of(self, credit_code: str) -> np.ndarray:
        """Index positions of a firm's rows, in list order."""
        encoded = credit_code.encode()
        if len(encoded) > self.codes.dtype.itemsize:
            return self.order[:0]  # longer than every code held: none of them
        code = np.array(encoded, dtype=self.codes.dtype)
        low = int(self.codes.searchsorted(code, side="left"))
        high = int(self.codes.searchsorted(code, side="right"))
        found = self.order[low:high]
        return found if len(found) < 2 else np.sort(found)

    def name_hits(self, needle: str) -> np.ndarray:
        """Positions whose name contains `needle`, ignoring case."""
        if not needle or "\0" in needle or not self.names:
            return np.array([], dtype=int)
        found = {m.start() for m in re.finditer(re.escape(needle), self.names, re.IGNORECASE)}
        if not found:
            return np.array([], dtype=int)
        return np.unique(np.searchsorted(self.name_starts, sorted(found), side="right") - 1)

    def rows(self, positions: Iterable[int], extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The whole rows at these index positions, JSON-ready: the file's columns (and the
        required ones it lacks, empty), numbers as numbers, the columns the index completed,
        and the `extra` columns of the index (such as province)."""
        chosen = np.fromiter(positions, dtype=np.int64)
        if not len(chosen) or self.path is None:
            return []
        spans = self.spans[chosen]
        fields = _read_records(self.path, spans[:, 0].tolist(), spans[:, 1].tolist())
        columns = [*self.overlay, *extra]
        known = (
            self.index.select(columns).take(pa.array(chosen)).to_pylist()
            if columns
            else [{}] * len(chosen)
        )
        rows = []
        for values, typed in zip(fields, known, strict=True):
            row: dict[str, Any] = dict.fromkeys(self.header, "")
            row.update(zip(self.header, values, strict=False))
            for column, integral in self.numbers:
                row[column] = _number(row[column], integral)
            row.update(typed)
            rows.append(row)
        return rows


def _number(text: str, integral: bool) -> float | int | None:
    """A published number as pandas' to_numeric would read it; None where it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value):
        return None
    return int(value) if integral else value


@dataclass(frozen=True)
class Listing:
    """The published runs at one moment: complete run directories (a manifest inside) and the
    run `latest` names."""

    stamp: tuple[int, int, str | None]
    root: Path
    run_ids: tuple[str, ...]  # newest first
    published: frozenset[str]
    latest: str | None


def _listing_stamp(runs_dir: Path) -> tuple[int, int, str | None]:
    try:
        info = os.stat(runs_dir)
    except OSError:
        return (0, 0, None)
    try:
        latest: str | None = os.readlink(runs_dir / LATEST)
    except OSError:
        latest = None
    return (info.st_ino, info.st_mtime_ns, latest)


def read_listing(runs_dir: Path, stamp: tuple[int, int, str | None]) -> Listing:
    root = runs_dir.resolve()
    ids = []
    if is_directory(root):
        ids = sorted(
            (
                p.name
                for p in root.iterdir()
                if _RUN_ID.match(p.name)
                and p.name != LATEST
                and is_directory(p)
                and regular_file(p / "manifest.json", p) is not None
            ),
            reverse=True,
        )
    latest = None
    if stamp[2] is not None:  # `latest` is a link to a run directory beside it
        target = Path(stamp[2])
        if (not target.is_absolute() and len(target.parts) == 1) or target.parent == root:
            latest = target.name if target.name in ids else None
    return Listing(stamp, root, tuple(ids), frozenset(ids), latest)


def failed_provinces(manifest: dict[str, Any]) -> dict[str, dict[str, str | None]]:
    """The manifest's `failed_provinces` (outputs.md) by province code: task, error and the
    run that holds the province's previous list (`previous_run`, or None). Runs published
    before the key existed, and malformed entries, name none."""
    entries = manifest.get("failed_provinces")
    failed: dict[str, dict[str, str | None]] = {}
    for entry in entries if isinstance(entries, list) else []:
        province = entry.get("province") if isinstance(entry, dict) else None
        if not isinstance(province, str) or not _PROVINCE_FILE.fullmatch(province):
            continue
        previous = entry.get("previous_run")
        failed[province] = {
            "province": province,
            "task": str(entry.get("task") or ""),
            "error": str(entry.get("error") or ""),
            "previous_run": previous if isinstance(previous, str) and previous else None,
        }
    return failed


def read_run(path: Path) -> RunData:
    """A run's manifest and the names of its list files; no table is read."""
    text = (path / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text)
    return RunData(
        run_id=path.name,
        path=path,
        manifest=manifest if isinstance(manifest, dict) else {},
        list_files=_province_files(path / "invitations"),
        reapply_files=_province_files(path / "reapply"),
    )


def _province_files(folder: Path) -> dict[str, dict[str, Path]]:
    """province → {"csv": …, "xlsx": …}: the regular files of a run's per-province folder."""
    files: dict[str, dict[str, Path]] = {}
    if is_directory(folder):
        for item in sorted(folder.iterdir()):
            if (
                _PROVINCE_FILE.fullmatch(item.stem)
                and item.suffix in (".csv", ".xlsx")
                and regular_file(item, folder) is not None
            ):
                files.setdefault(item.stem, {})[item.suffix[1:]] = item
    return files


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


@dataclass(frozen=True)
class CandidatesIndex:
    """The footer of candidates.parquet: per row group, the smallest and largest credit code."""

    metadata: pq.FileMetaData
    columns: tuple[str, ...]
    unknown: np.ndarray  # groups without statistics (always read)
    lowest: np.ndarray  # str arrays; "" where a group has no statistics
    highest: np.ndarray
    ordered: bool  # every group has statistics, in credit-code order

    def groups_holding(self, credit_code: str) -> list[int]:
        if self.ordered:  # sorted by credit code: a binary search, not a scan of every group
            first = int(np.searchsorted(self.highest, credit_code, side="left"))
            last = int(np.searchsorted(self.lowest, credit_code, side="right"))
            return list(range(first, last))
        may_hold = self.unknown | ((self.lowest <= credit_code) & (credit_code <= self.highest))
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
    unknown = np.array([v is None for v in lowest], dtype=bool)
    low = np.array([v or "" for v in lowest], dtype=str)
    high = np.array([v or "" for v in highest], dtype=str)
    ordered = (
        not unknown.any()
        and bool((low[1:] >= low[:-1]).all() and (high[1:] >= high[:-1]).all())
        and bool((low <= high).all())
    )
    index = CandidatesIndex(metadata, tuple(names), unknown, low, high, ordered)
    arrays = index.lowest.nbytes + index.highest.nbytes
    # The parsed footer takes about six times its serialized size (measured: 2.0 MiB → 11.5 MiB)
    return index, int(metadata.serialized_size) * 6 + arrays + 4096


def _rows_of_code(table: pa.Table, credit_code: str) -> pa.Table:
    """The rows of one credit code, found in each chunk's dictionary (a few hundred codes)
    rather than by comparing every row's text."""
    parts = []
    for chunk in table["credit_code"].chunks:
        found = pc.index(chunk.dictionary, credit_code).as_py()
        parts.append(
            np.flatnonzero(chunk.indices.to_numpy(zero_copy_only=False) == found)
            if found >= 0
            else np.array([], dtype=np.int64)
        )
    offsets = np.cumsum([0] + [len(c) for c in table["credit_code"].chunks[:-1]])
    rows: np.ndarray = (
        np.concatenate([p + o for p, o in zip(parts, offsets, strict=True)])
        if parts
        else np.array([], dtype=np.int64)
    )
    return table.take(pa.array(rows, type=pa.int64()))


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _invitation_list(
    run_dir: Path, path: Path, province: str, required: list[str] = LIST_COLUMNS
) -> PagedList:
    header, index = _row_index_table(run_dir, path, required)
    index = index.append_column("province", pa.array([province] * index.num_rows, pa.string()))
    order = [(c, "ascending", "at_end") for c in ("rank", "tier", "credit_code")]
    index = index.take(pc.sort_indices(index, sort_keys=order))  # stable
    numbers = tuple((c, c == "rank") for c in ROW_INDEX_NUMBERS if c in index.column_names)
    return PagedList.of(path, header, index, numbers=numbers)


def _row_index_table(
    run_dir: Path, path: Path, required: list[str]
) -> tuple[tuple[str, ...], pa.Table]:
    """A published list's columns and row index: the index written beside it at publication
    when it still describes the file, else made from the file now (runs published before row
    indexes). Indexed columns the file lacks are empty."""
    csv_path = regular_file(path, path.parent)
    table = None
    if csv_path is not None:
        table = _stored_row_index(run_dir, csv_path)
        if table is None:
            table = row_index(csv_path)
    if table is None:
        header, table = list(required), _empty_index(required)
    else:
        header = json.loads(table.schema.metadata[b"csv_header"])
        table = table.replace_schema_metadata(None)
    header += [c for c in required if c not in header]  # read as empty, as before
    for column in required:
        if column in ROW_INDEX_COLUMNS and column not in table.column_names:
            kind = ROW_INDEX_NUMBERS.get(column, pa.string())
            empty = None if column in ROW_INDEX_NUMBERS else ""
            table = table.append_column(column, pa.array([empty] * table.num_rows, kind))
    return tuple(header), table


def _empty_index(columns: list[str]) -> pa.Table:
    fields = [
        pa.field(c, ROW_INDEX_NUMBERS.get(c, pa.string()))
        for c in columns
        if c in ROW_INDEX_COLUMNS
    ]
    fields += [pa.field(ROW_OFFSET, pa.int64()), pa.field(ROW_LENGTH, pa.int64())]
    return pa.schema(fields).empty_table()


def _stored_row_index(run_dir: Path, csv_path: Path) -> pa.Table | None:
    path = row_index_path(run_dir, csv_path)
    if regular_file(path, path.parent) is None:
        return None
    try:
        table = pq.ParquetFile(path).read(use_threads=False)
    except (OSError, pa.ArrowException):
        return None
    stamp = table.schema.metadata or {}
    if stamp.get(b"csv_bytes") != str(csv_path.stat().st_size).encode():
        return None  # not this file's index
    schema = table.schema
    if any(c in schema.names and schema.field(c).type != t for c, t in ROW_INDEX_NUMBERS.items()):
        return None  # written by another version: made again from the file
    return table


def _read_records(path: Path, offsets: list[int], lengths: list[int]) -> list[list[str]]:
    """The CSV records at these byte spans, split into fields (one read per run of adjacent
    records)."""
    if not offsets:
        return []
    order = sorted(range(len(offsets)), key=offsets.__getitem__)
    texts: list[bytes] = [b""] * len(offsets)
    descriptor = os.open(path, os.O_RDONLY)
    try:
        start = 0
        while start < len(order):
            end = start + 1
            while (
                end < len(order)
                and offsets[order[end]] <= offsets[order[end - 1]] + lengths[order[end - 1]] + 2
            ):
                end += 1
            first, last = order[start], order[end - 1]
            base = int(offsets[first])
            block = os.pread(descriptor, int(offsets[last] + lengths[last]) - base, base)
            for i in order[start:end]:
                at = int(offsets[i]) - base
                texts[i] = block[at : at + int(lengths[i])]
            start = end
    finally:
        os.close(descriptor)
    text = "\n".join(record.decode("utf-8") for record in texts)
    fields = list(csv.reader(io.StringIO(text)))
    if len(fields) != len(texts):
        raise ValueError(f"{path}: the row index does not match the file")
    return fields


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


def _province(region_code: str) -> str | None:
    """The province of one region code, as `province_of` reads a column of them."""
    code = region_code[:2]
    if len(code) != 2 or not (code.isascii() and code.isdigit()) or code == NO_PROVINCE:
        return None
    return code


def _provinces(region_codes: pa.ChunkedArray) -> pa.ChunkedArray:
    """Province per row, as `province_of` reads region codes; NO_PROVINCE ("00") where no file
    gives a region (ministry only)."""
    codes = pc.utf8_slice_codeunits(region_codes, 0, 2)
    return pc.if_else(pc.match_substring_regex(codes, "^[0-9]{2}$"), codes, NO_PROVINCE)


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
