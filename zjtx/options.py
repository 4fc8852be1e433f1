"""The command line's shared arguments: the data directory, the evaluation date, and the
table an --out option names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from core.console import fail

TABLE_SUFFIXES = (".csv", ".parquet")

DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        help="Data directory with one file per table (<table>.csv, <table>.parquet or "
        "<table>/*.csv), per the source contract.",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str,
    typer.Option(
        "--as-of",
        help="Evaluation date YYYY-MM-DD; 上年度 (fiscal year Y) is the calendar year before it.",
        show_default=False,
    ),
]


def parse_as_of(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"--as-of must be a date YYYY-MM-DD, got {value!r}") from None


def check_table_path(out: Path) -> None:
    if out.suffix.lower() not in TABLE_SUFFIXES:
        raise fail(f"--out {out}: the extension must be .csv or .parquet")


def write_table(frame: pd.DataFrame, out: Path) -> None:
    """Write a frame as CSV or Parquet by the file's extension."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        from features.safe_cells import safe_frame

        safe_frame(frame).to_csv(out, index=False)  # no control character, no live formula
