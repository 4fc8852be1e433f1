"""From criteria verdicts and model scores to the officials' lists (pure functions).

An invitation list holds only firms whose discovery outcome is `eligible` or `to_verify`
(Article 9: 认定标准不降低 — a firm with any `fail` is never invited); the model only orders them.

The lists are split by what the province already knows (issue 24): the invitation list holds
discoveries only — firms with no application for the tier known on the evaluation date — and
the re-application list the invitable firms whose last application for the tier was not
approved (or was approved, but no valid title of the tier stands). A firm applying in the
current round is on neither. The two are never mixed (`split_by_history`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd

from core.run_layout import (
    HISTORY_COLUMNS,
    LIST_COLUMNS,
    REAPPLY_COLUMNS,
    RENEWAL_COLUMNS,
    SCORE_COLUMNS,
)
from models.criteria.text import join_in_groups, joined_per_group
from models.labels import criterion_heading

INVITABLE = ("eligible", "to_verify")
# Tier → the `applications.title` of an application for it (configs/model.yaml labels.titles;
# the flow passes the configured mapping).
Tier = Literal["specialized", "little_giant"]
APPLICATION_TITLES: Mapping[Tier, str] = {
    "specialized": "specialized_sme",
    "little_giant": "little_giant",
}
# Between applications of one firm, tier and round, the one that counts last.
_OUTCOME_ORDER = {"withdrawn": 0, "rejected": 1, "approved": 2}
DECLARATION_MARK = "需申报说明"
NO_PROVINCE = "00"  # firms without a usable region code; reported, never published to a province


class InvitationError(AssertionError):
    """A list would break the standard (a failing or non-invitable firm); the run must stop."""


def province_of(region_code: pd.Series) -> pd.Series:
    """Two-digit province code of a 6-digit region code (NO_PROVINCE when missing)."""
    codes = region_code.astype("str").str.slice(0, 2)
    return codes.where(codes.str.fullmatch(r"[0-9]{2}", na=False), NO_PROVINCE)


def home_province(firms: pd.DataFrame) -> pd.Series:
    """Province each firm belongs to: a `moved_out` firm with a known `moved_to_region_code`
    belongs to the receiving province (第十九条); every other firm to its registered one."""
    region = firms["region_code"].astype("str")
    if "moved_to_region_code" in firms and "status" in firms:
        moved = (firms["status"] == "moved_out").fillna(False) & firms[
            "moved_to_region_code"
        ].notna()
        region = region.where(~moved, firms["moved_to_region_code"].astype("str"))
    return province_of(region)


def discovery_outcomes(criteria: pd.DataFrame) -> pd.DataFrame:
    """One row per firm and tier: the discovery-mode outcome."""
    rows = criteria[(criteria["mode"] == "discovery") & (criteria["criterion"] == "outcome")]
    return rows[["credit_code", "tier", "verdict"]].rename(columns={"verdict": "outcome"})


def invitation_lists(
    criteria: pd.DataFrame,
    scores: pd.DataFrame,
    firms: pd.DataFrame,
    max_per_list: int | None = None,
    watched: pd.Series | None = None,
    could_fail: pd.DataFrame | None = None,
    *,
    applications: pd.DataFrame | None = None,
    as_of: dt.date | None = None,
    titles: Mapping[Tier, str] = APPLICATION_TITLES,
) -> pd.DataFrame:
    """Ranked invitation rows for every province and tier.

    `scores` has credit_code, tier, score, reasons and the model columns (missing ones are
    left empty: a rule-baseline ordering estimates no probabilities). Ties in score are broken
    by credit code so the same inputs always give the same ranks. Firms `watched` (on the watch
    list, 第十四条) are not invited to a higher title while their risk stands. `could_fail`: the
    refused rows attributed to firms and the criteria each could have failed
    (models.criteria.doubts.could_fail), checked by `check_invitations`.

    With `as_of`, the list holds discoveries only: a firm with an application for the tier
    known on `as_of` (`applications`, as point_in_time leaves it; None or empty = none known)
    is left out before ranking and `max_per_list` (`split_by_history`; the re-applicants are
    `reapply_lists`).
    """
    invited = _invitable(criteria, watched)
    if as_of is not None:
        invited, _ = split_by_history(invited, applications, as_of, titles)
    lists = _listed(invited, criteria, scores, firms, "score")
    if max_per_list is not None:
        lists = lists[lists["rank"] <= max_per_list]
    check_invitations(lists, criteria, could_fail)
    return lists[["province", *LIST_COLUMNS]].reset_index(drop=True)


def reapply_lists(
    criteria: pd.DataFrame,
    scores: pd.DataFrame,
    firms: pd.DataFrame,
    applications: pd.DataFrame | None,
    as_of: dt.date,
    max_per_list: int | None = None,
    watched: pd.Series | None = None,
    could_fail: pd.DataFrame | None = None,
    titles: Mapping[Tier, str] = APPLICATION_TITLES,
) -> pd.DataFrame:
    """Ranked re-application rows for every province and tier (`split_by_history`): invitable
    firms — the same outcomes, watch-list exclusion and `check_invitations` as the invitation
    list — whose last application for the tier before the current round was not approved (or
    was approved but no valid title of the tier stands), with `last_round` and `last_outcome`.

    Ordered by `p_qualify` (descending; ties by credit code): who applied before and was
    turned down is ranked by the chance of being certified now, not by whether they would
    apply unprompted. Without probabilities (a rule-baseline ordering) by `score`.
    """
    invitable = _invitable(criteria, watched)
    _, again = split_by_history(invitable, applications, as_of, titles)
    by = "p_qualify" if _has_probabilities(scores, again) else "score"
    lists = _listed(again, criteria, scores, firms, by)
    if max_per_list is not None:
        lists = lists[lists["rank"] <= max_per_list]
    check_invitations(lists, criteria, could_fail)
    return lists[["province", *REAPPLY_COLUMNS]].reset_index(drop=True)


def split_by_history(
    rows: pd.DataFrame,
    applications: pd.DataFrame | None,
    as_of: dt.date,
    titles: Mapping[Tier, str] = APPLICATION_TITLES,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(discoveries, reapply): the rows (credit_code, tier, …: outcomes or list rows) split by
    the applications for the tier known on `as_of`.

    - discoveries: no application for the tier up to `as_of`;
    - reapply: the last application for the tier was in an earlier round, with `last_round`
      (its year) and `last_outcome`. Its outcome is `rejected` or `withdrawn` — or `approved`:
      a firm certified before that is invitable again holds no valid title of the tier (expired,
      revoked without a ban, or a certifications table that does not show it). The province
      knows it — not a discovery — and it may apply again, so it is listed for re-application
      with `last_outcome = approved`, for the official to check;
    - on neither: an application for the tier in the current round (year = `as_of`'s year).

    `applications` is taken as given (features.point_in_time keeps those known on `as_of`); rows
    dated after `as_of` (a later year, or `submitted_on` after it) are ignored all the same.
    Absent or empty: every row is a discovery and reapply is empty. Row order is kept.
    """
    history = last_applications(applications, as_of, titles)
    merged = rows.merge(history, on=["credit_code", "tier"], how="left", validate="many_to_one")
    merged.index = rows.index
    known = merged["last_round"].notna().to_numpy(dtype=bool)
    current = (merged["last_round"] == as_of.year).fillna(False).to_numpy(dtype=bool)
    discoveries = rows[~known]
    again = merged[known & ~current].copy()
    again["last_round"] = again["last_round"].astype("Int64")
    return discoveries, again


