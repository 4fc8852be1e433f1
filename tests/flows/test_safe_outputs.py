"""Issue 28: every file a run writes is safe to open — no control character (one ESC byte once
stopped the weekly run while writing match_review.xlsx), no live formula — whatever text the
sources carry."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from features.schemas import SCHEMAS
from tests.flows.conftest import AS_OF, World
from tests.flows.measures_world import write_measures_world

pytestmark = pytest.mark.e2e

POISON = "\x1b\x07"
FORMULA = '=HYPERLINK("http://example.invalid","点此")'
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# free text a source may carry as it likes (codes, dates and vocabularies are checked on load)
FREE_TEXT = {"title", "product_name", "award_name", "institution_name", "programme", "former_name"}


def _poisoned(directory: Path) -> Path:
    """The measures world with every free-text and name cell carrying control characters, every
    other one also starting like a formula, and a holder mention the matcher cannot settle."""
    data = write_measures_world(directory)
    for path in sorted(data.glob("*.csv")):
        table = path.stem
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        kinds = {name: col.metadata["kind"] for name, col in SCHEMAS[table].columns.items()}
        for column in frame.columns:
            free = kinds.get(column) == "name" or (
                column in FREE_TEXT and kinds.get(column) == "text"
            )
            if not free or not len(frame):
                continue
            text = frame[column]
            filled = text != ""
            frame.loc[filled, column] = text[filled] + POISON
            start = filled & (frame.index % 2 == 0)
            frame.loc[start, column] = FORMULA + frame.loc[start, column]
        frame.to_csv(path, index=False)
    holders = data / "ip_holders.csv"
    with holders.open("a", encoding="utf-8", newline="") as handle:  # like several firms' names
        csv.writer(handle, lineterminator="\n").writerow(
            ["ZL2020000000.X-0", f"{FORMULA}北京测试科技公司{POISON}", "2", ""]
        )
    return data


@pytest.fixture(scope="module")
def poisoned_run(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from flows.discovery import discovery

    data = _poisoned(tmp_path_factory.mktemp("poisoned") / "data")
    return discovery(data_dir=data, as_of=AS_OF, runs_dir=data.parent / "runs")


def _text_cells(run: Path) -> list[tuple[str, str, bool]]:
    """(file, cell text, is a formula) of every text cell of every CSV and Excel file."""
    cells: list[tuple[str, str, bool]] = []
    for path in sorted(run.rglob("*")):
        name = str(path.relative_to(run))
        if path.suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                for row in csv.reader(handle):
                    cells += [(name, value, False) for value in row]
        elif path.suffix == ".xlsx":
            for sheet in load_workbook(path).worksheets:
                for row in sheet.iter_rows():
                    for cell in row:
                        if isinstance(cell.value, str):
                            cells.append((name, cell.value, cell.data_type == "f"))
    return cells


def test_every_file_of_the_run_is_written_and_safe(poisoned_run: Path) -> None:
    written = {p.name for p in poisoned_run.iterdir()}
    assert {"match_review.csv", "match_review.xlsx", "rejects.csv", "report.html"} <= written
    cells = _text_cells(poisoned_run)
    files = {name for name, _, _ in cells}
    assert any(name.startswith("invitations/") for name in files)
    assert {"match_review.csv", "match_review.xlsx", "match_review_candidates.csv"} <= files
    for name, value, formula in cells:
        assert not CONTROL.search(value), (name, value)
        assert not formula, (name, value)  # Excel: a string cell, never a formula
        if name.endswith(".csv"):  # CSV: a leading ' keeps it text
            assert not value.startswith(("=", "+", "@")), (name, value)
    # the poisoned text reached the files, as text
    assert any(value.startswith("'=HYPERLINK") for _, value, _ in cells)
    review = pd.read_csv(poisoned_run / "match_review.csv", dtype=str)
    assert len(review) > 0
    report = (poisoned_run / "report.html").read_text(encoding="utf-8")
    assert not CONTROL.search(report.replace("\n", "").replace("\t", ""))
