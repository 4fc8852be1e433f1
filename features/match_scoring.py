"""Scoring: how alike a name and a registry name are. rapidfuzz ratios of the trade-name cores,
adjusted for region agreement, industry words and form (`score_pairs`), and the comparison
features of each pair (`pair_features`: the pair classifier's inputs and what a reviewer sees).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from features.match_config import FuzzyDecision
from features.match_registry import Registry
from features.names import (
    region_depth,
    regions_compatible,
)


def region_status(mention: np.ndarray, firm: np.ndarray, firm_name: np.ndarray) -> np.ndarray:
    """Per pair of region levels: 2 they agree to the prefecture or finer, 1 to the province
    only, -1 they conflict, 0 nothing to compare. A firm's region is its registered
    region_code or the region its name carries, whichever agrees."""
    mention_depth = region_depth(mention)
    agree = np.zeros(len(mention), dtype=np.int64)
    for other in (firm, firm_name):
        depth = np.minimum(mention_depth, region_depth(other))
        compatible = regions_compatible(mention, other)
        agree = np.maximum(agree, np.where(compatible, np.where(depth >= 2, 2, 1), 0))
    known = (mention_depth > 0) & ((region_depth(firm) > 0) | (region_depth(firm_name) > 0))
    return np.where(agree > 0, agree, np.where(known, -1, 0))


def _ratios(a: list[str], b: list[str]) -> np.ndarray:
    """rapidfuzz ratio (0-1) of aligned strings, in parallel."""
    if not a:
        return np.zeros(0)
    return np.asarray(process.cpdist(a, b, scorer=fuzz.ratio, workers=-1), dtype=float) / 100.0


def _texts_at(column: pd.Series, positions: np.ndarray) -> list[str]:
    """The values of `column` at `positions` as Python strings, "" for missing: each distinct
    position converted once (the strings `_ratios` compares)."""
    if not len(positions):
        return []
    distinct, inverse = np.unique(positions, return_inverse=True)
    values = column.iloc[distinct].fillna("").to_numpy(dtype=object)
    return values[inverse].tolist()  # type: ignore[no-any-return]


def _values_at(column: pd.Series, positions: np.ndarray) -> np.ndarray:
    """The values of `column` at `positions` as an object array (NaN for missing)."""
    if not len(positions):
        return np.zeros(0, dtype=object)
    distinct, inverse = np.unique(positions, return_inverse=True)
    return column.iloc[distinct].to_numpy(dtype=object)[inverse]


@dataclass(frozen=True)
class _PairScores:
    """What `score_candidates` computes per pair, with the parts `pair_features` reuses."""

    frame: pd.DataFrame  # mention, firm, core_similarity, region, score
    industry_similarity: np.ndarray
    both_industry: np.ndarray
    form_mismatch: np.ndarray
    branch: np.ndarray


def score_pairs(
    queries: pd.DataFrame,
    query_levels: np.ndarray,
    registry: Registry,
    pairs: pd.DataFrame,
    decision: FuzzyDecision,
) -> _PairScores:
    mention = pairs["mention"].to_numpy()
    entry = pairs["entry"].to_numpy()
    entries = registry.entries
    core_similarity = _ratios(
        _texts_at(queries["core"], mention), _texts_at(entries["core"], entry)
    )
    industry_similarity = _ratios(
        _texts_at(queries["industry"], mention), _texts_at(entries["industry"], entry)
    )
    both_industry = (
        queries["industry"].notna().to_numpy()[mention]
        & entries["industry"].notna().to_numpy()[entry]
    )
    industry_mismatch = both_industry & (industry_similarity < decision.industry_mismatch_below)
    form_mismatch = (
        queries["form"].notna().to_numpy()[mention]
        & entries["form"].notna().to_numpy()[entry]
        & (_values_at(queries["form"], mention) != _values_at(entries["form"], entry))
    )
    branch = queries["is_branch"].to_numpy(dtype=bool)[mention]
    region = region_status(
        query_levels[mention], registry.firm_levels[entry], registry.name_levels[entry]
    )
    score = (
        core_similarity
        + decision.region_agree_bonus * (region == 2)
        + decision.province_agree_bonus * (region == 1)
        - decision.region_conflict_penalty * (region < 0)
        - decision.industry_mismatch_penalty * industry_mismatch
        - decision.form_mismatch_penalty * form_mismatch
        - decision.branch_penalty * branch
    )
    frame = pd.DataFrame(
        {
            "mention": mention,
            "firm": registry.firm_ids[entry],
            "core_similarity": core_similarity,
            "region": region,
            "score": np.clip(score, 0.0, 1.0),
        }
    )
    return _PairScores(frame, industry_similarity, both_industry, form_mismatch, branch)


def score_candidates(
    queries: pd.DataFrame,
    query_levels: np.ndarray,
    registry: Registry,
    pairs: pd.DataFrame,
    decision: FuzzyDecision,
) -> pd.DataFrame:
    """Adjusted score of each candidate pair: core similarity ± region, industry, form."""
    frame = score_pairs(queries, query_levels, registry, pairs, decision).frame
    entry = pairs["entry"].to_numpy()
    frame.insert(2, "credit_code", registry.codes_at(entry))
    frame.insert(3, "raw", registry.names_at(entry))
    return frame


def pair_features(
    queries: pd.DataFrame,
    query_levels: np.ndarray,
    registry: Registry,
    pairs: pd.DataFrame,
    decision: FuzzyDecision,
    support: np.ndarray | None = None,
) -> pd.DataFrame:
    """`PAIR_FEATURES` of each (mention, candidate firm) pair, the firm's best-matching name.

    `queries`: normalised names (core, trade_name, industry, form, is_branch); `pairs`: mention
    (position in `queries`) and entry (registry entry); `support`: certain links per firm id.
    Also returns mention, firm, entry, credit_code, raw (the candidate's name) and score (the
    fuzzy stage's adjusted score).
    """
    scored = score_pairs(queries, query_levels, registry, pairs, decision)
    mention = pairs["mention"].to_numpy()
    entry = pairs["entry"].to_numpy()
    entries = registry.entries
    frame = scored.frame.assign(
        entry=entry,
        trade_similarity=_ratios(
            _texts_at(queries["trade_name"], mention), _texts_at(entries["trade_name"], entry)
        ),
        mention_has_region=(region_depth(query_levels[mention]) > 0).astype(float),
        industry_missing=(~scored.both_industry).astype(float),
        branch=scored.branch.astype(float),
        former_name=(entries["kind"] == "former").to_numpy(dtype=bool)[entry].astype(float),
    )
    both_industry = 1.0 - frame["industry_missing"].to_numpy()
    frame["industry_mismatch"] = both_industry * (
        scored.industry_similarity < decision.industry_mismatch_below
    )
    frame["form_mismatch"] = scored.form_mismatch.astype(float)
    region = frame["region"].to_numpy()
    frame["region_city"] = (region == 2).astype(float)
    frame["region_province"] = (region == 1).astype(float)
    frame["region_conflict"] = (region < 0).astype(float)
    # One row per mention and firm: the firm's name (current or former) closest to the mention.
    frame = frame.sort_values(
        ["mention", "core_similarity", "score"], ascending=[True, False, False], kind="stable"
    )
    frame = frame.drop_duplicates(["mention", "firm"]).reset_index(drop=True)
    kept = frame["entry"].to_numpy()
    frame.insert(2, "credit_code", registry.codes_at(kept))
    frame.insert(3, "raw", registry.names_at(kept))
    counts = (
        np.zeros(len(frame))
        if support is None
        else np.log1p(support[frame["firm"].to_numpy()].astype(float))
    )
    frame["support"] = counts
    frame["margin"] = frame["core_similarity"] - _best_other(frame, "core_similarity")
    # Rivals: the other candidates about as similar (within the margin): the ones a reviewer weighs.
    n_close, rival_support = _close_rivals(
        frame["mention"].to_numpy(),
        frame["core_similarity"].to_numpy(dtype=float),
        frame["support"].to_numpy(dtype=float),
        decision.close_rival_margin,
    )
    frame["close_rivals"] = np.log1p(n_close)
    frame["support_margin"] = counts - rival_support
    frame["supported_alone"] = ((counts > 0) & (rival_support == 0)).astype(float)
    return frame


def _close_rivals(
    mention: np.ndarray, similarity: np.ndarray, support: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per row (one per mention and firm, similarity descending within each mention): how many
    other firms of the mention are within `margin` of its similarity (core_similarity_o >=
    core_similarity - margin), and the highest support among them (0 if none).

    The rows of a mention are sorted, so a row's close rivals are the first rows of its mention
    up to the last one at or above its threshold: one sorted lookup per row and range maxima,
    not every pair of candidates of a mention joined.
    """
    n = len(mention)
    if not n:
        return np.zeros(0), np.zeros(0)
    group_start = np.searchsorted(mention, mention, side="left")
    threshold = similarity - margin
    # rows of the mention with similarity >= threshold: data (key 0) sort before an equal query
    kind = np.concatenate([np.zeros(n, dtype=np.int8), np.ones(n, dtype=np.int8)])
    order = np.lexsort(
        (kind, np.concatenate([-similarity, -threshold]), np.concatenate([mention, mention]))
    )
    data_before = np.cumsum(kind[order] == 0)
    is_query = kind[order] == 1
    within = np.empty(n, dtype=np.int64)
    within[order[is_query] - n] = data_before[is_query]
    within -= group_start  # rows of the mention at or above the threshold, the row included
    n_close = (within - 1).astype(float)
    # highest support over [start, start + within) without the row itself
    position = np.arange(n)
    before = _range_max(support, group_start, position)
    after = _range_max(support, position + 1, group_start + within)
    rival = np.maximum(before, after)
    return n_close, np.where(within > 1, rival, 0.0)


def _range_max(values: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """max(values[start:end]) per pair of bounds (-inf for an empty range): a sparse table."""
    length = end - start
    out = np.full(len(start), -np.inf)
    if not len(values) or not (length > 0).any():
        return out
    levels = [values]
    while 2 ** len(levels) <= int(length.max()):
        half = 2 ** (len(levels) - 1)
        last = levels[-1]
        levels.append(np.concatenate([np.maximum(last[:-half], last[half:]), last[-half:]]))
    some = length > 0
    level = np.floor(np.log2(np.where(some, length, 1))).astype(np.int64)
    for k, table in enumerate(levels):
        rows = some & (level == k)
        if rows.any():
            width = 2**k
            out[rows] = np.maximum(table[start[rows]], table[end[rows] - width])
    return out


def _best_other(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Per row: the highest `column` among the other rows of the same mention (0 if none)."""
    values = frame[column].to_numpy(dtype=float)
    grouped = frame.groupby("mention", sort=False)[column]
    first = grouped.transform("max").to_numpy(dtype=float)
    count = grouped.transform("size").to_numpy()
    # second highest per mention: the max after removing one occurrence of the max
    order = frame.assign(_v=values).sort_values(["mention", "_v"], ascending=[True, False])
    rank = order.groupby("mention", sort=False).cumcount()
    second = order["_v"].where(rank == 1).groupby(order["mention"]).max()
    second_per_row = frame["mention"].map(second).fillna(0.0).to_numpy(dtype=float)
    other = np.where(values >= first, second_per_row, first)
    return np.where(count > 1, other, 0.0)
