"""Officials' match decisions (issue 14): which firm a reviewed mention names, kept for good.

A mention is known by its *mention key*: the source table and a fingerprint of the row's name
and attributes (every column but the `*_credit_code` columns the matcher fills), never its row
number, so a re-exported or re-ordered file keeps its decisions. A decision names a credit code
or `none` (no registry firm), so a later rename of the firm changes nothing (Article 19).

Storage: one SQLite file under ZJTX_HOME (`matching/decisions.sqlite`, mode 0600), append-only.
SQLite rather than a CSV because the service and `zjtx match-review import` may write at the same
time: a transaction makes each batch all-or-nothing and serialises writers, and the current
decision per mention is an indexed query. Nothing is overwritten: a correction (issue 28) is a
new row — `supersede` names another firm, `undo` makes the mention pending again — and the
latest row counts, so the file is also the decisions' history. Each row keeps who decided (name,
token id or OS user), in which role and province, for which run.

A decision yields to a registered credit code the source later gives for the same row
(features.matching.link_mentions), since the key leaves the code columns out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import pandas as pd

from core.config import FrozenModel
from core.settings import Settings
from features.schemas import MENTION_COLUMNS
from features.sources import SourceData, SourceError, _read_csv, string_isin

NO_FIRM: Final = "none"  # the decision "none of these": the mention names no registry firm
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
    rights = data.get("ip_rights")
    if rights is None or not {"ip_id", "title"} <= set(rights.columns):
        rights = None
    for (table, column), part in mentions.groupby(["source", "column"], sort=False):
        frame = data.get(str(table))
        if frame is None:
            continue
        shown = [c for c in frame.columns if c != column and c not in _code_columns(str(table))]
        rows = _rows(frame, part["row"], shown)
        texts = {c: _as_text(rows[c]).to_numpy() for c in shown}
        title = (
            rows["ip_id"].map(_titles(rights, rows["ip_id"])).astype("string").fillna("").to_numpy()
            if rights is not None and "ip_id" in rows.columns
            else None
        )
        values = []
        for i in range(len(part)):
            pieces = [f"title: {title[i]}"] if title is not None and title[i] else []
            pieces += [f"{c}: {texts[c][i]}" for c in shown if texts[c][i]]
            values.append("；".join(pieces))
        context.loc[part.index] = values
    return context


def _titles(rights: pd.DataFrame, ip_ids: pd.Series) -> pd.Series:
    """The title of each IP right of `ip_ids` (its first row), by ip_id: the rights these
    mentions name rather than every right (issue 25)."""
    ip_id = rights["ip_id"]
    named = string_isin(ip_id, ip_ids.dropna().unique()) | ip_id.isna().to_numpy()
    return rights[named].drop_duplicates("ip_id").set_index("ip_id")["title"]


# ---------------------------------------------------------------------------------------------
# The store

ACTIONS: Final = ("decide", "supersede", "undo")
ROLES: Final = ("ministry", "province", "offline")


class DecisionStoreError(Exception):
    """The decisions store cannot be read or written (corrupt, locked, unwritable): one line."""


class DecisionConflict(DecisionStoreError):
    """A batch that the decisions in force do not allow; nothing of it was recorded."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        super().__init__(f"{len(reasons)} decision(s) refused: {reasons[0]}{more}")


@dataclass(frozen=True)
class Decision:
    """One official's decision on one mention: a firm, `none`, or an undo of the one in force."""

    mention_key: str
    source: str
    column: str
    raw_name: str
    credit_code: str  # a registry firm's code, or NO_FIRM ("" for an undo)
    decided_by: str  # the official's name as they gave it
    note: str = ""
    channel: str = "service"  # `service` (review page), `import` (filled sheet) or `undo`
    decided_at: str = ""  # ISO time, UTC; filled when recorded
    action: str = "decide"  # `decide`, `supersede` (replaces the one in force) or `undo`
    decider_id: str = ""  # the service token's id, or the OS user for the command line
    role: str = ""  # `ministry`, `province` (service tokens) or `offline` (command line)
    province: str = ""  # the province the decider acts for; "" for the ministry
    run_id: str = ""  # the run whose review queue the decision answers


_SCHEMA_COLUMNS: Final = (
    ("mention_key", "text not null"),
    ("source", "text not null"),
    ("column", "text not null"),
    ("raw_name", "text not null"),
    ("credit_code", "text not null"),
    ("decided_by", "text not null"),
    ("decided_at", "text not null"),
    ("note", "text not null default ''"),
    ("channel", "text not null"),
    ("action", "text not null default 'decide'"),
    ("decider_id", "text not null default ''"),
    ("role", "text not null default ''"),
    ("province", "text not null default ''"),
    ("run_id", "text not null default ''"),
)
DECISION_COLUMNS: Final = tuple(name for name, _ in _SCHEMA_COLUMNS)
_ADDED_BY_ISSUE_28: Final = DECISION_COLUMNS[DECISION_COLUMNS.index("action") :]
_QUOTED: Final = ", ".join(f'"{c}"' for c in DECISION_COLUMNS)


