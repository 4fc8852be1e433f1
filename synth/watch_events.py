"""Watch-list events (issue 16): what happens to title holders after certification.

Adds to the published tables the yearly information updates (`annual_updates`, 第十七条),
the major-change reports (`major_changes`, 第十八条) and moves out of the province (第十九条),
with their mess (late updates, an export that leaves a holder out, changes reported late or
never). Returns `truth/watchlist.csv`: which holders truly no longer qualify, and why — hidden
causes included (a change that breaks the criteria, misses the export does not show).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pydantic import Field

from core.config import FrozenModel, load_config
from features.schemas import MAJOR_CHANGE_TYPES
from models.watchlist import held_titles
from synth.regions import Regions
from synth.world import typed

Probability = float
DEADLINE = (5, 31)  # 第十七条: 每年5月31日前


class UpdateRates(FrozenModel):
    careless_firm: Probability = Field(ge=0, le=1)
    miss_careless: Probability = Field(ge=0, le=1)
    miss_diligent: Probability = Field(ge=0, le=1)
    late_not_blank: Probability = Field(ge=0, le=1)
    on_deadline_day: Probability = Field(ge=0, le=1)
    on_day_after: Probability = Field(ge=0, le=1)
    rows_missing: Probability = Field(ge=0, le=1)


class ChangeRates(FrozenModel):
    holder: Probability = Field(ge=0, le=1)
    reported_in_time: Probability = Field(ge=0, le=1)
    reported_late: Probability = Field(ge=0, le=1)
    breaks_qualification: dict[str, Probability]


class MoveRates(FrozenModel):
    holder: Probability = Field(ge=0, le=1)
    destination_known: Probability = Field(ge=0, le=1)


class WatchEventsConfig(FrozenModel):
    annual_update: UpdateRates
    major_change: ChangeRates
    move: MoveRates


def load_watch_events_config(path: str = "synth-watch.yaml") -> WatchEventsConfig:
    return load_config(WatchEventsConfig, path)


def _days(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[D]").astype(np.int64)


def _dates(days: np.ndarray) -> np.ndarray:
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[us]")
    out[np.asarray(days) < 0] = np.datetime64("NaT")
    return out


def add_watch_events(
    tables: dict[str, pd.DataFrame],
    evaluation_date: dt.date,
    regions: Regions,
    rng: np.random.Generator,
    config: WatchEventsConfig | None = None,
) -> pd.DataFrame:
    """Add `annual_updates` and `major_changes` to `tables`, move some holders out (firms
    `status`, `moved_to_region_code`), and return the truth per title holder."""
    cfg = config or load_watch_events_config()
    today = _days(np.array([np.datetime64(evaluation_date)]))[0]
    held = held_titles(tables["certifications"], evaluation_date)
    held = held[held["credit_code"].isin(tables["firms"]["credit_code"])].reset_index(drop=True)
    n = len(held)
    certified, expires = _days(held["certified_on"]), _days(held["expires_on"])
    missed, update_rows = _annual_updates(held, certified, expires, today, cfg.annual_update, rng)
    tables["annual_updates"] = update_rows
    changes, breaks, unreported = _major_changes(held, certified, today, cfg.major_change, rng)
    tables["major_changes"] = changes
    moved_to = _moves(tables, held, regions, cfg.move, rng)
    events = tables.get("credit_events")
    risky = np.zeros(n, dtype=bool)
    if events is not None and len(events):
        # 第二十条: a listing or incident during the validity period, still standing.
        kinds = ["serious_dishonesty", "major_safety_accident", "major_cyber_incident",
                 "major_environmental_violation", "serious_quality_issue",
                 "serious_industry_violation", "data_fraud"]  # fmt: skip
        standing = events[
            events["event_type"].isin(kinds)
            & (events["occurred_on"] <= pd.Timestamp(evaluation_date))
            & ~(events["resolved_on"] <= pd.Timestamp(evaluation_date))
        ].merge(held[["credit_code", "certified_on"]], on="credit_code")
        standing = standing[standing["occurred_on"] >= standing["certified_on"]]
        risky = held["credit_code"].isin(standing["credit_code"]).to_numpy()
    status = tables["firms"].set_index("credit_code")["status"].reindex(held["credit_code"])
    deregistered = status.isin(["revoked", "cancelled"]).to_numpy()  # 第十一条: 依法设立
    reasons = np.full(n, "", dtype=object)
    for mask, reason in (
        (deregistered, "registration"),
        (missed >= 2, "update_missed_twice"),
        (breaks, "change_breaks_criteria"),
        (unreported, "major_change_unreported"),
        (risky, "article_20_event"),
    ):
        reasons[mask] = np.where(reasons[mask] == "", reason, reasons[mask] + ";" + reason)
    truth = pd.DataFrame(
        {
            "credit_code": held["credit_code"].to_numpy(),
            "title": held["title"].to_numpy(),
            "no_longer_qualifies": (missed >= 2) | breaks | unreported | risky | deregistered,
            "reasons": reasons,
            "updates_missed": missed,
            "moved_to_region_code": moved_to,
        }
    )
    return truth.sort_values("credit_code", kind="stable").reset_index(drop=True)


def _annual_updates(
    held: pd.DataFrame,
    certified: np.ndarray,
    expires: np.ndarray,
    today: int,
    cfg: UpdateRates,
    rng: np.random.Generator,
) -> tuple[np.ndarray, pd.DataFrame]:
    """One row per holder and due year; returns the true misses per holder and the rows."""
    n = len(held)
    careless = rng.random(n) < cfg.careless_firm
    left_out = rng.random(n) < cfg.rows_missing
    first = pd.DatetimeIndex(held["certified_on"]).year.to_numpy() if n else np.zeros(0, int)
    last = dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + int(today)).year
    missed = np.zeros(n, dtype=np.int64)
    firm_idx, years, updated = [], [], []
    for year in range(int(first.min()) if n else last, last + 1):
        deadline = _days(np.array([np.datetime64(dt.date(year, *DEADLINE))]))[0]
        due = (certified <= deadline) & (expires >= deadline) & (deadline < today)
        idx = np.flatnonzero(due)
        if not idx.size:
            continue
        miss = rng.random(idx.size) < np.where(careless[idx], cfg.miss_careless, cfg.miss_diligent)
        missed[idx[miss]] += 1
        april = deadline - 60
        on_time = april + (rng.random(idx.size) * 61).astype(np.int64)
        on_time[rng.random(idx.size) < cfg.on_deadline_day] = deadline
        late = deadline + 1 + (rng.random(idx.size) ** 2 * 120).astype(np.int64)
        late[rng.random(idx.size) < cfg.on_day_after] = deadline + 1  # 1 June: already late
        late_known = late < today
        day = np.where(
            miss,
            np.where((rng.random(idx.size) < cfg.late_not_blank) & late_known, late, -1),
            on_time,
        )
        keep = ~left_out[idx]
        firm_idx.append(idx[keep])
        years.append(np.full(int(keep.sum()), year))
        updated.append(day[keep])
    if firm_idx:
        f, y, u = np.concatenate(firm_idx), np.concatenate(years), np.concatenate(updated)
    else:
        f, y, u = np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    rows = typed(
        "annual_updates",
        {
            "credit_code": held["credit_code"].to_numpy()[f],
            "year": y,
            "updated_on": u,
        },
    )
    return missed, rows.sort_values(["credit_code", "year"], kind="stable").reset_index(drop=True)


def _major_changes(
    held: pd.DataFrame,
    certified: np.ndarray,
    today: int,
    cfg: ChangeRates,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """At most one change per holder; returns rows, truly breaking, and unreported-by-now."""
    n = len(held)
    has = rng.random(n) < cfg.holder
    occurred = certified + (rng.random(n) * np.maximum(today - certified, 1)).astype(np.int64)
    kind = np.array(MAJOR_CHANGE_TYPES, dtype=object)[rng.integers(0, len(MAJOR_CHANGE_TYPES), n)]
    draw = rng.random(n)
    occurred_ts = pd.to_datetime(_dates(occurred))
    deadline = _days((occurred_ts + pd.DateOffset(months=3)).to_numpy())
    in_time = occurred + (rng.random(n) * (deadline - occurred + 1)).astype(np.int64)
    late = deadline + 1 + (rng.random(n) * 90).astype(np.int64)
    reported = np.where(
        draw < cfg.reported_in_time,
        in_time,
        np.where(draw < cfg.reported_in_time + cfg.reported_late, late, -1),
    )
    reported = np.where(reported > today, -1, reported)  # not reported yet on the date
    breaking = has & (
        rng.random(n) < np.array([cfg.breaks_qualification.get(k, 0.0) for k in kind])
    )
    unreported = has & ((reported < 0) | (reported > deadline)) & (deadline < today)
    idx = np.flatnonzero(has)
    rows = typed(
        "major_changes",
        {
            "credit_code": held["credit_code"].to_numpy()[idx],
            "change_type": kind[idx],
            "occurred_on": occurred[idx],
            "reported_on": reported[idx],
        },
    )
    rows = rows.sort_values(["credit_code", "occurred_on"], kind="stable").reset_index(drop=True)
    return rows, breaking, unreported


def _moves(
    tables: dict[str, pd.DataFrame],
    held: pd.DataFrame,
    regions: Regions,
    cfg: MoveRates,
    rng: np.random.Generator,
) -> np.ndarray:
    """Some holders move to another province: registry status `moved_out`, destination named
    when the registry knows it. Returns each holder's destination district (None: none)."""
    firms = tables["firms"].copy()
    firms["moved_to_region_code"] = pd.Series(pd.NA, index=firms.index, dtype="str")
    n = len(held)
    moving = rng.random(n) < cfg.holder
    destination = np.full(n, None, dtype=object)
    row = firms.reset_index(drop=True).reset_index().set_index("credit_code")["index"]
    positions = row.reindex(held["credit_code"]).to_numpy()
    current = firms["region_code"].to_numpy(dtype=object)[positions]
    operating = (firms["status"].to_numpy(dtype=object)[positions] == "operating") & pd.notna(
        current
    )
    moving &= operating
    provinces = sorted(set(regions.districts["province"]))
    if moving.any() and len(provinces) > 1:
        own = np.array([str(c)[:2] for c in current[moving]])
        shift = rng.integers(1, len(provinces), own.size)
        target = np.array(provinces)[(np.searchsorted(provinces, own) + shift) % len(provinces)]
        districts = regions.sample(target, rng)
        destination[moving] = districts
        known = rng.random(own.size) < cfg.destination_known
        at = positions[moving]
        firms.iloc[at, firms.columns.get_loc("status")] = "moved_out"
        named = np.where(known, districts.astype(object), np.array(None, dtype=object))
        firms.iloc[at, firms.columns.get_loc("moved_to_region_code")] = named
    tables["firms"] = firms
    return destination
