"""Supply-graph features at scale: `build_supply_features` (sparse PageRank on party codes,
issue 26) timed in a process of its own per data set.

    python -m bench.bench_supply_graph [--data bench/out/gen-1000000-5 ...] [--as-of 2026-06-30]

Reads firms, financials, supply_chain and chain_nodes of each generated data set (validated by
the one loader, then as published on as_of; kept under bench/out/supply-graph/), and prints a
table: supply rows in the window, wall and CPU seconds, and the peak resident memory above what
the process held before the call (Linux: VmHWM after resetting it). That the sparse PageRank
equals networkx's to the bit is a test (tests/features/test_supply_graph_pagerank.py).
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

import pandas as pd
import pyarrow as pa_arrow
from rich.console import Console
from rich.table import Table

from features.firm_features import _financial_features
from features.point_in_time import point_in_time
from features.sources import SAVED_SUFFIX, load_sources, read_saved_sources, save_sources
from features.supply_graph import build_supply_features, supply_window
from models.ranking.dataset import round_of
from models.ranking_config import load_model_config

ROOT = Path(__file__).resolve().parent
TABLES = ("firms", "financials", "supply_chain", "chain_nodes")


def prepare(data_dir: Path, as_of: date, saved: Path) -> None:
    """The four tables validated by the one loader and as published on as_of, saved once."""
    if (saved / f"supply_chain{SAVED_SUFFIX}").exists():
        return
    with tempfile.TemporaryDirectory() as only:
        for table in TABLES:
            os.symlink((data_dir / f"{table}.csv").resolve(), Path(only) / f"{table}.csv")
        data = load_sources(Path(only))
    seen = point_in_time(data, as_of, live=False, round_day=round_of(load_model_config()))
    save_sources(seen, saved)


def measure(saved: Path, as_of: date) -> dict[str, float]:
    """`build_supply_features` once in this process: seconds and peak MiB above the memory
    held before the call."""
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
    build_supply_features(data, as_of, config, firm_revenue=revenue)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "firms": len(firms),
        "supply_rows": len(supply_window(data, as_of, config)),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_mib": (_status_kib("VmHWM") - before) / 1024,
    }


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="*", default=[ROOT / "out" / "gen-1000000-5"])
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument("--saved", type=Path, help="(internal) measure these prepared tables")
    args = parser.parse_args()
    if args.saved:
        print(json.dumps(measure(args.saved, args.as_of)))
        return
    load = os.getloadavg()
    out = Table(
        title=f"build_supply_features (as of {args.as_of}; load average before "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f})"
    )
    for column in ("data set", "firms", "supply rows", "s", "CPU s", "peak +MiB"):
        out.add_column(column, justify="left" if column == "data set" else "right")
    for data in args.data:
        saved = ROOT / "out" / "supply-graph" / f"{data.name}-{args.as_of}"
        prepare(data, args.as_of, saved)
        command = [sys.executable, "-m", "bench.bench_supply_graph", "--saved", str(saved)]
        command += ["--as-of", str(args.as_of)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        out.add_row(
            data.name,
            f"{row['firms']:,}",
            f"{row['supply_rows']:,}",
            f"{row['seconds']:.1f}",
            f"{row['cpu_seconds']:.1f}",
            f"{row['peak_mib']:,.0f}",
        )
    Console(width=160).print(out)


if __name__ == "__main__":
    main()