def last_applications(
    applications: pd.DataFrame | None,
    as_of: dt.date,
    titles: Mapping[Tier, str] = APPLICATION_TITLES,
) -> pd.DataFrame:
    """Per firm and tier with an application known on `as_of`: the year (`last_round`) and
    outcome (`last_outcome`) of the last one. Within a year the later `submitted_on` counts,
    then an approval over a rejection over a withdrawal."""
    columns = ["credit_code", "tier", *HISTORY_COLUMNS]
    needed = {"credit_code", "year", "title", "outcome"}
    if applications is None or applications.empty or not needed <= set(applications.columns):
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
        return empty.astype({"last_round": "Int64"})
    tier_of = {title: tier for tier, title in titles.items()}
    apps = pd.DataFrame(
        {
            "credit_code": applications["credit_code"].astype("str").to_numpy(),
            "tier": applications["title"].astype("str").map(tier_of).to_numpy(),
            "last_round": pd.to_numeric(applications["year"], errors="coerce")
            .astype("float64")
            .to_numpy(),
            "last_outcome": applications["outcome"].astype("string").to_numpy(),
            "submitted_on": pd.to_datetime(
                applications["submitted_on"]
                if "submitted_on" in applications
                else pd.Series(pd.NaT, index=applications.index),
                errors="coerce",
            ).to_numpy(),
        }
    )
    later = (apps["last_round"] > as_of.year) | (apps["submitted_on"] > pd.Timestamp(as_of))
    apps = apps[apps["tier"].notna() & apps["last_round"].notna() & ~later.to_numpy()]
    apps = apps.assign(order=apps["last_outcome"].map(_OUTCOME_ORDER).fillna(-1))
    apps = apps.sort_values(
        ["credit_code", "tier", "last_round", "submitted_on", "order"],
        na_position="first",
        kind="stable",
    )
    last = apps.drop_duplicates(["credit_code", "tier"], keep="last")
    return last[columns].astype({"last_round": "Int64"}).reset_index(drop=True)