def acting_for(role: str, province: str) -> str | None:
    """Whose decision it is: "" for the ministry, a province code, None when unknown (rows
    from before issue 28). The offline import acts for the scope it was given."""
    if role == "ministry" or (role == "offline" and not province):
        return ""
    if role in ("province", "offline") and province:
        return province
    return None


def may_change(decider: Decision, in_force: dict[str, str]) -> bool:
    """The ministry may undo or supersede any decision, a province only its own."""
    actor = acting_for(decider.role, decider.province)
    owner = acting_for(in_force["role"], in_force["province"])
    return actor == "" or (actor is not None and actor == owner)


class DecisionStore:
    """Append-only SQLite file of decisions; the latest row per mention key counts, and an
    `undo` row makes the mention pending again. File 0600 in a 0700 folder when created here.
    """

    def __init__(self, path: Path | None = None, timeout: float = 30.0) -> None:
        self.path = path or default_decisions_file()
        self.timeout = timeout  # seconds to wait for another writer's lock

    def _create(self) -> None:
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        elif self.path.stat().st_mode & 0o077:  # a file written before issue 28
            with contextlib.suppress(PermissionError):  # another user's: theirs to change
                self.path.chmod(0o600)

    def _connect(self) -> sqlite3.Connection:
        """A connection in autocommit mode (transactions are explicit), schema up to date."""
        self._create()
        connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            if not self._schema_is_current(connection):
                connection.execute("begin immediate")
                self._migrate(connection)
                connection.execute("commit")
        except BaseException:
            connection.close()
            raise
        return connection

    @staticmethod
    def _schema_is_current(connection: sqlite3.Connection) -> bool:
        present = {row[1] for row in connection.execute("pragma table_info(decisions)")}
        return set(DECISION_COLUMNS) <= present

    @staticmethod
    def _migrate(connection: sqlite3.Connection) -> None:
        """Create the table, or add the columns a store of an older schema lacks (rows kept)."""
        present = {row[1] for row in connection.execute("pragma table_info(decisions)")}
        if not present:
            columns = ", ".join(f'"{name}" {kind}' for name, kind in _SCHEMA_COLUMNS)
            connection.execute(
                f"create table decisions (id integer primary key autoincrement, {columns})"
            )
        for name, kind in _SCHEMA_COLUMNS:
            if present and name not in present:
                if name not in _ADDED_BY_ISSUE_28:
                    raise DecisionStoreError(f"decisions store: column {name} missing")
                connection.execute(f'alter table decisions add column "{name}" {kind}')
        connection.execute(
            "create index if not exists decisions_by_key on decisions (mention_key, id)"
        )

    def _failure(self, exc: Exception) -> DecisionStoreError:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return DecisionStoreError(f"decisions store {self.path}: {reason}")

    def record(
        self,
        decisions: Iterable[Decision],
        before_commit: Callable[[list[Decision]], None] | None = None,
    ) -> list[Decision]:
        """Append the decisions in one transaction (all or none); returns them with their time.

        The check and the insert hold the write lock together (BEGIN IMMEDIATE), so two
        deciders never both decide one mention: a `decide` on a mention with a decision in
        force, or an `undo`/`supersede` by someone who may not change it, refuses the whole
        batch (DecisionConflict). An undo takes source, column and name from the decision it
        undoes. `before_commit` runs last inside the transaction (the audit line: if it
        raises, nothing is recorded).
        """
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        batch = [replace(d, decided_at=d.decided_at or now) for d in decisions]
        for decision in batch:
            if decision.action not in ACTIONS:
                raise ValueError(f"unknown decision action {decision.action!r}")
        try:
            connection = self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise self._failure(exc) from None
        try:
            connection.execute("begin immediate")
            try:
                stamped = self._checked(connection, batch)
                connection.executemany(
                    f"insert into decisions ({_QUOTED}) "
                    f"values ({', '.join('?' * len(DECISION_COLUMNS))})",
                    [tuple(getattr(d, c) for c in DECISION_COLUMNS) for d in stamped],
                )
                if before_commit is not None:
                    before_commit(stamped)
                connection.execute("commit")
            except BaseException:
                connection.execute("rollback")
                raise
        except sqlite3.Error as exc:
            raise self._failure(exc) from None
        finally:
            connection.close()
        return stamped

    @staticmethod
    def _checked(connection: sqlite3.Connection, batch: list[Decision]) -> list[Decision]:
        """The batch, undo rows completed, if the decisions in force allow every row of it."""
        reasons: list[str] = []
        checked: list[Decision] = []
        seen: set[str] = set()
        for decision in batch:
            key = decision.mention_key
            row = connection.execute(
                f"select {_QUOTED} from decisions where mention_key = ? order by id desc limit 1",
                (key,),
            ).fetchone()
            latest = dict(zip(DECISION_COLUMNS, row, strict=True)) if row else None
            in_force = latest if latest and latest["action"] != "undo" else None
            if key in seen:
                reasons.append(f"{key}: more than one decision in one batch")
            elif decision.action == "decide" and in_force is not None:
                reasons.append(
                    f"{key}: already decided ({in_force['credit_code']}) by "
                    f"{in_force['decided_by']} at {in_force['decided_at']}"
                )
            elif decision.action != "decide" and in_force is None:
                reasons.append(f"{key}: no decision in force to {decision.action}")
            elif decision.action != "decide" and in_force and not may_change(decision, in_force):
                owner = in_force["province"] or "the ministry"
                reasons.append(
                    f"{key}: decided by {in_force['decided_by']} for {owner}; only the ministry "
                    "or that province may change it"
                )
            elif decision.action == "undo" and in_force is not None:
                decision = replace(
                    decision,
                    source=in_force["source"],
                    column=in_force["column"],
                    raw_name=in_force["raw_name"],
                    credit_code="",
                )
            seen.add(key)
            checked.append(decision)
        if reasons:
            raise DecisionConflict(reasons)
        return checked

    def _frame(self, query: str, parameters: tuple[str, ...] = ()) -> pd.DataFrame:
        if not self.path.exists():
            return pd.DataFrame({c: pd.Series(dtype="str") for c in DECISION_COLUMNS})
        try:
            connection = self._connect()
            try:
                rows = connection.execute(query, parameters).fetchall()
            finally:
                connection.close()
        except (sqlite3.Error, OSError) as exc:
            raise self._failure(exc) from None
        frame = pd.DataFrame(rows, columns=list(DECISION_COLUMNS))
        return frame.astype(dict.fromkeys(DECISION_COLUMNS, "str"))

    def current(self) -> pd.DataFrame:
        """The decision in force for each decided mention (its latest row, unless that is an
        undo), `DECISION_COLUMNS`."""
        return self._frame(
            f"select {_QUOTED} from decisions where id in "
            "(select max(id) from decisions group by mention_key) and action != 'undo' "
            "order by id"
        )

    def in_force(self, mention_key: str) -> dict[str, str] | None:
        """The decision in force for one mention, else None."""
        found = self.current_of([mention_key])
        return None if found.empty else found.iloc[-1].to_dict()

    def current_of(self, mention_keys: Iterable[str]) -> pd.DataFrame:
        """`current()` for some mentions only."""
        keys = tuple(mention_keys)
        if not keys:
            return self._frame("select " + _QUOTED + " from decisions where 0")
        marks = ", ".join("?" * len(keys))
        return self._frame(
            f"select {_QUOTED} from decisions where id in (select max(id) from decisions "
            f"where mention_key in ({marks}) group by mention_key) and action != 'undo' "
            "order by id",
            keys,
        )

    def history(self) -> pd.DataFrame:
        """Every row ever recorded (decisions, supersessions, undos), oldest first."""
        return self._frame(f"select {_QUOTED} from decisions order by id")

    def version(self) -> tuple[int, int, int]:
        """A cheap token that changes whenever a batch is recorded — by this object, another
        DecisionStore on the same file, or another process (`zjtx match-review import`):
        (file inode, largest row id, number of rows), (0, 0, 0) before the file exists.

        Read from the file itself in one statement (one read transaction), so it sees every
        committed batch and no uncommitted one. Every change of the decisions in force is an
        insert (append-only; undo and supersede are rows too) and AUTOINCREMENT never reuses
        an id, so the largest id grows with each batch; the count catches rows deleted by hand
        and the inode a file replaced by another. Not `PRAGMA data_version`: it compares only
        within one connection (a fresh connection always starts at the same value) and never
        counts that connection's own writes. Read it *before* what it versions: a batch
        committed in between makes the next version differ, so nothing stale is kept under it.
        """
        try:
            inode = self.path.stat().st_ino
        except FileNotFoundError:
            return (0, 0, 0)
        except OSError as exc:
            raise self._failure(exc) from None
        try:
            connection = self._connect()
            try:
                largest, rows = connection.execute(
                    "select coalesce(max(id), 0), count(*) from decisions"
                ).fetchone()
            finally:
                connection.close()
        except (sqlite3.Error, OSError) as exc:
            raise self._failure(exc) from None
        return (int(inode), int(largest), int(rows))


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
        "firm": None if decision.credit_code in (NO_FIRM, "") else decision.credit_code,
        "decision": decision.credit_code,
        "action": decision.action,
        "role": decision.role or None,
        "province": decision.province or None,
        "decider_id": decision.decider_id or None,
        "run_id": decision.run_id or None,
        "note": decision.note,
    }


