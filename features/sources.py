"""Read a data directory per ../shared/contracts/sources.md into validated, typed tables.

One loader for every table: find the file(s), decode (UTF-8 with or without BOM, else
GB18030, which covers GBK), split into string cells, coerce each column by its contract kind,
validate with the pandera schema of features/schemas.py, and move every row that breaks the
contract to `rejects` with its 0-based row number and a reason. Input that cannot be used at
all (no firms table, a required column missing, a binary or empty file) raises SourceError with
a one-line reason.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from core.errors import InputError
from features.schemas import (
    FIRM_KEYED_TABLES,
    MENTION_COLUMNS,
    REJECTS_COLUMNS,
    REQUIRED_TABLES,
    SCHEMAS,
    credit_code_is_valid,
    pandas_dtype,
)

# File signatures of formats that are sometimes renamed to .csv by mistake.
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook (.xlsx) or other ZIP file",
    b"\xd0\xcf\x11\xe0": "an Excel 97-2003 workbook (.xls)",
    b"PAR1": "a Parquet file",
    b"\x1f\x8b": "a gzip archive",
    b"\xff\xfe": "UTF-16 text",
    b"\xfe\xff": "UTF-16 text",
}
_DELIMITERS = (",", ";", "\t", "|")
_BOOLEAN_SPELLINGS = {"true": True, "1": True, "是": True, "false": False, "0": False, "否": False}
_SAMPLE_VALUE_LENGTH = 80
TABLES_AT_ONCE = 2  # tables read and validated at once: two cores busy, two tables in memory


class SourceError(InputError):
    """Input that cannot be used at all; the message is one line for the person who sent it."""


@dataclass(frozen=True)
class SourceData:
    """Validated source tables. Only tables present in the data directory are in `tables`.

    Column dtypes: text `str` (missing = NA), dates `datetime64[us]` (NaT), integers `Int64`,
    amounts/ratios `float64`, booleans `boolean`; credit codes upper-case, half-width, valid.
    Each table's index is the 0-based data-row number in its source file(s), so a refused row
    leaves a gap and every later stage can still cite the row an official can find in the file.
    `rejects` has columns table, row, column, reason, value, action (`row_refused` or
    `value_ignored`). `refused` keeps who each refused row names (REFUSED_COLUMNS: table, row,
    column, credit_code, raw_name), so a verdict never rests on a row it could not use.
    """

    tables: Mapping[str, pd.DataFrame]
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECTS_COLUMNS))
    coverage: pd.DataFrame = field(default_factory=pd.DataFrame)
    refused: pd.DataFrame = field(default_factory=lambda: _refused_frame([]))

    def has(self, table: str) -> bool:
        return table in self.tables

    def get(self, table: str) -> pd.DataFrame | None:
        return self.tables.get(table)


def load_sources(data_dir: Path | str) -> SourceData:
    """Load and validate every contract table found in `data_dir`."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise SourceError(f"data directory not found: {data_dir}")
    tables: dict[str, pd.DataFrame] = {}
    rejects: list[pd.DataFrame] = []
    refused: list[pd.DataFrame] = []
    coverage: list[dict[str, object]] = []
    files_of = {table: _table_files(data_dir, table) for table in SCHEMAS}
    for table, files in files_of.items():
        if not files and table in REQUIRED_TABLES:
            raise SourceError(f"no {table} table in {data_dir} (expected {table}.csv)")
    present = [table for table, files in files_of.items() if files]
    # Tables are independent: two at a time keep both cores busy (Arrow's CSV reader and the
    # string kernels run outside the GIL) at the memory of two tables; results in table order.
    with ThreadPoolExecutor(max_workers=TABLES_AT_ONCE) as pool:
        loaded = dict(
            zip(present, pool.map(lambda t: _load_table(t, files_of[t]), present), strict=True)
        )
    for table, files in files_of.items():
        if table not in loaded:
            coverage.append(_coverage_row(table, [], 0, "missing"))
            continue
        typed, table_rejects, table_refused, rows_read = loaded.pop(table)
        tables[table] = typed
        rejects.append(table_rejects)
        refused.append(table_refused)
        coverage.append(_coverage_row(table, files, rows_read, "ok"))
    before_orphans = tables
    tables, orphan_rejects = _refuse_orphans(tables)
    rejects.append(orphan_rejects)
    for table in orphan_rejects["table"].unique():
        refused.append(_refused_identities(table, before_orphans[table], orphan_rejects))
    firms = tables["firms"]
    if firms.empty:
        raise SourceError(f"firms table in {data_dir} has no usable rows")
    all_rejects = _concat_rejects(rejects)
    refused_rows = (
        all_rejects[all_rejects["action"] == "row_refused"].groupby("table")["row"].nunique()
    )
    coverage_frame = pd.DataFrame(coverage)
    coverage_frame["rows_refused"] = (
        coverage_frame["table"].map(refused_rows).fillna(0).astype("int64")
    )
    coverage_frame["rows_used"] = (
        coverage_frame["table"]
        .map({name: len(frame) for name, frame in tables.items()})
        .fillna(0)
        .astype("int64")
    )
    return SourceData(
        tables=tables, rejects=all_rejects, coverage=coverage_frame, refused=_refused_frame(refused)
    )


