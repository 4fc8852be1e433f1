"""Writing a discovery run for officials: CSV and Excel lists, report, manifest, atomic publish.

A run is assembled in a hidden staging directory beside the runs and renamed into place only
when every file is written; `latest` is switched last, by an atomic rename of a symlink. A run
killed at any point therefore leaves `latest` on the previous complete run.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from features.safe_cells import safe_frame, safe_text
from models.invitations import LIST_COLUMNS, REAPPLY_COLUMNS, SCORE_COLUMNS
from models.labels import (
    BOOLEAN_LABELS,
    GROUND_LABELS,
    LAST_OUTCOME_LABELS,
    MODEL_VERSION_LABELS,
    OUTCOME_LABELS,
    TASK_LABELS,
    TIER_ANNEXES,
    TIER_LABELS,
    TIER_SHEETS,
    TITLE_LABELS,
    TITLE_SHEETS,
    basis_text,
    label,
    table_text,
    with_code,
)
from models.watchlist import coverage_tables

COLUMN_LABELS = {
    "rank": ("排名", 6, "本名单内按模型得分由高到低的名次（1 为最高）"),
    "credit_code": ("统一社会信用代码", 21, "企业统一社会信用代码"),
    "name": ("企业名称", 36, "登记注册的现用名称"),
    "region_code": ("行政区划代码", 12, "注册地 6 位行政区划代码"),
    "tier": (
        "梯度层级",
        14,
        "专精特新中小企业［specialized］（附件1）；专精特新“小巨人”企业［little_giant］（附件2）。"
        "方括号内为 CSV 文件中的代码",
    ),
    "outcome": (
        "初筛结论",
        12,
        "达标［eligible］：数据显示全部指标达标；待核实［to_verify］：无不达标项，但部分指标需企业"
        "申报时核实。方括号内为 CSV 文件中的代码",
    ),
    "score": ("排序得分", 10, "名单排序依据，等于 priority；仅用于排序，不替代认定标准"),
    "p_qualify": ("认定概率", 10, "若现在申报，被认定的概率（校准后估计）"),
    "p_apply": ("自主申报概率", 10, "不经邀请、12个月内自行申报的概率估计（无申报记录时为空）"),
    "priority": ("邀请优先度", 10, "默认 认定概率×(1−自主申报概率)：一次邀请预计新增的合格申报数"),
    "est_score_low": (
        "估算评价得分下限",
        10,
        "2022年公开评分表中数据可见指标的得分（估算，不作认定依据）",
    ),
    "est_score_high": (
        "估算评价得分上限",
        10,
        "下限加上数据不可见指标最多可得分（估算，不作认定依据）",
    ),
    "p_score_pass": (
        "评价得分达标概率",
        10,
        "官方发展评价得分达到本层级分数线的概率估计；不判定评价得分指标",
    ),
    "reasons": ("排序依据", 48, "对得分影响最大的因素及方向"),
    "to_verify": (
        "待核实事项",
        60,
        "数据不足以判断、需企业申报时提供材料的指标：指标名称（条款）［指标编号］：依据",
    ),
    "declarations": ("需申报说明", 48, "数据无法证明、由企业如实说明的事项（如主导产品市场地位）"),
    "evidence": (
        "达标依据",
        80,
        "每项已达标指标所依据的数据与门槛：指标名称（条款）［指标编号］：依据",
    ),
}
# The run-wide lists the service pages through (cultivation.csv, renewals.csv).
CULTIVATION_LABELS = {
    **{c: COLUMN_LABELS[c] for c in ("credit_code", "name", "region_code", "tier")},
    "failing_criteria": (
        "不达标指标",
        30,
        "仅因这些可培育的指标不符合而未被邀请（CSV 文件中为逗号分隔的指标编号）",
    ),
    "evidence": ("不达标依据", 80, "每项不达标指标：名称（条款）［指标编号］：依据"),
}
RENEWAL_LABELS = {
    **{c: COLUMN_LABELS[c] for c in ("credit_code", "name", "region_code", "tier")},
    "outcome": (
        "复核结论",
        12,
        "达标［eligible］、待核实［to_verify］或不符合［ineligible］（第十六条）",
    ),
    "failing": ("不达标指标", 60, "每项不达标指标：名称（条款）［指标编号］：依据"),
    "unknown": ("数据不足的指标", 60, "每项数据不足以判断的指标：名称（条款）［指标编号］：依据"),
}
INVITATION_NOTE = (
    "名单仅列出数据显示无任何不达标指标的企业（认定标准不降低，第九条）；是否认定以审核为准。"
    "本名单只列主动发现的企业：截至评估日没有该层级申报记录的企业。曾申报该层级而未获认定、"
    "现数据显示达标或待核实的企业另列于再申报名单（同一运行的 reapply/<省份代码>.csv 与 .xlsx），"
    "不混入本名单；本轮已申报该层级的企业两份名单均不列。"
)
# The re-application list (issue 24): the invitation list's columns and the last application.
_REAPPLY_OWN_LABELS = {
    "rank": ("排名", 6, "本名单内按认定概率由高到低的名次（无排序模型时按排序得分；1 为最高）"),
    "last_round": ("上次申报年度", 10, "该企业最近一次申报本层级的年度（申报轮次）"),
    "last_outcome": (
        "上次申报结果",
        12,
        "未通过［rejected］；撤回［withdrawn］；曾获认定［approved］：但数据未显示有效期内的"
        "本层级称号（已到期、被撤销或认定记录缺失），请核实。方括号内为 CSV 文件中的代码",
    ),
}
REAPPLY_LABELS = {c: _REAPPLY_OWN_LABELS.get(c) or COLUMN_LABELS[c] for c in REAPPLY_COLUMNS}
REAPPLY_NOTE = (
    "再申报名单列出曾申报本层级而未获认定（最近一次申报未通过或撤回）、现在数据显示无任何不达标"
    "指标（初筛结论为达标或待核实）的企业，以及曾获认定、但数据未显示有效期内本层级称号的企业"
    "（上次申报结果为“曾获认定”，请核实）。这些企业省级主管部门已经掌握，不是主动发现的企业：本名单"
    "单独发布，从不混入邀请名单；本轮已申报该层级的企业不列入。与邀请名单相同，认定标准不降低"
    "（第九条），观察名单上的企业不列入；是否认定以审核为准。"
)
REAPPLY_ORDER = {
    "champion": "排序：按认定概率（若现在申报被认定的概率）由高到低；概率相同按统一社会信用代码。"
    "这些企业曾自行申报过，因此不按邀请优先度（考虑自主申报概率）排序。",
    "rule_baseline": "排序：本次尚无训练好的排序模型，认定概率未估计，按规则基线的排序得分"
    "由高到低；得分相同按统一社会信用代码。",
}
# Columns that hold codes (outputs.md): the CSV keeps the code, a sheet shows its Chinese name.
CODED_COLUMNS: Mapping[str, Callable[[object], str]] = {
    "tier": partial(label, TIER_LABELS),
    "outcome": partial(label, OUTCOME_LABELS),
    "last_outcome": partial(label, LAST_OUTCOME_LABELS),
    "title": partial(label, TITLE_LABELS),
    "ground": partial(label, GROUND_LABELS),
    "new": partial(label, BOOLEAN_LABELS),
    "basis": basis_text,
}
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
CANDIDATES_ROW_GROUP = 16_384  # a firm page reads one such group of candidates.parquet
# Spreadsheet safety (features.safe_cells, the one sanitiser): a text cell that starts like a
# formula is shown as text, never run, and control characters are dropped.
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
_IMG = '<img alt="图表" src="data:image/png;base64,{}" style="max-width:100%">'


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


# Beside each list the service pages through, a row index (index/<the list's path>.parquet):
# the columns it filters, sorts and finds firms by, and where each row's record lies in the CSV.
# A page then reads its rows' bytes from the CSV; nothing else of the list is held in memory.
ROW_INDEX_DIR = "index"
LIST_TEXT_COLUMNS = ("reasons", "to_verify", "declarations", "evidence")  # read from the CSV
ROW_INDEX_COLUMNS = tuple(c for c in LIST_COLUMNS if c not in LIST_TEXT_COLUMNS)
ROW_INDEX_NUMBERS = {
    "rank": pa.int64(),
    **{c: pa.float64() for c in SCORE_COLUMNS if c != "reasons"},
}
ROW_OFFSET, ROW_LENGTH = "_offset", "_length"
_LINE_FEED, _QUOTE = 10, 34


def record_spans(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Byte offset and length of every CSV record after the header (RFC 4180: a line feed
    inside quotes belongs to its field; the record's own line ending is not counted)."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    feeds = np.flatnonzero(buffer == _LINE_FEED)
    quotes_before = np.searchsorted(np.flatnonzero(buffer == _QUOTE), feeds)
    ends = feeds[quotes_before % 2 == 0]
    if len(data) and data[-1] != _LINE_FEED:
        ends = np.append(ends, len(data))
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    lengths = ends - starts
    carriage = (lengths > 0) & (buffer[np.maximum(ends - 1, 0)] == 13)  # CRLF files
    return starts[1:], (lengths - carriage)[1:].astype(np.int64)


def row_index(path: Path) -> pa.Table | None:
    """The indexed columns of a published CSV with each row's byte span; None for a file
    without a header. Text as written; numbers as numbers, null where there is none."""
    data = path.read_bytes()
    first = data.split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")
    if not first:
        return None
    header = next(csv.reader([first]))
    indexed = [c for c in ROW_INDEX_COLUMNS if c in header]
    table = pacsv.read_csv(
        io.BytesIO(data),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            include_columns=indexed or header[:1],
            strings_can_be_null=False,
        ),
    )
    offsets, lengths = record_spans(data)
    if table.num_rows != len(offsets):
        raise ValueError(f"{path}: {table.num_rows} rows but {len(offsets)} records")
    if not indexed:
        table = table.drop_columns(header[:1])
    for column, kind in ROW_INDEX_NUMBERS.items():
        if column in table.column_names:
            position = table.column_names.index(column)
            table = table.set_column(position, column, _published_numbers(table[column], kind))
    table = table.append_column(ROW_OFFSET, pa.array(offsets)).append_column(
        ROW_LENGTH, pa.array(lengths)
    )
    stamp = {"csv_bytes": str(len(data)), "csv_header": json.dumps(header, ensure_ascii=False)}
    return table.replace_schema_metadata(stamp)


def _published_numbers(texts: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    """Numbers as pandas' to_numeric reads them (errors coerced): empty or not a number → null;
    an integer column keeps the whole part."""
    blank = pc.equal(pc.utf8_trim_whitespace(texts), "")
    try:
        numbers = pc.cast(pc.if_else(blank, None, texts), pa.float64())
    except pa.ArrowInvalid:  # text that is not a number: as to_numeric(errors="coerce")
        coerced = pd.to_numeric(pd.Series(texts.to_pylist(), dtype="str"), errors="coerce")
        numbers = pa.chunked_array([pa.array(coerced.to_numpy(float), from_pandas=True)])
    numbers = pc.if_else(pc.is_nan(numbers), None, numbers)
    return pc.cast(numbers, kind, safe=False)


def row_index_path(run_dir: Path, csv_path: Path) -> Path:
    return run_dir / ROW_INDEX_DIR / csv_path.relative_to(run_dir).with_suffix(".parquet")


def paged_lists(run_dir: Path) -> list[Path]:
    """The published CSVs the service pages through: every province's invitation list and
    re-application list, the cultivation list and the renewal list."""
    lists = []
    for folder in (run_dir / "invitations", run_dir / "reapply"):
        lists += sorted(folder.glob("*.csv")) if folder.is_dir() else []
    return [*lists, run_dir / "cultivation.csv", run_dir / "renewals.csv"]


def write_row_indexes(run_dir: Path) -> None:
    """The row index of every paged list of a run being assembled."""
    for path in paged_lists(run_dir):
        index = row_index(path) if path.is_file() else None
        if index is not None:
            target = row_index_path(run_dir, path)
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(index, target)


def write_list_csv(lists: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM so that Excel opens Chinese text correctly; stable float format.
    Text that would start a formula gets a leading ' (OWASP CSV injection)."""
    safe_frame(lists).to_csv(
        path, index=False, encoding="utf-8-sig", float_format="%.6f", lineterminator="\n"
    )


