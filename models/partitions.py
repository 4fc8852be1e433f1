"""Each province's share of a run's data, cut once so that a province's work reads only it.

A province's share is what its criteria, scores and lists read: the rows that concern its
firms (features.sources.subset_sources: mentions by their attributed codes, so a supply relation
between two provinces is in both shares), the pending mentions that name one of its firms as a
candidate, the rights those pending holder mentions name, and its firms' features.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from features.sources import SourceData, string_isin, subset_sources
from models.invitations import NO_PROVINCE, home_province


@dataclass(frozen=True)
class ProvinceShare:
    province: str
    sources: SourceData
    pending: SourceData
    features: pd.DataFrame


def province_firms(firms: pd.DataFrame) -> dict[str, pd.Index]:
    """The credit codes of each province's firms (home_province), provinces in code order;
    firms without a province (NO_PROVINCE) belong to none."""
    homes = home_province(firms)
    return {
        code: pd.Index(firms.loc[(homes == code).to_numpy(), "credit_code"])
        for code in sorted(set(homes) - {NO_PROVINCE})
    }


def province_shares(
    live: SourceData, pending: SourceData, features: pd.DataFrame
) -> Iterator[ProvinceShare]:
    """Each province's share of `live` (the data as it stood on as_of, read live), of the
    pending mentions (features.unsettled.pending_mentions over `live`) and of the features
    (indexed by credit code), one province at a time."""
    for province, codes in province_firms(live.tables["firms"]).items():
        own_pending = subset_sources(pending, codes)
        # the rights pending holder mentions name, so the doubt they raise is judged on the right
        own = subset_sources(live, codes, rights_of=own_pending.get("ip_holders"))
        own_features = features[string_isin(features.index.to_series(), codes)]
        yield ProvinceShare(province, own, own_pending, own_features)
