"""National runs on Dask: `zjtx discover --runner dask` against a local cluster of two workers.

The bench generates national data sets (`zjtx generate --provinces all`: the firms spread over
the 31 provinces by their census counts), starts a Dask LocalCluster of 2 single-threaded
workers with `memory_limit="3GiB"` each, and runs the real command against it (one process, as
the weekly run does), sampling the resident memory of the command and of each worker. Stage
times are the flow's own (the manifest), as in bench.bench_discovery.

    python -m bench.bench_national                  # 250k, 500k and 1M firms
    python -m bench.bench_national --firms 20000    # a quick check

What runs where: validation, features and the partition into provinces run in the command's
process (national steps: its peak is reported as `national steps`), as do the two ends of
matching (planning the mentions, joining the links). The names are resolved on the workers
against the registry in parts (flows/match_parts.py: each task holds one part of the registry
or one chunk's share of it), and each province's criteria, scores and lists run on a worker,
reading that province's share only. A worker's peak should therefore follow the largest
province and the part size, not the total: the table shows the peaks per stage and both slopes.
At the first size the bench also runs the default runner on the same data and compares every
published file (lists, watch list, candidates, review files) between the two runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from unittest.mock import patch

from rich.console import Console
from rich.table import Table

from bench.bench_discovery import (
    FLOW_STAGES,
    MIB,
    OUT,
    ROOT,
    SAMPLE_SECONDS,
    discover_command,
    ensure_champion,
    ensure_data,
    measure,
    rss_bytes,
    stage_bounds,
)

WORKERS = 2
MEMORY_LIMIT = "3GiB"


@dataclass(frozen=True)
class NationalRun:
    """One `zjtx discover --runner dask` run: stage seconds, peaks in MiB, partition sizes."""

    firms: int
    seconds: dict[str, float]
    total_seconds: float
    command_peak_mib: float
    worker_peak_mib: list[float]
    worker_idle_mib: list[float]  # each worker before the command: the interpreter and imports
    stage_peaks: dict[str, dict[str, float]]  # stage -> "command" / "workers" -> peak MiB
    match_parts: str  # "4 parts, 5 chunks", from the run's log
    match_rounds: dict[str, float]  # round of matching in parts -> seconds, from the run's log
    largest_province: str
    largest_firms: int
    provinces: int
    workers_lost: int
    identical: bool | None  # the default runner's files, compared at the first size


def run_on_cluster(data: Path, runs: Path, env: dict[str, str], firms: int) -> NationalRun:
    """Start the cluster, run the command against it, sample the command and the workers."""
    from distributed import Client, LocalCluster

    with (
        patch.dict(os.environ, env),  # the workers start with the runs' settings
        LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            memory_limit=MEMORY_LIMIT,
            dashboard_address=None,
            processes=True,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(WORKERS, timeout=120)
        workers = client.run(os.getpid)  # address -> pid of each worker process
        idle = [rss_bytes(pid) / MIB for pid in workers.values()]
        command = [*discover_command(data, runs), "--runner", "dask"]
        command += ["--dask-address", cluster.scheduler_address]
        runs.mkdir(parents=True, exist_ok=True)
        samples: dict[str, list[tuple[float, int]]] = {"command": []}
        samples.update({address: [] for address in workers})
        log = runs / f"discover-dask-{firms}.log"
        started = time.time()
        with log.open("w") as output:
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=output)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                now = time.time()
                samples["command"].append((now, rss_bytes(process.pid)))
                for address, pid in workers.items():
                    samples[address].append((now, rss_bytes(pid)))
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        ended = time.time()
        done.set()
        sampler.join()
        if code != 0:
            tail = log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"zjtx discover --runner dask failed ({code}, {log}):\n{tail}")
        lost = len(set(workers.values()) - set(client.run(os.getpid).values()))
    run = (runs / "latest").resolve()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    bounds = stage_bounds(manifest, started, ended)
    registry = {
        row["province"]: int(row["registry"])
        for row in manifest["counts"]["funnel"]
        if row["tier"] == "specialized"
    }
    largest = max(registry, key=lambda code: registry[code])
    peaks: dict[str, dict[str, float]] = {}
    for stage, (begin, end) in bounds.items():

        def peak(series: list[tuple[float, int]], begin: float = begin, end: float = end) -> float:
            inside = [rss for moment, rss in series if begin <= moment <= end]
            return max(inside, default=0) / MIB

        peaks[stage] = {
            "command": peak(samples["command"]),
            "workers": max(peak(samples[a]) for a in workers),
        }
    logged = log.read_text(errors="replace")
    said = re.findall(
        r"matching in parts: resolve in [0-9.]+ s \((\d+ parts, \d+ chunks)\)", logged
    )
    rounds = {
        name: float(seconds)
        for name, seconds in re.findall(r"matching in parts: (.+?) in ([0-9.]+) s \(", logged)
    }
    return NationalRun(
        firms=firms,
        seconds={stage: end - begin for stage, (begin, end) in bounds.items()},
        total_seconds=ended - started,
        command_peak_mib=max(rss for _, rss in samples["command"]) / MIB,
        worker_peak_mib=[max(rss for _, rss in samples[a]) / MIB for a in workers],
        worker_idle_mib=idle,
        stage_peaks=peaks,
        match_parts=said[-1] if said else "-",
        match_rounds=rounds,
        largest_province=largest,
        largest_firms=registry[largest],
        provinces=len(registry),
        workers_lost=lost,
        identical=None,
    )


def same_published_files(first: Path, second: Path) -> bool:
    """Every published file of two runs alike (tests.flows.published_files: bytes, workbooks
    by their cells, the manifest without its moments)."""
    from tests.flows.published_files import fingerprints

    a, b = fingerprints(first), fingerprints(second)
    differ = sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))
    for name in differ[:10]:
        print(f"  differs: {name}")
    return not differ


def _growth(run: NationalRun) -> float:
    """The most a worker grew over its own idle size during the run (MiB)."""
    return max(p - i for p, i in zip(run.worker_peak_mib, run.worker_idle_mib, strict=True))


def table(runs: list[NationalRun], title: str) -> Table:
    out = Table(title=title)
    out.add_column("")
    for r in runs:
        out.add_column(f"{r.firms:,} firms", justify="right")

    def row(label: str, cells: list[str]) -> None:
        out.add_row(label, *cells)

    for stage in ("startup", *FLOW_STAGES, "publish"):
        row(f"{stage} s", [f"{r.seconds[stage]:.1f}" for r in runs])
    out.add_section()
    for stage in ("startup", *FLOW_STAGES, "publish"):
        row(
            f"{stage} peak MiB: command / largest worker",
            [
                f"{r.stage_peaks[stage]['command']:,.0f} / {r.stage_peaks[stage]['workers']:,.0f}"
                for r in runs
            ],
        )
    row("matching in parts", [r.match_parts for r in runs])
    for name in dict.fromkeys(n for r in runs for n in r.match_rounds):
        row(f"  match round: {name} s", [f"{r.match_rounds.get(name, 0.0):.1f}" for r in runs])
    out.add_section()
    row("end to end s", [f"{r.total_seconds:.1f}" for r in runs])
    row("s per 100k firms", [f"{r.total_seconds / r.firms * 1e5:.1f}" for r in runs])
    row("national steps peak MiB (command)", [f"{r.command_peak_mib:,.0f}" for r in runs])
    row(
        "peak RSS per worker MiB",
        [" / ".join(f"{p:,.0f}" for p in r.worker_peak_mib) for r in runs],
    )
    row("provinces", [f"{r.provinces}" for r in runs])
    row("largest partition (firms)", [f"{r.largest_province}: {r.largest_firms:,}" for r in runs])
    row(
        "worker before the run MiB",
        [" / ".join(f"{p:,.0f}" for p in r.worker_idle_mib) for r in runs],
    )
    row(
        "worker growth MiB per 100k firms of the largest partition",
        [f"{_growth(r) / r.largest_firms * 1e5:,.0f}" for r in runs],
    )
    row(
        "worker growth MiB per 100k firms in all",
        [f"{_growth(r) / r.firms * 1e5:,.0f}" for r in runs],
    )
    row("workers lost (over the limit)", [f"{r.workers_lost}" for r in runs])
    row(
        "lists identical to the default runner",
        ["yes" if r.identical else "NO" if r.identical is False else "-" for r in runs],
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, nargs="*", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--home", type=Path, default=OUT / "home", help="ZJTX_HOME of the runs")
    arguments = parser.parse_args()
    env = {**os.environ, "ZJTX_HOME": str(arguments.home), "PYTHONUNBUFFERED": "1"}
    load = os.getloadavg()
    ensure_champion(env)
    # Both runners start from no published run: a run marks the watch list's grounds `new`
    # against the last one published in its runs directory, which must not differ between them.
    for runs in ("national-runs", "national-default"):
        shutil.rmtree(arguments.home / runs, ignore_errors=True)
    results = []
    for position, firms in enumerate(arguments.firms):
        data = ensure_data(firms, env, provinces="all")
        result = run_on_cluster(data, arguments.home / "national-runs", env, firms)
        if position == 0:
            dask_run = (arguments.home / "national-runs" / "latest").resolve()
            default = measure(data, arguments.home / "national-default", env, firms)
            identical = same_published_files(dask_run, default.run)
            result = replace(result, identical=identical)
        print(
            f"{firms:>9,} firms: {result.total_seconds:.1f} s, workers "
            f"{' / '.join(f'{p:,.0f}' for p in result.worker_peak_mib)} MiB",
            flush=True,
        )
        results.append(result)
    title = (
        f"zjtx discover --runner dask, {WORKERS} workers × 1 thread, memory_limit {MEMORY_LIMIT} "
        f"({os.cpu_count()} cores; load average before the runs {load[0]:.2f} / {load[1]:.2f} "
        f"/ {load[2]:.2f})"
    )
    Console(width=220).print(table(results, title))
    if any(r.identical is False for r in results) or any(r.workers_lost for r in results):
        raise SystemExit("a run differed from the default runner or lost a worker")


if __name__ == "__main__":
    main()
