"""Decisions: which firm a name means, stage by stage, cheapest first; the first stage that
finds a candidate decides (the stages are listed in features/matching.py). A name is linked
only when one registry firm is clearly meant; an ambiguous one goes to review, never to a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.match_blocking import BlockingStats
from features.match_config import SUPPORT_METHODS, Blocking, MatchingConfig
from features.match_registry import Registry, release_arrow_memory
from features.match_scoring import pair_features, region_status, score_pairs
from features.names import (
    normalize_names,
    region_levels,
)


@dataclass
class _Resolution:
    """Decisions so far, one row per distinct name (index = name id)."""

    names: pd.DataFrame  # raw, clean, core, trade_name, industry, form, region_code, is_branch
    levels: np.ndarray  # region_levels of each name's region_code
    credit_code: np.ndarray
    score: np.ndarray
    method: np.ndarray
    candidate_codes: np.ndarray
    runner_up: np.ndarray
    matched_name: np.ndarray

    @classmethod
    def start(cls, names: pd.DataFrame) -> _Resolution:
        n = len(names)
        return cls(
            names=names,
            levels=region_levels(names["region_code"]),
            credit_code=np.full(n, None, dtype=object),
            score=np.full(n, np.nan),
            method=np.full(n, None, dtype=object),
            candidate_codes=np.full(n, None, dtype=object),
            runner_up=np.full(n, np.nan),
            matched_name=np.full(n, None, dtype=object),
        )

    @property
    def pending(self) -> np.ndarray:
        return pd.isna(self.method)

    def decide(
        self,
        ids: np.ndarray,
        method: str | np.ndarray,
        score: float | np.ndarray,
        codes: np.ndarray | None = None,
        candidates: np.ndarray | None = None,
        runner_up: np.ndarray | None = None,
        matched: np.ndarray | None = None,
    ) -> None:
        self.method[ids] = method
        self.score[ids] = score
        if codes is not None:
            self.credit_code[ids] = codes
        if candidates is not None:
            self.candidate_codes[ids] = candidates
        if runner_up is not None:
            self.runner_up[ids] = runner_up
        if matched is not None:
            self.matched_name[ids] = matched


def _candidate_pairs(
    keys: pd.Series, entries: pd.DataFrame, key: str, cap: int, registry: Registry
) -> tuple[pd.DataFrame, np.ndarray]:
    """Pairs (name_id, entry, firm) of names and registry entries with equal `key`.

    `keys` is indexed by name id. A key carried by more than `cap` firms is not paired: those
    name ids come back separately (they go to review).
    """
    entry_valid = entries[key].notna().to_numpy()
    entry_keys = entries[key][entry_valid]
    entry_rows = entries["entry"].to_numpy()[entry_valid]
    name_valid = keys.notna().to_numpy()
    name_keys = keys[name_valid]
    name_ids = keys.index.to_numpy()[name_valid]
    codes, uniques = pd.factorize(pd.concat([entry_keys, name_keys], ignore_index=True))
    entry_codes, name_codes = codes[: len(entry_keys)], codes[len(entry_keys) :]
    firm = registry.firm_ids[entry_rows]
    width = int(firm.max()) + 1 if len(firm) else 1
    key_firm = pd.unique(entry_codes.astype(np.int64) * width + firm)  # hashed, not sorted
    firms_per_key = np.bincount(key_firm // width, minlength=len(uniques))
    crowded = firms_per_key > cap
    over = name_ids[crowded[name_codes]]
    keep_entry, keep_name = ~crowded[entry_codes], ~crowded[name_codes]
    order = np.argsort(entry_codes[keep_entry], kind="stable")
    sorted_codes, sorted_rows = entry_codes[keep_entry][order], entry_rows[keep_entry][order]
    wanted, ids = name_codes[keep_name], name_ids[keep_name]
    low = np.searchsorted(sorted_codes, wanted, side="left")
    count = np.searchsorted(sorted_codes, wanted, side="right") - low
    starts = np.cumsum(count) - count
    position = np.repeat(low - starts, count) + np.arange(int(count.sum()))
    entry = sorted_rows[position]
    pairs = pd.DataFrame(
        {"name_id": np.repeat(ids, count), "entry": entry, "firm": registry.firm_ids[entry]}
    )
    return pairs, over


def _joined_by_group(ids: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ids and, for each, its distinct codes sorted and "|"-joined."""
    frame = pd.DataFrame({"id": ids, "code": codes}).drop_duplicates()
    frame = frame.sort_values(["id", "code"], kind="stable")
    group_ids, starts = np.unique(frame["id"].to_numpy(), return_index=True)
    values = frame["code"].astype(str).to_numpy()
    bounds = [*starts[1:], len(values)]
    joined = np.array(
        ["|".join(values[a:b]) for a, b in zip(starts, bounds, strict=True)], dtype=object
    )
    return group_ids, joined


