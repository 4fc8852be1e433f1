"""Entity matching: link every firm mention (patent holder, investee, award unit, …) to a firm.

Precision first (issue 5): a mention is linked only when one registry firm is clearly meant;
an ambiguous one goes to the review queue (method `review`, no credit code), never to a guess.

Stages, cheapest first; the first stage that finds a candidate decides:
1. `code`       the row's `*_credit_code` is a valid code of a registry firm. A valid code of
                no registry firm makes the mention NIL (`none`): the firm is outside the registry.
2. `exact`      the raw name equals a current registered name.
3. `normalized` the cleaned name (width, traditional, punctuation, branch part removed)
                equals a registered one.
4. `history`    the raw or cleaned name equals a former name (name_history, Article 19).
   Then the trade-name cores (features.names): `normalized` when the core equals that of
   exactly one current name whose region does not conflict, else `history` for former names;
   several such firms, or only firms in conflicting regions (look-alikes), go to review.
5. `fuzzy`      rapidfuzz ratio on trade-name cores over n-gram blocked candidates, adjusted
                for region agreement, industry words and form; linked only above a threshold
                and with a clear margin over the runner-up firm.
Distinct raw names are resolved once and joined back to every mention row.
All thresholds live in `configs/matching.yaml` (`MatchingConfig`).

This module runs matching over the sources' mentions and reads its links; the parts live apart:
`match_config` (settings and vocabulary), `match_blocking` (which registry names a name meets),
`match_registry` (the registry's names), `match_scoring` (how alike two names are) and
`match_resolution` (the stages above, which decide).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa

from features.match_config import LINKED_METHODS, PAIR_FEATURES, SUPPORT_METHODS, MatchingConfig
from features.match_decisions import mention_keys
from features.match_registry import Registry, release_arrow_memory, text_column
from features.match_resolution import resolve_names, review_pairs, support_by_firm
from features.match_scoring import pair_features
from features.names import normalize_names, region_levels
from features.schemas import MENTION_COLUMNS, credit_code_is_valid
from features.sources import SourceData, arrow_text, string_isin

# What matching, its review files and its refusals read (columns; None: all): the registry,
# the name-bearing tables and the titles of the patents their holders name; the other tables
# pass it by unread (issue 25).
MATCH_TABLES: Final[Mapping[str, tuple[str, ...] | None]] = {
    "firms": None,
    "name_history": None,
    "ip_rights": ("ip_id", "title"),
    **dict.fromkeys(MENTION_COLUMNS),
}
LINK_COLUMNS: Final = (
    "source",
    "row",
    "column",
    "raw_name",
    "credit_code",
    "score",
    "method",
    "candidate_codes",
    "runner_up_score",
    "matched_name",
)


def collect_mentions(data: SourceData) -> pd.DataFrame:
    """One row per firm mention: source, row, column, raw_name, given_code.

    `row` is the table's index: the 0-based data-row number in the source file(s) (the loader
    keeps it, gaps where rows were refused), so a mention can be found in the file.
    """
    columns: dict[str, list[pa.Array]] = {
        name: [] for name in ("source", "column", "raw_name", "given_code")
    }
    rows: list[np.ndarray] = []
    for table, pairs in MENTION_COLUMNS.items():
        frame = data.get(table)
        if frame is None:
            continue
        for name_column, code_column in pairs:
            if name_column not in frame.columns:
                continue
            # Arrow text end to end: a million names never become Python strings (issue 25)
            columns["source"].append(pa.repeat(table, len(frame)).cast(pa.large_string()))
            columns["column"].append(pa.repeat(name_column, len(frame)).cast(pa.large_string()))
            columns["raw_name"].extend(arrow_text(frame[name_column]).chunks)
            columns["given_code"].extend(arrow_text(text_column(frame, code_column)).chunks)
            rows.append(_row_numbers(frame))
    if not rows:
        empty = {c: pd.Series(dtype="str") for c in ("source", "column", "raw_name", "given_code")}
        return pd.DataFrame({**empty, "row": pd.Series(dtype=np.int64)})[
            ["source", "row", "column", "raw_name", "given_code"]
        ]
    text = {
        name: pa.chunked_array(chunks, pa.large_string()).to_pandas()
        for name, chunks in columns.items()
    }
    return pd.DataFrame({**text, "row": np.concatenate(rows)})[
        ["source", "row", "column", "raw_name", "given_code"]
    ]


def _row_numbers(frame: pd.DataFrame) -> np.ndarray:
    if pd.api.types.is_integer_dtype(frame.index.dtype):
        return frame.index.to_numpy(dtype=np.int64)
    return np.arange(len(frame), dtype=np.int64)


def decided_codes(
    data: SourceData, mentions: pd.DataFrame, decisions: pd.DataFrame | None
) -> pd.Series:
    """Per mention: the officials' decision in force (a credit code or `none`), else NA.

    Only mentions whose table and name appear among the decisions are fingerprinted.
    """
    decided = pd.Series(pd.NA, index=mentions.index, dtype="str")
    if decisions is None or decisions.empty or mentions.empty:
        return decided
    written = decisions["source"] + "\x1f" + decisions["raw_name"].str.strip()
    mentioned = mentions["source"] + "\x1f" + mentions["raw_name"].str.strip()
    maybe = mentioned.isin(set(written)).to_numpy(dtype=bool)
    if maybe.any():
        keys = mention_keys(data, mentions[maybe])
        by_key = decisions.drop_duplicates("mention_key", keep="last")
        decided[maybe] = keys.map(by_key.set_index("mention_key")["credit_code"]).to_numpy()
    return decided


def link_mentions(
    data: SourceData,
    config: MatchingConfig | None = None,
    decisions: pd.DataFrame | None = None,
    registry: Registry | None = None,
) -> pd.DataFrame:
    """Link every firm mention of the name-bearing tables to a registry firm (or to none).

    One row per mention, columns `LINK_COLUMNS`: source, row (0-based in its table), column,
    raw_name, credit_code (empty unless linked), score (0-1), method (decision, code, exact,
    normalized, history, fuzzy, classifier, review, none), candidate_codes ("|"-joined, for
    review), runner_up_score, matched_name (the registry name the decision rests on).

    `decisions` (features.match_decisions: mention_key, source, raw_name, credit_code) are
    applied before any name stage: a decided mention is linked to the firm an official chose
    (method `decision`; no credit code when the choice was `none` or the firm has left the
    registry) and never reaches the review queue again — unless its row now carries a registry
    firm's valid credit code, which links it by `code` instead.

    `registry`: `Registry.from_sources(data)`, when the caller already has it (the review files
    and `features.unsettled.refused_by_firm` use the same one). The three steps — `plan_mentions`,
    `resolve_names` of the names it leaves, `links_from` — are the same when the names are
    resolved against the registry in parts (features.match_partitions).
    """
    config = config or MatchingConfig.load()
    registry = Registry.from_sources(data) if registry is None else registry
    registry.blocker(config.blocking)  # the n-gram index, built before the mentions take memory
    release_arrow_memory()
    plan = plan_mentions(data, decisions)
    names, linked = names_to_resolve(plan)
    resolved = resolve_names(names, registry, config, linked) if len(names) else None
    del names, linked
    release_arrow_memory()
    return links_from(plan, resolved, data, config)


def registry_codes(data: SourceData) -> pd.Index:
    """The credit codes of the registry's firms."""
    firms = data.get("firms")
    if firms is None:
        return pd.Index([], dtype="str")
    return pd.Index(firms["credit_code"].astype("str").dropna().unique())


