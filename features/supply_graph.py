"""Supply-chain position of each firm, from the matched supply_chain table (附件2（六）).

The graph has one vertex per party: a registry firm by its credit code (filled by entity
matching), any other party by its written name. Only supply years before `as_of` (within the
configured window ending with Y = as_of.year - 1) are used. Region is not looked at.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from scipy import sparse

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


class PageRankNotConverged(RuntimeError):
    """The supply PageRank did not settle within the configured iterations."""


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
    # Parties as integer codes in the order of their ids (PageRank's node order follows it):
    # the groupbys hash small integers, and each firm finds its party once.
    party_code, parties = pd.factorize(
        pd.concat([supply["supplier"], supply["customer"]]), sort=True
    )
    links = supply.assign(supplier=party_code[: len(supply)], customer=party_code[len(supply) :])
    firm_party = parties.get_indexer(firms)  # -1: the firm is in no supply row
    by_supplier = links.groupby("supplier")
    result["customer_count"] = _on_firms(by_supplier["customer"].nunique(), firm_party, 0.0)
    result["supplier_count"] = _on_firms(
        links.groupby("customer")["supplier"].nunique(), firm_party, 0.0
    )
    result["supply_sales"] = _on_firms(by_supplier["amount"].sum(), firm_party, 0.0)
    to_leaders = links[supply["customer"].isin(leaders).to_numpy()]
    result["sales_to_chain_leaders"] = _on_firms(
        to_leaders.groupby("supplier")["amount"].sum(), firm_party, 0.0
    )
    result["chain_leader_customers"] = _on_firms(
        to_leaders.groupby("supplier")["customer"].nunique(), firm_party, 0.0
    )
    result["supply_pagerank"] = _on_firms(_supply_pagerank(links, config), firm_party, 0.0)

    # Substitutability: other suppliers of the same node to the same customer.
    per_link = links.drop_duplicates(["supplier", "customer", "chain", "node"])
    suppliers_of_link = per_link.groupby(["customer", "chain", "node"])["supplier"].transform(
        "nunique"
    )
    per_link = per_link.assign(substitutes=suppliers_of_link - 1)
    per_link = per_link.assign(sole_source=(per_link["substitutes"] == 0).astype("float64"))
    grouped = per_link.groupby("supplier")
    result["substitute_suppliers_mean"] = _on_firms(
        grouped["substitutes"].mean(), firm_party, np.nan
    )
    result["sole_source_share"] = _on_firms(grouped["sole_source"].mean(), firm_party, np.nan)

    nodes = data.get("chain_nodes")
    if nodes is not None:
        supplied = per_link.merge(nodes, on=["chain", "node"], how="left")
        key = supplied[supplied["is_key_link"].fillna(False).astype(bool)]
        foundation = supplied[supplied["category"].isin(config.six_foundation_categories)]
        result["key_link_nodes_supplied"] = _on_firms(_distinct_nodes(key), firm_party, 0.0)
        result["six_foundation_nodes_supplied"] = _on_firms(
            _distinct_nodes(foundation), firm_party, 0.0
        )
    # 2022 table, main-product domain: key link 5 points; 六基 or serving chain leaders 3.
    foundation_or_leader = (result["six_foundation_nodes_supplied"].fillna(0) > 0) | (
        result["chain_leader_customers"] > 0
    )
    result.loc[foundation_or_leader, "domain_level"] = DOMAIN_FOUNDATION_OR_LEADER
    result.loc[result["key_link_nodes_supplied"].fillna(0) > 0, "domain_level"] = DOMAIN_KEY_LINK
    return result


def _distinct_nodes(links: pd.DataFrame) -> pd.Series:
    return links.drop_duplicates(["supplier", "chain", "node"]).groupby("supplier").size()


def _supply_pagerank(links: pd.DataFrame, config: FeatureConfig) -> pd.Series:
    """PageRank with edges customer → supplier weighted by amount: a supplier that important
    buyers depend on ranks high. By party code, scaled so the average party scores 1."""
    edges = links.groupby(["customer", "supplier"], as_index=False)["amount"].sum()
    # Vertices numbered as networkx numbered the graph of these edges: each edge's customer,
    # then its supplier, in order of first appearance.
    vertex, party = pd.factorize(edges[["customer", "supplier"]].to_numpy().ravel())
    ranks = pagerank(vertex[0::2], vertex[1::2], edges["amount"].to_numpy(), config)
    return pd.Series(ranks * len(party), index=party)


def pagerank(
    source: np.ndarray, target: np.ndarray, weight: np.ndarray, config: FeatureConfig
) -> np.ndarray:
    """PageRank of vertices 0..n-1 over distinct weighted edges source → target, bit for bit
    networkx 3's `nx.pagerank(graph, alpha, max_iter, tol, weight=...)` with the configured
    settings, where vertex i is the graph's i-th node: networkx's `_pagerank_scipy`, same
    matrix, operations and order of summation."""
    alpha = config.pagerank_alpha
    n = int(max(source.max(), target.max())) + 1
    matrix = sparse.coo_array((weight, (source, target)), shape=(n, n), dtype=float).tocsr()
    scale = matrix.sum(axis=1)  # each row divided by its total weight
    scale[scale != 0] = 1.0 / scale[scale != 0]
    matrix = sparse.dia_array((scale.T, 0), shape=matrix.shape).tocsr() @ matrix
    dangling = np.where(scale == 0)[0]  # no outgoing weight: its rank spreads evenly
    uniform = np.repeat(1.0 / n, n)
    ranks = uniform
    for _ in range(config.pagerank_max_iterations):
        last = ranks
        # Summed in order, as networkx's Python sum (3.11): numpy's pairwise sum may differ
        # in the last bit; a cumulative sum adds in order at numpy's speed.
        spread = _sum_in_order(ranks[dangling]) * uniform
        ranks = alpha * (ranks @ matrix + spread) + (1 - alpha) * uniform
        if np.absolute(ranks - last).sum() < n * config.pagerank_tolerance:
            return ranks
    raise PageRankNotConverged(
        f"supply PageRank did not converge in {config.pagerank_max_iterations} iterations"
    )


def _sum_in_order(values: np.ndarray) -> float:
    return float(np.cumsum(values)[-1]) if len(values) else 0.0


def _on_firms(by_party: pd.Series, firm_party: np.ndarray, fill: float) -> np.ndarray:
    return by_party.reindex(firm_party).astype("float64").fillna(fill).to_numpy()