def named(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows as people read them: each coded column's values by their Chinese names
    (CODED_COLUMNS); missing values stay missing."""
    shown = rows.copy()
    for column, name in CODED_COLUMNS.items():
        if column in shown.columns:
            shown[column] = shown[column].map(name, na_action="ignore")
    return shown


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


WATCH_LABELS = {
    "credit_code": ("统一社会信用代码", 21, "企业统一社会信用代码"),
    "name": ("企业名称", 36, "登记注册的现用名称"),
    "region_code": ("行政区划代码", 12, "注册地 6 位行政区划代码"),
    "title": (
        "称号",
        16,
        "有效期内的最高称号：专精特新中小企业［specialized_sme］；专精特新“小巨人”企业"
        "［little_giant］。方括号内为 CSV 文件中的代码",
    ),
    "expires_on": ("有效期至", 12, "所持称号的有效期截止日"),
    "ground": (
        "风险事由",
        22,
        "数据显示的风险事由（第十一、十七至二十条）；CSV 文件中为事由代码",
    ),
    "article": ("依据条款", 20, "《优质中小企业梯度培育管理办法》条款"),
    "since": ("发生日期", 12, "事由发生或首次列出的日期"),
    "evidence": ("事由依据", 80, "事由所依据的数据与记录"),
    "action": ("处置建议", 16, "重点监测 / 核实后取消认定 / 报工业和信息化部 / 转迁入地"),
    "new": (
        "本期新增",
        10,
        "是：上一次发布的运行中没有这一事由（CSV 文件中为 ［true］／［false］）",
    ),
    "basis": (
        "事由细项",
        24,
        "不再符合的指标：名称（条款）［指标编号］；或重大变化的类型与日期",
    ),
}
WATCH_NOTE = (
    "观察名单列出有效期内、数据显示存在风险事由的专精特新中小企业和“小巨人”企业（第十四、十七至"
    "二十一条）；是否取消认定以核实为准。"
)


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


FUNNEL_LABELS = {
    "province": "省份",
    "registry": "登记企业",
    "candidates": "候选企业",
    "already_certified": "已获称号",
    "ineligible": "不符合",
    "eligible": "达标",
    "to_verify": "待核实",
    "invited": "邀请",
    "reapply": "再申报",
}
# The funnel chart's bars (stage → colour); its legend is the page's, in Chinese.
FUNNEL_STAGES = {
    "candidates": "#1f77b4",
    "eligible": "#2ca02c",
    "to_verify": "#ff7f0e",
    "invited": "#d62728",
}
SCORE_COLOUR = "#1f4e78"


def write_report_html(
    path: Path,
    manifest: Mapping[str, object],
    funnel: pd.DataFrame,
    lists: pd.DataFrame,
    watchlist: pd.DataFrame | None = None,
    watch_summary: Mapping[str, object] | None = None,
) -> None:
    """A self-contained page for people: the provinces that failed (first, where no one can
    miss them), a section per tier with its funnel per province and charts, the re-application
    counts, the watch list per province, and the run's main counts. Every code is shown by its
    Chinese name (models.labels); the codes stay in the CSV files and the manifest."""
    counts = manifest.get("counts", {})
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>优质中小企业主动发现 — {html.escape(str(manifest.get("run_id", "")))}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #bbb; padding: 4px 10px; text-align: right; }}
th {{ background: #1f4e78; color: #fff; }}
td:first-child, td:nth-child(2) {{ text-align: left; }}
.note {{ color: #555; max-width: 60em; }}
.swatch {{ display: inline-block; width: .9em; height: .9em; margin: 0 .3em 0 1em; }}
table.text td {{ text-align: left; }}
</style></head><body>
<h1>优质中小企业主动发现 · 运行报告</h1>
<p>运行编号 {html.escape(str(manifest.get("run_id", "")))} · 评估日期
{html.escape(str(manifest.get("as_of", "")))} · 模型版本
{html.escape(label(MODEL_VERSION_LABELS, manifest.get("model_version")))}</p>
<p class="note">依据《优质中小企业梯度培育管理办法》（工信部企业〔2026〕2号）第九条：
名单只包含数据显示无任何不达标指标的企业（认定标准不降低）；“待核实”表示部分指标需企业申报时提供材料。模型得分仅用于排序。</p>
{failed_section(manifest.get("failed_provinces"))}
<h2>各省筛选漏斗</h2>
{"".join(_tier_section(funnel, lists, tier) for tier in TIER_LABELS)}
{_reapply_section(funnel)}
{_watchlist_section(watchlist, watch_summary)}
{_counts_section(_mapping(counts))}
</body></html>
"""
    path.write_text(safe_text(page), encoding="utf-8")  # no control character from the data


def _tier_section(funnel: pd.DataFrame, lists: pd.DataFrame, tier: str) -> str:
    """One tier apart: its funnel per province, the funnel chart and the scores of the invited
    firms (charts carry no text: their legends are the page's)."""
    rows = funnel[funnel["tier"] == tier].drop(columns="tier")
    heading = f"{TIER_LABELS[tier]}（{TIER_ANNEXES[tier]}）"
    parts = [f'<section id="funnel-{tier}">', f"<h3>{html.escape(heading)}</h3>"]
    if rows.empty:
        parts.append("<p>本次运行没有该层级的数据。</p></section>")
        return "\n".join(parts)
    table = rows.rename(columns=FUNNEL_LABELS)
    parts.append(table.to_html(index=False, border=0))
    legend = "".join(
        f'<span class="swatch" style="background:{colour}"></span>'
        f"{html.escape(FUNNEL_LABELS[stage])}"
        for stage, colour in FUNNEL_STAGES.items()
    )
    parts.append(
        f"<figure>{_IMG.format(_funnel_chart(rows))}"
        f"<figcaption>各省{html.escape(TIER_LABELS[tier])}筛选漏斗（横轴：省份代码，纵轴：企业数，"
        f"对数刻度）：{legend}</figcaption></figure>"
    )
    scores = lists.loc[lists["tier"] == tier, "score"].dropna()
    if len(scores):
        parts.append(
            f"<figure>{_IMG.format(_score_chart(scores))}"
            f"<figcaption>{html.escape(TIER_LABELS[tier])}邀请名单的排序得分分布"
            "（横轴：排序得分，纵轴：企业数）</figcaption></figure>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _counts_section(counts: Mapping[str, object]) -> str:
    """The run's main counts in words (every count, by code, is in manifest.json)."""
    matching, watch = (_mapping(counts.get(key)) for key in ("matching", "watchlist"))
    lines = [
        ("登记企业", counts.get("firms")),
        ("拒收的输入行", counts.get("rejected_rows")),
        ("无法确定所属省份的企业", counts.get("firms_without_province")),
        ("企业名称提及", matching.get("mentions")),
        ("已匹配到登记企业的提及", matching.get("linked")),
        ("待人工复核的提及", matching.get("review")),
        ("按人工复核结论匹配的提及", matching.get("decided")),
        ("发布名单的省份", counts.get("provinces")),
        ("邀请名单企业", counts.get("invited")),
        ("再申报名单企业", counts.get("reapply")),
        ("观察名单事由", watch.get("rows")),
        ("观察名单企业", watch.get("firms")),
        ("观察名单本期新增事由", watch.get("new")),
    ]
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(value))}</td></tr>"
        for name, value in lines
        if value is not None
    )
    if not rows:
        return ""
    return (
        "<h2>各阶段数量</h2>\n"
        '<p class="note">全部计数（含各数据表的读取情况）见同一运行目录的 manifest.json。</p>\n'
        f'<table id="counts"><tr><th>项目</th><th>数量</th></tr>{rows}</table>'
    )


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def failed_section(failed: object) -> str:
    """The report's notice of provinces whose task failed (manifest `failed_provinces`): which
    province, which task, the error, and where its previous published list lies (the report
    sits in the run directory, so `../<run>/…` is the other run's file). Empty when none."""
    entries = [e for e in failed if isinstance(e, Mapping)] if isinstance(failed, list) else []
    if not entries:
        return ""
    rows = []
    for entry in entries:
        province = str(entry.get("province", ""))
        task = str(entry.get("task", ""))
        previous = entry.get("previous_run")
        if previous:
            relative = html.escape(f"../{previous}/invitations/{province}.csv")
            where = (
                f'运行 {html.escape(str(previous))}：<a href="{relative}">{relative}</a>'
                f"（同一目录下另有 .xlsx）"
            )
        else:
            where = "无：此前没有发布过该省的名单"
        rows.append(
            f"<tr><td>{html.escape(province)}</td>"
            f"<td>{html.escape(with_code(label(TASK_LABELS, task), task))}</td>"
            f'<td style="text-align:left">{html.escape(str(entry.get("error", "")))}</td>'
            f'<td style="text-align:left">{where}</td></tr>'
        )
    names = "、".join(html.escape(str(e.get("province", ""))) for e in entries)
    return f"""<section id="failed-provinces" style="border:3px solid #a00; background:#fff3f3;
padding:.5em 1.5em; margin:1.5em 0;">
<h2 style="color:#a00">本次运行有省份处理失败：{names}</h2>
<p>下列省份的处理任务失败，本次<strong>没有</strong>发布这些省份的邀请名单、再申报名单、培育名单、复核名单和观察名单；
其他省份的名单已正常发布。失败省份请继续使用上一次发布的名单（下表列出其位置），待运维人员排除故障、重新运行后再使用新名单。</p>
<table>
<tr><th>省份</th><th>失败的任务</th><th>错误信息</th><th>上一次发布的名单</th></tr>
{"".join(rows)}
</table>
</section>"""