def plan_mentions(data: SourceData, decisions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every firm mention (source, row, column, raw_name) and what decides it before any name
    stage: `given` (its code, cleaned), `registered` (a registry firm's valid code: `code`),
    `outside` (a valid code of no registry firm: NIL), `decided` (an official's decision in
    force, `decision`), `by_name` (none of these: its name is resolved)."""
    mentions = collect_mentions(data)
    given = mentions["given_code"].str.strip().str.upper()
    valid = credit_code_is_valid(given).to_numpy(dtype=bool)
    # A registry firm's code the source gives for the row outranks a decision made without it
    # (issue 28): the key leaves the code out, so an old "none" must not hide a later code.
    registered = valid & string_isin(given.fillna(""), registry_codes(data))
    decided = decided_codes(data, mentions, decisions)
    by_decision = decided.notna().to_numpy(dtype=bool) & ~registered
    valid = valid & ~by_decision
    plan = mentions[["source", "row", "column", "raw_name"]]
    plan["given"] = given
    plan["registered"] = registered
    plan["outside"] = valid & ~registered
    plan["decided"] = decided.where(by_decision)
    plan["by_name"] = ~valid & ~by_decision
    return plan


def names_to_resolve(plan: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The names `resolve_names` resolves (one per mention) and the codes already linked by
    the `code` stage (they count towards a firm's support)."""
    return plan.loc[plan["by_name"], "raw_name"], plan.loc[plan["registered"], "given"]


def links_from(
    plan: pd.DataFrame,
    resolved: pd.DataFrame | None,
    data: SourceData,
    config: MatchingConfig | None = None,
) -> pd.DataFrame:
    """The links (`LINK_COLUMNS`) of the mentions of `plan_mentions`, those resolved by name
    taking their distinct name's row of `resolved` (`resolve_names` of `names_to_resolve`)."""
    config = config or MatchingConfig.load()
    if resolved is not None and resolved.empty:
        resolved = None
    by_name = plan["by_name"].to_numpy(dtype=bool)
    registered = plan["registered"].to_numpy(dtype=bool)
    outside = plan["outside"].to_numpy(dtype=bool)
    links = plan[["source", "row", "column", "raw_name"]]
    # Each mention resolved by name takes its distinct name's row of `resolved` (one take per
    # column, not a frame reindexed to every mention).
    take = np.full(len(plan), -1, dtype=np.int64)
    if resolved is not None:
        take[by_name] = _rows_of(plan.loc[by_name, "raw_name"], resolved["raw_name"])
    for column in ("credit_code", "method", "candidate_codes", "matched_name"):
        if resolved is not None:
            links[column] = resolved[column].array.take(take, allow_fill=True)
        else:
            links[column] = pd.Series(pd.NA, index=links.index, dtype="str")
    for column, missing in (("score", 0.0), ("runner_up_score", np.nan)):
        values = np.full(len(plan), missing)
        if resolved is not None:
            values = np.where(take >= 0, resolved[column].to_numpy()[take], missing)
        links[column] = values
    del take, resolved
    links["credit_code"] = links["credit_code"].where(~registered, plan["given"])
    links.loc[registered, "method"] = "code"
    links.loc[registered, "score"] = config.stage_scores.code
    links.loc[outside, "method"] = "none"
    links.loc[outside, "score"] = 0.0
    by_decision = plan["decided"].notna().to_numpy(dtype=bool)
    if by_decision.any():
        chosen = plan.loc[by_decision, "decided"]
        codes = registry_codes(data)
        in_registry = np.asarray(string_isin(chosen.fillna(""), codes), dtype=bool)
        firms = data.tables["firms"]
        named = pd.DataFrame(
            {"credit_code": firms["credit_code"].astype("str"), "raw": text_column(firms, "name")}
        )
        named["raw"] = named["raw"].str.strip()
        named = named.dropna().drop_duplicates("credit_code")
        name_of = named.set_index("credit_code")["raw"]
        links.loc[by_decision, "method"] = "decision"
        links.loc[by_decision, "score"] = 1.0
        links.loc[by_decision, "credit_code"] = chosen.where(in_registry).to_numpy()
        links.loc[by_decision, "matched_name"] = chosen.map(name_of).to_numpy()
    links["method"] = links["method"].fillna("none")
    links["score"] = links["score"].astype(float).fillna(0.0)
    links = links[list(LINK_COLUMNS)].reset_index(drop=True)
    release_arrow_memory()
    return links


def _rows_of(names: pd.Series, distinct: pd.Series) -> np.ndarray:
    """Position of each of `names` among `distinct` (-1 for a missing name). `resolve_names`
    lists the distinct names in order of appearance, as factorising finds them."""
    position, uniques = pd.factorize(names)
    if len(uniques) == len(distinct) and bool(
        (pd.Series(uniques, dtype="str") == distinct.reset_index(drop=True)).all()
    ):
        return np.asarray(position, dtype=np.int64)
    found = pd.Index(distinct).get_indexer(names)
    return np.where(names.notna().to_numpy(), found, -1)


def compare_candidates(
    links: pd.DataFrame,
    registry: Registry,
    config: MatchingConfig | None = None,
    named_only: bool = False,
    all_links: pd.DataFrame | None = None,
    support: pd.Series | None = None,
) -> pd.DataFrame:
    """Every candidate firm of each distinct raw name in `links` (e.g. the review queue), with
    its comparison features (`PAIR_FEATURES`), the fuzzy score and the pair classifier's
    probability: raw_name, credit_code, name (the candidate's closest name), probability, ….

    Candidates are those the pair classifier weighs (n-gram blocking plus the firms a stage
    named); `named_only` keeps the named ones (`candidate_codes`), as a reviewer sees them.
    Support counts the mentions `all_links` (default `links`) links with certainty to a firm;
    `support` (per credit code, `certain_links`) gives those counts instead.
    """
    config = config or MatchingConfig.load()
    distinct = links.drop_duplicates("raw_name")
    distinct = distinct[distinct["raw_name"].notna()].reset_index(drop=True)
    parts = normalize_names(distinct["raw_name"]).reset_index(drop=True)
    usable = parts["core"].notna().to_numpy()
    queries, codes = parts[usable].reset_index(drop=True), distinct[usable].reset_index(drop=True)
    empty = pd.DataFrame(columns=["raw_name", "credit_code", "name", "probability", "score"])
    if queries.empty or registry.entries.empty:
        return empty
    candidates = codes["candidate_codes"].to_numpy(dtype=object)
    pairs = review_pairs(queries, candidates, registry, config.blocking)
    if pairs.empty:
        return empty
    if support is None:
        every = links if all_links is None else all_links
        certain = every["credit_code"][every["method"].isin(SUPPORT_METHODS).to_numpy()].dropna()
        support = certain.astype("str").value_counts()
    by_firm = support_by_firm(support, registry)
    levels = region_levels(queries["region_code"])
    frame = pair_features(queries, levels, registry, pairs, config.fuzzy, by_firm)
    model = config.pair_classifier
    frame["probability"] = model.probability(frame) if model is not None else np.nan
    frame["raw_name"] = codes["raw_name"].to_numpy()[frame["mention"].to_numpy()]
    if named_only:
        # each mention's named codes split once, not once per pair (issue 25)
        named = [set(text.split("|")) for text in pd.Series(candidates, dtype="str").fillna("")]
        mentions, found = frame["mention"].to_numpy(), frame["credit_code"].to_numpy(dtype=object)
        keep = [code in named[m] for m, code in zip(mentions, found, strict=True)]
        frame = frame[np.asarray(keep, dtype=bool)]
    frame = frame.rename(columns={"raw": "name"})
    columns = ["raw_name", "credit_code", "name", "probability", "score", *PAIR_FEATURES]
    return frame[columns].reset_index(drop=True)


def review_queue(links: pd.DataFrame) -> pd.DataFrame:
    """Mentions a person should check (method `review`), the most promising first."""
    queue = links[links["method"] == "review"]
    return queue.sort_values(["score", "source", "row"], ascending=[False, True, True]).reset_index(
        drop=True
    )


def attribute_mentions(data: SourceData, links: pd.DataFrame | None = None) -> SourceData:
    """A copy of `data` whose `*_credit_code` columns carry the linked firm of each mention.

    Only linked mentions are written; for review and NIL mentions the column keeps what the
    source gave (empty unless the source had a code).
    """
    links = link_mentions(data) if links is None else links
    use = links["method"].isin(LINKED_METHODS).to_numpy() & links["credit_code"].notna().to_numpy()
    linked = links.loc[use, ["source", "row", "column", "credit_code"]]
    tables = dict(data.tables)
    for table, pairs in MENTION_COLUMNS.items():
        frame = tables.get(table)
        if frame is None:
            continue
        frame = frame.copy(deep=False)  # only the code columns change (copy-on-write)
        for name_column, code_column in pairs:
            if name_column not in frame.columns:
                continue
            codes = text_column(frame, code_column).to_numpy(copy=True)
            these = linked[(linked["source"] == table) & (linked["column"] == name_column)]
            position = pd.Index(_row_numbers(frame)).get_indexer(these["row"].to_numpy())
            found = position >= 0
            codes[position[found]] = these["credit_code"].to_numpy()[found]
            frame[code_column] = pd.array(codes, dtype="str")
        tables[table] = frame
    return SourceData(tables=tables, rejects=data.rejects, coverage=data.coverage)


@dataclass(frozen=True)
class LinkMetrics:
    """Scores of links against ground truth (one row of `by_variant` per variant, plus `all`)."""

    precision: float
    recall: float
    f1: float
    nil_accuracy: float
    nil_wrong_link_rate: float
    review_size: int
    by_variant: pd.DataFrame


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def evaluate_links(links: pd.DataFrame, truth_mentions: pd.DataFrame) -> LinkMetrics:
    """Precision, recall and F1 overall and per variant; NIL accuracy; review-queue size.

    `truth_mentions`: source, row, column, credit_code (empty = NIL), variant. A link is correct
    when its code is the true one; precision counts every link, recall every linkable mention
    (true code not empty). NIL accuracy: NIL mentions left unlinked.
    """
    keys = ["source", "row", "column"]
    truth = truth_mentions.copy()
    truth["row"] = truth["row"].astype(np.int64)
    truth["true_code"] = truth["credit_code"].astype("str").replace("", pd.NA)
    if "variant" not in truth.columns:
        truth["variant"] = "all"
    found = links[[*keys, "credit_code", "method"]].copy()
    found["row"] = found["row"].astype(np.int64)
    merged = truth[[*keys, "true_code", "variant"]].merge(found, on=keys, how="left")
    linked = merged["method"].isin(LINKED_METHODS) & merged["credit_code"].notna()
    merged["linked"] = linked
    merged["correct"] = linked & (merged["credit_code"] == merged["true_code"]).fillna(False)
    merged["wrong"] = linked & ~merged["correct"]
    merged["linkable"] = merged["true_code"].notna()
    merged["review"] = merged["method"] == "review"

    def summarise(group: pd.DataFrame) -> dict[str, float]:
        precision = _ratio(group["correct"].sum(), group["linked"].sum())
        recall = _ratio(group["correct"].sum(), group["linkable"].sum())
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision + recall > 0
            else float("nan")
        )
        return {
            "mentions": len(group),
            "linkable": int(group["linkable"].sum()),
            "linked": int(group["linked"].sum()),
            "correct": int(group["correct"].sum()),
            "wrong": int(group["wrong"].sum()),
            "review": int(group["review"].sum()),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "wrong_rate": _ratio(group["wrong"].sum(), len(group)),
        }

    rows = {"all": summarise(merged)}
    for variant, group in merged.groupby("variant", sort=True):
        rows[str(variant)] = summarise(group)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "variant"
    nil = merged[~merged["linkable"]]
    overall = rows["all"]
    return LinkMetrics(
        precision=overall["precision"],
        recall=overall["recall"],
        f1=overall["f1"],
        nil_accuracy=_ratio((~nil["linked"]).sum(), len(nil)),
        nil_wrong_link_rate=_ratio(nil["linked"].sum(), len(nil)),
        review_size=int((links["method"] == "review").sum()),
        by_variant=table,
    )
