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
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator
from rapidfuzz import fuzz, process
from scipy import sparse

from features.match_decisions import ReviewImportLimits, mention_keys
from features.names import (
    normalize_names,
    region_depth,
    region_levels,
    regions_compatible,
    significant_code,
)
from features.schemas import MENTION_COLUMNS, credit_code_is_valid
from features.sources import SourceData, arrow_text, string_isin
from zjtx.config import FrozenModel, load_config

LINKED_METHODS: Final = (
    "decision",
    "code",
    "exact",
    "normalized",
    "history",
    "fuzzy",
    "classifier",
)
METHODS: Final = (*LINKED_METHODS, "review", "none")
SUPPORT_METHODS: Final = ("code", "exact", "normalized", "history")  # certain links
# Comparison features of a (mention, candidate firm) pair, for the pair classifier and for the
# score parts a reviewer sees (features.pair_classifier, service/review.py).
PAIR_FEATURES: Final = (
    "core_similarity",  # rapidfuzz ratio of the trade-name cores (字号 + 行业)
    "trade_similarity",  # ratio of the trade names (字号) alone
    "margin",  # core_similarity minus that of the best other candidate firm
    "close_rivals",  # log(1 + close rivals: other candidates within close_rival_margin)
    "region_city",  # the regions agree to the prefecture or finer
    "region_province",  # ... to the province only
    "region_conflict",  # both name a region and they differ
    "mention_has_region",
    "industry_mismatch",  # both name an industry and the industries differ
    "industry_missing",  # one side names no industry
    "form_mismatch",  # 有限公司 vs 股份有限公司 …
    "branch",  # the mention names a branch (分公司)
    "former_name",  # the candidate name is a former name (name_history)
    "support",  # log(1 + the firm's other mentions linked with certainty in the same data)
    "support_margin",  # support minus the best support among the close rivals
    "supported_alone",  # the firm has such links and no close rival has any
)
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


# ---------------------------------------------------------------------------------------------
# Configuration


class StageScores(FrozenModel):
    code: float
    exact: float
    normalized: float
    core_region: float
    core_only: float
    history: float


class CoreStage(FrozenModel):
    max_firms_per_key: int


class Blocking(FrozenModel):
    """Which registry names are scored against a mention: those sharing character n-grams."""

    max_block_size: int
    max_candidates: int
    min_shared_ngrams: int
    max_core_chars: int


class FuzzyDecision(FrozenModel):
    """How a fuzzy candidate is scored and when it is linked, reviewed or dropped."""

    min_core_length: int
    link_threshold: float
    min_margin: float
    review_threshold: float
    region_agree_bonus: float
    province_agree_bonus: float
    region_conflict_penalty: float
    industry_mismatch_penalty: float
    industry_mismatch_below: float
    form_mismatch_penalty: float
    branch_penalty: float
    close_rival_margin: float = Field(ge=0.0, le=1.0)


class PairClassifier(FrozenModel):
    """The calibrated pair classifier that decides mentions the stages above leave to review.

    p(same firm) = 1 / (1 + exp(-(intercept + Σ coefficient·feature))), a logistic regression
    whose Platt calibration is folded into the coefficients (features.pair_classifier trains it).
    A mention is linked when its best firm reaches `link_probability` and every other candidate
    stays at or below `max_runner_up_probability`; NIL when no candidate reaches
    `nil_probability`; otherwise it stays in review.
    """

    enabled: bool
    link_probability: float = Field(ge=0.5, le=1.0)
    max_runner_up_probability: float = Field(ge=0.0, le=0.5)
    nil_probability: float = Field(ge=0.0, le=0.5)
    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    trained_on: str

    @model_validator(mode="after")
    def _shapes(self) -> PairClassifier:
        if len(self.features) != len(self.coefficients):
            raise ValueError("features and coefficients must have the same length")
        if unknown := set(self.features) - set(PAIR_FEATURES):
            raise ValueError(f"unknown pair features: {sorted(unknown)}")
        return self

    def probability(self, features: pd.DataFrame) -> np.ndarray:
        values = features[list(self.features)].to_numpy(dtype=float)
        logit = self.intercept + values @ np.asarray(self.coefficients, dtype=float)
        return 1.0 / (1.0 + np.exp(-logit))


