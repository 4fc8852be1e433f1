"""Blocking: which registry names a name is compared with at all. Trade-name cores are cut into
n-grams; a name meets the registry names sharing enough of them (`NgramIndex`), n-grams too
common to tell names apart left out, at most `max_candidates` per name.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from features.match_config import Blocking

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
