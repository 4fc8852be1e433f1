"""Officials' match decisions (issue 14): which firm a reviewed mention names, kept for good.

A mention is known by its *mention key*: the source table and a fingerprint of the row's name
and attributes (every column but the `*_credit_code` columns the matcher fills), never its row
number, so a re-exported or re-ordered file keeps its decisions. A decision names a credit code
or `none` (no registry firm), so a later rename of the firm changes nothing (Article 19).

Storage: one SQLite file under ZJTX_HOME (`matching/decisions.sqlite`), append-only. SQLite
rather than a CSV because the service and `zjtx match-review import` may write at the same time:
a transaction makes each batch all-or-nothing and serialises writers, and the current decision
per mention is an indexed query. Nothing is overwritten: a new decision for the same mention is a
new row and the latest one counts, so the file is also the decisions' history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from features.schemas import MENTION_COLUMNS
from features.sources import SourceData
from zjtx.settings import Settings

NO_FIRM: Final = "none"  # the decision "none of these": the mention names no registry firm
DECISION_COLUMNS: Final = (
    "mention_key",
    "source",
    "column",
    "raw_name",
    "credit_code",
    "decided_by",
    "decided_at",
    "note",
    "channel",
)
_KEY_CHARS = 24  # hex characters of SHA-256 kept: 96 bits, no collision in any realistic data


def default_decisions_file() -> Path:
    return Settings.from_env().home / "matching" / "decisions.sqlite"


# ---------------------------------------------------------------------------------------------
# Mention keys and context


def _code_columns(table: str) -> set[str]:
    return {code for _, code in MENTION_COLUMNS.get(table, ())}


def _as_text(column: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return column.dt.strftime("%Y-%m-%d").astype("string").fillna("")
    return column.astype("string").fillna("").str.strip()


def mention_keys(data: SourceData, mentions: pd.DataFrame) -> pd.Series:
    """The mention key of each row of `mentions` (source, row, column, raw_name), same index.

    Fingerprint of: table, name column, the name as written, and the row's other columns
    (sorted by name, `*_credit_code` columns left out) — not the row number.
    """
    keys = pd.Series("", index=mentions.index, dtype="str")
    for table, part in mentions.groupby("source", sort=False):
        frame = data.get(str(table))
        if frame is None:
            continue
        attributes = sorted(c for c in frame.columns if c not in _code_columns(str(table)))
        rows = _rows(frame, part["row"], attributes)
        texts = {c: _as_text(rows[c]).to_numpy() for c in attributes}
        columns = part["column"].astype("str").to_numpy()
        names = part["raw_name"].astype("str").fillna("").str.strip().to_numpy()
        values = []
        for i in range(len(part)):
            fields = [str(table), str(columns[i]), str(names[i])]
            fields += [f"{c}={texts[c][i]}" for c in attributes]
            digest = hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()
            values.append(f"{table}:{digest[:_KEY_CHARS]}")
        keys.loc[part.index] = values
    return keys


def _rows(frame: pd.DataFrame, rows: pd.Series, columns: list[str]) -> pd.DataFrame:
    """The mention rows of `frame` (its index is the data-row number, see collect_mentions)."""
    if pd.api.types.is_integer_dtype(frame.index.dtype):
        return frame.loc[rows.to_numpy(), columns]
    return frame.iloc[rows.to_numpy()][columns]


def mention_context(data: SourceData, mentions: pd.DataFrame) -> pd.Series:
    """What the row says besides the name, for a person: patent title, award, investor, …"""
    context = pd.Series("", index=mentions.index, dtype="str")
    titles = None
    rights = data.get("ip_rights")
    if rights is not None and {"ip_id", "title"} <= set(rights.columns):
        titles = rights.drop_duplicates("ip_id").set_index("ip_id")["title"]
    for (table, column), part in mentions.groupby(["source", "column"], sort=False):
        frame = data.get(str(table))
        if frame is None:
            continue
        shown = [c for c in frame.columns if c != column and c not in _code_columns(str(table))]
        rows = _rows(frame, part["row"], shown)
        texts = {c: _as_text(rows[c]).to_numpy() for c in shown}
        title = (
            rows["ip_id"].map(titles).astype("string").fillna("").to_numpy()
            if titles is not None and "ip_id" in rows.columns
            else None
        )
        values = []
        for i in range(len(part)):
            pieces = [f"title: {title[i]}"] if title is not None and title[i] else []
            pieces += [f"{c}: {texts[c][i]}" for c in shown if texts[c][i]]
            values.append("；".join(pieces))
        context.loc[part.index] = values
    return context


# ---------------------------------------------------------------------------------------------
# The store


@dataclass(frozen=True)
class Decision:
    """One official's decision on one mention."""

    mention_key: str
    source: str
    column: str
    raw_name: str
    credit_code: str  # a registry firm's code, or NO_FIRM
    decided_by: str
    note: str = ""
    channel: str = "service"  # `service` (review page) or `import` (filled match_review file)
    decided_at: str = ""  # ISO time, UTC; filled when recorded