def _reapply_section(funnel: pd.DataFrame) -> str:
    """A line per province and tier with the size of its re-application list (the funnel's
    `reapply` column); empty for a funnel without one."""
    if "reapply" not in funnel.columns:
        return ""
    lines = "".join(
        f"<li>省份 {html.escape(str(row.province))} · "
        f"{html.escape(label(TIER_LABELS, row.tier))}：再申报名单 "
        f"{int(row.reapply)} 家（邀请名单 {int(getattr(row, 'invited', 0))} 家）</li>"
        for row in funnel.sort_values(["province", "tier"]).itertuples(index=False)
    )
    return (
        "<h2>再申报名单</h2>\n"
        '<p class="note">邀请名单只列主动发现的企业（截至评估日没有该层级申报记录）。曾申报该层级而'
        "未获认定、现在数据显示达标或待核实的企业另列于再申报名单 reapply/&lt;省份代码&gt;.csv 与 "
        ".xlsx，按认定概率排序，从不混入邀请名单；本轮已申报的企业两份名单均不列。</p>\n"
        f'<ul id="reapply-counts">{lines}</ul>'
    )


WATCH_REPORT_COLUMNS = [
    "credit_code",
    "name",
    "title",
    "ground",
    "article",
    "since",
    "action",
    "new",
    "evidence",
]


