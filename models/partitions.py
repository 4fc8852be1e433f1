"""Each province's share of a run's data, cut once so that a province's work reads only it.

A province's share is what its criteria, scores and lists read: the rows that concern its
firms (features.sources.subset_sources: mentions by their attributed codes, so a supply relation
between two provinces is in both shares), the pending mentions that name one of its firms as a
candidate, the rights those pending holder mentions name, and its firms' features.
`Provinces(live firms)` finds the provinces and cuts the shares.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from features.schemas import FIRM_KEYED_TABLES, MENTION_COLUMNS
from features.sources import SourceData, index_in_columns, subset_sources
from models.invitations import NO_PROVINCE, home_province


@dataclass(frozen=True)
class ProvinceShare:
    province: str
    sources: SourceData
    pending: SourceData


class Provinces:
    """The provinces a run's firms are at home in (code order), and the province of the firm
    any credit code names, looked up once per code column rather than once per province."""

    def __init__(self, firms: pd.DataFrame) -> None:
        homes = home_province(firms)
        self.codes: list[str] = sorted(set(homes.unique()) - {NO_PROVINCE})
        numbers = pd.Categorical(homes, categories=self.codes).codes  # -1: no province
        # the last entry answers for a code that names no firm
        self._numbers = np.append(numbers.astype(np.int32), np.int32(-1))
        self._firm_codes = firms["credit_code"]

    def of(self, codes: pd.Series) -> np.ndarray:
        """The number (position in `codes`) of each code's province, -1 for none."""
        return self.of_columns([codes])[0]

    def of_columns(self, columns: list[pd.Series]) -> list[np.ndarray]:
        """The province of each code of each column: one lookup for them all."""
        return [self._numbers[found] for found in index_in_columns(columns, self._firm_codes)]

    def of_rows(self, data: SourceData) -> dict[tuple[str, str], np.ndarray]:
        """(table, code column) → the province of each row's code, for subset_sources."""
        keys = []
        for table, frame in data.tables.items():
            columns = ["credit_code"] if table == "firms" or table in FIRM_KEYED_TABLES else []
            columns += [code for _, code in MENTION_COLUMNS.get(table, ()) if code in frame]
            keys += [(table, column) for column in columns]
        found = self.of_columns([data.tables[table][column] for table, column in keys])
        return dict(zip(keys, found, strict=True))

    def shares(self, live: SourceData, pending: SourceData) -> Iterator[ProvinceShare]:
        """Each province's share of `live` (the data as it stood on as_of, read live; its firms
        are the ones these provinces were found in) and of the pending mentions
        (features.unsettled.pending_mentions over `live`), one province at a time."""
        live_rows, pending_rows = self.of_rows(live), self.of_rows(pending)
        for number, province in enumerate(self.codes):
            own_pending = subset_sources(pending, partial(_is_home, pending_rows, number))
            # the rights pending holder mentions name, so the doubt they raise is judged right
            own = subset_sources(
                live, partial(_is_home, live_rows, number), rights_of=own_pending.get("ip_holders")
            )
            yield ProvinceShare(province, own, own_pending)

    def refused_shares(self, refused: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
        """Each province's rows of `refused` (features.unsettled.refused_by_firm): the refused
        rows that name one of its firms."""
        homes = self.of(refused["credit_code"])
        for number, province in enumerate(self.codes):
            yield province, refused[homes == number].reset_index(drop=True)

    def feature_shares(self, features: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
        """Each province's rows of `features` (indexed by credit code): cut apart from the
        sources, so that a run never holds both at once (issue 25)."""
        homes = self.of(features.index.to_series())
        for number, province in enumerate(self.codes):
            yield province, features[homes == number]


def _is_home(
    rows: dict[tuple[str, str], np.ndarray], number: int, table: str, column: str
) -> np.ndarray:
    return rows[table, column] == number
