"""Publishing a run atomically: assembled in a hidden staging directory beside the runs and
renamed into place only when every file is written; `latest` is switched last, by an atomic
rename of a symlink. A run killed at any point therefore leaves `latest` on the previous
complete run. Also what a run records of itself (manifest, fingerprints, failed provinces) and
what it reads of the runs before it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from core.run_layout import (
    INVITATIONS,
    LATEST,
    MANIFEST,
    STAGING_PREFIX,
    WATCHLIST,
    FailedProvinceEntry,
    Manifest,
    failed_provinces,
)
from features.safe_cells import safe_text


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_fingerprints(data_dir: Path) -> dict[str, str]:
    """sha256 of every input file under the data directory (truth/ is not an input)."""
    files = sorted(
        p
        for p in data_dir.rglob("*")
        if p.is_file() and "truth" not in p.relative_to(data_dir).parts
    )
    return {str(p.relative_to(data_dir)): file_fingerprint(p) for p in files}


def config_hash(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write_manifest(path: Path, manifest: Manifest) -> None:
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n")


def staging_dir(runs_dir: Path, run_id: str) -> Path:
    """A hidden directory beside the runs where a run is assembled."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / f"{STAGING_PREFIX}{run_id}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir()
    return path


def clear_abandoned_staging(runs_dir: Path) -> list[Path]:
    """Remove staging directories left by killed runs (they were never published)."""
    abandoned = sorted(runs_dir.glob(f"{STAGING_PREFIX}*")) if runs_dir.exists() else []
    for path in abandoned:
        shutil.rmtree(path, ignore_errors=True)
    return abandoned


FAILED_ERROR_CHARS = 500


def error_line(error: BaseException | str | None, limit: int = FAILED_ERROR_CHARS) -> str:
    """`<ExceptionType>: <message>` on one line (runs of whitespace made one space), cut to
    `limit` characters: how the manifest, the report and the command name a failed task."""
    if isinstance(error, BaseException):
        text = f"{type(error).__name__}: {error}"
    else:
        text = error or "unknown failure (no error recorded)"
    text = " ".join(safe_text(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failed_province(
    province: str, task: str, error: BaseException | str | None, previous_run: str | None
) -> FailedProvinceEntry:
    """A manifest `failed_provinces` entry (outputs.md)."""
    return {
        "province": province,
        "task": task,
        "error": error_line(error),
        "previous_run": previous_run,
    }


def _published_runs(runs_dir: Path) -> list[Path]:
    """Complete run directories (a manifest inside; not `latest`, staging or a symlink),
    newest first: run ids start with the as-of date, then the time the run started."""
    if not runs_dir.is_dir():
        return []
    runs = [
        p
        for p in runs_dir.iterdir()
        if not p.name.startswith(".")
        and p.name != LATEST
        and not p.is_symlink()
        and p.is_dir()
        and (p / MANIFEST).is_file()
    ]
    return sorted(runs, key=lambda p: p.name, reverse=True)


def previous_run_with_list(runs_dir: Path, province: str, before: str) -> str | None:
    """The id of the newest complete run before `before` that published
    invitations/<province>.csv — where a province whose task failed keeps its last list
    (publishing never deletes runs); None when no earlier run has one."""
    for run in _published_runs(runs_dir):
        if run.name < before and (run / INVITATIONS / f"{province}.csv").is_file():
            return run.name
    return None


def failed_provinces_of(run_dir: Path) -> dict[str, FailedProvinceEntry]:
    """The `failed_provinces` of a published run's manifest; empty when it names none."""
    try:
        manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return failed_provinces(manifest) if isinstance(manifest, dict) else {}


def previous_watchlist(runs_dir: Path) -> pd.DataFrame | None:
    """The watch list of the newest published run (`latest`), every province, as text; None
    when there is no published run or it has no watch list. A province whose task failed in
    that run is read from the run holding its previous list (manifest `previous_run`), so
    that its grounds are not all `new` again the week after a failure."""
    latest = runs_dir / LATEST
    folder = latest / WATCHLIST
    files = {p.stem: p for p in sorted(folder.glob("*.csv"))} if folder.is_dir() else {}
    published = {p.name for p in _published_runs(runs_dir)}
    for province, entry in failed_provinces_of(latest).items():
        previous = entry["previous_run"]
        earlier = runs_dir / str(previous) / WATCHLIST / f"{province}.csv"
        if province not in files and previous in published and earlier.is_file():
            files[province] = earlier
    if not files:
        return None
    frames = [
        pd.read_csv(path, dtype="str", keep_default_na=False, encoding="utf-8-sig").assign(
            province=province
        )
        for province, path in sorted(files.items())
    ]
    return pd.concat(frames, ignore_index=True)


def publish(staging: Path, runs_dir: Path, run_id: str) -> Path:
    """Rename the complete staging directory into place, then point `latest` at it."""
    final = runs_dir / run_id
    if final.exists():
        raise FileExistsError(f"run {run_id} already published")
    if not (staging / MANIFEST).is_file():
        raise FileNotFoundError(f"{staging} has no {MANIFEST}: the run is not complete")
    os.replace(staging, final)
    link = runs_dir / LATEST
    temporary = runs_dir / f".latest-{run_id}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(run_id)
    os.replace(temporary, link)
    return final
