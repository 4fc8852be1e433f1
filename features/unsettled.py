"""What the data cannot settle about a firm: refused rows that name it, mentions pending review.

The criteria engine (models/criteria/doubts.py) never lets a verdict rest on the absence of
such a row: it turns the verdicts they could change into `unknown`, naming the row.
- `refused_by_firm`: refused rows attributed to registry firms — by the valid credit code the
  row carries, or by its raw name when the matcher links that name (ambiguous names count for
  every candidate, as a pending mention does).
- `pending_mentions`: rows of mentions in the review queue, copied once per candidate firm with
  the candidate's code in the attributing column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.match_config import LINKED_METHODS, MatchingConfig
from features.match_registry import Registry
from features.match_resolution import resolve_names
from features.schemas import MENTION_COLUMNS
from features.sources import SourceData, string_isin

REFUSED_BY_FIRM_COLUMNS = ["credit_code", "table", "row", "reason", "year", "on", "kind"]
PENDING_COLUMN = "pending_mention"  # models/criteria/doubts.py reads this description
CANDIDATE_SEPARATOR = "|"  # features.matching: candidate_codes are "|"-joined


def _named_refused(refused: pd.DataFrame) -> pd.DataFrame:
    """Refused rows without a code that still name a firm: their names are resolved."""
    has_code = refused["credit_code"].notna().to_numpy()
    return refused[~has_code & refused["raw_name"].notna().to_numpy()]


def refused_names(data: SourceData) -> pd.Series:
    """The names of the refused rows that `refused_by_firm` resolves (`resolve_names`)."""
    refused = data.refused
    if refused.empty:
        return pd.Series(dtype="str")
    return _named_refused(refused)["raw_name"]


def refused_by_firm(
    data: SourceData,
    config: MatchingConfig | None = None,
    registry: Registry | None = None,
    resolved: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Refused rows that name a registry firm: credit_code, table, row, reason (their rejects
    entries joined). A valid code outside the registry names no registry firm (NIL).
    `registry`: `Registry.from_sources(data)`, when the caller already has it; `resolved`:
    `resolve_names(refused_names(data))` when the names were resolved elsewhere
    (features.match_partitions)."""
    refused = data.refused
    empty = pd.DataFrame({c: pd.Series(dtype="str") for c in REFUSED_BY_FIRM_COLUMNS})
    if refused.empty:
        return empty.astype({"row": "int64", "year": "Int64", "on": "datetime64[us]"})
    registry_codes = data.tables["firms"]["credit_code"]
    has_code = refused["credit_code"].notna().to_numpy()
    by_code = refused[has_code & string_isin(refused["credit_code"], registry_codes)]
    named = _named_refused(refused)
    parts = [by_code[["table", "row", "credit_code"]]]
    if len(named):
        if resolved is None:
            registry = Registry.from_sources(data) if registry is None else registry
            resolved = resolve_names(named["raw_name"], registry, config)
        looked_up = resolved.set_index("raw_name").reindex(named["raw_name"])
        linked = looked_up["method"].isin(LINKED_METHODS).to_numpy()
        parts.append(
            named.loc[linked, ["table", "row"]].assign(
                credit_code=looked_up["credit_code"].to_numpy()[linked]
            )
        )
        review = (looked_up["method"] == "review").to_numpy()
        candidates = named.loc[review, ["table", "row"]].assign(
            credit_code=looked_up["candidate_codes"].to_numpy()[review]
        )
        candidates["credit_code"] = candidates["credit_code"].str.split(CANDIDATE_SEPARATOR)
        parts.append(candidates.explode("credit_code"))
    attributed = pd.concat(parts, ignore_index=True).dropna(subset=["credit_code"])
    attributed = attributed.drop_duplicates()
    rejects = data.rejects[data.rejects["action"] == "row_refused"]
    reasons = (
        (rejects["column"].astype("str") + ": " + rejects["reason"].astype("str"))
        .groupby([rejects["table"], rejects["row"].astype("int64")])
        .agg(lambda texts: "；".join(dict.fromkeys(texts)))
        .rename("reason")
        .reset_index()
    )
    out = attributed.astype({"row": "int64"}).merge(reasons, on=["table", "row"], how="left")
    out["reason"] = out["reason"].fillna("refused")
    # what the row's content still tells (features.sources.REFUSED_CONTENT), once per row
    content = refused[["table", "row", "year", "on", "kind"]].drop_duplicates(["table", "row"])
    out = out.merge(content.astype({"row": "int64"}), on=["table", "row"], how="left")
    out = out[REFUSED_BY_FIRM_COLUMNS].astype({"credit_code": "str", "table": "str"})
    return out.sort_values(["credit_code", "table", "row"]).reset_index(drop=True)


def pending_mentions(data: SourceData, queue: pd.DataFrame) -> SourceData:
    """The review queue's mention rows, one copy per candidate firm with its code filled in.

    `queue` is features.matching.review_queue(links) (source, row, column, raw_name,
    candidate_codes). Rows no longer in `data` (e.g. dated after as_of) are left out.
    """
    tables: dict[str, pd.DataFrame] = {}
    for table, pairs in MENTION_COLUMNS.items():
        frame = data.get(table)
        if frame is None or queue.empty:
            continue
        copies = []
        for name_column, code_column in pairs:
            these = queue[(queue["source"] == table) & (queue["column"] == name_column)]
            these = these[these["candidate_codes"].notna()]
            rows = these["row"].astype("int64").to_numpy()
            present = np.isin(rows, frame.index.to_numpy())
            these = these[present]
            if these.empty:
                continue
            candidates = these["candidate_codes"].astype("str").str.split(CANDIDATE_SEPARATOR)
            expanded = these.assign(candidate=candidates).explode("candidate")
            copy = frame.loc[expanded["row"].astype("int64").to_numpy()].copy()
            copy[code_column] = pd.array(expanded["candidate"].to_numpy(), dtype="str")
            copy[PENDING_COLUMN] = pd.array(
                [
                    f"第{row}行 {column}「{name}」"  # models.criteria.doubts names the table
                    for row, column, name in zip(
                        expanded["row"], expanded["column"], expanded["raw_name"], strict=True
                    )
                ],
                dtype="str",
            )
            copies.append(copy)
        if copies:
            tables[table] = pd.concat(copies)
    return SourceData(tables=tables, rejects=data.rejects, coverage=data.coverage)