class MatchingConfig(FrozenModel):
    stage_scores: StageScores
    core_stage: CoreStage
    blocking: Blocking
    fuzzy: FuzzyDecision
    non_enterprise_words: tuple[str, ...]
    review_import: ReviewImportLimits
    pair_classifier: PairClassifier | None = None

    @classmethod
    def load(cls, path: str = "matching.yaml") -> MatchingConfig:
        return load_config(cls, path)


# ---------------------------------------------------------------------------------------------
# Credit codes (GB 32100-2015, ../shared/reference/facts.md §2)

# ---------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class Registry:
    """Registry names to link against: one entry per current or former name of a firm.

    `entries` columns: credit_code, kind (`current`/`former`), raw, clean, parent, core, trade_name,
    industry, form, name_region (division code the name itself carries), firm_region
    (significant `firms.region_code`).
    """

    entries: pd.DataFrame
    firm_levels: np.ndarray = field(repr=False)  # region_levels of firm_region, per entry
    name_levels: np.ndarray = field(repr=False)  # region_levels of name_region, per entry
    firm_ids: np.ndarray = field(repr=False)  # int id of each entry's firm
    firm_codes: pa.Array = field(repr=False)  # credit_code of each firm id (unique)
    # n-grams too common to block on, when they are the whole registry's and not these entries'
    common_ngrams: np.ndarray | None = field(default=None, repr=False)
    # n-gram indexes built for this registry, per blocking setting (see `blocker`)
    _blockers: dict[tuple[int, ...], NgramIndex] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def blocker(self, blocking: Blocking) -> NgramIndex:
        """The n-gram index of the entries' cores, built on first use and kept with the
        registry, so every stage that blocks against it (fuzzy, pair classifier, review files)
        shares one index and the candidates already found per core."""
        key = (
            blocking.max_block_size,
            blocking.max_candidates,
            blocking.min_shared_ngrams,
            blocking.max_core_chars,
        )
        if key not in self._blockers:
            self._blockers[key] = NgramIndex.build(
                self.entries["core"], blocking, self.common_ngrams
            )
        return self._blockers[key]

    @classmethod
    def from_sources(cls, data: SourceData) -> Registry:
        return cls.from_entries(registry_entries(data.get("firms"), data.get("name_history")))

    @classmethod
    def from_entries(
        cls, entries: pd.DataFrame, common_ngrams: np.ndarray | None = None
    ) -> Registry:
        """The registry of these entries (`registry_entries`' rows, in their `order`): the whole
        registry, or the part of it a chunk of names can meet (features.match_partitions), whose
        n-grams too common to block on are the whole registry's (`common_ngrams`)."""
        entries = entries.sort_values("order", kind="stable").reset_index(drop=True)
        entries["entry"] = np.arange(len(entries), dtype=np.int64)
        firm_ids, firm_codes = pd.factorize(entries["credit_code"])
        return cls(
            entries=entries,
            firm_levels=region_levels(entries["firm_region"]),
            name_levels=region_levels(entries["name_region"]),
            firm_ids=firm_ids.astype(np.int64),
            firm_codes=arrow_text(pd.Series(firm_codes, dtype="str")).combine_chunks(),
            common_ngrams=common_ngrams,
        )

    def codes_at(self, entries: np.ndarray) -> np.ndarray:
        """The credit code of each of these entries (object array). Taken from the entries'
        Arrow text when asked: the registry keeps no Python string per entry (issue 25)."""
        return _objects_at(self.entries["credit_code"], entries)

    def names_at(self, entries: np.ndarray) -> np.ndarray:
        """The registry name of each of these entries (object array)."""
        return _objects_at(self.entries["raw"], entries)

    def firms_of(self, codes: pd.Series) -> np.ndarray:
        """The firm id of each credit code, -1 for a code of no registry entry (or none), looked
        up in Arrow (no Python string per code)."""
        found = pc.index_in(arrow_text(codes), value_set=self.firm_codes)
        return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def registry_entries(
    firms: pd.DataFrame | None,
    history: pd.DataFrame | None,
    firm_order: np.ndarray | None = None,
    history_order: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per current or former name of a firm, normalised (`Registry.entries` without
    `entry`), with `order`: the entry's place in the whole registry (current names in the order
    of `firms`, then former names in the order of `name_history`). `firm_order` and
    `history_order` give those places when `firms` and `history` are part of the registry."""
    if firms is None:
        firms = pd.DataFrame({"credit_code": pd.Series(dtype="str")})
    firms = firms.reset_index(drop=True)
    firm_region = _significant_codes(firms.get("region_code"), len(firms))
    current = pd.DataFrame(
        {
            "credit_code": firms["credit_code"].astype("str"),
            "kind": "current",
            "raw": _column(firms, "name").str.strip(),
            "firm_region": firm_region,
            "order": np.arange(len(firms), dtype=np.int64) if firm_order is None else firm_order,
        }
    )
    frames = [current]
    if history is not None and len(history):
        region_by_code = pd.Series(firm_region.to_numpy(), index=current["credit_code"])
        region_by_code = region_by_code[~region_by_code.index.duplicated()]
        history = history.reset_index(drop=True)
        codes = history["credit_code"].astype("str")
        frames.append(
            pd.DataFrame(
                {
                    "credit_code": codes,
                    "kind": "former",
                    "raw": _column(history, "former_name").str.strip(),
                    "firm_region": pd.array(region_by_code.reindex(codes).to_numpy(), dtype="str"),
                    "order": (
                        len(firms) + np.arange(len(history), dtype=np.int64)
                        if history_order is None
                        else history_order
                    ),
                }
            )
        )
    entries = pd.concat(frames, ignore_index=True)
    entries = entries[entries["raw"].notna() & entries["credit_code"].notna()]
    entries = entries.drop_duplicates(["credit_code", "raw"]).reset_index(drop=True)
    parts = normalize_names(entries["raw"])
    for column in ("clean", "parent", "core", "trade_name", "industry", "form"):
        entries[column] = parts[column].array  # Arrow text as it is: no Python strings
    entries["name_region"] = parts["region_code"].array
    release_arrow_memory()  # what normalising a million names took and gave back
    return entries


def _objects_at(column: pd.Series, positions: np.ndarray) -> np.ndarray:
    """The values of a text column at these positions as Python strings (object array)."""
    return np.asarray(column.array.take(np.asarray(positions, dtype=np.int64)), dtype=object)


def release_arrow_memory() -> None:
    """Hand the memory Arrow's pool keeps after big temporary text columns back to the system
    (the peak of the weekly run at a million firms; no value changes)."""
    pa.default_memory_pool().release_unused()


def _row_numbers(frame: pd.DataFrame) -> np.ndarray:
    if pd.api.types.is_integer_dtype(frame.index.dtype):
        return frame.index.to_numpy(dtype=np.int64)
    return np.arange(len(frame), dtype=np.int64)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype("str")
    return pd.Series(pd.NA, index=frame.index, dtype="str")


def _significant_codes(codes: pd.Series | None, length: int) -> pd.Series:
    if codes is None:
        return pd.Series(pd.NA, index=range(length), dtype="str")
    text = codes.astype("str").reset_index(drop=True)
    distinct = text.dropna().unique()
    return text.map({c: significant_code(c) for c in distinct}).astype("str")


# ---------------------------------------------------------------------------------------------
# Mentions


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
            columns["given_code"].extend(arrow_text(_column(frame, code_column)).chunks)
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


# ---------------------------------------------------------------------------------------------
# Deterministic stages


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


def _region_status(mention: np.ndarray, firm: np.ndarray, firm_name: np.ndarray) -> np.ndarray:
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


def _pair_status(
    resolution: _Resolution, registry: Registry, name_ids: np.ndarray, entry_ids: np.ndarray
) -> np.ndarray:
    return _region_status(
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


# ---------------------------------------------------------------------------------------------
# Fuzzy stage


_NGRAM_ROWS = 100_000  # cores per slice of the n-gram arrays (memory bound, not a setting)


def _ngram_keys(cores: pd.Series, max_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, key) of every character bigram and skip-bigram of each core, as int64 keys."""
    texts = cores.fillna("")
    found_rows, found_keys = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for start in range(0, len(texts), _NGRAM_ROWS):
        text = texts.iloc[start : start + _NGRAM_ROWS].to_numpy(dtype=f"<U{max_chars}")
        points = text.view(np.uint32).reshape(len(text), max_chars).astype(np.int64)
        bigram = (points[:, :-1] << 21) | points[:, 1:]
        skip = ((points[:, :-2] << 21) | points[:, 2:]) | (1 << 42)
        keys = np.concatenate([bigram, skip], axis=1)
        valid = np.concatenate(
            [
                (points[:, :-1] > 0) & (points[:, 1:] > 0),
                (points[:, :-2] > 0) & (points[:, 2:] > 0),
            ],
            axis=1,
        )
        rows = np.broadcast_to(np.arange(start, start + len(text))[:, None], keys.shape)
        found_rows.append(rows[valid])
        found_keys.append(keys[valid])
    return np.concatenate(found_rows), np.concatenate(found_keys)