def _load_table(
    table: str, files: list[Path]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """One table read from its files and validated: (valid rows, rejects, refused identities,
    rows read)."""
    raw = pd.concat([_read_raw(path) for path in files], ignore_index=True)
    typed, rejects = validate_table(table, raw)
    return typed, rejects, _refused_identities(table, raw, rejects), len(raw)


REFUSED_COLUMNS = ["table", "row", "column", "credit_code", "raw_name", "year", "on", "kind"]
# What a refused row's content can still tell, where its raw value parses: the year or date it
# concerns and its kind (title, event type). The criteria doubt only the verdicts whose windows
# and kinds such a row could fall in (models/criteria/doubts.py); an unparsed value doubts all.
REFUSED_CONTENT: dict[str, dict[str, str]] = {
    "financials": {"year": "fiscal_year"},
    "evaluation_scores": {"year": "year"},
    "awards": {"year": "year"},
    "talent": {"year": "year"},
    "supply_chain": {"year": "year"},
    "annual_updates": {"year": "year"},
    "applications": {"year": "year", "kind": "title"},
    "credit_events": {"on": "occurred_on", "kind": "event_type"},
    "certifications": {"kind": "title"},
    "investments": {"on": "paid_in_on"},
    "rd_institutions": {"on": "recognized_on"},
    "ip_rights": {"on": "granted_on"},
    "major_changes": {"on": "occurred_on"},
    "name_history": {"on": "changed_on"},
}


def _refused_identities(table: str, cells: pd.DataFrame, rejects: pd.DataFrame) -> pd.DataFrame:
    """Who the refused rows of `table` name: their firm code (when it is a valid code) and, for
    name-bearing columns, the raw name the matcher can link. `cells` is indexed by row number."""
    rows = rejects.loc[
        (rejects["table"] == table) & (rejects["action"] == "row_refused"), "row"
    ].unique()
    columns: list[tuple[str, str | None]] = []
    if table in FIRM_KEYED_TABLES:
        columns.append(("credit_code", None))
    columns += [(code, name) for name, code in MENTION_COLUMNS.get(table, ())]
    frames = []
    for code_column, name_column in columns:
        if not len(rows) or (name_column or code_column) not in cells:
            continue
        picked = cells.reindex(pd.Index(rows.astype("int64")))

        def text(column: str, picked: pd.DataFrame = picked) -> pd.Series:
            if column not in picked:
                return pd.Series(pd.NA, index=picked.index, dtype="str")
            values = picked[column].astype("str").str.strip()
            return values.where(
                ~values.str.contains("\x00", regex=False, na=False) & (values != "")
            )

        codes = text(code_column).str.normalize("NFKC").str.upper()
        codes = codes.where(credit_code_is_valid(codes.fillna("")))
        content = REFUSED_CONTENT.get(table, {})
        frames.append(
            pd.DataFrame(
                {
                    "table": table,
                    "row": picked.index.to_numpy(dtype="int64"),
                    "column": name_column or code_column,
                    "credit_code": codes.to_numpy(),
                    "raw_name": (
                        text(name_column) if name_column else pd.Series(pd.NA, index=picked.index)
                    ).to_numpy(),
                    "year": _parsed_year(picked, content.get("year")).to_numpy(),
                    "on": _parsed_day(picked, content.get("on")).to_numpy(),
                    "kind": (
                        text(content["kind"]).str.strip()
                        if "kind" in content
                        else pd.Series(pd.NA, index=picked.index)
                    ).to_numpy(),
                }
            )
        )
    return _refused_frame(frames)


def _parsed_year(cells: pd.DataFrame, column: str | None) -> pd.Series:
    """A refused row's year cell as an integer where it parses (NA otherwise)."""
    if column is None or column not in cells:
        return pd.Series(pd.NA, index=cells.index, dtype="Int64")
    text = cells[column].astype("str").str.normalize("NFKC").str.strip()
    number = pd.to_numeric(text, errors="coerce")
    whole = number.notna() & (number == number.round())
    return number.where(whole).astype("Int64")


def _parsed_day(cells: pd.DataFrame, column: str | None) -> pd.Series:
    """A refused row's date cell where it parses as YYYY-MM-DD (NaT otherwise)."""
    if column is None or column not in cells:
        return pd.Series(pd.NaT, index=cells.index, dtype="datetime64[us]")
    values = cells[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[us]")
    text = values.astype("str").str.normalize("NFKC").str.strip()
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype("datetime64[us]")


def _refused_frame(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    parts = [frame for frame in frames if len(frame)]
    if not parts:
        frame = pd.DataFrame({c: pd.Series(dtype="str") for c in REFUSED_COLUMNS})
        return frame.astype({"row": "int64", "year": "Int64", "on": "datetime64[us]"})
    frame = pd.concat(parts, ignore_index=True)[REFUSED_COLUMNS]
    for column in ("table", "column", "credit_code", "raw_name", "kind"):
        frame[column] = frame[column].astype("str")
    frame = frame.astype({"row": "int64", "year": "Int64", "on": "datetime64[us]"})
    return frame.sort_values(["table", "row", "column"], kind="stable").reset_index(drop=True)


def validate_table(table: str, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Type and validate one table of string cells; returns (valid rows, rejects)."""
    schema = SCHEMAS[table]
    raw.columns = [str(column).strip() for column in raw.columns]
    _check_columns(table, list(raw.columns))
    contract_columns = [name for name in schema.columns if name in raw]
    raw = raw[contract_columns].reset_index(drop=True)
    typed = pd.DataFrame(index=raw.index)
    problems: list[pd.DataFrame] = []
    for name in contract_columns:
        column = schema.columns[name]
        values, bad, reason = _coerce(raw[name], column.metadata["kind"])
        typed[name] = values.astype(pandas_dtype(column))
        if bad.any():
            problems.append(_problem_rows(table, name, raw.loc[bad, name], reason))
    problems.append(_ignore_invalid_mention_codes(table, schema, typed, raw))
    refused = _refused_rows(problems)
    candidates = typed.loc[~typed.index.isin(refused)]
    problems.append(_schema_failures(table, schema, candidates, raw))
    refused = _refused_rows(problems)
    valid = typed.loc[~typed.index.isin(refused)]
    valid.index.name = "row"
    return valid, _concat_rejects(problems)


def _table_files(data_dir: Path, table: str) -> list[Path]:
    candidates = [data_dir / f"{table}.csv", data_dir / f"{table}.parquet"]
    present = [path for path in candidates if path.is_file()]
    folder = data_dir / table
    if folder.is_dir():
        present.append(folder)
    if len(present) > 1:
        names = ", ".join(path.name for path in present)
        raise SourceError(f"{table}: more than one source ({names}); keep exactly one")
    if not present:
        return []
    if present[0].is_dir():
        parts = sorted(folder.glob("*.csv"))
        if not parts:
            raise SourceError(f"{table}: folder {folder} holds no .csv files")
        return parts
    return present


def _read_raw(path: Path) -> pd.DataFrame:
    """Read one file into a frame of string cells (NA for empty), without interpreting values."""
    if path.suffix == ".parquet":
        return _read_parquet(path)
    return _read_csv(path)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise SourceError(f"{path.name}: not a readable Parquet file ({exc})") from exc
    cells = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            text = series.dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(series):
            text = series.map({True: "true", False: "false"})
        else:
            text = series.map(lambda v: v if isinstance(v, str) else _parquet_cell(v))
        cells[str(name)] = text.astype("str")
    return cells


def _parquet_cell(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]  # type: ignore[attr-defined]
    return str(value)


def preflight(data_dir: Path | str) -> None:
    """Cheap file-level checks (presence, format, encoding, header) before a long run."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise SourceError(f"data directory not found: {data_dir}")
    for table in SCHEMAS:
        files = _table_files(data_dir, table)
        if not files and table in REQUIRED_TABLES:
            raise SourceError(f"no {table} table in {data_dir} (expected {table}.csv)")
        for path in files:
            if path.suffix == ".parquet":
                try:
                    columns = list(pq.read_schema(path).names)
                except Exception as exc:
                    raise SourceError(f"{path.name}: not a readable Parquet file ({exc})") from exc
            else:
                with path.open("rb") as handle:
                    head = handle.read(1 << 16)
                _check_text_file(head, path)
                cut = head.rfind(b"\n")
                text = _decode(head[: cut if cut > 0 else len(head)], path)
                header_line = text.split("\n", 1)[0]
                delimiter = max(_DELIMITERS, key=header_line.count)
                columns = next(csv.reader([header_line], delimiter=delimiter), [])
            _check_columns(table, [c.strip() for c in columns])


def _check_columns(table: str, columns: list[str]) -> None:
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise SourceError(f"{table}: column {duplicated[0]!r} appears twice in the header")
    schema = SCHEMAS[table]
    missing = [n for n, column in schema.columns.items() if column.required and n not in columns]
    if missing:
        raise SourceError(f"{table}: required column {missing[0]!r} is missing")


def _check_text_file(data: bytes, path: Path) -> None:
    if not data.strip():
        raise SourceError(f"{path.name}: file is empty (not even a header row)")
    for signature, what in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise SourceError(f"{path.name}: this is {what}, not CSV; export it as UTF-8 CSV")
    if data[:4096].count(b"\x00") > 4:
        raise SourceError(f"{path.name}: binary content, not CSV text")


def _read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    _check_text_file(data, path)
    text = _decode(data, path)
    header_line = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=header_line.count)
    header = next(csv.reader([header_line.rstrip("\r")], delimiter=delimiter), [])
    try:
        frame = _parse_with_arrow(text.encode("utf-8"), header, delimiter)
    except pa_arrow.ArrowInvalid:
        # Arrow refuses a row with the wrong number of fields; the slower reader keeps its place.
        frame = _parse_row_by_row(text, delimiter)
    return frame.replace("", pd.NA) if len(frame) else frame


def _parse_with_arrow(data: bytes, header: list[str], delimiter: str) -> pd.DataFrame:
    """Every cell as text, multi-threaded; raises ArrowInvalid on a row of the wrong width."""
    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa_arrow.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    frame = table.to_pandas()
    frame.columns = [name.strip() for name in header]
    return frame.astype("str")


def _parse_row_by_row(text: str, delimiter: str) -> pd.DataFrame:
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    header = [cell.strip() for cell in rows[0]]
    body = rows[1:]
    width = len(header)
    for i, row in enumerate(body):
        if len(row) != width:
            # A row that cannot be aligned to the header keeps its position (so row numbers
            # stay true) with every cell marked by a sentinel reason.
            body[i] = [_FIELD_COUNT_MARK + str(len(row))] * width
    return pd.DataFrame(body, columns=header, dtype="str")


_FIELD_COUNT_MARK = "\x00fields:"


def _decode(data: bytes, path: Path) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path.name}: neither UTF-8 nor GB18030/GBK text (byte {exc.start}); "
            "re-export as UTF-8 CSV"
        ) from exc


def _coerce(raw: pd.Series, kind: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Convert string cells to the kind's type; returns (values, bad mask, reason per row)."""
    text = raw.astype("str")
    stripped = text.str.strip()
    present = text.notna() & (stripped != "")
    text, stripped = text.where(present), stripped.where(present)
    reason = pd.Series("", index=raw.index, dtype="str")
    if _may_hold_nul(text):  # a byte search first: the cell checks only where one is
        field_count = text.str.startswith(_FIELD_COUNT_MARK, na=False)
        nul = text.str.contains("\x00", regex=False, na=False) & ~field_count
    else:
        field_count = nul = pd.Series(False, index=raw.index)
    values: pd.Series
    if kind in ("text", "name"):
        values = stripped
        bad = pd.Series(False, index=raw.index)
    elif kind == "code":
        # Full-width characters and lower case are formatting, not a different code: normalise
        # (ASCII text is its own NFKC form: only the other cells go through Python).
        values = stripped
        wide = ~values.str.isascii().fillna(True).astype(bool)
        if wide.any():
            values = values.mask(wide, values[wide].str.normalize("NFKC").str.strip())
        values = values.str.upper()
        bad = pd.Series(False, index=raw.index)
    elif kind == "enum":
        values = stripped.str.lower()
        bad = pd.Series(False, index=raw.index)
    elif kind in ("int", "float"):
        numbers = _numbers(stripped)
        finite = np.isfinite(numbers.astype("float64"))
        bad = present & ~finite
        reason[bad] = "not a number"
        if kind == "int":
            fractional = present & finite & (numbers % 1 != 0)
            reason[fractional] = "not a whole number"
            bad |= fractional
            values = numbers.where(~bad).astype("Float64").astype("Int64")
        else:
            values = numbers.where(~bad).astype("float64")
    elif kind == "date":
        values = pd.to_datetime(stripped, format="%Y-%m-%d", errors="coerce")
        bad = present & values.isna()
        iso_shaped = stripped.str.fullmatch(r"\d{4}-\d{2}-\d{2}", na=False)
        reason[bad & iso_shaped] = "impossible date"
        reason[bad & ~iso_shaped] = "unparseable date (expected YYYY-MM-DD)"
    elif kind == "bool":
        lowered = stripped.str.lower()
        values = lowered.map(_BOOLEAN_SPELLINGS).astype("boolean")
        bad = present & values.isna()
        reason[bad] = "not a boolean (true/false, 1/0, 是/否)"
    else:  # pragma: no cover - the schema module defines the kinds
        raise ValueError(f"unknown column kind {kind!r}")
    reason[nul] = "NUL byte in value"
    reason[field_count] = "wrong number of fields in this row"
    bad = (bad | nul | field_count).fillna(False).astype(bool)
    return values.where(~bad), bad, reason


def _may_hold_nul(text: pd.Series) -> bool:
    """Whether a NUL character may be in some cell of a text column: False only when the bytes
    of its Arrow buffers hold none (a text column of another storage: True)."""
    try:
        array = pa_arrow.array(text.array)
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowTypeError):
        return True
    chunks = array.chunks if isinstance(array, pa_arrow.ChunkedArray) else [array]
    for chunk in chunks:
        if not pa_arrow.types.is_string(chunk.type) and not pa_arrow.types.is_large_string(
            chunk.type
        ):
            return True
        data = chunk.buffers()[2]
        if data is not None and not np.frombuffer(data, dtype=np.uint8).all():
            return True
    return False


def _numbers(text: pd.Series) -> pd.Series:
    """Text cells as float64 numbers (NaN where missing or not a number): Arrow's parser when
    it reads every cell (twenty times faster at a million rows), else pandas', cell by cell.
    Where both read a cell they give the same number."""
    try:
        parsed = pa_arrow.array(text.array).cast(pa_arrow.float64())
    except (pa_arrow.ArrowInvalid, pa_arrow.ArrowNotImplementedError):
        return pd.to_numeric(text, errors="coerce").astype("float64")
    return pd.Series(parsed.to_numpy(zero_copy_only=False), index=text.index, dtype="float64")


def _problem_rows(table: str, column: str, values: pd.Series, reason: object) -> pd.DataFrame:
    reasons = reason[values.index] if isinstance(reason, pd.Series) else reason
    return pd.DataFrame(
        {
            "table": table,
            "row": values.index.to_numpy(),
            "column": column,
            "reason": reasons,
            "value": values.astype("str").str.slice(0, _SAMPLE_VALUE_LENGTH).to_numpy(),
            "action": "row_refused",
        }
    )


def _ignore_invalid_mention_codes(
    table: str, schema: pa.DataFrameSchema, typed: pd.DataFrame, raw: pd.DataFrame
) -> pd.DataFrame:
    """Blank optional credit codes beside names that fail their check; the name still links."""
    notes: list[pd.DataFrame] = []
    for name, column in schema.columns.items():
        if column.metadata.get("on_invalid") != "ignore" or name not in typed:
            continue
        codes = typed[name]
        check = column.checks[0]
        invalid = codes.notna() & ~check._check_fn(codes).astype(bool)
        if invalid.any():
            note = _problem_rows(
                table, name, raw.loc[invalid, name], "invalid credit code ignored; name is used"
            )
            note["action"] = "value_ignored"
            notes.append(note)
            typed.loc[invalid, name] = pd.NA
    return _concat_rejects(notes)


def _schema_failures(
    table: str, schema: pa.DataFrameSchema, typed: pd.DataFrame, raw: pd.DataFrame
) -> pd.DataFrame:
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()].copy()
        cases["row"] = cases["index"].astype("int64")
        cases["column"] = cases["column"].astype("str").fillna("")
        cases["reason"] = cases["check"].astype("str")
        key = list(schema.metadata["key"]) if schema.metadata else []
        duplicate = cases["reason"].str.contains("uniqueness", na=False)
        cases.loc[duplicate, "reason"] = (
            f"duplicate key ({', '.join(key)}): every row sharing it is refused"
        )
        cases.loc[duplicate, "column"] = ", ".join(key)
        # Row-level checks report every column of the row; name the one the reason is about.
        row_level = (cases["schema_context"] == "DataFrameSchema") & ~duplicate
        cases.loc[row_level, "column"] = cases.loc[row_level, "reason"].str.split().str[0]
        cases.loc[cases["reason"] == "not_nullable", "reason"] = "missing value"
        cases = cases.drop_duplicates(["row", "column", "reason"])
        values = [
            _cell_text(raw, row, key if column == ", ".join(key) else [column])
            for row, column in zip(cases["row"], cases["column"], strict=True)
        ]
        return pd.DataFrame(
            {
                "table": table,
                "row": cases["row"].to_numpy(),
                "column": cases["column"].to_numpy(),
                "reason": cases["reason"].to_numpy(),
                "value": values,
                "action": "row_refused",
            }
        )
    return _concat_rejects([])


