"""The registry as matching reads it: one entry per current or former name of a firm,
normalised (`registry_entries`), with the firms' regions and an n-gram index (`Registry`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.match_blocking import NgramIndex
from features.match_config import Blocking
from features.names import (
    normalize_names,
    region_levels,
    significant_code,
)
from features.sources import SourceData, arrow_text


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
            "raw": text_column(firms, "name").str.strip(),
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
                    "raw": text_column(history, "former_name").str.strip(),
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


def text_column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype("str")
    return pd.Series(pd.NA, index=frame.index, dtype="str")


def _significant_codes(codes: pd.Series | None, length: int) -> pd.Series:
    if codes is None:
        return pd.Series(pd.NA, index=range(length), dtype="str")
    text = codes.astype("str").reset_index(drop=True)
    distinct = text.dropna().unique()
    return text.map({c: significant_code(c) for c in distinct}).astype("str")
