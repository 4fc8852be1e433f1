"""Matching against the registry in parts (issue 26): no worker holds the whole registry.

The registry's names (`registry_entries`) are cut into parts by their blocking key, the trade-name
core (`registry_part_of`: a core's names lie in one part), and built piece by piece from the
firms whose codes share a hash (`firm_pieces`, `registry_piece`). The distinct names to resolve
are cut into chunks (`name_chunks`).
Each chunk is asked of every part — a name's n-gram candidates can lie in any part — in three
rounds, each part read once per round:

1. `equal_key_entries`: the part's names equal to a chunk's name on the whole name, the
   cleaned name or the core. `resolve_names(..., equal_keys_only=True)` against them gives the
   certain links, summed over all chunks into the support (`certain_links`), and the names
   still open.
2. `PartIndex.candidates`: the part's best n-gram candidates of each open name, the whole
   registry's too-common n-grams (`common_ngrams`) left out; `best_candidates` keeps each
   name's `max_candidates` best over all parts (most shared n-grams, then registry order).
3. `firm_entries`: every name of the firms met in rounds 1 and 2.

The chunk's registry (`chunk_registry`) then holds every registry name any stage of
`resolve_names` can meet for the chunk's names, in the registry's order, with the whole
registry's too-common n-grams and support: resolving the chunk against it gives the links of
the single-process matcher, byte for byte (tests/features/test_match_partitions.py).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from features.match_blocking import NgramIndex
from features.match_config import Blocking, MatchingConfig
from features.match_registry import Registry, registry_entries
from features.match_resolution import resolve_names
from features.matching import compare_candidates
from features.names import normalize_names
from features.sources import string_isin

NAME_SETS: Final = ("mentions", "refused")  # the names a run resolves: mentions, refused rows
# What the registry is built from (`registry_entries`): the code, name and region of each firm,
# and the former names.
REGISTRY_COLUMNS: Final = {
    "firms": ("credit_code", "name", "region_code"),
    "name_history": ("credit_code", "former_name"),
}
AT_LEAST: Final = 2  # parts and chunks, so that two workers share each round


def part_count(firms: int, part_firms: int) -> int:
    """How many parts the registry of `firms` firms is cut into (`match_part_firms` each)."""
    return max(AT_LEAST, math.ceil(firms / part_firms))


def name_chunks(names: pd.Series, size: int) -> list[pd.DataFrame]:
    """The distinct names in order (`distinct_names`) in chunks of about `size` (`AT_LEAST`
    when there are that many): name and mentions (how many mentions carry it)."""
    distinct, mentions = distinct_names(names)
    if not len(distinct):
        return []
    count = max(math.ceil(len(distinct) / size), min(AT_LEAST, len(distinct)))
    bounds = np.linspace(0, len(distinct), count + 1).astype(np.int64)
    return [
        pd.DataFrame({"name": distinct.iloc[start:end].array, "mentions": mentions[start:end]})
        for start, end in itertools.pairwise(bounds)
    ]


def _registry_columns(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame[[c for c in REGISTRY_COLUMNS[table] if c in frame.columns]]


def _bucket(keys: pd.Series, parts: int) -> np.ndarray:
    """A part number per key, the same in every process (pandas' fixed hash key)."""
    text = pd.Series(keys.to_numpy(dtype=object), dtype="str").fillna("")
    hashed = pd.util.hash_array(text.to_numpy(dtype=object))
    return (hashed % np.uint64(max(parts, 1))).astype(np.int64)


def registry_part_of(entries: pd.DataFrame, parts: int) -> np.ndarray:
    """The part of each registry name: by its core, the key the core stage looks up."""
    return _bucket(entries["core"], parts)


def firm_pieces(
    firms: pd.DataFrame, history: pd.DataFrame | None, pieces: int
) -> list[tuple[pd.DataFrame, pd.DataFrame | None]]:
    """The firms (code, name, region) and former names of each piece — the firms whose credit
    code hashes to it, so that a firm's current and former names are built together, as the
    whole registry builds them — each row with its `order` in the whole registry."""
    firms = _registry_columns(firms, "firms").reset_index(drop=True)
    firms = firms.assign(order=np.arange(len(firms), dtype=np.int64))
    firm_piece = _bucket(firms["credit_code"], pieces)
    history_piece = None
    if history is not None and len(history):
        history = _registry_columns(history, "name_history").reset_index(drop=True)
        history = history.assign(order=len(firms) + np.arange(len(history), dtype=np.int64))
        history_piece = _bucket(history["credit_code"], pieces)
    return [
        (
            firms[firm_piece == piece],
            None if history is None or history_piece is None else history[history_piece == piece],
        )
        for piece in range(pieces)
    ]


def registry_piece(firms: pd.DataFrame, history: pd.DataFrame | None) -> pd.DataFrame:
    """The registry names (`registry_entries`, with their `order` in the whole registry) of a
    piece of `firm_pieces`."""
    return registry_entries(
        firms,
        history,
        firm_order=firms["order"].to_numpy(),
        history_order=None if history is None else history["order"].to_numpy(),
    )


def distinct_names(names: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The distinct names in order of appearance, as `resolve_names` takes them, and the
    mentions of each."""
    position, uniques = pd.factorize(names)
    distinct = pd.Series(uniques, dtype="str")
    return distinct, np.bincount(position[position >= 0], minlength=len(distinct))


def name_keys(names: pd.Series) -> pd.DataFrame:
    """What the equal-key stages compare of each name: raw (stripped), parent and core."""
    parts = normalize_names(names.reset_index(drop=True))
    return pd.DataFrame(
        {
            "raw": names.reset_index(drop=True).str.strip().array,
            "parent": parts["parent"].array,
            "core": parts["core"].array,
        }
    )


def equal_key_entries(part: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """The names of a registry part equal to one of `keys` (`name_keys`) on raw, parent or
    core: every name the exact, normalized, history and core stages can pair them with."""
    found = np.zeros(len(part), dtype=bool)
    for column in ("raw", "parent", "core"):
        found |= string_isin(part[column], keys[column])
    return part[found]


def open_names(resolved: pd.DataFrame) -> np.ndarray:
    """Positions of the names the equal-key stages left open or sent to review: the names
    whose n-gram candidates the fuzzy stage and the pair classifier weigh."""
    method = resolved["method"]
    return np.nonzero((method.isna() | (method == "review")).to_numpy(dtype=bool))[0]


@dataclass
class PartIndex:
    """The n-gram index of one registry part, with the whole registry's too-common n-grams."""

    part: pd.DataFrame
    blocker: NgramIndex

    @classmethod
    def build(cls, part: pd.DataFrame, blocking: Blocking, common: np.ndarray) -> PartIndex:
        part = part.sort_values("order", kind="stable").reset_index(drop=True)
        return cls(part, NgramIndex.build(part["core"], blocking, common))

    def candidates(self, cores: pd.Series) -> pd.DataFrame:
        """This part's best candidates of each core (`name_keys`' core of a name): name (the
        label of the core in `cores`), order (the registry name's place in the whole
        registry), credit_code, shared (n-grams)."""
        usable = cores[cores.notna().to_numpy()]
        pairs, _ = self.blocker.block(usable)
        entry = pairs["entry"].to_numpy()
        return pd.DataFrame(
            {
                "name": usable.index.to_numpy()[pairs["mention"].to_numpy()],
                "order": self.part["order"].to_numpy()[entry],
                "credit_code": self.part["credit_code"].array.take(entry),
                "shared": pairs["shared"].to_numpy(),
            }
        )


def best_candidates(found: list[pd.DataFrame], blocking: Blocking) -> pd.DataFrame:
    """Each name's `max_candidates` best candidates over all parts: most shared n-grams first,
    ties in registry order — those the whole registry's index gives."""
    every = pd.concat(found, ignore_index=True)
    name = every["name"].to_numpy()
    ranked = np.lexsort((every["order"].to_numpy(), -every["shared"].to_numpy(), name))
    by_name = name[ranked]
    rank = np.arange(len(ranked)) - np.searchsorted(by_name, by_name, side="left")
    return every.iloc[ranked[rank < blocking.max_candidates]].reset_index(drop=True)


def firms_met(equal_keys: list[pd.DataFrame], best: pd.DataFrame) -> pd.Index:
    """The firms a chunk met: those of its names equal on a key (`equal_key_entries` of every
    part) and of its best candidates (`best_candidates`)."""
    codes = pd.concat([*(found["credit_code"] for found in equal_keys), best["credit_code"]])
    return pd.Index(codes).unique()


def firm_entries(part: pd.DataFrame, codes: pd.Index) -> pd.DataFrame:
    """Every name of a registry part that belongs to one of these firms."""
    return part[string_isin(part["credit_code"], codes)]


def chunk_registry(found: list[pd.DataFrame], common: np.ndarray) -> Registry:
    """The registry of a chunk: the names the parts gave for it, in the registry's order."""
    entries = pd.concat(found, ignore_index=True).drop_duplicates("order")
    return Registry.from_entries(entries.drop(columns=["entry"], errors="ignore"), common)


def support_parts(support: pd.Series, parts: int) -> list[pd.Series]:
    """The support cut into parts by credit code, so that a chunk reads the support of its
    own firms one part at a time, never the whole registry's."""
    part = _bucket(pd.Series(support.index, dtype="str"), parts)
    return [support[part == number] for number in range(parts)]


def support_of(part: pd.Series, registry: Registry) -> pd.Series:
    """The support of a part (`support_parts`) for the firms of a chunk's registry."""
    codes = registry.entries["credit_code"]
    return part[string_isin(pd.Series(part.index, dtype="str"), codes)]


def resolve_chunk(
    names: pd.Series,
    registry: Registry,
    support: pd.Series,
    config: MatchingConfig,
    review: bool,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A chunk's names resolved against its registry with the whole set's support, and, when
    `review`, the candidates of its names left to review (`compare_candidates`, as the review
    files show them)."""
    resolved = resolve_names(names, registry, config, support=support)
    if not review:
        return resolved, None
    queue = resolved[(resolved["method"] == "review").to_numpy(dtype=bool)]
    compared = compare_candidates(queue, registry, config, named_only=True, support=support)
    return resolved, compared


def joined_candidates(compared: list[pd.DataFrame]) -> pd.DataFrame:
    """The review candidates of every chunk as one table (`review_tables`' `compared`); a
    chunk without any adds no columns of its own type."""
    some = [frame for frame in compared if len(frame)]
    return pd.concat(some, ignore_index=True) if some else compared[0]