def _watchlist_section(watchlist: pd.DataFrame | None, summary: Mapping[str, object] | None) -> str:
    """Per province: counts by ground and action, the new grounds, and the rows themselves."""
    if watchlist is None:
        return ""
    parts = [
        '<h2 id="watchlist">观察名单（有进有出，第十四、十七至二十一条）</h2>',
        '<p class="note">有效期内的专精特新中小企业和“小巨人”企业中，数据显示存在风险事由者；'
        "按严重程度、再按发生日期排序。“本期新增”指上一次发布的运行中没有的事由。</p>",
    ]
    coverage = (summary or {}).get("coverage") or {}
    unknown = (
        {k: v for k, v in coverage.items() if v != "known"} if isinstance(coverage, Mapping) else {}
    )
    if unknown:
        items = "".join(
            f"<li>{html.escape(label(GROUND_LABELS, ground))}：缺少数据表 "
            f"{html.escape('、'.join(table_text(t) for t in coverage_tables(str(status))))}</li>"
            for ground, status in unknown.items()
        )
        parts.append(f"<p>以下事由因数据缺失无法判断：</p><ul>{items}</ul>")
    if watchlist.empty:
        parts.append("<p>本次运行没有观察名单企业。</p>")
        return "\n".join(parts)
    for province, rows in watchlist.groupby("province", sort=True):
        counts = rows.groupby(["ground", "action"]).size().rename("企业事由数").reset_index()
        counts["ground"] = counts["ground"].map(partial(label, GROUND_LABELS))
        counts = counts.rename(columns={"ground": "风险事由", "action": "处置建议"})
        table = rows[WATCH_REPORT_COLUMNS].copy()
        table["since"] = pd.to_datetime(table["since"], errors="coerce").dt.strftime("%Y-%m-%d")
        table["new"] = table["new"].map(lambda new: "true" if new in (True, "true") else "false")
        table = named(table).rename(columns={c: WATCH_LABELS[c][0] for c in WATCH_REPORT_COLUMNS})
        new = int(rows["new"].isin([True, "true"]).sum())
        parts.append(
            f"<h3>省份 {html.escape(str(province))}：{len(rows)} 条事由，"
            f"{rows['credit_code'].nunique()} 家企业，本期新增 {new} 条</h3>"
        )
        parts.append(counts.to_html(index=False, border=0))
        parts.append(table.to_html(index=False, border=0, na_rep="", classes="text"))
    return "\n".join(parts)