def load_decisions(path: Path | None = None) -> pd.DataFrame:
    """The decisions in force under ZJTX_HOME (empty when none were ever made)."""
    return DecisionStore(path).current()


# ---------------------------------------------------------------------------------------------
# Reading a filled review sheet from outside: bounded before anything is allocated

SHEET_NEEDS: Final = ("mention_key", "decision", "raw_name")


class ReviewImportLimits(FrozenModel):
    """Caps on a filled review sheet (`configs/matching.yaml`, `review_import`)."""

    max_bytes: int  # the file as given
    max_unzipped_bytes: int  # an .xlsx: all its parts uncompressed (a zip bomb)
    max_rows: int  # data rows
    max_columns: int


class SheetError(ValueError):
    """A filled sheet refused as a whole; the message is one line naming the file."""


def read_decision_sheet(path: Path, limits: ReviewImportLimits) -> pd.DataFrame:
    """A filled review sheet (.xlsx, else CSV in UTF-8 or GB18030/GBK as the sources are read),
    every value as text ("" when empty); SheetError when it is not one or exceeds `limits`."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise SheetError(f"{path.name}: {size:,} bytes, more than {limits.max_bytes:,}")
    if path.suffix.lower() == ".xlsx":
        frame = _read_xlsx(path, limits)
    else:
        try:
            frame = _read_csv(path).fillna("")
        except SourceError as exc:
            raise SheetError(str(exc)) from None
    if len(frame.columns) > limits.max_columns:
        raise SheetError(f"{path.name}: {len(frame.columns)} columns, more than allowed")
    if len(frame) > limits.max_rows:
        raise SheetError(f"{path.name}: {len(frame):,} rows, more than {limits.max_rows:,}")
    frame.columns = [str(c).strip() for c in frame.columns]
    if missing := [c for c in SHEET_NEEDS if c not in frame.columns]:
        raise SheetError(f"{path.name}: not a review sheet, missing column(s) {', '.join(missing)}")
    if twice := [c for c in SHEET_NEEDS if list(frame.columns).count(c) > 1]:
        raise SheetError(f"{path.name}: column {twice[0]} appears twice")
    return frame


def _read_xlsx(path: Path, limits: ReviewImportLimits) -> pd.DataFrame:
    """The first sheet, streamed (openpyxl read-only) within the row and column caps."""
    import openpyxl

    try:
        with zipfile.ZipFile(path) as archive:
            unzipped = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SheetError(
            f"{path.name}: not an .xlsx workbook (not a complete zip: {exc})"
        ) from None
    if unzipped > limits.max_unzipped_bytes:
        raise SheetError(
            f"{path.name}: {unzipped:,} bytes once unzipped, "
            f"more than {limits.max_unzipped_bytes:,}"
        )
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types (KeyError, XML, zlib) for a bad file
        raise SheetError(f"{path.name}: not a readable .xlsx workbook ({_one_line(exc)})") from None
    try:
        sheet = workbook.worksheets[0]
        # the declared size first: a cell at XFD1048576 says so here, before any row is read
        declared_rows, declared_columns = sheet.max_row or 0, sheet.max_column or 0
        if declared_rows - 1 > limits.max_rows or declared_columns > limits.max_columns:
            raise SheetError(
                f"{path.name}: sheet {sheet.title} spans {declared_rows:,} rows × "
                f"{declared_columns:,} columns, more than {limits.max_rows:,} × "
                f"{limits.max_columns}"
            )
        rows = sheet.iter_rows(
            max_row=limits.max_rows + 2, max_col=limits.max_columns + 1, values_only=True
        )
        cells = [[_cell_text(v) for v in row] for row in rows]
    except SheetError:
        raise
    except Exception as exc:  # a damaged part surfaces only while its rows are read
        raise SheetError(f"{path.name}: not a readable .xlsx workbook ({_one_line(exc)})") from None
    finally:
        workbook.close()
    while cells and not any(cells[-1]):
        cells.pop()
    if not cells:
        raise SheetError(f"{path.name}: the sheet is empty")
    header = cells[0]
    while header and not header[-1]:
        header = header[:-1]
    if len(header) > limits.max_columns or len(cells) - 1 > limits.max_rows:
        raise SheetError(f"{path.name}: more than {limits.max_rows:,} rows or too many columns")
    body = [row[: len(header)] + [""] * (len(header) - len(row)) for row in cells[1:]]
    return pd.DataFrame(body, columns=header, dtype="str")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    return str(value).strip()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
