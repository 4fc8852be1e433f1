"""Supply-chain position of each firm, from the matched supply_chain table (附件2（六）).

The graph has one vertex per party: a registry firm by its credit code (filled by entity
matching), any other party by its written name. Only supply years before `as_of` (within the
configured window ending with Y = as_of.year - 1) are used. Region is not looked at.
"""

from __future__ import annotations

from datetime import date

import networkx as nx
import numpy as np
import pandas as pd

from features.feature_config import FeatureConfig
from features.sources import SourceData

SUPPLY_FEATURES = (
    "customer_count",
    "supplier_count",
    "supply_sales",
    "sales_to_chain_leaders",
    "chain_leader_customers",
    "supply_pagerank",
    "key_link_nodes_supplied",
    "six_foundation_nodes_supplied",
    "substitute_suppliers_mean",
    "sole_source_share",
    "domain_level",
)

# domain_level values (the 2022 table's main-product domain line, see configs/model.yaml)
DOMAIN_NONE, DOMAIN_FOUNDATION_OR_LEADER, DOMAIN_KEY_LINK = 0.0, 1.0, 2.0
_NAME_PREFIX = "name:"


def supply_window(data: SourceData, as_of: date, config: FeatureConfig) -> pd.DataFrame:
    """Supply rows of years Y-window+1 .. Y with a party id for supplier and customer."""
    frame = data.get("supply_chain")
    if frame is None or frame.empty:
        return pd.DataFrame(
            columns=["supplier", "customer", "chain", "node", "year", "amount"]
        ).astype({"amount": "float64"})
    last_year = as_of.year - 1
    first_year = last_year - config.supply_window_years + 1
    year = frame["year"].astype("float64")
    rows = frame[(year >= first_year) & (year <= last_year)]
    return pd.DataFrame(
        {
            "supplier": _party(rows, "supplier"),
            "customer": _party(rows, "customer"),
            "chain": rows["chain"],
            "node": rows["node"],
            "year": rows["year"],
            "amount": rows["amount"].astype("float64").fillna(0.0),
        }
    )


def _party(rows: pd.DataFrame, role: str) -> pd.Series:
    code_column = f"{role}_credit_code"
    names = _NAME_PREFIX + rows[f"{role}_name"].astype("str")
    if code_column not in rows:
        return names
    return rows[code_column].astype("str").fillna(names)


def chain_leaders(
    supply: pd.DataFrame, config: FeatureConfig, firm_revenue: pd.Series | None = None
) -> set[str]:
    """Customers that lead a chain: bought from many suppliers, or large (non-SME) by revenue."""
    suppliers_per_customer = supply.groupby("customer")["supplier"].nunique()
    leaders = set(
        suppliers_per_customer[suppliers_per_customer >= config.chain_leader_min_suppliers].index
    )
    if firm_revenue is not None:
        large = firm_revenue[firm_revenue >= config.chain_leader_min_revenue].index
        leaders |= set(large) & set(supply["customer"])
    return leaders


def build_supply_features(
    data: SourceData,
    as_of: date,
    config: FeatureConfig,
    firm_revenue: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per registry firm (index credit_code) with the columns of SUPPLY_FEATURES.

    `firm_revenue` (last fiscal year's revenue by credit code) lets large firms count as chain
    leaders even when few of their suppliers appear in the data.
    """
    firms = pd.Index(data.tables["firms"]["credit_code"], name="credit_code")
    result = pd.DataFrame(index=firms, columns=list(SUPPLY_FEATURES), dtype="float64")
    if not data.has("supply_chain"):
        return result  # unknown, not zero: the table is missing
    supply = supply_window(data, as_of, config)
    zero_counts = [
        "customer_count",
        "supplier_count",
        "supply_sales",
        "sales_to_chain_leaders",
        "chain_leader_customers",
        "supply_pagerank",
    ]
    result[zero_counts] = 0.0
    result["domain_level"] = DOMAIN_NONE
    if supply.empty:
        return result

    leaders = chain_leaders(supply, config, firm_revenue)
    by_supplier = supply.groupby("supplier")
    result["customer_count"] = _on_firms(by_supplier["customer"].nunique(), firms, 0.0)
    result["supplier_count"] = _on_firms(
        supply.groupby("customer")["supplier"].nunique(), firms, 0.0
    )
    result["supply_sales"] = _on_firms(by_supplier["amount"].sum(), firms, 0.0)
    to_leaders = supply[supply["customer"].isin(leaders)]
    result["sales_to_chain_leaders"] = _on_firms(
        to_leaders.groupby("supplier")["amount"].sum(), firms, 0.0
    )
    result["chain_leader_customers"] = _on_firms(
        to_leaders.groupby("supplier")["customer"].nunique(), firms, 0.0
    )
    result["supply_pagerank"] = _on_firms(_pagerank(supply, config), firms, 0.0)

    # Substitutability: other suppliers of the same node to the same customer.
    per_link = supply.drop_duplicates(["supplier", "customer", "chain", "node"])
    suppliers_of_link = per_link.groupby(["customer", "chain", "node"])["supplier"].transform(
        "nunique"
    )
    per_link = per_link.assign(substitutes=suppliers_of_link - 1)
    per_link = per_link.assign(sole_source=(per_link["substitutes"] == 0).astype("float64"))
    grouped = per_link.groupby("supplier")
    result["substitute_suppliers_mean"] = _on_firms(grouped["substitutes"].mean(), firms, np.nan)
    result["sole_source_share"] = _on_firms(grouped["sole_source"].mean(), firms, np.nan)

    nodes = data.get("chain_nodes")
    if nodes is not None:
        supplied = per_link.merge(nodes, on=["chain", "node"], how="left")
        key = supplied[supplied["is_key_link"].fillna(False).astype(bool)]
        foundation = supplied[supplied["category"].isin(config.six_foundation_categories)]
        result["key_link_nodes_supplied"] = _on_firms(_distinct_nodes(key), firms, 0.0)
        result["six_foundation_nodes_supplied"] = _on_firms(_distinct_nodes(foundation), firms, 0.0)
    # 2022 table, main-product domain: key link 5 points; 六基 or serving chain leaders 3.
    foundation_or_leader = (result["six_foundation_nodes_supplied"].fillna(0) > 0) | (
        result["chain_leader_customers"] > 0
    )
    result.loc[foundation_or_leader, "domain_level"] = DOMAIN_FOUNDATION_OR_LEADER
    result.loc[result["key_link_nodes_supplied"].fillna(0) > 0, "domain_level"] = DOMAIN_KEY_LINK
    return result


def _distinct_nodes(links: pd.DataFrame) -> pd.Series:
    return links.drop_duplicates(["supplier", "chain", "node"]).groupby("supplier").size()


def _pagerank(supply: pd.DataFrame, config: FeatureConfig) -> pd.Series:
    """PageRank with edges customer → supplier weighted by amount: a supplier that important
    buyers depend on ranks high. Scaled so the average party scores 1."""
    edges = supply.groupby(["customer", "supplier"], as_index=False)["amount"].sum()
    graph = nx.DiGraph()
    graph.add_weighted_edges_from(edges.itertuples(index=False, name=None), weight="amount")
    if graph.number_of_nodes() == 0:
        return pd.Series(dtype="float64")
    ranks = nx.pagerank(graph, alpha=config.pagerank_alpha, weight="amount")
    return pd.Series(ranks, dtype="float64") * graph.number_of_nodes()


def _on_firms(values: pd.Series, firms: pd.Index, fill: float) -> np.ndarray:
    return values.reindex(firms).astype("float64").fillna(fill).to_numpy()