def _equal_key_stage(
    resolution: _Resolution,
    registry: Registry,
    entries: pd.DataFrame,
    key: str,
    method: str,
    score: float,
    config: MatchingConfig,
) -> None:
    """Link names whose `key` equals that of exactly one firm; several firms → review."""
    ids = np.nonzero(resolution.pending)[0]
    if not len(ids):
        return
    keys = resolution.names[key].iloc[ids]
    cap = config.core_stage.max_firms_per_key
    pairs, crowded = _candidate_pairs(keys, entries, key, cap, registry)
    resolution.decide(crowded, "review", score)
    if pairs.empty:
        return
    per_firm = pairs.drop_duplicates(["name_id", "firm"])
    names, first, n_firms = np.unique(
        per_firm["name_id"].to_numpy(), return_index=True, return_counts=True
    )
    single = n_firms == 1
    entry = per_firm["entry"].to_numpy()[first[single]]
    resolution.decide(
        names[single],
        method,
        score,
        codes=registry.codes_at(entry),
        matched=registry.names_at(entry),
    )
    several = per_firm[np.isin(per_firm["name_id"].to_numpy(), names[~single])]
    if len(several):
        review_ids, joined = _joined_by_group(
            several["name_id"].to_numpy(), registry.codes_at(several["entry"].to_numpy())
        )
        resolution.decide(review_ids, "review", score, candidates=joined)


def _pair_status(
    resolution: _Resolution, registry: Registry, name_ids: np.ndarray, entry_ids: np.ndarray
) -> np.ndarray:
    return region_status(
        resolution.levels[name_ids],
        registry.firm_levels[entry_ids],
        registry.name_levels[entry_ids],
    )


def _core_stage(
    resolution: _Resolution,
    registry: Registry,
    entries: pd.DataFrame,
    method: str,
    scores: tuple[float, float],
    config: MatchingConfig,
) -> None:
    """Same trade-name core: linked when exactly one such firm is not in a conflicting region.

    Two firms with the core and no region to tell them apart, or only firms in other regions
    (a look-alike elsewhere): review.
    """
    ids = np.nonzero(resolution.pending)[0]
    if not len(ids):
        return
    keys = resolution.names["core"].iloc[ids]
    cap = config.core_stage.max_firms_per_key
    pairs, crowded = _candidate_pairs(keys, entries, "core", cap, registry)
    resolution.decide(crowded, "review", scores[1])
    if pairs.empty:
        return
    pairs["status"] = _pair_status(
        resolution, registry, pairs["name_id"].to_numpy(), pairs["entry"].to_numpy()
    )
    per_firm = pairs.sort_values(["name_id", "status"], ascending=[True, False], kind="stable")
    per_firm = per_firm.drop_duplicates(["name_id", "firm"])
    fitting = per_firm[per_firm["status"].to_numpy() >= 0]
    names, first, n_fitting = np.unique(
        fitting["name_id"].to_numpy(), return_index=True, return_counts=True
    )
    single = n_fitting == 1
    chosen = fitting.iloc[first[single]]
    entry = chosen["entry"].to_numpy()
    resolution.decide(
        names[single],
        method,
        np.where(chosen["status"].to_numpy() > 0, scores[0], scores[1]),
        codes=registry.codes_at(entry),
        matched=registry.names_at(entry),
    )
    rest = per_firm[~np.isin(per_firm["name_id"].to_numpy(), names[single])]
    if len(rest):
        ambiguous, joined = _joined_by_group(
            rest["name_id"].to_numpy(), registry.codes_at(rest["entry"].to_numpy())
        )
        resolution.decide(ambiguous, "review", scores[1], candidates=joined)