def _funnel_chart(rows: pd.DataFrame) -> str:
    """Bars per province for one tier's stages (FUNNEL_STAGES' colours), log scale; no text
    but the axes' figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [s for s in FUNNEL_STAGES if s in rows.columns]
    figure, axis = plt.subplots(figsize=(7, 3.2))
    values = rows.set_index("province")[stages]
    values.plot.bar(ax=axis, logy=True, rot=0, color=[FUNNEL_STAGES[s] for s in stages])
    legend = axis.get_legend()
    if legend is not None:
        legend.remove()
    axis.set_xlabel("")
    figure.tight_layout()
    return _png(figure)


def _score_chart(scores: pd.Series) -> str:
    """A histogram of one tier's invited firms' scores; no text but the axes' figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.0))
    axis.hist(scores.astype("float64"), bins=20, color=SCORE_COLOUR)
    figure.tight_layout()
    return _png(figure)


def _png(figure: object) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, metadata={"Software": None})  # type: ignore[attr-defined]
    plt.close(figure)  # type: ignore[arg-type]
    return base64.b64encode(buffer.getvalue()).decode()


def write_sorted_part(frame: pd.DataFrame, path: Path) -> None:
    """A part for merge_sorted_parts, written by the task that made the frame (a province's
    criteria, while the other provinces work): its rows sorted by credit code, in Arrow IPC
    batches."""
    _sorted_into(pa.Table.from_pandas(frame, preserve_index=False), path)