@dataclass(frozen=True)
class BlockingStats:
    """What blocking did: how many n-grams, how many were too common, how many pairs."""

    ngrams: int
    ngrams_too_common: int
    mentions: int
    mentions_without_candidates: int
    pairs_scored: int


_BLOCK_PRODUCT = 4_000_000  # n-gram hits per sparse product (memory bound, not a setting)
_BLOCK_ROWS = 50_000  # cores per sparse product
_PRODUCTS_AT_ONCE = 2  # sparse products computed at once (two cores, twice the memory of one)


def _best_pairs(shared: sparse.csr_matrix, blocking: Blocking) -> tuple[np.ndarray, ...]:
    """The `max_candidates` entries sharing the most n-grams with each row of a product, most
    shared first, ties broken by registry order: (row, entry, shared) arrays.

    Only each row's candidates at or above its `max_candidates`-th count are sorted, not every
    entry the row shares an n-gram with.
    """
    n_rows = shared.shape[0]
    counts, cols = shared.data, shared.indices
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(shared.indptr))
    least = max(int(blocking.min_shared_ngrams), 1)  # zeros are never candidates
    keep = counts >= least
    if not keep.all():
        rows, cols, counts = rows[keep], cols[keep], counts[keep]
    del keep
    k = int(blocking.max_candidates)
    if not len(counts) or k <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, cols[:0], counts[:0]
    top = int(counts.max()) + 1
    # per row: how many candidates share at least c n-grams, for every c
    at_least = np.bincount(rows.astype(np.int64) * top + counts, minlength=n_rows * top)
    at_least = at_least.reshape(n_rows, top)[:, ::-1].cumsum(axis=1)[:, ::-1]
    # the count of a row's k-th candidate (0: the row has fewer than k, all are kept)
    threshold = (at_least[:, 1:] >= k).sum(axis=1)
    del at_least
    row_threshold = threshold[rows]
    above = counts > row_threshold
    tie = counts == row_threshold
    del row_threshold
    # of the candidates at the threshold, the first in registry order fill the k places
    places = k - np.bincount(rows[above], minlength=n_rows)
    tie_rows, tie_cols = rows[tie], cols[tie]
    tie_index = np.nonzero(tie)[0]
    del tie
    tie_starts = np.concatenate([[0], np.cumsum(np.bincount(tie_rows, minlength=n_rows))])
    by_col = sparse.csr_matrix(
        (tie_index, tie_cols, tie_starts), shape=(n_rows, shared.shape[1]), copy=False
    )
    by_col.has_sorted_indices = False
    by_col.sort_indices()  # per row, by registry order
    rank = np.arange(len(tie_rows)) - tie_starts[tie_rows]
    chosen = by_col.data[rank < places[tie_rows]]
    del by_col, tie_rows, tie_cols, tie_index
    selected = np.nonzero(above)[0]
    selected = np.concatenate([selected, chosen])
    rows, cols, counts = rows[selected], cols[selected], counts[selected]
    order = np.lexsort((cols, -counts, rows))
    return rows[order].astype(np.int64), cols[order], counts[order]


