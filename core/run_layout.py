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
REJECTS = "rejects.csv"  # input rows refused, with table, row and reason
# Ambiguous entity matches for a person to check: the sheet (.csv and .xlsx), its candidates'
# score parts, and a sheet per province in a folder of the same name.
MATCH_REVIEW = "match_review"
MATCH_REVIEW_CSV = f"{MATCH_REVIEW}.csv"
MATCH_REVIEW_CANDIDATES = f"{MATCH_REVIEW}_candidates.csv"
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


class Ranking(TypedDict):
    """The manifest's `ranking`: which ordering the lists use and what it is made of."""

    ordered_by: str  # `champion`, or `rule_baseline` before any model is registered
    model_version: str  # `none` for the rule baseline
    model_family: str
    basis: str
    p_apply: str  # `fitted` or `not fitted`
    priority: str  # how priority is made (`q_alone` without an apply model)


class Manifest(TypedDict, total=False):
    """manifest.json (outputs.md), written last into a complete run. Every key is optional to a
    reader: runs published before a key existed lack it."""

    run_id: str
    as_of: str  # YYYY-MM-DD
    created_at: str  # UTC, ISO 8601 to the second
    model_version: str
    ranking: Ranking
    failed_provinces: list[FailedProvinceEntry]
    config_hash: str  # sha256 of configs/**/*.yaml
    counts: dict[str, object]  # per stage: inputs' fingerprints, coverage, matching, funnel …
    timings_seconds: dict[str, float]  # per stage, and `total`
    stages_started_at: dict[str, float]  # Unix time each stage began


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