def _cell_text(raw: pd.DataFrame, row: int, columns: list[str]) -> str | None:
    cells = [raw.at[row, column] for column in columns if column in raw.columns]
    text = "|".join("" if pd.isna(cell) else str(cell) for cell in cells)
    return text[:_SAMPLE_VALUE_LENGTH] or None


def _refuse_orphans(
    tables: dict[str, pd.DataFrame],
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Refuse rows that name a credit code the registry does not hold, or an unknown ip_id."""
    notes: list[pd.DataFrame] = []
    result = dict(tables)
    keyed = [table for table in FIRM_KEYED_TABLES if table in result]
    # every table's codes looked up at once: the registry's codes hashed once, not per table
    known = strings_isin([result[t]["credit_code"] for t in keyed], tables["firms"]["credit_code"])
    for table, member in zip(keyed, known, strict=True):
        result[table], note = _refuse_unknown(
            table, result[table], "credit_code", member, "credit_code not in the firms registry"
        )
        notes.append(note)
    if "ip_holders" in result and "ip_rights" in result:
        holders = result["ip_holders"]
        result["ip_holders"], note = _refuse_unknown(
            "ip_holders",
            holders,
            "ip_id",
            string_isin(holders["ip_id"], result["ip_rights"]["ip_id"]),
            "ip_id not in ip_rights",
        )
        notes.append(note)
    return result, _concat_rejects(notes)


def _refuse_unknown(
    table: str, frame: pd.DataFrame, column: str, member: np.ndarray, reason: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Row numbers in rejects refer to the file, so keep them through earlier refusals.
    unknown = pd.Series(~member, index=frame.index)
    if not unknown.any():
        return frame, _concat_rejects([])
    note = pd.DataFrame(
        {
            "table": table,
            "row": frame.index[unknown.to_numpy()],
            "column": column,
            "reason": reason,
            "value": frame.loc[unknown, column].astype("str").to_numpy(),
            "action": "row_refused",
        }
    )
    return frame.loc[~unknown], note


def string_isin(values: pd.Series, members: object) -> np.ndarray:
    """Membership of text values in a set of texts, vectorised in Arrow (NA is never a member).

    pandas' own `isin` on Arrow-backed strings iterates in Python: minutes at a million rows.
    """
    return strings_isin([values], members)[0]


def strings_isin(columns: list[pd.Series], members: object) -> list[np.ndarray]:
    """`string_isin` of each column, the members hashed once for them all."""
    return [found >= 0 for found in index_in_columns(columns, members)]


def index_in_columns(columns: list[pd.Series], members: object) -> list[np.ndarray]:
    """For each column, the position of each value among the distinct text `members` (-1 for
    none, and for NA): every column looked up at once, the members hashed once."""
    member_texts = arrow_text(pd.Series(members, dtype="str").dropna())
    if not member_texts.num_chunks or not columns:
        return [np.full(len(values), -1, dtype=np.int64) for values in columns]
    value_set = pa_arrow.concat_arrays(member_texts.chunks)
    chunks = [chunk for values in columns for chunk in arrow_text(values).chunks]
    texts = pa_arrow.chunked_array(chunks, pa_arrow.large_string())
    found = pc.fill_null(pc.index_in(texts, value_set=value_set), -1)
    positions = np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)
    ends = np.cumsum([len(values) for values in columns])
    return np.split(positions, ends[:-1])


def arrow_text(values: pd.Series) -> pa_arrow.ChunkedArray:
    """Text values as Arrow large strings: the Arrow data of a `str` column itself (no copy
    through Python objects); other columns converted to `str` first."""
    text = values if values.dtype == "str" else values.astype("str")
    arrow = pa_arrow.chunked_array(pa_arrow.array(text.array)) if len(text) else None
    if arrow is None:
        return pa_arrow.chunked_array([], type=pa_arrow.large_string())
    return arrow.cast(pa_arrow.large_string())


def _refused_rows(problems: Iterable[pd.DataFrame]) -> set[int]:
    refused: set[int] = set()
    for frame in problems:
        if len(frame):
            refused.update(frame.loc[frame["action"] == "row_refused", "row"].astype(int))
    return refused


def _concat_rejects(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    parts = [frame for frame in frames if len(frame)]
    if not parts:
        return pd.DataFrame(
            {
                "table": pd.Series(dtype="str"),
                "row": pd.Series(dtype="Int64"),
                "column": pd.Series(dtype="str"),
                "reason": pd.Series(dtype="str"),
                "value": pd.Series(dtype="str"),
                "action": pd.Series(dtype="str"),
            }
        )
    frame = pd.concat(parts, ignore_index=True)[REJECTS_COLUMNS]
    frame["row"] = frame["row"].astype("Int64")
    for column in ("table", "column", "reason", "value", "action"):
        frame[column] = frame[column].astype("str")
    return frame.sort_values(["table", "row", "column"], kind="stable").reset_index(drop=True)


def _coverage_row(table: str, files: list[Path], rows_read: int, status: str) -> dict[str, object]:
    return {
        "table": table,
        "status": status,
        "files": ";".join(path.name for path in files),
        "rows_read": rows_read,
    }


# Tables passed between stages of a run: Arrow IPC files, LZ4-compressed. Read back they are
# the frames Parquet gives (types, row numbers) at a fifth of the time to write and read.
SAVED_SUFFIX = ".arrow"
_SAVED_WRITE = pa_arrow.ipc.IpcWriteOptions(compression="lz4")


def save_sources(data: SourceData, directory: Path) -> None:
    """Write validated tables (types and row numbers kept) for the next stage."""
    directory.mkdir(parents=True, exist_ok=True)
    for table, frame in data.tables.items():
        save_table(frame, directory / f"{table}{SAVED_SUFFIX}")
    for name, frame in (("rejects", data.rejects), ("coverage", data.coverage)):
        save_table(frame, directory / f"_{name}{SAVED_SUFFIX}")
    save_table(data.refused, directory / f"_refused{SAVED_SUFFIX}")


def read_saved_sources(
    directory: Path, tables: Mapping[str, Sequence[str] | None] | None = None
) -> SourceData:
    """Read tables written by `save_sources` without validating them again: all of them, or
    those of `tables` that are there, each with the columns it names (None: all)."""
    read = {
        path.stem: read_saved_table(path, None if tables is None else tables[path.stem])
        for path in sorted(directory.glob(f"*{SAVED_SUFFIX}"))
        if not path.stem.startswith("_") and (tables is None or path.stem in tables)
    }
    refused = directory / f"_refused{SAVED_SUFFIX}"
    return SourceData(
        tables=read,
        rejects=read_saved_table(directory / f"_rejects{SAVED_SUFFIX}"),
        coverage=read_saved_table(directory / f"_coverage{SAVED_SUFFIX}"),
        refused=read_saved_table(refused) if refused.exists() else _refused_frame([]),
    )


def save_table(frame: pd.DataFrame, path: Path) -> None:
    """One frame for a later stage (read back by `read_saved_table`)."""
    table = pa_arrow.Table.from_pandas(frame)  # the index too, as pandas metadata
    with (
        pa_arrow.OSFile(str(path), "wb") as sink,
        pa_arrow.ipc.new_file(sink, table.schema, options=_SAVED_WRITE) as writer,
    ):
        writer.write_table(table)


def read_saved_table(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A table saved by `save_sources` with those of `columns` it has, in that order (None:
    all), its row numbers kept."""
    with pa_arrow.OSFile(str(path)) as source:
        schema = pa_arrow.ipc.open_file(source).schema
        included = None
        if columns is not None:
            index = (schema.pandas_metadata or {}).get("index_columns", [])
            wanted = [*columns, *(c for c in index if isinstance(c, str))]
            included = [schema.get_field_index(c) for c in wanted if c in schema.names]
        options = pa_arrow.ipc.IpcReadOptions(included_fields=included)
        table = pa_arrow.ipc.open_file(source, options=options).read_all()
    if columns is not None:  # in the order asked for, as Parquet's reader gives them
        table = table.select([c for c in wanted if c in table.column_names])
    return table.to_pandas()


def pass_on_saved_sources(saved: Path, directory: Path) -> None:
    """The tables saved in `saved` that `directory` (saved by a later stage) lacks, passed on
    as they are: hard links, copies where the file system has none."""
    for path in sorted(saved.glob(f"*{SAVED_SUFFIX}")):
        target = directory / path.name
        if target.exists():
            continue
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)


