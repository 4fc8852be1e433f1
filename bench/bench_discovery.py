"""End-to-end discovery at scale: time and peak memory of each stage of the discovery flow.

Each stage runs the flow's own task function (`task.fn`) in a fresh process that reads the
previous stage's files, exactly as the flow passes paths between tasks, so the peak memory of
a stage is that process's own. The ranking model is trained once on a small data set.

    python bench/bench_discovery.py                 # 250k, 500k and 1M firms
    python bench/bench_discovery.py --firms 20000   # a quick check
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
AS_OF = dt.date(2026, 6, 30)
SEED = 5

STAGES = [
    ("validate", "prepare(DATA, PATHS)"),
    ("match", "match(PATHS)"),
    ("features", "features(PATHS, AS_OF)"),
    ("champion", "champion(PATHS)"),
    (
        "criteria+score+lists",
        "[province(PATHS, p, AS_OF, PATHS.work / 'features.parquet', "
        "PATHS.work / 'champion.joblib') for p in PROVINCES]",
    ),
    ("assemble", "assemble(PATHS, AS_OF, PROVINCES, {}, 'bench', 0.0, {})"),
    ("publish", "publish(PATHS)"),
]

PRELUDE = """
import datetime as dt, sys
from pathlib import Path
import pandas as pd
from flows import discovery as d
from models.invitations import NO_PROVINCE, province_of
DATA = Path(sys.argv[1]); RUNS = Path(sys.argv[2]); RUN_ID = sys.argv[3]; HOME = Path(sys.argv[4])
AS_OF = dt.date(2026, 6, 30)
PATHS = d.RunPaths(run_id=RUN_ID, work=HOME / "work" / RUN_ID,
                   staging=RUNS / f".staging-{RUN_ID}", runs=RUNS)
prepare, match, features, champion = d.prepare.fn, d.match.fn, d.features.fn, d.champion.fn
province, assemble, publish = d.province.fn, d.assemble.fn, d.publish.fn
if PATHS.sources.exists():
    regions = pd.read_parquet(PATHS.sources / "firms.parquet", columns=["region_code"])
    PROVINCES = sorted(set(province_of(regions["region_code"])) - {NO_PROVINCE})
"""


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{args[-1][:60]}… failed with exit code {process.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024**2


def ensure_data(firms: int, env: dict[str, str]) -> Path:
    data = OUT / f"gen-{firms}-{SEED}"
    if not (data / "firms.csv").exists():
        print(f"generating {firms:,} firms …", flush=True)
        code = (
            f"import synth; synth.generate({firms}, {SEED}, __import__('pathlib').Path('{data}'))"
        )
        run_measured([sys.executable, "-c", code], env)
    return data


def ensure_champion(env: dict[str, str]) -> None:
    if (Path(env["ZJTX_HOME"]) / "mlflow" / "mlflow.db").exists():
        return
    data = ensure_data(20_000, env)
    print("training the ranking model once on 20,000 firms …", flush=True)
    run_measured([str(ROOT / ".venv" / "bin" / "zjtx"), "train", "--data", str(data)], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, nargs="*", default=[250_000, 500_000, 1_000_000])
    sizes = parser.parse_args().firms
    home = OUT / "home"
    env = {**os.environ, "ZJTX_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    ensure_champion(env)
    table = Table(title=f"Discovery per stage (as of {AS_OF}; {os.cpu_count()} cores)")
    table.add_column("firms", justify="right")
    for stage, _ in STAGES:
        table.add_column(f"{stage} s / GiB", justify="right")
    table.add_column("total s", justify="right")
    table.add_column("peak GiB", justify="right")
    table.add_column("s per 100k firms", justify="right")
    for firms in sizes:
        data = ensure_data(firms, env)
        run_id = f"bench-{firms}-{time.strftime('%Y%m%dT%H%M%S')}"
        runs = OUT / "runs"
        cells, total, peak = [], 0.0, 0.0
        for stage, call in STAGES:
            code = PRELUDE + call
            args = [sys.executable, "-c", code, str(data), str(runs), run_id, str(home)]
            seconds, gib = run_measured(args, env)
            print(f"{firms:>9,} {stage:<22} {seconds:7.1f} s {gib:5.2f} GiB", flush=True)
            cells.append(f"{seconds:.1f} / {gib:.2f}")
            total += seconds
            peak = max(peak, gib)
        table.add_row(
            f"{firms:,}", *cells, f"{total:.1f}", f"{peak:.2f}", f"{total / firms * 1e5:.1f}"
        )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