def _sorted_into(table: pa.Table, path: Path) -> None:
    table = table.replace_schema_metadata(None).combine_chunks()  # one dictionary per column
    if "credit_code" in table.column_names:
        position = table.column_names.index("credit_code")
        codes = table["credit_code"].combine_chunks()
        if not pa.types.is_dictionary(codes.type):
            codes = pc.dictionary_encode(codes)
        table = table.set_column(position, "credit_code", codes)
    kept = table.schema
    # a big part's plain text passes 2 GiB
    table = table.cast(pa.schema([pa.field(f.name, _large(f.type)) for f in kept]))
    if "credit_code" in table.column_names:
        codes = table["credit_code"].chunk(0)
        table = table.take(
            np.argsort(_code_ranks(codes.dictionary)[_indices(codes)], kind="stable")
        )
    # Arrow IPC, not Parquet: written and read back without encoding. A dictionary column
    # (the credit code always) stays one: its values are written once for the file, each
    # batch holds indices; merge_sorted_parts writes the values.
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, kept) as ipc:
        for start in range(0, table.num_rows, CANDIDATES_ROW_GROUP):
            ipc.write_table(table.slice(start, CANDIDATES_ROW_GROUP).cast(kept))


def _code_ranks(codes: pa.Array) -> np.ndarray:
    """The rank of each of `codes` in text order (equal codes, equal ranks; a null code after
    the others), and one more, for a missing code, after them all: rows are sorted by their
    code's rank (integers), never by text."""
    if pa.types.is_null(codes.type):  # no code at all, and no rank kernel for that type
        codes = codes.cast(pa.string())
    ranks = np.empty(len(codes) + 1, dtype=np.int64)
    ranks[:-1] = pc.rank(codes, tiebreaker="dense").to_numpy()
    ranks[-1] = len(codes) + 1
    return ranks


def _indices(codes: pa.DictionaryArray, start: int = 0) -> np.ndarray:
    """A dictionary column's indices plus `start`, a missing value as the index after the
    dictionary."""
    indices = codes.indices
    if not indices.null_count:
        return np.add(indices.to_numpy(), start, dtype=np.int64)
    positions = np.add(indices.fill_null(0).to_numpy(), start, dtype=np.int64)
    positions[indices.is_null().to_numpy(zero_copy_only=False)] = start + len(codes.dictionary)
    return positions


