"""Read a data directory per ../shared/contracts/sources.md (being written; interface stable)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class SourceData:
    """Validated source tables. Only tables present in the data directory are in `tables`.

    Column dtypes: text `str` (missing = NA), dates `datetime64[us]` (NaT), integers `Int64`,
    amounts/ratios `float64`, booleans `boolean`; credit codes upper-case, half-width, valid.
    `rejects` has columns table, row, column, reason, value, action.
    """

    tables: Mapping[str, pd.DataFrame]
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)
    coverage: pd.DataFrame = field(default_factory=pd.DataFrame)

    def has(self, table: str) -> bool:
        return table in self.tables

    def get(self, table: str) -> pd.DataFrame | None:
        return self.tables.get(table)