def _classifier_stage(
    resolution: _Resolution,
    registry: Registry,
    config: MatchingConfig,
    support: np.ndarray | None,
) -> None:
    """Decide the mentions left to review with the calibrated pair classifier (issue 14)."""
    model = config.pair_classifier
    if model is None or not model.enabled or registry.entries.empty:
        return
    names = resolution.names
    ids = np.nonzero((resolution.method == "review") & names["core"].notna().to_numpy())[0]
    if not len(ids):
        return
    queries = names.iloc[ids].reset_index(drop=True)
    pairs = review_pairs(queries, resolution.candidate_codes[ids], registry, config.blocking)
    if pairs.empty:
        return
    frame = pair_features(queries, resolution.levels[ids], registry, pairs, config.fuzzy, support)
    frame["probability"] = model.probability(frame)
    frame = frame.sort_values(["mention", "probability"], ascending=[True, False], kind="stable")
    rank = frame.groupby("mention", sort=False).cumcount().to_numpy()
    best = frame[rank == 0].set_index("mention")
    second = frame[rank == 1].set_index("mention")["probability"].reindex(best.index).fillna(0.0)
    p_best = best["probability"].to_numpy()
    # A name that places the firm in another region is a look-alike until a person says
    # otherwise (issue 5): the classifier never links across a region conflict.
    link = (
        (p_best >= model.link_probability)
        & (second.to_numpy() <= model.max_runner_up_probability)
        & (best["region_conflict"].to_numpy() == 0)
    )
    nil = p_best < model.nil_probability
    mention_ids = ids[best.index.to_numpy()]
    resolution.decide(
        mention_ids[link],
        "classifier",
        p_best[link],
        codes=best["credit_code"].to_numpy()[link],
        runner_up=second.to_numpy()[link],
        matched=best["raw"].to_numpy()[link],
    )
    resolution.decide(mention_ids[nil], "none", p_best[nil], runner_up=second.to_numpy()[nil])


def review_pairs(
    queries: pd.DataFrame, candidate_codes: np.ndarray, registry: Registry, blocking: Blocking
) -> pd.DataFrame:
    """Candidate (mention, entry) pairs of names in review: n-gram blocking, plus every name
    of the firms a stage already named as candidates."""
    blocked, _ = registry.blocker(blocking).block(queries["core"])
    named = pd.DataFrame(
        {"mention": np.arange(len(queries)), "credit_code": pd.Series(candidate_codes, dtype="str")}
    ).dropna()
    named = named.assign(credit_code=named["credit_code"].str.split("|")).explode("credit_code")
    by_code = pd.DataFrame(
        {"credit_code": registry.entries["credit_code"], "entry": registry.entries["entry"]}
    )
    named = named.merge(by_code, on="credit_code")[["mention", "entry"]]
    pairs = pd.concat([blocked[["mention", "entry"]], named], ignore_index=True)
    return pairs.drop_duplicates().astype("int64").reset_index(drop=True)


def _fuzzy_stage(
    resolution: _Resolution, registry: Registry, config: MatchingConfig
) -> BlockingStats | None:
    decision = config.fuzzy
    names = resolution.names
    entries = registry.entries
    core_length = names["core"].str.len().fillna(0).to_numpy()
    institution = names["form"].isna().to_numpy() & names["clean"].fillna("").str.contains(
        "|".join(config.non_enterprise_words)
    ).to_numpy(dtype=bool)
    eligible = resolution.pending & (core_length >= decision.min_core_length) & ~institution
    ids = np.nonzero(eligible)[0]
    if not len(ids) or entries.empty:
        return None
    # Each name's candidates are its own: a slice of names at a time bounds the pairs held
    # (issue 25) without changing a link.
    parts = [
        _fuzzy_names(resolution, registry, config, ids[start : start + _FUZZY_NAMES])
        for start in range(0, len(ids), _FUZZY_NAMES)
    ]
    return BlockingStats(
        ngrams=parts[-1].ngrams,
        ngrams_too_common=parts[-1].ngrams_too_common,
        mentions=sum(part.mentions for part in parts),
        mentions_without_candidates=sum(part.mentions_without_candidates for part in parts),
        pairs_scored=sum(part.pairs_scored for part in parts),
    )


