"""The layout of a published run, which its writers (flows/) and readers (service/, the
command) share: file and folder names, the columns of the lists, and the manifest's
`failed_provinces` (contract outputs.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict

# --- names ---------------------------------------------------------------------------------
LATEST = "latest"  # a symlink beside the runs, to the newest complete run
STAGING_PREFIX = ".staging-"  # a run being assembled, beside the runs; never read
MANIFEST = "manifest.json"  # present only in a complete run
REPORT = "report.html"
INVITATIONS = "invitations"  # invitations/<province>.csv and .xlsx
REAPPLY = "reapply"  # reapply/<province>.csv and .xlsx
WATCHLIST = "watchlist"  # watchlist/<province>.csv and .xlsx
CULTIVATION = "cultivation.csv"
RENEWALS = "renewals.csv"
CANDIDATES = "candidates.parquet"  # every firm × tier × criterion verdict, by credit code
CANDIDATES_ROW_GROUP = 16_384  # a firm page reads one such group of candidates.parquet
PROVINCE_FILE = re.compile(r"[0-9]{2}")  # a province's file stem: two ASCII digits

# --- list columns --------------------------------------------------------------------------
# The ranking model's estimates (models/ranking), in the lists beside the score.
PRIORITY_COLUMNS = (
    "p_qualify",
    "p_apply",
    "priority",
    "est_score_low",
    "est_score_high",
    "p_score_pass",
)
SCORE_COLUMNS = ["score", *PRIORITY_COLUMNS, "reasons"]
# An invitation list row: the firm, its outcome, the model's columns, the checks.
LIST_COLUMNS = [
    "rank",
    "credit_code",
    "name",
    "region_code",
    "tier",
    "outcome",
    *SCORE_COLUMNS,
    "to_verify",
    "declarations",
    "evidence",
]
# A re-application list row: an invitation row and the firm's last application.
HISTORY_COLUMNS = ["last_round", "last_outcome"]
REAPPLY_COLUMNS = [
    *LIST_COLUMNS[: LIST_COLUMNS.index("outcome") + 1],
    *HISTORY_COLUMNS,
    *LIST_COLUMNS[LIST_COLUMNS.index("outcome") + 1 :],
]
# A renewal list row (Article 16 复核): the title's outcome and the criteria behind it.
RENEWAL_COLUMNS = ["credit_code", "name", "region_code", "tier", "outcome", "failing", "unknown"]


def paged_lists(run_dir: Path) -> list[Path]:
    """The published CSVs the service pages through: every province's invitation list and
    re-application list, the cultivation list and the renewal list."""
    lists = []
    for folder in (run_dir / INVITATIONS, run_dir / REAPPLY):
        lists += sorted(folder.glob("*.csv")) if folder.is_dir() else []
    return [*lists, run_dir / CULTIVATION, run_dir / RENEWALS]


# --- manifest ------------------------------------------------------------------------------
class FailedProvinceEntry(TypedDict):
    """A manifest `failed_provinces` entry: the province whose task failed, which task, the
    error in one line, and the run that holds its previous list (None: there is none)."""

    province: str
    task: str
    error: str
    previous_run: str | None


def failed_provinces(manifest: Mapping[str, object]) -> dict[str, FailedProvinceEntry]:
    """The manifest's `failed_provinces` by province code. Runs published before the key
    existed, and malformed entries, name none."""
    entries = manifest.get("failed_provinces")
    failed: dict[str, FailedProvinceEntry] = {}
    for entry in entries if isinstance(entries, list) else []:
        province = entry.get("province") if isinstance(entry, dict) else None
        if not isinstance(province, str) or not PROVINCE_FILE.fullmatch(province):
            continue
        previous = entry.get("previous_run")
        failed[province] = {
            "province": province,
            "task": str(entry.get("task") or ""),
            "error": str(entry.get("error") or ""),
            "previous_run": previous if isinstance(previous, str) and previous else None,
        }
    return failed
