"""Deterministic CSV output: sorted rows, fixed number formats, true/false, ISO dates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SORT_KEYS = {
    "firms": ["credit_code"],
    "name_history": ["credit_code", "changed_on", "former_name"],
    "financials": ["credit_code", "fiscal_year"],
    "ip_rights": ["ip_id"],
    "ip_holders": ["ip_id", "holder_rank"],
    "investments": ["paid_in_on", "investee_name", "investor_name", "paid_in_amount"],
    "awards": ["year", "award_name", "unit_rank", "unit_name"],
    "rd_institutions": ["recognized_on", "unit_name", "institution_name"],
    "talent": ["year", "programme", "unit_name"],
    "supply_chain": ["chain", "node", "year", "supplier_name", "customer_name"],
    "chain_nodes": ["chain", "node"],
    "products": ["credit_code", "product_name"],
    "certifications": ["credit_code", "certified_on", "title"],
    "credit_events": ["credit_code", "occurred_on", "event_type"],
    "evaluation_scores": ["credit_code", "year"],
    "applications": ["credit_code", "year", "title"],
}
DECIMALS = {"products": 4, "evaluation_scores": 1}  # others: yuan, two decimals
TRUTH_PREFIX = "_truth_"


def fixed_decimals(values: np.ndarray, decimals: int) -> np.ndarray:
    """Floats as fixed-point text with `decimals` places (vectorised), empty when NaN."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:  # an empty table (e.g. no application round, no score published)
        return np.array([], dtype=object)
    missing = np.isnan(values)
    scale = 10**decimals
    scaled = np.rint(np.where(missing, 0.0, values) * scale).astype(np.int64)
    negative = scaled < 0
    magnitude = np.abs(scaled)
    whole = (magnitude // scale).astype(str)
    text = np.strings.add(np.where(negative, "-", ""), whole)
    if decimals:
        fraction = np.strings.zfill((magnitude % scale).astype(str), decimals)
        text = np.strings.add(np.strings.add(text, "."), fraction)
    return np.where(missing, "", text).astype(object)


def _as_text(frame: pd.DataFrame, decimals: int = 2) -> pd.DataFrame:
    """Dates as YYYY-MM-DD, booleans as true/false, numbers as fixed text; empty when missing."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_float_dtype(series):
            out[column] = fixed_decimals(
                series.to_numpy(dtype=np.float64, na_value=np.nan), decimals
            )
        elif str(series.dtype) == "Int64":
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            text = np.where(np.isnan(values), 0, values).astype(np.int64).astype(str).astype(object)
            text[np.isnan(values)] = ""
            out[column] = text
        elif pd.api.types.is_datetime64_any_dtype(series):
            values = series.to_numpy(dtype="datetime64[D]")
            text = np.datetime_as_string(values, unit="D").astype(object)
            text[np.isnat(values)] = ""
            out[column] = text
        elif pd.api.types.is_bool_dtype(series) or str(series.dtype) == "boolean":
            out[column] = (
                series.map({True: "true", False: "false"}).astype(object).where(series.notna(), "")
            )
    return out


def _csv_field(values: np.ndarray) -> list[str]:
    """Text cells, quoted only where needed (delimiter, quote or line break), RFC 4180 style."""
    cells = ["" if v is None or v is pd.NA or v != v else str(v) for v in values.tolist()]
    return [
        '"' + v.replace('"', '""') + '"' if ("," in v or '"' in v or "\n" in v or "\r" in v) else v
        for v in cells
    ]


def to_csv(frame: pd.DataFrame, path: Path, append: bool = False) -> None:
    """Write text cells as UTF-8 CSV with a header and \\n line ends; with `append`, add the
    rows to the file (no header: national runs write a province at a time)."""
    header = ",".join(_csv_field(np.array(frame.columns, dtype=object)))
    columns = [_csv_field(frame[c].to_numpy(dtype=object)) for c in frame.columns]
    with path.open("a" if append else "w", encoding="utf-8", newline="") as handle:
        if not append:
            handle.write(header + "\n")
        if len(frame):
            handle.write("\n".join(map(",".join, zip(*columns, strict=True))))
            handle.write("\n")


def sort_table(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    keys = [k for k in SORT_KEYS.get(table, []) if k in frame.columns]
    if not keys:
        return frame.reset_index(drop=True)
    return frame.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


def write_table(table: str, frame: pd.DataFrame, path: Path, append: bool = False) -> None:
    """Write one contract table (without the _truth_ columns)."""
    visible = frame[[c for c in frame.columns if not c.startswith(TRUTH_PREFIX)]]
    to_csv(_as_text(visible, DECIMALS.get(table, 2)), path, append)


def mention_truth(table: str, frame: pd.DataFrame, first_row: int = 0) -> pd.DataFrame:
    """truth/mentions.csv rows of one sorted table: source, row, column, credit_code, variant;
    rows count from `first_row` (the table's rows already written, in a national run)."""
    parts = []
    for column in frame.columns:
        if not column.startswith(TRUTH_PREFIX + "code:"):
            continue
        name_column = column.split(":", 1)[1]
        parts.append(
            pd.DataFrame(
                {
                    "source": table,
                    "row": np.arange(first_row, first_row + len(frame), dtype=np.int64),
                    "column": name_column,
                    "credit_code": frame[column].to_numpy(dtype=object),
                    "variant": frame[f"{TRUTH_PREFIX}variant:{name_column}"].to_numpy(dtype=object),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["source", "row", "column", "credit_code", "variant"])
    return pd.concat(parts, ignore_index=True).sort_values(["row", "column"], kind="stable")


def write_plain(frame: pd.DataFrame, path: Path, decimals: int = 4, append: bool = False) -> None:
    """Write a truth table (floats with `decimals` places)."""
    to_csv(_as_text(frame, decimals), path, append)