def merge_sorted_parts(parts: list[Path], out: Path) -> None:
    """Merge parts written by write_sorted_part into one Parquet file in credit-code order
    (stable: part order between equal codes), in row groups of CANDIDATES_ROW_GROUP rows, so
    that a reader filtering on a credit code reads one small group, chosen by the groups'
    statistics, instead of the whole table. The parts' code ranges overlap (a firm's code need
    not start with its province's region), so concatenating them would make a reader look in
    a group of every part. Memory holds one batch per part, never the whole table. The columns
    are as the first part has them, dictionaries as their values: Parquet encodes each group
    with its own dictionary, and each part may have chosen other categories anyway."""
    if not parts:
        return
    readers = [pa.ipc.open_file(pa.OSFile(str(p))) for p in parts]  # read, not mapped
    plain = pa.schema([_plain_field(f) for f in readers[0].schema])
    # Parquet encodes a group outside the GIL while the next group is merged: one group in
    # the writer at a time, in order.
    with pq.ParquetWriter(out, plain) as writer, ThreadPoolExecutor(max_workers=1) as encoder:
        writing: Future[None] | None = None
        for group in _row_groups(_merged(readers, plain)):
            if writing is not None:
                writing.result()
            writing = encoder.submit(writer.write_table, group)
        if writing is not None:
            writing.result()