def ngram_block_sizes(cores: pd.Series, blocking: Blocking) -> pd.Series:
    """Registry names carrying each n-gram (int64 key; twice in one core counts once). Summed
    over parts of the registry, they tell which n-grams are too common to block on
    (`common_ngrams`)."""
    rows, keys = _ngram_keys(cores, blocking.max_core_chars)
    token, vocabulary = pd.factorize(keys, sort=True)
    distinct = np.unique(rows * max(len(vocabulary), 1) + token)
    counts = np.bincount(distinct % max(len(vocabulary), 1), minlength=len(vocabulary))
    return pd.Series(counts.astype(np.int64), index=pd.Index(vocabulary, dtype=np.int64))


def common_ngrams(block_sizes: list[pd.Series], blocking: Blocking) -> np.ndarray:
    """The n-grams (sorted keys) carried by more than `max_block_size` registry names, from the
    `ngram_block_sizes` of the parts of the registry."""
    if not block_sizes:
        return np.zeros(0, dtype=np.int64)
    total = pd.concat(block_sizes).groupby(level=0).sum()
    return np.sort(total.index.to_numpy(dtype=np.int64)[total.to_numpy() > blocking.max_block_size])


@dataclass
class NgramIndex:
    """The registry's n-gram index, and the candidates found so far per distinct core.

    The candidates of a mention depend on its core alone, so a core blocked once (the fuzzy
    stage) is not blocked again (the pair classifier, the review files).
    """

    blocking: Blocking
    vocabulary: np.ndarray
    incidence: sparse.csr_matrix
    too_common: int
    block_size: np.ndarray  # registry names carrying each n-gram (0 once too common)
    cores: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object))
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    entries: list[np.ndarray] = field(default_factory=list)
    shared: list[np.ndarray] = field(default_factory=list)
    filled: int = 0

    @classmethod
    def build(
        cls, entry_cores: pd.Series, blocking: Blocking, common: np.ndarray | None = None
    ) -> NgramIndex:
        """The index of these cores; `common`: the n-grams too common to block on, when they
        are not to be counted from these cores (a part of the registry, sorted keys)."""
        entry_rows, entry_keys = _ngram_keys(entry_cores, blocking.max_core_chars)
        entry_token, vocabulary = pd.factorize(entry_keys, sort=True)  # np.unique's, hashed
        del entry_keys
        incidence = sparse.csr_matrix(
            (np.ones(len(entry_rows), dtype=np.int32), (entry_token, entry_rows)),
            shape=(len(vocabulary), len(entry_cores)),
        )
        del entry_rows, entry_token
        incidence.data[:] = 1  # an n-gram twice in one core counts once
        block_size = np.diff(incidence.indptr)
        if common is None:
            too_common = block_size > blocking.max_block_size
        else:
            too_common = np.isin(vocabulary, common, assume_unique=True)
        incidence.data[np.repeat(too_common, block_size)] = 0  # too common to block on
        incidence.eliminate_zeros()
        return cls(
            blocking=blocking,
            vocabulary=vocabulary,
            incidence=incidence,
            too_common=int(too_common.sum()),
            block_size=np.diff(incidence.indptr).astype(np.int64),
        )

    def _queries(self, cores: pd.Series) -> sparse.csr_matrix:
        vocabulary = self.vocabulary
        mention_rows, mention_keys = _ngram_keys(cores, self.blocking.max_core_chars)
        position = np.searchsorted(vocabulary, mention_keys)
        position = np.minimum(position, len(vocabulary) - 1) if len(vocabulary) else position
        known = (
            (vocabulary[position] == mention_keys) if len(vocabulary) else np.zeros(0, dtype=bool)
        )
        queries = sparse.csr_matrix(
            (np.ones(int(known.sum()), dtype=np.int32), (mention_rows[known], position[known])),
            shape=(len(cores), len(vocabulary)),
        )
        queries.data[:] = 1
        return queries

    def _add(self, cores: pd.Series) -> None:
        """Block distinct cores not seen yet and remember their candidates."""
        queries = self._queries(cores)
        # Pairs per core are independent: a slice of cores at a time bounds the memory the
        # sparse product takes (every core × entry pair sharing an n-gram) without changing it.
        hits = np.cumsum(queries @ self.block_size)
        bounds = [0]
        while bounds[-1] < len(cores):
            start = bounds[-1]
            base = hits[start - 1] if start else 0
            end = int(np.searchsorted(hits, base + _BLOCK_PRODUCT, side="right"))
            bounds.append(min(max(end, start + 1), start + _BLOCK_ROWS, len(cores)))

        def best(span: tuple[int, int]) -> tuple[np.ndarray, ...]:
            start, end = span
            product = (queries[start:end] @ self.incidence).tocsr()
            rows, entry, shared = _best_pairs(product, self.blocking)
            return np.bincount(rows, minlength=end - start), entry, shared

        # SciPy's sparse product runs outside the GIL: two slices at a time use both cores
        # (twice the bounded memory of one); the results are taken in slice order.
        lengths = np.zeros(len(cores), dtype=np.int64)
        spans = list(itertools.pairwise(bounds))
        with ThreadPoolExecutor(max_workers=_PRODUCTS_AT_ONCE) as pool:
            for (start, end), (counts, entry, shared) in zip(
                spans, pool.map(best, spans), strict=True
            ):
                lengths[start:end] = counts
                self.entries.append(entry)
                self.shared.append(shared)
        self.starts = np.concatenate([self.starts, self.filled + np.cumsum(lengths) - lengths])
        self.lengths = np.concatenate([self.lengths, lengths])
        self.filled += int(lengths.sum())
        self.cores = self.cores.append(pd.Index(np.asarray(cores, dtype=object)))

    def block(self, mention_cores: pd.Series) -> tuple[pd.DataFrame, BlockingStats]:
        """Candidate pairs of each mention (columns mention, entry, shared), as `block_pairs`."""
        text = pd.Series(mention_cores.to_numpy(dtype=object), dtype=object).fillna("")
        text = text.astype(str)
        codes, distinct = pd.factorize(text)
        slot = self.cores.get_indexer(distinct)
        if (slot < 0).any():
            self._add(pd.Series(distinct[slot < 0], dtype="str"))
            slot = self.cores.get_indexer(distinct)
        if len(self.entries) > 1:
            self.entries = [np.concatenate(self.entries)]
            self.shared = [np.concatenate(self.shared)]
        per_mention = slot[codes]
        count = self.lengths[per_mention]
        total = int(count.sum())
        if not len(codes):
            pairs = pd.DataFrame({"mention": [], "entry": [], "shared": []}, dtype="int64")
        else:
            first = np.cumsum(count) - count
            position = np.repeat(self.starts[per_mention] - first, count) + np.arange(total)
            pairs = pd.DataFrame(
                {
                    "mention": np.repeat(np.arange(len(codes), dtype=np.int64), count),
                    "entry": self.entries[0][position],
                    "shared": self.shared[0][position],
                }
            )
        stats = BlockingStats(
            ngrams=len(self.vocabulary),
            ngrams_too_common=self.too_common,
            mentions=len(codes),
            mentions_without_candidates=int((count == 0).sum()),
            pairs_scored=total,
        )
        return pairs, stats


