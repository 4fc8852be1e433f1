"""One definition of "the data as it stood on date D", for the live run and for a replay.

A data set is a snapshot of the day it was exported: rows dated later than D may exist, and
state columns (a title's `status` and `revoke_reason`, an event's `resolved_on`, a firm's
`status`) tell the state on the export day. Two readings (sources.md, "Live run and replay"):

- **Live run** (`live=True`: `zjtx criteria`, `zjtx discover`, the weekly run). What the data
  says stands. A state is undone only by a date in the data after D: a revocation whose
  `revoked_on` is after D, a resolution whose `resolved_on` is after D, a ban lift whose
  `ban_lifted_on` is after D. A state without such a date is never restated (a `cancelled`
  firm stays cancelled, an `expired` title stays expired, a `revoked` title with no date stays
  revoked with its reason). Yearly rows of D's own year (awards, talent, supply relations,
  official scores) count where a window includes the current year: a row present in a live
  run was published before the run.
- **Replay** of a past date (`live=False`: training, validation, discovery recall). State is
  restated from dates only, and a state with no date stands as given — never guessed back to
  `operating` or `valid`. Same-year yearly rows are left out (their day within the year is
  unknown, and at serving then they did not exist yet). Titles certified on D itself are left
  out: on a round's date they are that round's own decisions, which it did not see.

Both readings:
- applications are known on D when submitted by D (`submitted_on`); without
  that column, earlier years' are known, and D's year's only from the configured round day
  on (`round_day`), never before; an outcome is read only once its round is decided;
- dated rows after D are dropped (and an IP right's holders go with the right);
- accounts of fiscal years from D's year on are never read by the criteria (windows end with
  Y = D's year - 1); in a replay they are dropped (accounts are filed after the year);
- `products` are self-declared without a declaration date: the criteria read them the same
  way on every date; features never read them (features.feature_config.use_declared_products),
  since on past dates their presence reveals later applications.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from features.sources import SourceData

# Dated rows: a row exists on D when its date is on or before D.
ROW_DATES = {
    "name_history": "changed_on",
    "ip_rights": "granted_on",
    "investments": "paid_in_on",
    "rd_institutions": "recognized_on",
    "certifications": "certified_on",
    "credit_events": "occurred_on",
    "major_changes": "occurred_on",
}
# Yearly rows: a row exists on D when its year is at most D's year plus this offset.
REPLAY_ROW_YEARS = {
    "financials": ("fiscal_year", -1),
    "awards": ("year", -1),
    "talent": ("year", -1),
    "supply_chain": ("year", -1),
    "evaluation_scores": ("year", -1),
}
# A live run reads every row the data holds up to D's year: a row of the current year that is
# in the data was published before the run.
LIVE_ROW_YEARS = {table: (column, 0) for table, (column, _) in REPLAY_ROW_YEARS.items()}


def point_in_time(
    data: SourceData,
    as_of: date,
    *,
    live: bool,
    declared_products: bool = True,
    round_day: tuple[int, int] | None = None,
) -> SourceData:
    """The data as it stood on `as_of`, read live or as a replay (see the module docstring).

    Rows of the as_of day itself are kept (the criteria read "valid on as_of"); features never
    read them (they use strictly earlier data). `declared_products=False` hides the products
    table (the criteria that need it become `unknown`). `round_day` (month, day): when each
    year's round is decided — this year's applications without `submitted_on` are known from
    it on (None: not before the year is over).
    """
    day = pd.Timestamp(as_of)
    tables = dict(data.tables)
    if not declared_products:
        tables.pop("products", None)
    for table, column in ROW_DATES.items():
        if table in tables and column in tables[table]:
            frame = tables[table]
            tables[table] = _rows(frame, ~(frame[column] > day).fillna(False).astype(bool))
    if "ip_holders" in tables and "ip_rights" in tables and "ip_rights" in data.tables:
        # A holder of a right granted after D held nothing on D (its right is not "unknown").
        later = data.tables["ip_rights"].index.difference(tables["ip_rights"].index)
        later_ids = data.tables["ip_rights"].loc[later, "ip_id"]
        holders = tables["ip_holders"]
        tables["ip_holders"] = holders[~holders["ip_id"].isin(later_ids).to_numpy(dtype=bool)]
    for table, (column, offset) in (LIVE_ROW_YEARS if live else REPLAY_ROW_YEARS).items():
        if table in tables:
            frame = tables[table]
            year = frame[column].astype("float64")
            tables[table] = _rows(frame, ~(year > as_of.year + offset).fillna(False).astype(bool))
    if "applications" in tables:
        tables["applications"] = applications_known_on(tables["applications"], as_of, round_day)
    if "certifications" in tables:
        certifications = tables["certifications"]
        if not live:
            # A replay of a round's date sees what that round's decision saw: the titles the
            # decision itself granted that day are not part of it (as the generator's truth).
            granted = certifications["certified_on"] < day
            certifications = certifications[granted.fillna(True).to_numpy(dtype=bool)]
        tables["certifications"] = _certifications_on(certifications, day, live)
    if "credit_events" in tables and "resolved_on" in tables["credit_events"]:
        events = tables["credit_events"].copy()
        events.loc[events["resolved_on"] > day, "resolved_on"] = pd.NaT
        tables["credit_events"] = events
    return SourceData(
        tables=tables, rejects=data.rejects, coverage=data.coverage, refused=data.refused
    )


def _rows(frame: pd.DataFrame, keep: pd.Series) -> pd.DataFrame:
    """The rows to keep; the frame itself when that is every row (a large table is not copied
    for nothing)."""
    return frame if bool(keep.all()) else frame[keep]


def _certifications_on(certifications: pd.DataFrame, day: pd.Timestamp, live: bool) -> pd.DataFrame:
    """Titles as they stood on `day`.

    Both readings: a revocation dated after D had not happened (the title was valid or expired
    by its dates, the reason not yet given); a ban lift dated after D had not happened; a
    revocation dated on or before D stands whatever `status` says; a `valid` title whose
    `expires_on` is before D had expired. A revocation without a date
    stands as given. Replay only: an `expired` title whose `expires_on` is after D was still
    in force on D (its state is dated by `expires_on`); a live run keeps `expired` as given.
    """
    frame = certifications.copy()
    if "ban_lifted_on" in frame:
        frame.loc[frame["ban_lifted_on"] > day, "ban_lifted_on"] = pd.NaT
    status = frame["status"].astype("object").to_numpy(copy=True)
    expires = frame["expires_on"]
    in_force = (expires >= day).fillna(False).to_numpy(dtype=bool)
    by_dates = np.where(in_force, "valid", "expired")
    if "revoked_on" in frame:
        revoked_on = frame["revoked_on"]
        undone = (revoked_on > day).fillna(False).to_numpy(dtype=bool)
        status[undone] = by_dates[undone]
        frame.loc[undone, "revoked_on"] = pd.NaT
        if "revoke_reason" in frame:
            frame.loc[undone, "revoke_reason"] = pd.NA
        dated = (revoked_on <= day).fillna(False).to_numpy(dtype=bool)
        status[dated] = "revoked"
    ended = (expires < day).fillna(False).to_numpy(dtype=bool)
    status[(status == "valid") & ended] = "expired"  # expiry is dated: both readings
    if not live:
        reopened = (status == "expired") & in_force
        status[reopened] = "valid"
    frame["status"] = pd.array(status, dtype=certifications["status"].dtype)
    return frame


def applications_known_on(
    applications: pd.DataFrame, as_of: date, round_day: tuple[int, int] | None
) -> pd.DataFrame:
    """The applications known on `as_of` (sources.md): submitted by then; without a
    submission date, those of earlier years, and this year's from its round day on (never
    before; without a round day, not this year's). An outcome is read only once decided."""
    year = applications["year"].astype("float64").to_numpy()
    if "submitted_on" in applications:
        submitted = applications["submitted_on"]
        dated = submitted.notna().to_numpy(dtype=bool)
        by_date = (submitted <= pd.Timestamp(as_of)).fillna(False).to_numpy(dtype=bool)
    else:
        dated = by_date = np.zeros(len(applications), dtype=bool)
    decided = round_day is not None and as_of >= date(as_of.year, *round_day)
    undated_known = (year < as_of.year) | ((year == as_of.year) & decided)
    known = np.where(dated, by_date & (year <= as_of.year), undated_known)
    frame = applications[known]
    if not decided:
        # this year's round is not decided yet: its outcomes are not known
        pending = (frame["year"].astype("float64") >= as_of.year).to_numpy(dtype=bool)
        if pending.any():
            frame = frame.copy()
            frame.loc[pending, "outcome"] = pd.NA
    return frame