def _invitable(criteria: pd.DataFrame, watched: pd.Series | None) -> pd.DataFrame:
    """Firm and tier whose discovery outcome is invitable, less the watched firms."""
    outcomes = discovery_outcomes(criteria)
    invited = outcomes[outcomes["outcome"].isin(INVITABLE)]
    if watched is not None:
        invited = invited[~invited["credit_code"].isin(watched)]
    return invited


def _has_probabilities(scores: pd.DataFrame, rows: pd.DataFrame) -> bool:
    """Whether the model estimated p_qualify for any of these rows (not a rule baseline)."""
    if "p_qualify" not in scores or rows.empty:
        return False
    keys = rows[["credit_code", "tier"]].astype("str")
    known = scores.loc[scores["p_qualify"].notna(), ["credit_code", "tier"]].astype("str")
    return bool(len(keys.merge(known, on=["credit_code", "tier"])))


def _listed(
    invited: pd.DataFrame,
    criteria: pd.DataFrame,
    scores: pd.DataFrame,
    firms: pd.DataFrame,
    by: str,
) -> pd.DataFrame:
    """The rows of these firms and tiers with registry, model and criterion columns, ranked
    1..n per province and tier by `by` (descending; empty last), ties by credit code."""
    # Narrow the (large, categorical) criteria frame to these firms before anything else.
    these = criteria["credit_code"].isin(invited["credit_code"].unique())
    discovery = criteria[these & (criteria["mode"] == "discovery")]
    details = _criterion_details(discovery, invited)
    registry = firms.reset_index(drop=True)
    registry = registry[["credit_code", "name", "region_code"]].assign(
        province=home_province(registry).to_numpy()
    )
    lists = (
        invited.merge(registry, on="credit_code", how="left")
        .merge(
            scores.reindex(columns=["credit_code", "tier", *SCORE_COLUMNS]),
            on=["credit_code", "tier"],
            how="left",
        )
        .merge(details, on=["credit_code", "tier"], how="left")
    )
    if lists["score"].isna().any():
        missing = lists.loc[lists["score"].isna(), "credit_code"].iloc[0]
        raise InvitationError(f"no model score for invitable firm {missing}")
    lists = lists.sort_values(
        ["province", "tier", by, "credit_code"],
        ascending=[True, True, False, True],
        na_position="last",
    )
    lists["rank"] = lists.groupby(["province", "tier"]).cumcount() + 1
    return lists


