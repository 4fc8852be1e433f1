"""Supply-graph features at national scale: sparse PageRank on party codes (issue 26).

    python -m bench.bench_supply_graph [--data bench/out/gen-1000000-5] [--as-of 2026-06-30]

Reads firms, financials, supply_chain and chain_nodes of a generated data set (validated by
the one loader, then as published on as_of), and runs `build_supply_features` twice, each in
its own process: as it was with networkx (the copy below) and as it is now. Prints wall and
CPU seconds and the peak resident memory above what the process held before the call (Linux:
VmHWM after resetting it), and asserts that both give the same floats to the bit. The prepared
tables are kept under bench/out/supply-graph/.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa_arrow

from features.feature_config import FeatureConfig
from features.firm_features import _financial_features
from features.point_in_time import point_in_time
from features.sources import SourceData, load_sources, read_saved_sources, save_sources
from features.supply_graph import (
    DOMAIN_FOUNDATION_OR_LEADER,
    DOMAIN_KEY_LINK,
    DOMAIN_NONE,
    SUPPLY_FEATURES,
    build_supply_features,
)
from models.ranking.dataset import round_of
from models.ranking_config import load_model_config

ROOT = Path(__file__).resolve().parent
TABLES = ("firms", "financials", "supply_chain", "chain_nodes")
_NAME_PREFIX = "name:"


# --- build_supply_features before issue 26 (networkx), kept verbatim for the comparison ---
def supply_window(data: SourceData, as_of: date, config: FeatureConfig) -> pd.DataFrame:
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
    suppliers_per_customer = supply.groupby("customer")["supplier"].nunique()
    leaders = set(
        suppliers_per_customer[suppliers_per_customer >= config.chain_leader_min_suppliers].index
    )
    if firm_revenue is not None:
        large = firm_revenue[firm_revenue >= config.chain_leader_min_revenue].index
        leaders |= set(large) & set(supply["customer"])
    return leaders


def networkx_supply_features(
    data: SourceData,
    as_of: date,
    config: FeatureConfig,
    firm_revenue: pd.Series | None = None,
) -> pd.DataFrame:
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
    edges = supply.groupby(["customer", "supplier"], as_index=False)["amount"].sum()
    graph = nx.DiGraph()
    graph.add_weighted_edges_from(edges.itertuples(index=False, name=None), weight="amount")
    if graph.number_of_nodes() == 0:
        return pd.Series(dtype="float64")
    ranks = nx.pagerank(graph, alpha=config.pagerank_alpha, weight="amount")
    return pd.Series(ranks, dtype="float64") * graph.number_of_nodes()


def _on_firms(values: pd.Series, firms: pd.Index, fill: float) -> np.ndarray:
    return values.reindex(firms).astype("float64").fillna(fill).to_numpy()


# --- the bench ---
VARIANTS = {"networkx": networkx_supply_features, "sparse": build_supply_features}


def prepare(data_dir: Path, as_of: date, saved: Path) -> None:
    """The four tables validated by the one loader and as published on as_of, as Parquet."""
    if (saved / "supply_chain.parquet").exists():
        return
    with tempfile.TemporaryDirectory() as only:
        for table in TABLES:
            os.symlink((data_dir / f"{table}.csv").resolve(), Path(only) / f"{table}.csv")
        data = load_sources(Path(only))
    seen = point_in_time(data, as_of, live=False, round_day=round_of(load_model_config()))
    save_sources(seen, saved)


def run_variant(variant: str, saved: Path, as_of: date, out: Path) -> None:
    """One variant in this process: seconds and peak MiB above the memory held before."""
    config = load_model_config().features
    data = read_saved_sources(saved)
    firms = pd.Index(data.tables["firms"]["credit_code"], name="credit_code")
    # build_features passes the last fiscal year's revenue (chain leaders by size)
    revenue = _financial_features(data, as_of.year - 1, firms)["revenue"]
    # memory the allocators keep from loading would hide part of the peak: give it back first
    gc.collect()
    pa_arrow.default_memory_pool().release_unused()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident set (VmHWM)
    before = _status_kib("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    result = VARIANTS[variant](data, as_of, config, firm_revenue=revenue)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak = (_status_kib("VmHWM") - before) / 1024
    result.to_parquet(out / f"{variant}.parquet")
    measured = {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mib": peak}
    print(json.dumps({"variant": variant, **measured}))


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "out" / "gen-1000000-5")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument("--variant", choices=list(VARIANTS), help="(internal) run one")
    parser.add_argument("--saved", type=Path, help="(internal) prepared tables")
    parser.add_argument("--out", type=Path, help="(internal) where results go")
    args = parser.parse_args()
    if args.variant:
        run_variant(args.variant, args.saved, args.as_of, args.out)
        return
    saved = ROOT / "out" / "supply-graph" / f"{args.data.name}-{args.as_of}"
    start = time.perf_counter()
    prepare(args.data, args.as_of, saved)
    print(f"tables ready in {time.perf_counter() - start:.0f} s: {saved}")
    rows = []
    for variant in VARIANTS:
        print(f"load average before {variant}: {os.getloadavg()}")
        command = [sys.executable, "-m", "bench.bench_supply_graph", "--variant", variant]
        command += ["--saved", str(saved), "--as-of", str(args.as_of), "--out", str(saved)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for row in rows:
        print(
            f"{row['variant']:>8}: {row['seconds']:6.1f} s ({row['cpu_seconds']:.1f} s CPU), "
            f"peak +{row['peak_mib']:6.0f} MiB"
        )
    old, new = (pd.read_parquet(saved / f"{variant}.parquet") for variant in VARIANTS)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    same_bits = np.array_equal(old.to_numpy().view(np.int64), new.to_numpy().view(np.int64))
    assert same_bits, "outputs differ in some bit"
    print(f"identical to the bit: {old.shape[0]} firms x {old.shape[1]} features")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
