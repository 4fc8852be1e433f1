"""The published run's layout (core.run_layout): one definition of the lists' columns, read by
the writers and the service alike, and the manifest's failed provinces as readers take them."""

from __future__ import annotations

import subprocess
import sys

from core.run_layout import (
    HISTORY_COLUMNS,
    LIST_COLUMNS,
    PRIORITY_COLUMNS,
    REAPPLY_COLUMNS,
    SCORE_COLUMNS,
    failed_provinces,
)


def test_the_lists_model_columns_are_the_score_the_ranking_estimates_and_the_reasons() -> None:
    assert ["score", *PRIORITY_COLUMNS, "reasons"] == SCORE_COLUMNS
    start = LIST_COLUMNS.index("score")
    assert LIST_COLUMNS[start : start + len(SCORE_COLUMNS)] == SCORE_COLUMNS


def test_a_reapply_row_is_an_invitation_row_with_the_last_application_after_the_outcome() -> None:
    after = REAPPLY_COLUMNS.index("outcome") + 1
    assert REAPPLY_COLUMNS[after : after + len(HISTORY_COLUMNS)] == HISTORY_COLUMNS
    assert [c for c in REAPPLY_COLUMNS if c not in HISTORY_COLUMNS] == LIST_COLUMNS


def test_the_columns_and_the_service_load_without_scikit_learn_prefect_or_mlflow() -> None:
    # the service starts without the ranking's libraries; the layout without even pandas
    check = (
        "import sys, core.run_layout\n"
        "assert 'pandas' not in sys.modules\n"
        "import service.app\n"
        "loaded = [m for m in ('sklearn', 'prefect', 'mlflow') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_failed_provinces_keeps_well_formed_entries_by_province() -> None:
    manifest = {
        "failed_provinces": [
            {"province": "44", "task": "province", "error": "E: x", "previous_run": "r1"},
            {"province": "45", "task": "province", "error": None, "previous_run": ""},
            {"province": "../etc", "task": "province"},  # not a province's file name
            {"province": "４６"},  # full-width digits are not ASCII digits
            "44",
        ]
    }
    assert failed_provinces(manifest) == {
        "44": {"province": "44", "task": "province", "error": "E: x", "previous_run": "r1"},
        "45": {"province": "45", "task": "province", "error": "", "previous_run": None},
    }
    assert failed_provinces({}) == {}  # a run published before the key existed
    assert failed_provinces({"failed_provinces": "44"}) == {}
