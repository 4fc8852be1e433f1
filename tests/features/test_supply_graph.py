"""Supply-chain graph features: counts, chain leaders, PageRank, key links, substitutability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.feature_config import FeatureConfig
from features.sources import SourceData
from features.supply_graph import (
    DOMAIN_FOUNDATION_OR_LEADER,
    DOMAIN_KEY_LINK,
    SUPPLY_FEATURES,
    build_supply_features,
)
from tests.features.ranking_frames import (
    AS_OF,
    CODE_A,
    CODE_B,
    CODE_C,
    LEADER,
    base_source,
    with_rows,
)


@pytest.fixture(scope="module")
def supply(config: FeatureConfig) -> pd.DataFrame:
    data = base_source()
    revenue = pd.Series({LEADER: 900e6, CODE_A: 64e6})
    return build_supply_features(data, AS_OF, config, firm_revenue=revenue)


def test_counts_and_sales_to_chain_leaders(supply: pd.DataFrame) -> None:
    # given A and B supply the large firm LEADER (revenue above the line); C sells abroad
    # then
    assert supply.loc[CODE_A, "customer_count"] == 1
    assert supply.loc[LEADER, "supplier_count"] == 2
    assert supply.loc[CODE_A, "sales_to_chain_leaders"] == 5e6
    assert supply.loc[CODE_C, "sales_to_chain_leaders"] == 0
    assert supply.loc[CODE_C, "supply_sales"] == 2e6


def test_chain_leader_by_supplier_count_without_revenue(config: FeatureConfig) -> None:
    # given no revenue, and a rule that two suppliers make a customer a chain leader
    two = config.model_copy(update={"chain_leader_min_suppliers": 2})
    # when
    result = build_supply_features(base_source(), AS_OF, two)
    # then
    assert result.loc[CODE_B, "chain_leader_customers"] == 1
    none = build_supply_features(base_source(), AS_OF, config)
    assert none.loc[CODE_B, "chain_leader_customers"] == 0


def test_key_links_and_substitutability(supply: pd.DataFrame) -> None:
    # given A and B both supply the key-link node 芯片设计 to the same customer
    # then
    assert supply.loc[CODE_A, "key_link_nodes_supplied"] == 1
    assert supply.loc[CODE_A, "substitute_suppliers_mean"] == 1
    assert supply.loc[CODE_A, "sole_source_share"] == 0
    assert supply.loc[CODE_C, "sole_source_share"] == 1
    assert supply.loc[CODE_A, "domain_level"] == DOMAIN_KEY_LINK
    assert supply.loc[CODE_C, "domain_level"] == DOMAIN_FOUNDATION_OR_LEADER  # key materials
    assert np.isnan(supply.loc[LEADER, "substitute_suppliers_mean"])  # supplies nothing


def test_pagerank_favours_suppliers_that_big_buyers_depend_on(supply: pd.DataFrame) -> None:
    # A sells five times what B sells to the same leader
    assert supply.loc[CODE_A, "supply_pagerank"] > supply.loc[CODE_B, "supply_pagerank"]


def test_supply_years_from_as_of_on_are_ignored(
    config: FeatureConfig, supply: pd.DataFrame
) -> None:
    # given a relation in as_of's own year (not yet reported on as_of)
    data = with_rows(
        base_source(),
        supply_chain=[
            {
                "supplier_name": "远航",
                "supplier_credit_code": CODE_C,
                "customer_name": "链主",
                "customer_credit_code": LEADER,
                "chain": "集成电路",
                "node": "芯片设计",
                "year": AS_OF.year,
                "amount": 9e9,
            }
        ],
    )
    revenue = pd.Series({LEADER: 900e6, CODE_A: 64e6})
    # when / then
    later = build_supply_features(data, AS_OF, config, firm_revenue=revenue)
    pd.testing.assert_frame_equal(later, supply)


def test_missing_supply_table_is_unknown_not_zero(config: FeatureConfig) -> None:
    data = base_source()
    without = SourceData({k: v for k, v in data.tables.items() if k != "supply_chain"})
    result = build_supply_features(without, AS_OF, config)
    assert list(result.columns) == list(SUPPLY_FEATURES)
    assert result.isna().all().all()


def test_region_does_not_enter_the_graph(config: FeatureConfig, supply: pd.DataFrame) -> None:
    # given the leader moved to another province
    data = base_source()
    firms = data.tables["firms"].copy()
    firms["region_code"] = "330100"
    moved = SourceData({**data.tables, "firms": firms})
    revenue = pd.Series({LEADER: 900e6, CODE_A: 64e6})
    pd.testing.assert_frame_equal(
        build_supply_features(moved, AS_OF, config, firm_revenue=revenue), supply
    )