_SCHEMA = """
create table if not exists decisions (
    id integer primary key autoincrement,
    mention_key text not null,
    source text not null,
    "column" text not null,
    raw_name text not null,
    credit_code text not null,
    decided_by text not null,
    decided_at text not null,
    note text not null default '',
    channel text not null
);
create index if not exists decisions_by_key on decisions (mention_key, id);
"""


class DecisionStore:
    """Append-only SQLite file of decisions; the latest decision per mention key counts."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_decisions_file()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        connection.executescript(_SCHEMA)
        return connection

    def record(self, decisions: Iterable[Decision]) -> list[Decision]:
        """Append the decisions in one transaction (all or none); returns them with their time."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        stamped = [Decision(**{**d.__dict__, "decided_at": d.decided_at or now}) for d in decisions]
        connection = self._connect()
        try:
            with connection:
                connection.executemany(
                    'insert into decisions (mention_key, source, "column", raw_name, '
                    "credit_code, decided_by, decided_at, note, channel) "
                    "values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [tuple(getattr(d, c) for c in DECISION_COLUMNS) for d in stamped],
                )
        finally:
            connection.close()
        return stamped

    def _frame(self, query: str) -> pd.DataFrame:
        if not self.path.exists():
            return pd.DataFrame({c: pd.Series(dtype="str") for c in DECISION_COLUMNS})
        connection = self._connect()
        try:
            rows = connection.execute(query).fetchall()
        finally:
            connection.close()
        frame = pd.DataFrame(rows, columns=list(DECISION_COLUMNS))
        return frame.astype(dict.fromkeys(DECISION_COLUMNS, "str"))

    def current(self) -> pd.DataFrame:
        """The decision in force for each decided mention (the latest one), `DECISION_COLUMNS`."""
        columns = ", ".join(f'"{c}"' for c in DECISION_COLUMNS)
        return self._frame(
            f"select {columns} from decisions where id in "
            "(select max(id) from decisions group by mention_key) order by id"
        )

    def history(self) -> pd.DataFrame:
        """Every decision ever recorded, oldest first."""
        columns = ", ".join(f'"{c}"' for c in DECISION_COLUMNS)
        return self._frame(f"select {columns} from decisions order by id")


def audit_entry(decision: Decision, who: object, where: str) -> dict[str, object]:
    """One line of the service's audit log (Article 28) for a recorded decision."""
    return {
        "time": decision.decided_at,
        "who": who,
        "method": "DECISION",
        "path": where,
        "event": "match_decision",
        "channel": decision.channel,
        "mention_key": decision.mention_key,
        "source": decision.source,
        "raw_name": decision.raw_name,
        "firm": None if decision.credit_code == NO_FIRM else decision.credit_code,
        "decision": decision.credit_code,
        "note": decision.note,
    }


def load_decisions(path: Path | None = None) -> pd.DataFrame:
    """The decisions in force under ZJTX_HOME (empty when none were ever made)."""
    return DecisionStore(path).current()
