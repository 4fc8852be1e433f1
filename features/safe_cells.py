"""One text sanitiser for every file the project writes (CSV and Excel): control characters
removed (Excel refuses them and aborts the whole file — one ESC byte in a patent title would
stop the weekly run), and a cell that a spreadsheet would read as a formula kept as text by a
leading ' (OWASP CSV injection). Text stays text; numbers and dates are left alone.
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # tab and line feed kept


def safe_text(value: str) -> str:
    """Text without control characters (tab and line feed kept; a lone CR would split a CSV
    row, since the files end lines with LF)."""
    return _CONTROL.sub("", value)


def safe_cell(value: str) -> str:
    """`safe_text`, and a leading ' where a spreadsheet would read a formula."""
    value = safe_text(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell through `safe_cell` (and text column names through `safe_text`)."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        text = values.map(lambda v: safe_cell(v) if isinstance(v, str) else v)
        safe[column] = text.astype(values.dtype) if values.dtype != object else text
    safe.columns = [safe_text(c) if isinstance(c, str) else c for c in safe.columns]
    return safe