_FUZZY_NAMES = 100_000  # names blocked and scored at once (memory bound, not a setting)


def _fuzzy_names(
    resolution: _Resolution, registry: Registry, config: MatchingConfig, ids: np.ndarray
) -> BlockingStats:
    """The fuzzy stage for the names at `ids` (positions in `resolution`)."""
    decision = config.fuzzy
    queries = resolution.names.iloc[ids].reset_index(drop=True)
    pairs, stats = registry.blocker(config.blocking).block(queries["core"])
    if pairs.empty:
        return stats
    # score_candidates without the names: they are looked up for the rows kept only
    scored = score_pairs(queries, resolution.levels[ids], registry, pairs, decision).frame
    scored["entry"] = pairs["entry"].to_numpy()
    del pairs
    per_code = scored.sort_values(["mention", "score"], ascending=[True, False], kind="stable")
    del scored
    per_code = per_code.drop_duplicates(["mention", "firm"]).reset_index(drop=True)
    rank = per_code.groupby("mention", sort=False).cumcount().to_numpy()
    best = per_code[rank == 0].set_index("mention")
    best["credit_code"] = registry.codes_at(best["entry"].to_numpy())
    best["raw"] = registry.names_at(best["entry"].to_numpy())
    runner_up = per_code[rank == 1].set_index("mention")["score"].reindex(best.index).fillna(0.0)
    top_ids, top_codes = _joined_by_group(
        per_code["mention"].to_numpy()[rank < 3],
        registry.codes_at(per_code["entry"].to_numpy()[rank < 3]),
    )
    top = pd.Series(top_codes, index=top_ids).reindex(best.index)
    margin = best["score"] - runner_up
    link = (best["score"] >= decision.link_threshold) & (margin >= decision.min_margin)
    review = ~link & (best["score"] >= decision.review_threshold)
    mention_ids = ids[best.index.to_numpy()]
    outcomes = (
        ("fuzzy", link.to_numpy()),
        ("review", review.to_numpy()),
        ("none", ~link.to_numpy() & ~review.to_numpy()),
    )
    for method, mask in outcomes:
        resolution.decide(
            mention_ids[mask],
            method,
            best["score"].to_numpy()[mask],
            codes=best["credit_code"].to_numpy()[mask] if method == "fuzzy" else None,
            runner_up=runner_up.to_numpy()[mask],
            matched=best["raw"].to_numpy()[mask] if method != "none" else None,
            candidates=top.to_numpy()[mask],
        )
    return stats


