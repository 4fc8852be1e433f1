"""One definition of "the data as published on date D", for replaying a past date and for serving.

A data set is a snapshot of today: rows dated later exist, and state columns (a title's
`status`, an event's `resolved_on`, a firm's `status`) tell today's state. `point_in_time`
cuts it back to what had been published on D, by the same rule for the training replay and for
the weekly discovery run (both call it), so the model never learns from information that
serving does not have:

- dated rows after D are dropped; titles, revocations, lifted bans and resolutions are restated
  from their dates;
- yearly rows published during the year — official scores, awards, talent programmes, supply
  relations — count only for years before D's year (a same-year row is not dated within the
  year, and at serving this year's rows do not exist yet); this year's applications are known
  (the province receives them before its round), their outcomes are not read before D;
- accounts of fiscal years from D's year on are dropped (accounts are filed after the year);
  a firm whose last fiscal year is not filed yet is read from the year before (features do
  this: features.firm_features reads each firm's latest filed year, with its lag);
- a firm's registry status is today's and carries no date; a firm not `operating` today was
  still operating on a past D when it filed accounts for a fiscal year from D's year on (it
  traded after D); without such evidence today's status stands (never guess `operating`);
- `products` are self-declared without a declaration date: the criteria read them the same
  way on every date (a restricted product fails in replay as at serving); features never read
  them (features.feature_config.use_declared_products), since on past dates their presence
  reveals later applications.
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
ROW_YEARS = {
    "financials": ("fiscal_year", -1),
    "awards": ("year", -1),
    "talent": ("year", -1),
    "supply_chain": ("year", -1),
    "evaluation_scores": ("year", -1),
    # The province receives this year's applications before the round is decided on D.
    "applications": ("year", 0),
}
OPERATING = "operating"


def point_in_time(data: SourceData, as_of: date, declared_products: bool = True) -> SourceData:
    """The data as it had been published on `as_of` (see the module docstring).

    Rows of the as_of day itself are kept (the criteria read "valid on as_of"); features never
    read them (they use strictly earlier data). `declared_products=False` hides the products
    table (the criteria that need it become `unknown`).
    """
    day = pd.Timestamp(as_of)
    tables = dict(data.tables)
    if not declared_products:
        tables.pop("products", None)
    for table, column in ROW_DATES.items():
        if table in tables and column in tables[table]:
            frame = tables[table]
            tables[table] = frame[~(frame[column] > day).fillna(False).astype(bool)]
    for table, (column, offset) in ROW_YEARS.items():
        if table in tables:
            frame = tables[table]
            year = frame[column].astype("float64")
            tables[table] = frame[~(year > as_of.year + offset).fillna(False).astype(bool)]
    if "certifications" in tables:
        tables["certifications"] = _certifications_on(tables["certifications"], day)
    if "credit_events" in tables and "resolved_on" in tables["credit_events"]:
        events = tables["credit_events"].copy()
        events.loc[events["resolved_on"] > day, "resolved_on"] = pd.NaT
        tables["credit_events"] = events
    if "firms" in tables:
        tables["firms"] = _firm_status_on(tables["firms"], data.get("financials"), as_of)
    return SourceData(tables=tables, rejects=data.rejects, coverage=data.coverage)


def _certifications_on(certifications: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    frame = certifications.copy()
    for column in ("revoked_on", "ban_lifted_on"):
        if column in frame:
            frame.loc[frame[column] > day, column] = pd.NaT
    revoked = (
        frame["revoked_on"].notna()
        if "revoked_on" in frame
        else pd.Series(False, index=frame.index)
    )
    if "revoke_reason" in frame:
        frame.loc[~revoked, "revoke_reason"] = pd.NA
    status = np.where(revoked, "revoked", np.where(frame["expires_on"] >= day, "valid", "expired"))
    frame["status"] = pd.array(status, dtype="str")
    return frame


def _firm_status_on(
    firms: pd.DataFrame, financials: pd.DataFrame | None, as_of: date
) -> pd.DataFrame:
    """Registry status restated for a past date: a status other than `operating` becomes
    `operating` when the firm filed accounts for a year from as_of's year on (it was still
    trading after as_of); otherwise today's status stands."""
    status = firms["status"].astype("str")
    changed = status.ne(OPERATING) & firms["status"].notna()
    if not changed.any():
        return firms
    frame = firms.copy()
    later = pd.Index([], dtype="str")
    if financials is not None:
        filed = financials["fiscal_year"].astype("float64") >= as_of.year
        later = pd.Index(financials.loc[filed.fillna(False).astype(bool), "credit_code"].unique())
    trading = changed & frame["credit_code"].isin(later)
    restated = frame["status"].astype("object")
    restated[trading] = OPERATING
    frame["status"] = pd.array(restated.to_numpy(), dtype=firms["status"].dtype)
    return frame