def check_invitations(
    lists: pd.DataFrame, criteria: pd.DataFrame, could_fail: pd.DataFrame | None = None
) -> None:
    """Refuse to publish a list that breaks the standard, whatever produced it.

    With `could_fail` (credit_code, table, row, criterion: models.criteria.doubts.could_fail):
    no invited firm has a refused row that could have failed it unless every criterion that
    row could fail is `unknown` naming the row, and the firm is `to_verify`.
    """
    bad_outcome = ~lists["outcome"].isin(INVITABLE)
    if bad_outcome.any():
        row = lists[bad_outcome].iloc[0]
        raise InvitationError(f"{row['credit_code']} has outcome {row['outcome']}")
    fails = criteria[
        criteria["credit_code"].isin(lists["credit_code"].unique())
        & (criteria["mode"] == "discovery")
        & (criteria["verdict"] == "fail")
        & (criteria["criterion"] != "outcome")
    ][["credit_code", "tier"]]
    failing = lists.merge(fails, on=["credit_code", "tier"])
    if len(failing):
        raise InvitationError(f"{failing['credit_code'].iloc[0]} fails a criterion")
    if could_fail is not None and len(could_fail) and len(lists):
        _check_refused(lists, criteria, could_fail)
    ranks = lists.groupby(["province", "tier"])["rank"]
    if not (ranks.min().eq(1).all() and (ranks.max() == ranks.count()).all()):
        raise InvitationError("ranks are not 1..n in every list")


def _check_refused(lists: pd.DataFrame, criteria: pd.DataFrame, could_fail: pd.DataFrame) -> None:
    """Issue 11: a verdict never rests on the absence of a refused row that could fail it."""
    keys = ["credit_code", "tier"]
    invited = lists[[*keys, "outcome"]].astype("str")
    at_risk = invited.merge(
        could_fail[["credit_code", "table", "row", "criterion"]].astype(
            {"credit_code": "str", "table": "str", "criterion": "str"}
        ),
        on="credit_code",
    )
    if at_risk.empty:
        return
    these = criteria["credit_code"].isin(at_risk["credit_code"].unique())
    discovery = criteria[these & (criteria["mode"] == "discovery")]
    verdicts = discovery[[*keys, "criterion", "verdict", "evidence"]].astype("str")
    checked = at_risk.merge(verdicts, on=[*keys, "criterion"])
    named = checked["evidence"].str.contains("被拒收", regex=False)
    bad = (checked["verdict"] != "unknown") | ~named | (checked["outcome"] != "to_verify")
    if bad.any():
        row = checked[bad].iloc[0]
        raise InvitationError(
            f"{row['credit_code']} ({row['tier']}) is invited as {row['outcome']} while refused "
            f"row {row['table']} {row['row']} could fail {row['criterion']} "
            f"({row['verdict']})"
        )


def _criterion_details(discovery: pd.DataFrame, invited: pd.DataFrame) -> pd.DataFrame:
    """Per firm and tier: unknown criteria (to verify), declarations and the evidence text."""
    # Narrow the (large, categorical) criteria frame to the invited firms before converting.
    narrowed = discovery[
        discovery["credit_code"].isin(invited["credit_code"].unique())
        & (discovery["criterion"] != "outcome")
    ]
    columns = ["credit_code", "tier", "criterion", "verdict", "evidence"]
    rows = (
        narrowed[columns]
        .astype("str")
        .merge(invited[["credit_code", "tier"]].astype("str"), on=["credit_code", "tier"])
    )
    rows = rows.sort_values(["credit_code", "tier", "criterion"])
    rows["labelled"] = _labelled(rows["criterion"], rows["evidence"])
    unknown = rows["verdict"] == "unknown"
    # Declarations are the evidence's "需申报说明：…" parts: what the firm must state itself.
    parts = rows[["credit_code", "tier", "evidence"]].assign(
        evidence=rows["evidence"].str.split("；")
    )
    parts = parts.explode("evidence")
    declared = parts[parts["evidence"].str.startswith(DECLARATION_MARK)].drop_duplicates()
    keys = ["credit_code", "tier"]
    grouped = pd.DataFrame(
        {
            "to_verify": _joined(rows[unknown], keys, "labelled"),
            "declarations": _joined(declared, keys, "evidence"),
            "evidence": _joined(rows[~unknown], keys, "labelled"),
        }
    )
    grouped.index.names = keys
    return grouped.reset_index()


def _labelled(criteria: pd.Series, evidence: pd.Series) -> pd.Series:
    """Each criterion's evidence led by its name and article (models.labels.criterion_text)."""
    headings = {c: criterion_heading(c) for c in pd.unique(criteria)}
    return criteria.map(headings) + "：" + evidence


