"""The list files of a run: CSV for tools, Excel for people (one sheet per tier, Chinese
headings, a 说明 sheet), the same bytes for the same content; and the lists' row indexes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from core.row_index import row_index, row_index_path
from core.run_layout import REAPPLY_COLUMNS, paged_lists
from features.safe_cells import safe_frame, safe_text
from models.labels import TIER_SHEETS, TITLE_SHEETS, with_code
from models.list_labels import (
    COLUMN_LABELS,
    INVITATION_NOTE,
    REAPPLY_LABELS,
    REAPPLY_NOTE,
    REAPPLY_ORDER,
    WATCH_LABELS,
    WATCH_NOTE,
    named,
)

FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
# Spreadsheet safety (features.safe_cells, the one sanitiser): a text cell that starts like a
# formula is shown as text, never run, and control characters are dropped.
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def write_list_csv(lists: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM so that Excel opens Chinese text correctly; stable float format.
    Text that would start a formula gets a leading ' (OWASP CSV injection)."""
    safe_frame(lists).to_csv(
        path, index=False, encoding="utf-8-sig", float_format="%.6f", lineterminator="\n"
    )


def write_list_xlsx(
    lists: pd.DataFrame,
    path: Path,
    *,
    labels: Mapping[str, tuple[str, int, str]] = COLUMN_LABELS,
    sheets: tuple[str, Mapping[str, str]] = ("tier", TIER_SHEETS),
    note: str = INVITATION_NOTE,
    notes: Iterable[str] = (),
) -> None:
    """One sheet per tier (or per value of `sheets`' column) with Chinese headers, a frozen
    header row and widths; a 说明 sheet (with `notes`: how this run ordered the lists)."""
    sheet_column, sheet_names = sheets
    # write-only: rows streamed to the file, not a workbook of cell objects (issue 25)
    workbook = Workbook(write_only=True)
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E78")

    def header(sheet: Any, names: list[str], wrap: bool) -> list[WriteOnlyCell]:
        cells = []
        for name in names:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = header_font
            cell.fill = header_fill
            if wrap:
                cell.alignment = Alignment(vertical="center", wrap_text=True)
            cells.append(cell)
        return cells

    def text_cell(sheet: Any, value: object) -> object:
        if not isinstance(value, str) or not value.startswith("="):
            return value
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # text that looks like a formula stays text
        return cell

    columns = [c for c in labels if c in lists.columns]
    for key, sheet_name in sheet_names.items():
        sheet = workbook.create_sheet(sheet_name)
        for index, column in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = labels[column][1]
        sheet.freeze_panes = "A2"
        rows = named(lists[lists[sheet_column] == key][columns])
        if len(rows):
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
        sheet.append(header(sheet, [labels[c][0] for c in columns], wrap=True))
        for record in rows.itertuples(index=False):
            sheet.append([text_cell(sheet, _excel_value(v)) for v in record])
    guide = workbook.create_sheet("说明")
    guide.column_dimensions["A"].width = 18
    guide.column_dimensions["B"].width = 14
    guide.column_dimensions["C"].width = 100
    guide.freeze_panes = "A2"
    guide.append(header(guide, ["列名", "CSV 列名", "说明"], wrap=False))
    for column in columns:
        name, _, meaning = labels[column]
        guide.append([name, with_code("", column), meaning])
    guide.append([])
    guide.append(["注意", "", note])
    for extra in notes:
        guide.append(["排序说明", "", extra])
    fixed = pd.Timestamp(*FIXED_ZIP_TIME).to_pydatetime()
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(_deterministic_zip(buffer.getvalue()))


def write_watchlist(rows: pd.DataFrame, folder: Path, province: str) -> None:
    """watchlist/<province>.csv and .xlsx (outputs.md), through the list writers."""
    folder.mkdir(parents=True, exist_ok=True)
    own = rows.drop(columns=["province"], errors="ignore").copy()
    for column in ("expires_on", "since"):
        own[column] = pd.to_datetime(own[column], errors="coerce").dt.strftime("%Y-%m-%d")
    own["new"] = own["new"].map({True: "true", False: "false"})
    write_list_csv(own, folder / f"{province}.csv")
    write_list_xlsx(
        own,
        folder / f"{province}.xlsx",
        labels=WATCH_LABELS,
        sheets=("title", TITLE_SHEETS),
        note=WATCH_NOTE,
    )


def write_reapply(rows: pd.DataFrame, folder: Path, province: str, ordered_by: str) -> None:
    """reapply/<province>.csv and .xlsx (outputs.md), through the list writers: one sheet per
    tier and a 说明 sheet saying what the list is. Written for every province with a list,
    empty or not (a header only). `ordered_by`: the run's ranking (champion / rule_baseline)."""
    folder.mkdir(parents=True, exist_ok=True)
    own = rows.drop(columns=["province"], errors="ignore").reindex(columns=REAPPLY_COLUMNS)
    write_list_csv(own, folder / f"{province}.csv")
    write_list_xlsx(
        own,
        folder / f"{province}.xlsx",
        labels=REAPPLY_LABELS,
        note=REAPPLY_NOTE,
        notes=[REAPPLY_ORDER.get(ordered_by, REAPPLY_ORDER["champion"])],
    )


def _excel_value(value: object) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    if hasattr(value, "item"):
        return value.item()  # numpy scalar → Python
    if isinstance(value, str):
        return safe_text(value)
    return value


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip (xlsx) with fixed timestamps so the same content gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                # openpyxl stamps the save time into `modified`, whatever the properties say.
                content = _MODIFIED.sub(rb"\g<1>2026-01-01T00:00:00Z\g<2>", content)
            target.writestr(info, content)
    return out.getvalue()


def write_row_indexes(run_dir: Path) -> None:
    """The row index of every paged list of a run being assembled."""
    for path in paged_lists(run_dir):
        index = row_index(path) if path.is_file() else None
        if index is not None:
            target = row_index_path(run_dir, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(index, target)