def _row_groups(chunks: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """The rows of `chunks` in groups of CANDIDATES_ROW_GROUP (the last one smaller)."""
    pending: list[pa.Table] = []
    waiting = 0
    for chunk in chunks:
        pending.append(chunk)
        waiting += chunk.num_rows
        while waiting >= CANDIDATES_ROW_GROUP:
            joined = pa.concat_tables(pending)
            yield joined.slice(0, CANDIDATES_ROW_GROUP)
            rest = joined.slice(CANDIDATES_ROW_GROUP)
            pending, waiting = [rest], rest.num_rows
    if waiting:
        yield pa.concat_tables(pending)


def _large(kind: pa.DataType) -> pa.DataType:
    """Text with 64-bit offsets; a dictionary stays one (sorting it moves indices, not text)."""
    wide = {pa.string(): pa.large_string(), pa.binary(): pa.large_binary()}
    return wide.get(kind, kind)


def _plain_field(field: pa.Field) -> pa.Field:
    """A dictionary column as its values; their text as Parquet reads a dictionary back
    (`string`), whether the part came from Parquet or from pandas (`large_string`)."""
    if not pa.types.is_dictionary(field.type):
        return field
    values = field.type.value_type
    return pa.field(field.name, pa.string() if values == pa.large_string() else values)


def _batches(reader: pa.ipc.RecordBatchFileReader) -> Iterator[pa.RecordBatch]:
    for index in range(reader.num_record_batches):
        yield reader.get_batch(index)


def _merged(readers: list[pa.ipc.RecordBatchFileReader], schema: pa.Schema) -> Iterator[pa.Table]:
    """Rows of Arrow IPC files each sorted by credit code, in credit-code order (stable, part
    order between equal codes), a batch of each file at a time, as `schema` (values)."""
    batches = [_batches(reader) for reader in readers]
    if "credit_code" not in schema.names:
        for batch_iterator in batches:
            for batch in batch_iterator:
                yield pa.Table.from_batches([batch]).cast(schema)
        return
    firsts = {i: r.get_batch(0) for i, r in enumerate(readers) if r.num_record_batches}
    if not firsts:
        return
    for first in firsts.values():
        if first.schema.names != schema.names:
            raise ValueError(f"a part's columns {first.schema.names} are not {schema.names}")
    # The text of a column is made once, by the take that puts the rows in order: a column
    # that is a dictionary in every part (an IPC file has one per column) is held as indices
    # into the values of all the parts' dictionaries. A column that some part holds as plain
    # values, or whose values could fail to cast (the cast then sees only the rows'), is held
    # as values.
    values: dict[int, pa.Array] = {}
    starts: dict[int, dict[int, int]] = {}
    for column, field in enumerate(schema):
        dictionaries = {i: first.column(column) for i, first in firsts.items()}
        if all(_casts_safely(d.type, field.type) for d in dictionaries.values()):
            values[column], starts[column] = _joined(dictionaries, field.type)
    # Every part's codes ranked among the codes of all parts: each batch's order is then a
    # matter of integers.
    code = schema.names.index("credit_code")
    code_ranks, code_starts = _ranked_codes({i: first.column(code) for i, first in firsts.items()})
    held: list[list[np.ndarray | pa.Array]] = [[] for _ in readers]
    held_ranks = [np.array([], dtype=np.int64) for _ in readers]
    done = [False] * len(readers)
    while True:
        for i, batch_iterator in enumerate(batches):
            if not len(held_ranks[i]) and not done[i]:
                batch = next(batch_iterator, None)
                if batch is None:
                    done[i] = True
                    continue
                held[i] = [
                    _indices(batch.column(c), starts[c][i])
                    if c in values
                    else batch.column(c).cast(field.type)  # small: one batch
                    for c, field in enumerate(schema)
                ]
                held_ranks[i] = code_ranks[_indices(batch.column(code), code_starts[i])]
        live = [i for i in range(len(readers)) if len(held_ranks[i])]
        if not live:
            return
        # Safe to emit: every held row up to the smallest last rank of a part still reading.
        open_parts = [held_ranks[i][-1] for i in live if not done[i]]
        bound = min(open_parts) if open_parts else None
        cuts = {}
        for i in live:
            these = held_ranks[i]
            cuts[i] = len(these) if bound is None else int(np.searchsorted(these, bound, "right"))
        order = np.argsort(np.concatenate([held_ranks[i][: cuts[i]] for i in live]), kind="stable")
        columns = []
        for column, field in enumerate(schema):
            pieces = [held[i][column][: cuts[i]] for i in live]
            if column in values:
                taken = values[column].take(np.concatenate(pieces)[order])
                columns.append(taken if taken.type == field.type else taken.cast(field.type))
            else:
                columns.append(pa.concat_arrays(pieces).take(order))
        for i in live:
            held[i] = [these[cuts[i] :] for these in held[i]]
            held_ranks[i] = held_ranks[i][cuts[i] :]
        if len(order):
            yield pa.Table.from_arrays(columns, schema=schema)


def _ranked_codes(codes: Mapping[int, pa.DictionaryArray]) -> tuple[np.ndarray, dict[int, int]]:
    """The rank, as text, of each code of the parts' dictionaries one after another as _joined
    lays them out, the null after each part's codes (its missing code) after them all; and
    where each part's codes start."""
    every, starts = _joined(codes, pa.large_string())
    ranks = _code_ranks(every)
    ranks[[starts[i] + len(c.dictionary) for i, c in codes.items()]] = ranks[-1]
    return ranks, starts


def _casts_safely(dictionary: pa.DataType, kind: pa.DataType) -> bool:
    """Whether the values of a dictionary column cast to `kind` without fail, all of them."""
    if not pa.types.is_dictionary(dictionary):
        return False
    values = dictionary.value_type
    text = (pa.string(), pa.large_string())
    return values == kind or pa.types.is_null(values) or (values in text and kind in text)


def _joined(
    dictionaries: Mapping[int, pa.DictionaryArray], kind: pa.DataType
) -> tuple[pa.Array, dict[int, int]]:
    """The values of the parts' dictionaries one after another as `kind` (text with 64-bit
    offsets past 2 GiB), each followed by a null (the value of its missing index, the index
    after the dictionary), and where each part's values start: a part's index plus its start
    is an index into them all."""
    if sum(d.dictionary.nbytes for d in dictionaries.values()) >= 2**31:
        kind = _large(kind)
    pieces, starts, start = [], {}, 0
    for part, dictionary in dictionaries.items():
        pieces += [dictionary.dictionary.cast(kind), pa.nulls(1, kind)]
        starts[part] = start
        start += len(dictionary.dictionary) + 1
    return pa.concat_arrays(pieces), starts


def write_manifest(path: Path, manifest: Mapping[str, object]) -> None:
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n")


def staging_dir(runs_dir: Path, run_id: str) -> Path:
    """A hidden directory beside the runs where a run is assembled."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    path = runs_dir / f".staging-{run_id}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir()
    return path


def clear_abandoned_staging(runs_dir: Path) -> list[Path]:
    """Remove staging directories left by killed runs (they were never published)."""
    abandoned = sorted(runs_dir.glob(".staging-*")) if runs_dir.exists() else []
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
) -> dict[str, str | None]:
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
        and p.name != "latest"
        and not p.is_symlink()
        and p.is_dir()
        and (p / "manifest.json").is_file()
    ]
    return sorted(runs, key=lambda p: p.name, reverse=True)


def previous_run_with_list(runs_dir: Path, province: str, before: str) -> str | None:
    """The id of the newest complete run before `before` that published
    invitations/<province>.csv — where a province whose task failed keeps its last list
    (publishing never deletes runs); None when no earlier run has one."""
    for run in _published_runs(runs_dir):
        if run.name < before and (run / "invitations" / f"{province}.csv").is_file():
            return run.name
    return None


def failed_provinces_of(run_dir: Path) -> list[dict[str, object]]:
    """The `failed_provinces` of a published run's manifest; empty when it names none."""
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    failed = manifest.get("failed_provinces") if isinstance(manifest, dict) else None
    return [e for e in failed if isinstance(e, dict)] if isinstance(failed, list) else []


def previous_watchlist(runs_dir: Path) -> pd.DataFrame | None:
    """The watch list of the newest published run (`latest`), every province, as text; None
    when there is no published run or it has no watch list. A province whose task failed in
    that run is read from the run holding its previous list (manifest `previous_run`), so
    that its grounds are not all `new` again the week after a failure."""
    latest = runs_dir / "latest"
    folder = latest / "watchlist"
    files = {p.stem: p for p in sorted(folder.glob("*.csv"))} if folder.is_dir() else {}
    published = {p.name for p in _published_runs(runs_dir)}
    for entry in failed_provinces_of(latest):
        province, previous = str(entry.get("province")), entry.get("previous_run")
        earlier = runs_dir / str(previous) / "watchlist" / f"{province}.csv"
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
    if not (staging / "manifest.json").is_file():
        raise FileNotFoundError(f"{staging} has no manifest.json: the run is not complete")
    os.replace(staging, final)
    link = runs_dir / "latest"
    temporary = runs_dir / f".latest-{run_id}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(run_id)
    os.replace(temporary, link)
    return final