def _joined(frame: pd.DataFrame, keys: list[str], column: str) -> pd.Series:
    """One text per key: the column's texts joined with "；" in the frame's order."""
    return joined_per_group(frame, keys, column, "；")


def _join_per_group(texts: pd.Series, group: np.ndarray, chosen: pd.Series) -> list[str]:
    """Per group number 0..max(group) (`group`: each row's): its `chosen` texts joined with
    "；", each text once in first-seen order ("" for none)."""
    picked = pd.DataFrame({"group": group, "text": texts.to_numpy(dtype=object)})
    picked = picked[chosen.to_numpy(dtype=bool) & texts.notna().to_numpy()].drop_duplicates()
    texts_of = join_in_groups(picked["text"].to_numpy(), picked["group"].to_numpy(), "；")
    return texts_of + [""] * (int(group.max(initial=-1)) + 1 - len(texts_of))


def funnel(
    criteria: pd.DataFrame,
    firms: pd.DataFrame,
    lists: pd.DataFrame,
    reapply: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per province and tier: registry → candidates → eligible / to_verify → invited (the
    invitation list: discoveries); with `reapply`, the re-application list's rows too."""
    registry = firms.reset_index(drop=True)
    registry = registry[["credit_code", "status"]].assign(province=home_province(registry))
    outcomes = discovery_outcomes(criteria).merge(registry, on="credit_code")
    groups = outcomes.groupby(["province", "tier"])
    table = pd.DataFrame(
        {
            "registry": groups.size(),
            "candidates": groups["outcome"].agg(lambda o: int((o != "already_certified").sum())),
            "already_certified": groups["outcome"].agg(
                lambda o: int((o == "already_certified").sum())
            ),
            "ineligible": groups["outcome"].agg(lambda o: int((o == "ineligible").sum())),
            "eligible": groups["outcome"].agg(lambda o: int((o == "eligible").sum())),
            "to_verify": groups["outcome"].agg(lambda o: int((o == "to_verify").sum())),
        }
    )
    invited = lists.groupby(["province", "tier"]).size().rename("invited")
    table = table.join(invited).fillna({"invited": 0})
    if reapply is not None:
        again = reapply.groupby(["province", "tier"]).size().rename("reapply")
        table = table.join(again).fillna({"reapply": 0})
    return table.astype("int64").reset_index()


def renewal_rows(criteria: pd.DataFrame, firms: pd.DataFrame) -> pd.DataFrame:
    """Article 16 复核: titles due for review with their renewal outcome and failing criteria."""
    renewal = criteria[criteria["mode"] == "renewal"]
    if renewal.empty:
        return pd.DataFrame(columns=RENEWAL_COLUMNS)
    keys = [renewal["credit_code"], renewal["tier"]]
    is_outcome = renewal["criterion"] == "outcome"
    outcome = renewal["verdict"].where(is_outcome).groupby(keys).first()
    label = _labelled(renewal["criterion"].astype("str"), renewal["evidence"].astype("str"))
    group = renewal.groupby(keys).ngroup().to_numpy()  # numbered in `outcome`'s order
    table = pd.DataFrame(
        {
            "outcome": outcome,
            "failing": _join_per_group(label, group, ~is_outcome & (renewal["verdict"] == "fail")),
            "unknown": _join_per_group(
                label, group, ~is_outcome & (renewal["verdict"] == "unknown")
            ),
        }
    )
    table.index.names = ["credit_code", "tier"]
    table = table.reset_index().merge(
        firms.reset_index(drop=True)[["credit_code", "name", "region_code"]], on="credit_code"
    )
    return table[RENEWAL_COLUMNS]


def with_registry_columns(frame: pd.DataFrame, firms: pd.DataFrame) -> pd.DataFrame:
    """Add the firm's registered name and region code (officials read names, act by region)."""
    registry = firms.reset_index(drop=True)[["credit_code", "name", "region_code"]]
    extra = frame.drop(columns=["name", "region_code"], errors="ignore")
    merged = extra.merge(registry, on="credit_code", how="left")
    first = ["credit_code", "name", "region_code"]
    return merged[first + [c for c in merged.columns if c not in first]]
