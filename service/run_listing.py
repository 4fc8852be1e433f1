"""Which runs are published (outputs.md), and their files: one immutable directory per run.

A run's summary comes from its `manifest.json` and the names of its files only; no table is
read here. Only regular files inside the run directory are served or read: a symlink is never
followed (except `latest`, which names a run directory beside it). A published file is
downloaded whole, read in pieces on the event loop.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from core.run_layout import (
    INVITATIONS,
    LATEST,
    MANIFEST,
    PROVINCE_FILE,
    REAPPLY,
    FailedProvinceEntry,
    failed_provinces,
)

RUN_ID_PATTERN = r"^(latest|[0-9A-Za-z][0-9A-Za-z_-]{0,79})$"
FileFormat = Literal["csv", "xlsx"]
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
    def failed(self) -> dict[str, FailedProvinceEntry]:
        """Provinces whose task failed in this run: nothing of theirs was published."""
        return failed_provinces(self.manifest)

    def funnel(self) -> list[dict[str, Any]]:
        counts = self.manifest.get("counts")
        rows = counts.get("funnel") if isinstance(counts, dict) else None
        return [row for row in rows or [] if isinstance(row, dict)]


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


@dataclass(frozen=True)
class Listing:
    """The published runs at one moment: complete run directories (a manifest inside) and the
    run `latest` names."""

    stamp: tuple[int, int, str | None]
    root: Path
    run_ids: tuple[str, ...]  # newest first
    published: frozenset[str]
    latest: str | None


def listing_stamp(runs_dir: Path) -> tuple[int, int, str | None]:
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
                and regular_file(p / MANIFEST, p) is not None
            ),
            reverse=True,
        )
    latest = None
    if stamp[2] is not None:  # `latest` is a link to a run directory beside it
        target = Path(stamp[2])
        if (not target.is_absolute() and len(target.parts) == 1) or target.parent == root:
            latest = target.name if target.name in ids else None
    return Listing(stamp, root, tuple(ids), frozenset(ids), latest)


def read_run(path: Path) -> RunData:
    """A run's manifest and the names of its list files; no table is read."""
    text = (path / MANIFEST).read_text(encoding="utf-8")
    manifest = json.loads(text)
    return RunData(
        run_id=path.name,
        path=path,
        manifest=manifest if isinstance(manifest, dict) else {},
        list_files=_province_files(path / INVITATIONS),
        reapply_files=_province_files(path / REAPPLY),
    )


def _province_files(folder: Path) -> dict[str, dict[str, Path]]:
    """province → {"csv": …, "xlsx": …}: the regular files of a run's per-province folder."""
    files: dict[str, dict[str, Path]] = {}
    if is_directory(folder):
        for item in sorted(folder.iterdir()):
            if (
                PROVINCE_FILE.fullmatch(item.stem)
                and item.suffix in (".csv", ".xlsx")
                and regular_file(item, folder) is not None
            ):
                files.setdefault(item.stem, {})[item.suffix[1:]] = item
    return files
