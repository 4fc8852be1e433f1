"""The sparse supply PageRank gives networkx's pagerank to the bit (issue 26).

Supply features feed published scores, so the ranks published before (nx.pagerank on a
DiGraph) must not move in any bit: every comparison here is exact.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from features.feature_config import FeatureConfig
from features.supply_graph import (
    PageRankNotConverged,
    build_supply_features,
    pagerank,
    supply_window,
)
from tests.features.ranking_frames import AS_OF, make_source, valid_code

Edge = tuple[str, str, float]  # customer, supplier, amount

GRAPHS: dict[str, list[Edge]] = {
    "single edge": [("链主", "华芯", 5e6)],
    "dangling suppliers": [("a", "b", 3.0), ("a", "c", 1.0), ("b", "c", 2.0), ("d", "c", 7.5)],
    "self-loops": [("a", "a", 2.0), ("a", "b", 1.0), ("b", "a", 4.0), ("c", "c", 1.0)],
    # d buys only for 0: no outgoing weight, so it is dangling; (a, b) stays a zero entry
    "zero amounts": [("a", "b", 0.0), ("a", "c", 5.0), ("d", "a", 0.0), ("c", "d", 1.0)],
    "only zero amounts": [("a", "b", 0.0), ("b", "c", 0.0)],
    "cycle": [("a", "b", 1.0), ("b", "c", 2.0), ("c", "a", 3.0)],
}


def networkx_ranks(edges: list[Edge], config: FeatureConfig) -> np.ndarray:
    """The published ranks: nx.pagerank on the graph built as before issue 26."""
    graph = nx.DiGraph()
    graph.add_weighted_edges_from(edges, weight="amount")
    ranks = nx.pagerank(
        graph,
        alpha=config.pagerank_alpha,
        max_iter=config.pagerank_max_iterations,
        tol=config.pagerank_tolerance,
        weight="amount",
    )
    return np.array(list(ranks.values()))


def sparse_ranks(edges: list[Edge], config: FeatureConfig) -> np.ndarray:
    """`pagerank` with the vertices numbered as networkx numbers the graph's nodes."""
    vertex, _ = pd.factorize(
        np.array([(customer, supplier) for customer, supplier, _ in edges]).ravel()
    )
    amount = np.array([amount for *_, amount in edges], dtype="float64")
    return pagerank(vertex[0::2], vertex[1::2], amount, config)


@pytest.mark.parametrize("name", list(GRAPHS))
def test_same_bits_as_networkx_on_small_graphs(name: str, config: FeatureConfig) -> None:
    edges = GRAPHS[name]
    assert np.array_equal(sparse_ranks(edges, config), networkx_ranks(edges, config))


def random_edges(count: int, parties: int, seed: int) -> list[Edge]:
    """Distinct (customer, supplier) pairs over party ids: a third of the parties buy, all
    sell; some self-loops and zero amounts."""
    rng = np.random.default_rng(seed)
    ids = [f"name:供应商{n}" if n % 3 else valid_code(n) for n in range(parties)]
    pairs = pd.DataFrame(
        {
            "customer": rng.integers(0, parties // 3, count * 2),
            "supplier": rng.integers(0, parties, count * 2),
        }
    ).drop_duplicates()[:count]
    amounts = rng.lognormal(14, 2, len(pairs)) * (rng.random(len(pairs)) > 0.05)
    return [
        (ids[customer], ids[supplier], float(amount))
        for customer, supplier, amount in zip(
            pairs["customer"], pairs["supplier"], amounts, strict=True
        )
    ]


def test_same_bits_as_networkx_on_a_random_graph(config: FeatureConfig) -> None:
    # given 20k edges among 6k parties, two thirds of them buying nothing (dangling)
    edges = random_edges(20_000, 6_000, seed=26)
    assert any(customer == supplier for customer, supplier, _ in edges)
    # then
    assert np.array_equal(sparse_ranks(edges, config), networkx_ranks(edges, config))


def test_no_convergence_is_an_error_as_in_networkx(config: FeatureConfig) -> None:
    # given a ten-cycle with a chord and almost no teleport: 100 iterations do not settle it
    edges = [(f"v{i}", f"v{(i + 1) % 10}", 1.0) for i in range(10)] + [("v0", "v2", 1.0)]
    almost_no_teleport = config.model_copy(update={"pagerank_alpha": 0.99})
    with pytest.raises(nx.PowerIterationFailedConvergence):
        networkx_ranks(edges, almost_no_teleport)
    with pytest.raises(PageRankNotConverged):
        sparse_ranks(edges, almost_no_teleport)


def test_supply_pagerank_of_firms_as_published(config: FeatureConfig) -> None:
    # given a random supply table: firms by credit code, other parties by name, years in and
    # out of the window, missing and zero amounts, firms supplying themselves
    rng = np.random.default_rng(7)
    codes = [valid_code(n) for n in range(400)]
    rows = []
    for _ in range(3_000):
        supplier, customer = rng.integers(0, 600, 2)
        rows.append(
            {
                "supplier_name": f"供应商{supplier}",
                "supplier_credit_code": codes[supplier] if supplier < 400 else None,
                "customer_name": f"客户{customer}",
                "customer_credit_code": codes[customer] if customer < 400 else None,
                "chain": "集成电路",
                "node": "芯片设计",
                "year": int(rng.integers(AS_OF.year - 3, AS_OF.year + 1)),
                "amount": [None, 0.0, float(rng.lognormal(14, 2))][rng.integers(0, 3)],
            }
        )
    self_supply = {
        "supplier_credit_code": codes[0],
        "customer_credit_code": codes[0],
        "year": AS_OF.year - 1,
    }
    rows.append(rows[0] | self_supply)
    data = make_source(firms=[{"credit_code": code} for code in codes], supply_chain=rows)
    # when
    result = build_supply_features(data, AS_OF, config)
    # then: the ranks of the graph networkx was given before issue 26
    supply = supply_window(data, AS_OF, config)
    edges = supply.groupby(["customer", "supplier"], as_index=False)["amount"].sum()
    nodes = pd.unique(edges[["customer", "supplier"]].to_numpy().ravel())
    ranks = networkx_ranks(list(edges.itertuples(index=False, name=None)), config)
    published = pd.Series(ranks, index=nodes) * len(nodes)
    expected = published.reindex(pd.Index(codes)).fillna(0.0)
    assert (expected > 0).sum() > 300
    assert np.array_equal(result["supply_pagerank"].to_numpy(), expected.to_numpy())
