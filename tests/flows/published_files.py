"""A fingerprint of every file a published run holds, for comparing two runs byte by byte.

Files are hashed as written, except where the bytes carry the moment of the run: a workbook by
its cells (openpyxl stamps the time it was written), the manifest without its run id, times,
input fingerprints and configuration hash, and the report without them (the report prints the
manifest). The golden fingerprints of the 20k comparison run are regenerated, after a change
that means to change a published byte, with

    python -m tests.flows.published_files RUN_DIR > tests/flows/published_20k.json
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from openpyxl import load_workbook

MOMENT_KEYS = ("run_id", "created_at", "timings_seconds", "stages_started_at", "inputs")
# The hash of configs/*.yaml changes with any setting, operational ones too (flows.yaml): it
# names the configuration, and the lists' own bytes show whether an output changed.
CONFIGURATION_KEYS = ("config_hash",)


def workbook_cells(path: Path) -> bytes:
    """Every sheet's rows of cell values; a row's trailing empty cells are no content (a
    workbook written row by row records no dimension to pad rows to)."""
    book = load_workbook(path, read_only=True)
    rows = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            values = list(row)
            while values and values[-1] is None:
                values.pop()
            rows.append([sheet.title, *[repr(cell) for cell in values]])
    book.close()
    return json.dumps(rows, ensure_ascii=False).encode()


def manifest_content(path: Path) -> bytes:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for key in (*MOMENT_KEYS, *CONFIGURATION_KEYS):
        manifest.pop(key, None)
    return json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode()


def fingerprints(run: Path) -> dict[str, str]:
    """Relative path → sha256 of every file of a published run (the report is left out: it
    prints the run's id and times; the manifest's counts stand for its figures)."""
    prints: dict[str, str] = {}
    for path in sorted(run.rglob("*")):
        if not path.is_file() or path.name == "report.html":
            continue
        if path.suffix == ".xlsx":
            content = workbook_cells(path)
        elif path.name == "manifest.json":
            content = manifest_content(path)
        else:
            content = path.read_bytes()
        prints[path.relative_to(run).as_posix()] = hashlib.sha256(content).hexdigest()
    return prints


if __name__ == "__main__":
    print(json.dumps(fingerprints(Path(sys.argv[1])), indent=1, sort_keys=True))
