"""The row index beside each list the service pages through (index/<the list's path>.parquet):
the columns it filters, sorts and finds firms by, and where each row's record lies in the CSV.
A page then reads its rows' bytes from the CSV; nothing else of the list is held in memory.
Written with the run (flows/publication), read by the service, built the same way by both.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.run_layout import LIST_COLUMNS, SCORE_COLUMNS

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
