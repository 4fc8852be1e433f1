"""The watch list (有进有出, 第十四条): titled firms that the data now puts at risk.

Pure functions over the criteria output and the source tables. The criteria engine's verdicts
are reused as they stand: a held title's own-tier criteria that `fail` on the latest data are
grounds (第十一、十八、二十条); the other grounds read the registry (第十九条 moves),
`annual_updates` (第十七条) and `major_changes` (第十八条). A ground needs data showing it:
a missing table makes its grounds unknown (`watch_coverage`), never a guess.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import pandas as pd

from features.sources import SourceData, string_isin
from models.criteria.engine import TIER_TITLE
from models.invitations import NO_PROVINCE, province_of
from models.labels import ACTION_LABELS, CHANGE_LABELS, EVENT_LABELS, criterion_heading
from models.watchlist_config import WatchlistConfig

WATCH_COLUMNS = [
    "credit_code",
    "name",
    "region_code",
    "title",
    "expires_on",
    "ground",
    "article",
    "since",
    "evidence",
    "action",
    "new",
    "basis",
]
# Key of a ground across runs: `basis` tells apart the criteria, and the changes, of one ground.
GROUND_KEY = ["province", "credit_code", "ground", "basis"]
TITLE_TIER = {title: tier for tier, title in TIER_TITLE.items()}
TITLE_RANK = {"specialized_sme": 1, "little_giant": 2}  # 附件3（十一）: the highest title counts
# Article 11 criteria and the ground their failure is; every other examined criterion of the
# firm's own tier is `criterion_failed` (第十八条: 不再符合认定标准).
CRITERION_GROUNDS = {
    "art11_registered": "registration",
    "art11_credit_lists": "credit_listing",
    "art11_incidents": "incident",
    "art11_sme_size": "no_longer_sme",
}
GROUND_ARTICLES = {
    "registration": "第十一条",
    "credit_listing": "第十一条、第二十条",
    "incident": "第十一条、第二十条",
    "data_fraud": "第二十条",
    "no_longer_sme": "第十一条、第十八条",
    "criterion_failed": "第十八条",
    "moved_out": "第十九条",
    "update_missed_once": "第十七条",
    "update_missed_twice": "第十七条",
    "major_change_unreported": "第十八条",
    "major_change_reported": "第十八条",
}
# The `action` column holds the action's Chinese name (outputs.md), as officials act on it.
MONITOR, REVOKE, MINISTRY, HAND_OVER = (
    ACTION_LABELS[a] for a in ("monitor", "revoke", "ministry", "hand_over")
)
# Tables each ground needs: without them the ground is unknown for every firm.
GROUND_TABLES: dict[str, tuple[str, ...]] = {
    "registration": ("firms",),
    "credit_listing": ("credit_events",),
    "incident": ("credit_events",),
    "data_fraud": ("credit_events",),
    "no_longer_sme": ("financials",),
    "criterion_failed": ("financials",),
    "moved_out": ("firms",),
    "update_missed_once": ("annual_updates",),
    "update_missed_twice": ("annual_updates",),
    "major_change_unreported": ("major_changes",),
    "major_change_reported": ("major_changes",),
}
_ISO_DATE = r"(\d{4}-\d{2}-\d{2})"


def held_titles(certifications: pd.DataFrame | None, as_of: dt.date) -> pd.DataFrame:
    """Per firm, its highest valid 专精特新 title on as_of (第十七条 有效期内): credit_code, title,
    certified_on, expires_on. Valid: status `valid` and as_of within [certified_on, expires_on]."""
    columns = ["credit_code", "title", "certified_on", "expires_on"]
    if certifications is None or certifications.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    day = pd.Timestamp(as_of)
    rows = certifications[
        certifications["title"].isin(list(TITLE_RANK))
        & (certifications["status"] == "valid")
        & (certifications["certified_on"] <= day)
        & ~(certifications["expires_on"] < day)
    ][columns].copy()
    rows["rank"] = rows["title"].map(TITLE_RANK)
    rows = rows.sort_values(["credit_code", "rank", "expires_on"], kind="stable")
    return rows.drop_duplicates("credit_code", keep="last")[columns].reset_index(drop=True)


def watchlist_rows(
    criteria: pd.DataFrame, data: SourceData, as_of: dt.date, config: WatchlistConfig
) -> pd.DataFrame:
    """Every ground of every titled firm in `data`, with the province whose list shows it.

    Columns: province, then WATCH_COLUMNS without `new` (see `mark_new`); one row per firm,
    ground and basis. A move out of the province (第十九条) is shown to the receiving province
    too, when the registry names it.
    """
    held = held_titles(data.get("certifications"), as_of)
    firms = data.tables["firms"].reset_index(drop=True)
    held = held[string_isin(held["credit_code"], firms["credit_code"])]
    parts = [
        _criteria_grounds(criteria, held, firms, as_of, config),
        _move_grounds(firms, held),
        _fraud_grounds(data.get("credit_events"), held, as_of),
        _update_grounds(data.get("annual_updates"), held, as_of, config),
        _change_grounds(data.get("major_changes"), held, as_of, config),
    ]
    rows = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else _empty_grounds()
    )
    registry = firms[["credit_code", "name", "region_code"]]
    rows = rows.merge(held, on="credit_code", how="left").merge(
        registry, on="credit_code", how="left"
    )
    rows["article"] = rows["ground"].map(GROUND_ARTICLES)
    # 经营异常名录 alone is an Article 11 matter; 严重失信 is also an Article 20 one.
    abnormal_only = (rows["ground"] == "credit_listing") & ~rows["evidence"].str.contains(
        EVENT_LABELS["serious_dishonesty"], regex=False
    )
    rows.loc[abnormal_only, "article"] = "第十一条"
    rows["action"] = _actions(rows)
    ministry = rows["action"] == MINISTRY
    rows.loc[ministry, "article"] = rows.loc[ministry, "article"] + "、第二十一条"
    rows["province"] = province_of(rows["region_code"])
    moved_to = rows.pop("moved_to")
    destination = province_of(moved_to.fillna(""))
    elsewhere = moved_to.notna() & (destination != NO_PROVINCE) & (destination != rows["province"])
    receiving = rows[elsewhere].assign(province=destination[elsewhere])
    rows = pd.concat([rows, receiving], ignore_index=True)
    rows = rows[rows["province"] != NO_PROVINCE]
    columns = ["province", *[c for c in WATCH_COLUMNS if c != "new"]]
    return rows[columns].reset_index(drop=True)


def _empty_grounds() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "credit_code": pd.Series(dtype="str"),
            "ground": pd.Series(dtype="str"),
            "basis": pd.Series(dtype="str"),
            "since": pd.Series(dtype="datetime64[us]"),
            "evidence": pd.Series(dtype="str"),
            "moved_to": pd.Series(dtype="str"),
        }
    )


def _grounds(frame: pd.DataFrame) -> pd.DataFrame:
    out = _empty_grounds()
    if frame.empty:
        return out
    result = pd.DataFrame({c: frame[c] for c in out.columns if c in frame.columns})
    for column in out.columns:
        if column not in result:
            result[column] = pd.Series(pd.NA, index=result.index, dtype=out[column].dtype)
    result["since"] = pd.to_datetime(result["since"]).astype("datetime64[us]")
    return result[list(out.columns)].reset_index(drop=True)


def _criteria_grounds(
    criteria: pd.DataFrame,
    held: pd.DataFrame,
    firms: pd.DataFrame,
    as_of: dt.date,
    config: WatchlistConfig,
) -> pd.DataFrame:
    """Own-tier criteria the engine judges `fail` for a held title (discovery-mode verdicts)."""
    failing = criteria.loc[
        (criteria["mode"] == "discovery") & (criteria["verdict"] == "fail"),
        ["credit_code", "tier", "criterion", "evidence"],
    ]
    failing = failing[string_isin(failing["credit_code"], held["credit_code"])].astype("str")
    own_tier = held.assign(tier=held["title"].map(TITLE_TIER))[["credit_code", "tier"]]
    failing = failing.merge(own_tier, on=["credit_code", "tier"])
    failing = failing[~failing["criterion"].isin(config.not_examined)]
    # A firm that moved out fails registration too; 第十九条 is its ground, not 第十一条.
    moved = firms.loc[firms["status"] == "moved_out", "credit_code"]
    failing = failing[
        ~((failing["criterion"] == "art11_registered") & string_isin(failing["credit_code"], moved))
    ]
    if failing.empty:
        return _empty_grounds()
    ground = failing["criterion"].map(CRITERION_GROUNDS).fillna("criterion_failed")
    dated = pd.to_datetime(failing["evidence"].str.extract(_ISO_DATE)[0], errors="coerce")
    # Figures have no event date: the end of the fiscal year they are of (上年末).
    year_end = pd.Timestamp(as_of.year - 1, 12, 31)
    since = dated.where(dated.notna() | ground.isin(["registration"]), year_end)
    evidence = failing["criterion"].map(criterion_heading) + "：" + failing["evidence"]
    return _grounds(
        pd.DataFrame(
            {
                "credit_code": failing["credit_code"],
                "ground": ground,
                "basis": failing["criterion"],
                "since": since,
                "evidence": evidence,
            }
        )
    )


def _move_grounds(firms: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """第十九条: a titled firm the registry shows as moved out (迁出)."""
    moved = firms[
        (firms["status"] == "moved_out") & string_isin(firms["credit_code"], held["credit_code"])
    ]
    if moved.empty:
        return _empty_grounds()
    to = (
        moved["moved_to_region_code"]
        if "moved_to_region_code" in moved
        else pd.Series(pd.NA, index=moved.index, dtype="str")
    )
    where = (
        "迁入地行政区划代码 " + to.fillna("") + "（由迁入地中小企业主管部门负责后续培育和服务监测）"
    ).where(to.notna(), "迁入地未知：请与迁入地中小企业主管部门联系")
    evidence = "登记状态：迁出（原注册地 " + moved["region_code"].fillna("不详") + "）；" + where
    return _grounds(
        pd.DataFrame(
            {
                "credit_code": moved["credit_code"],
                "ground": "moved_out",
                "basis": "",
                "since": pd.NaT,
                "evidence": evidence + "；应在3个月内提交跨区域迁移申请（第十九条）",
                "moved_to": to,
            }
        )
    )


def _fraud_grounds(events: pd.DataFrame | None, held: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """第二十条: data fraud found during the validity period (an applicant's record is only a
    matter to verify in the criteria; a holder's is a ground for cancellation)."""
    if events is None or events.empty or held.empty:
        return _empty_grounds()
    day = pd.Timestamp(as_of)
    rows = events[(events["event_type"] == "data_fraud") & (events["occurred_on"] <= day)].merge(
        held, on="credit_code"
    )
    rows = rows[rows["occurred_on"] >= rows["certified_on"]]
    if rows.empty:
        return _empty_grounds()
    rows = rows.sort_values("occurred_on").drop_duplicates("credit_code", keep="last")
    return _grounds(
        pd.DataFrame(
            {
                "credit_code": rows["credit_code"],
                "ground": "data_fraud",
                "basis": "",
                "since": rows["occurred_on"],
                "evidence": rows["occurred_on"].dt.strftime("%Y-%m-%d")
                + " 发现数据造假（称号有效期内；第二十条：取消认定且三年内不得再次申报）",
            }
        )
    )


def _update_grounds(
    updates: pd.DataFrame | None, held: pd.DataFrame, as_of: dt.date, config: WatchlistConfig
) -> pd.DataFrame:
    """第十七条: yearly updates missed within the held title's validity period.

    A year is due when its deadline (5月31日) lies in [certified_on, expires_on] and before
    as_of; it is missed when the row shows no update, or one after the deadline. A due year
    without a row is not counted (the data does not show a miss).
    """
    if updates is None or updates.empty or held.empty:
        return _empty_grounds()
    cfg = config.annual_update
    rows = updates.merge(held, on="credit_code")
    if rows.empty:
        return _empty_grounds()
    years = rows["year"].astype("int64")
    deadline = pd.to_datetime(
        pd.DataFrame({"year": years, "month": cfg.deadline_month, "day": cfg.deadline_day})
    ).astype("datetime64[us]")
    day = pd.Timestamp(as_of)
    due = (deadline >= rows["certified_on"]) & (deadline <= rows["expires_on"]) & (deadline < day)
    updated = rows["updated_on"].where(~(rows["updated_on"] > day))  # later: not known on as_of
    missed = due & (updated.isna() | (updated > deadline))
    rows = rows.assign(deadline=deadline, updated=updated)[missed]
    if rows.empty:
        return _empty_grounds()
    late = rows["updated"].dt.strftime("%Y-%m-%d")
    each = (
        rows["year"].astype("str")
        + "年未在"
        + rows["deadline"].dt.strftime("%Y-%m-%d")
        + "前更新"
        + ("（" + late + "更新，已逾期）").where(rows["updated"].notna(), "")
    )
    rows = rows.assign(each=each).sort_values(["credit_code", "deadline"])
    per_firm = rows.groupby("credit_code", sort=True).agg(
        misses=("each", "size"),
        since=("deadline", "max"),
        detail=("each", "；".join),
        certified_on=("certified_on", "first"),
        expires_on=("expires_on", "first"),
    )
    twice = per_firm["misses"] >= cfg.misses_to_revoke
    period = (
        "同一有效期（"
        + per_firm["certified_on"].dt.strftime("%Y-%m-%d")
        + "至"
        + per_firm["expires_on"].dt.strftime("%Y-%m-%d")
        + "）内累计未更新"
        + per_firm["misses"].astype("str")
        + "次："
    )
    consequence = pd.Series("首次未更新，重点监测（第十七条）", index=per_firm.index).where(
        ~twice, f"累计达{cfg.misses_to_revoke}次未更新，取消认定（第十七条）"
    )
    return _grounds(
        pd.DataFrame(
            {
                "credit_code": per_firm.index,
                "ground": pd.Series("update_missed_once", index=per_firm.index).where(
                    ~twice, "update_missed_twice"
                ),
                "basis": "",
                "since": per_firm["since"],
                "evidence": period + per_firm["detail"] + "；" + consequence,
            }
        )
    )


def _change_grounds(
    changes: pd.DataFrame | None, held: pd.DataFrame, as_of: dt.date, config: WatchlistConfig
) -> pd.DataFrame:
    """第十八条: major changes within the validity period, not reported within 3 months (to the
    same day of the month; month end when that month is shorter), or reported and to verify."""
    if changes is None or changes.empty or held.empty:
        return _empty_grounds()
    cfg = config.major_change
    day = pd.Timestamp(as_of)
    rows = changes.merge(held, on="credit_code")
    rows = rows[(rows["occurred_on"] <= day) & (rows["occurred_on"] >= rows["certified_on"])]
    if rows.empty:
        return _empty_grounds()
    deadline = (rows["occurred_on"] + pd.DateOffset(months=cfg.report_within_months)).astype(
        "datetime64[us]"
    )
    reported = rows["reported_on"].where(~(rows["reported_on"] > day))  # later: not yet on as_of
    overdue = reported.isna() & (deadline < day)
    late = reported > deadline
    lookback = day - pd.DateOffset(months=cfg.reported_lookback_months)
    in_time = (reported <= deadline) & (rows["occurred_on"] >= lookback)
    what = (
        rows["occurred_on"].dt.strftime("%Y-%m-%d")
        + " 发生"
        + rows["change_type"].map(CHANGE_LABELS).fillna(rows["change_type"])
        + "，应于"
        + deadline.dt.strftime("%Y-%m-%d")
        + "前报告"
    )
    reported_text = reported.dt.strftime("%Y-%m-%d").fillna("")
    evidence = pd.Series("", index=rows.index)
    evidence[overdue] = what[overdue] + "，评估日仍未报告（第十八条：取消复核资格，或取消认定）"
    evidence[late] = what[late] + "，" + reported_text[late] + " 才报告，超过3个月（第十八条）"
    evidence[in_time] = (
        what[in_time]
        + "，已于"
        + reported_text[in_time]
        + "报告；需核实是否仍符合认定标准（第十八条）"
    )
    chosen = overdue | late | in_time
    ground = pd.Series("major_change_unreported", index=rows.index).where(
        ~in_time, "major_change_reported"
    )
    basis = rows["change_type"] + "@" + rows["occurred_on"].dt.strftime("%Y-%m-%d")
    return _grounds(
        pd.DataFrame(
            {
                "credit_code": rows["credit_code"],
                "ground": ground,
                "basis": basis,
                "since": rows["occurred_on"],
                "evidence": evidence,
            }
        )[chosen].drop_duplicates(["credit_code", "ground", "basis"])
    )


def _actions(rows: pd.DataFrame) -> pd.Series:
    """What the province does (第十七至二十一条): moves are handed to the receiving province; a
    first missed update, a reported change and (for a 专精特新中小企业) a listing in the
    abnormal-operation list alone are monitored; any other risk of a 小巨人 goes to
    the ministry (第十八、二十一条); of a 专精特新中小企业, verification then cancellation."""
    action = pd.Series(REVOKE, index=rows.index, dtype="str")
    action[rows["title"] == "little_giant"] = MINISTRY
    action[rows["ground"].isin(["update_missed_once", "major_change_reported"])] = MONITOR
    abnormal = (rows["ground"] == "credit_listing") & (rows["article"] == "第十一条")
    action[abnormal & (rows["title"] != "little_giant")] = MONITOR
    action[rows["ground"] == "moved_out"] = HAND_OVER
    return action


def mark_new(rows: pd.DataFrame, previous: pd.DataFrame | None, as_of: dt.date) -> pd.DataFrame:
    """`new` = the ground (province, firm, ground, basis) was not in the previous published run.

    A ground without an event date (a registry status) keeps the date it was first listed:
    the previous run's `since` when it was there, else as_of.
    """
    rows = rows.copy()
    if previous is None or previous.empty:
        rows["new"] = True
        rows["since"] = rows["since"].fillna(pd.Timestamp(as_of))
        return rows
    before = previous[[*GROUND_KEY, "since"]].astype({c: "str" for c in GROUND_KEY}).copy()
    before["basis"] = before["basis"].replace({"nan": "", "<NA>": ""})
    before["since"] = pd.to_datetime(before["since"], errors="coerce").astype("datetime64[us]")
    before = before.drop_duplicates(GROUND_KEY).rename(columns={"since": "since_before"})
    keyed = rows.astype({c: "str" for c in GROUND_KEY}).merge(
        before, on=GROUND_KEY, how="left", indicator=True
    )
    rows["new"] = (keyed["_merge"] == "left_only").to_numpy()
    rows["since"] = (
        rows["since"]
        .fillna(pd.Series(keyed["since_before"].to_numpy(), index=rows.index))
        .fillna(pd.Timestamp(as_of))
    )
    return rows


def order_watchlist(rows: pd.DataFrame, config: WatchlistConfig) -> pd.DataFrame:
    """Most severe ground first (config `severity`), then the most recent event, then code."""
    severity = {g: i for i, g in enumerate(config.severity)}
    ordered = rows.assign(_severity=rows["ground"].map(severity)).sort_values(
        ["province", "_severity", "since", "credit_code", "basis"],
        ascending=[True, True, False, True, True],
        kind="stable",
    )
    return ordered.drop(columns="_severity").reset_index(drop=True)


def watch_coverage(coverage: pd.DataFrame) -> dict[str, str]:
    """Per ground: `known`, or why it is unknown for every firm (a table the data lacks)."""
    missing = (
        set(coverage.loc[coverage["status"] == "missing", "table"]) if len(coverage) else set()
    )
    if "certifications" in missing:
        return {
            g: "unknown: certifications table missing (no titles to watch)" for g in GROUND_TABLES
        }
    result: dict[str, str] = {}
    for ground, tables in GROUND_TABLES.items():
        absent = [t for t in tables if t in missing]
        result[ground] = f"unknown: {', '.join(absent)} table missing" if absent else "known"
    return result


_UNKNOWN = re.compile(r"unknown: (.+?) table missing")


def coverage_tables(status: str) -> list[str]:
    """The tables a `watch_coverage` value names as missing (none for `known`)."""
    found = _UNKNOWN.match(status)
    return found.group(1).split(", ") if found else []


def ground_counts(rows: pd.DataFrame) -> Mapping[str, int]:
    return {str(k): int(v) for k, v in rows["ground"].value_counts().sort_index().items()}