def block_pairs(
    mention_cores: pd.Series, entry_cores: pd.Series, blocking: Blocking
) -> tuple[pd.DataFrame, BlockingStats]:
    """Candidate (mention, entry) pairs sharing n-grams, the `max_candidates` best per mention.

    Returns columns mention (position in `mention_cores`), entry (position in `entry_cores`),
    shared (number of shared n-grams). `Registry.blocker` keeps the index for its registry.
    """
    return NgramIndex.build(entry_cores, blocking).block(mention_cores)


def _similarity(left: pd.Series, right: pd.Series) -> np.ndarray:
    """rapidfuzz ratio (0-1) of aligned strings, in parallel; missing → 0."""
    a = left.fillna("").astype(str).tolist()
    b = right.fillna("").astype(str).tolist()
    return _ratios(a, b)


def _ratios(a: list[str], b: list[str]) -> np.ndarray:
    if not a:
        return np.zeros(0)
    return np.asarray(process.cpdist(a, b, scorer=fuzz.ratio, workers=-1), dtype=float) / 100.0


def _texts_at(column: pd.Series, positions: np.ndarray) -> list[str]:
    """The values of `column` at `positions` as Python strings, "" for missing: each distinct
    position converted once (the same strings `_similarity` compares)."""
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


def _score_pairs(
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
    region = _region_status(
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
    frame = _score_pairs(queries, query_levels, registry, pairs, decision).frame
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
    scored = _score_pairs(queries, query_levels, registry, pairs, decision)
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
    scored = _score_pairs(queries, resolution.levels[ids], registry, pairs, decision).frame
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
        by_firm = _support_of(support, registry)
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


def _support_of(support: pd.Series, registry: Registry) -> np.ndarray:
    """`support` (per credit code) per firm id of `registry`."""
    size = int(registry.firm_ids.max()) + 1 if len(registry.firm_ids) else 0
    firms = registry.firms_of(pd.Series(support.index, dtype="str"))
    known = firms >= 0
    out = np.zeros(size)
    out[firms[known]] = support.to_numpy(dtype=float)[known]
    return out


# ---------------------------------------------------------------------------------------------
# Public API


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
            {"credit_code": firms["credit_code"].astype("str"), "raw": _column(firms, "name")}
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
    by_firm = _support_of(support, registry)
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
            codes = _column(frame, code_column).to_numpy(copy=True)
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