def resolve_names(
    names: pd.Series,
    registry: Registry,
    config: MatchingConfig | None = None,
    linked_codes: pd.Series | None = None,
    *,
    support: pd.Series | None = None,
    equal_keys_only: bool = False,
) -> pd.DataFrame:
    """Resolve distinct raw names (no code stage): one row per name with the link columns.

    `names` may repeat (one per mention): repeats count towards the pair classifier's support
    of a firm, as do `linked_codes` (firms already linked by their code in the same data).
    `support` (certain links per credit code) replaces that count when the names are a chunk of
    the names to resolve (features.match_partitions); `equal_keys_only` stops after the stages
    that compare whole names and cores, leaving the other names undecided (method NA).
    """
    config = config or MatchingConfig.load()
    scores = config.stage_scores
    # distinct names in order of appearance (pd.unique's order), and how often each occurs
    position, uniques = pd.factorize(names)
    distinct = pd.Series(uniques, dtype="str")
    multiplicity = np.bincount(position[position >= 0], minlength=len(distinct))
    raw = distinct.str.strip()
    resolution = _Resolution.start(pd.DataFrame({"raw": raw, "region_code": pd.NA}))
    entries = registry.entries
    is_current = (entries["kind"] == "current").to_numpy()
    keyed = entries[["raw", "parent", "core", "entry"]]  # what the equal-key stages compare
    current, former = keyed[is_current], keyed[~is_current]
    del keyed
    # Whole names first (current, then former), then cores: a former name written out in full
    # is better evidence than a core shared with look-alikes elsewhere.
    _equal_key_stage(resolution, registry, current, "raw", "exact", scores.exact, config)
    # Only names the exact stage left open are normalised.
    pending = np.nonzero(resolution.pending)[0]
    parts = normalize_names(distinct.iloc[pending]).reindex(range(len(distinct)))
    parts["is_branch"] = parts["is_branch"].fillna(False).astype(bool)
    parts["raw"] = raw.array
    resolution.names = parts
    resolution.levels = region_levels(parts["region_code"])
    release_arrow_memory()
    _equal_key_stage(
        resolution, registry, current, "parent", "normalized", scores.normalized, config
    )
    if len(former):
        _equal_key_stage(resolution, registry, former, "raw", "history", scores.history, config)
        _equal_key_stage(resolution, registry, former, "parent", "history", scores.history, config)
    core_scores = (scores.core_region, scores.core_only)
    _core_stage(resolution, registry, current, "normalized", core_scores, config)
    if len(former):
        history_scores = (scores.history, scores.history)
        _core_stage(resolution, registry, former, "history", history_scores, config)
    del current, former
    if not equal_keys_only:
        if support is None:  # the names' own certain links, and the mentions linked by code
            certain = pd.DataFrame(
                {"method": resolution.method, "credit_code": resolution.credit_code}
            )
            counts = [certain_links(certain, multiplicity)]
            if linked_codes is not None:
                counts.append(linked_codes.astype("str").value_counts())
            support = summed_support(counts)
        by_firm = support_by_firm(support, registry)
        release_arrow_memory()
        _fuzzy_stage(resolution, registry, config)
        release_arrow_memory()
        _classifier_stage(resolution, registry, config, by_firm)
        release_arrow_memory()
        resolution.decide(np.nonzero(resolution.pending)[0], "none", 0.0)
    return pd.DataFrame(
        {
            "raw_name": distinct.to_numpy(),
            "credit_code": pd.array(resolution.credit_code, dtype="str"),
            "score": resolution.score,
            "method": pd.array(resolution.method, dtype="str"),
            "candidate_codes": pd.array(resolution.candidate_codes, dtype="str"),
            "runner_up_score": resolution.runner_up,
            "matched_name": pd.array(resolution.matched_name, dtype="str"),
        }
    )


def certain_links(resolved: pd.DataFrame, multiplicity: np.ndarray) -> pd.Series:
    """Mentions linked with certainty per credit code, from `resolve_names`' rows and the
    mentions of each (`multiplicity`): the support the pair classifier weighs."""
    certain = resolved["method"].isin(SUPPORT_METHODS).to_numpy(dtype=bool)
    codes = resolved["credit_code"][certain].astype("str")
    return _sum_by_code(codes, multiplicity[certain])


def summed_support(counts: list[pd.Series]) -> pd.Series:
    """Support per credit code: certain links (`certain_links`) and code links summed."""
    some = [count for count in counts if len(count)]
    if not some:
        return pd.Series(dtype=float)
    every = pd.concat(some)
    return _sum_by_code(pd.Series(every.index, dtype="str"), every.to_numpy(dtype=float))


def _sum_by_code(codes: pd.Series, weights: np.ndarray) -> pd.Series:
    """`weights` summed per distinct code (factorised and counted, not grouped)."""
    position, distinct = pd.factorize(codes)
    known = position >= 0  # a missing code supports no firm
    weights = np.asarray(weights, dtype=float)[known]
    total = np.bincount(position[known], weights=weights, minlength=len(distinct))
    return pd.Series(total, index=pd.Index(distinct, dtype="str"))


def support_by_firm(support: pd.Series, registry: Registry) -> np.ndarray:
    """`support` (per credit code) per firm id of `registry`."""
    size = int(registry.firm_ids.max()) + 1 if len(registry.firm_ids) else 0
    firms = registry.firms_of(pd.Series(support.index, dtype="str"))
    known = firms >= 0
    out = np.zeros(size)
    out[firms[known]] = support.to_numpy(dtype=float)[known]
    return out