def subset_sources(
    data: SourceData,
    concerns: Callable[[str, str], np.ndarray],
    rights_of: pd.DataFrame | None = None,
) -> SourceData:
    """The rows that concern some firms: `concerns(table, column)` says, row by row, whether
    the credit code in that column is one of theirs (mentions by their attributed codes).

    Reference tables (chain_nodes) are kept whole; ip_rights keeps the rights those firms hold,
    and those the holder rows `rights_of` name (mentions pending review).
    """
    tables: dict[str, pd.DataFrame] = {}
    for table, frame in data.tables.items():
        if table == "firms" or table in FIRM_KEYED_TABLES:
            tables[table] = frame[concerns(table, "credit_code")]
        elif table in MENTION_COLUMNS:
            keep = np.zeros(len(frame), dtype=bool)
            for _, code_column in MENTION_COLUMNS[table]:
                if code_column in frame:
                    keep |= concerns(table, code_column)
            tables[table] = frame[keep]
        else:
            tables[table] = frame
    if "ip_rights" in tables and "ip_holders" in tables:
        rights = tables["ip_rights"]
        held = tables["ip_holders"]["ip_id"]
        if rights_of is not None:
            held = pd.concat([held, rights_of["ip_id"]])
        tables["ip_rights"] = rights[string_isin(rights["ip_id"], held)]
    return SourceData(
        tables=tables, rejects=data.rejects, coverage=data.coverage, refused=data.refused
    )
