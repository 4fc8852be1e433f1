"""The officials' service under load: 20 published runs of a national-scale data set, 50 clients.

Publishes the same discovery run under 20 run ids (hard links: the files are the same), starts
the service (`service.app.create_app` under uvicorn, its own process) and drives it with 50
concurrent clients for 60 s over the run listing, province lists, searches, firm pages and
downloads, with ministry and province tokens, across the latest and older runs. Prints p50 /
p95 / p99 latency and errors per endpoint, and the server's peak resident memory.

    python -m bench.bench_service                      # a 1M-firm run (made by bench_discovery)
    python -m bench.bench_service --source RUN_DIR     # any published run directory
    python -m bench.bench_service --firms 20000 --seconds 20

Target (issue 13): 0 errors, p95 under 300 ms, server peak RSS under 1.5 GiB.

The clients are aiohttp, not httpx: on this 2-core machine the load generator shares the CPU
with the server, and httpx spent more CPU per request than the service itself (a trivial
endpoint served 330 requests/s to httpx clients, 670 to aiohttp ones).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import pandas as pd
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RUNS = 20
CLIENTS = 50
SECONDS = 60.0
LATEST_SHARE = 0.7  # most officials read this week's run; the rest browse older ones
MIX = [("runs", 0.15), ("list", 0.25), ("search", 0.20), ("firm", 0.30), ("download", 0.10)]
SERVER = """
import sys, uvicorn
from pathlib import Path
from service.app import create_app
runs, tokens, audit = (Path(a) for a in sys.argv[1:4])
port = int(sys.argv[4])
app = create_app(runs, tokens, audit, secure_cookie=False)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


@dataclass
class Samples:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


def source_run(firms: int, given: Path | None) -> Path:
    """A published run to copy: the given one, or bench_discovery's run of `firms` firms."""
    if given is not None:
        return given.resolve()
    runs = sorted((OUT / "runs").glob(f"bench-{firms}-*/manifest.json"))
    if not runs:
        print(f"no published {firms:,}-firm run yet: running bench_discovery once …", flush=True)
        subprocess.run(
            [sys.executable, "-m", "bench.bench_discovery", "--firms", str(firms)],
            cwd=ROOT,
            check=True,
        )
        runs = sorted((OUT / "runs").glob(f"bench-{firms}-*/manifest.json"))
    return runs[-1].parent


def publish_copies(source: Path, runs_dir: Path, count: int) -> list[str]:
    """`count` run directories with the source's files (hard links) and their own run ids."""
    if runs_dir.exists():
        shutil.rmtree(runs_dir)
    runs_dir.mkdir(parents=True)
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    ids = [f"20260630-bench{index:02d}" for index in range(count)]
    for run_id in ids:
        target = runs_dir / run_id
        for path in source.rglob("*"):
            destination = target / path.relative_to(source)
            if path.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
            elif path.name != "manifest.json":
                destination.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(path, destination)
                except OSError:
                    shutil.copy2(path, destination)
        (target / "manifest.json").write_text(
            json.dumps({**manifest, "run_id": run_id}, ensure_ascii=False), encoding="utf-8"
        )
    (runs_dir / "latest").symlink_to(ids[-1])
    return ids


def issue_tokens(path: Path, provinces: list[str]) -> dict[str | None, str]:
    from service.tokens import issue_token

    tokens: dict[str | None, str] = {None: issue_token(path, "ministry", None, "部级")[1]}
    for province in provinces:
        tokens[province] = issue_token(path, "province", province, f"省级 {province}")[1]
    return tokens


def sample_firms(source: Path, provinces: list[str], per_province: int) -> list[tuple[str, str]]:
    """(province, credit code) of invited firms, plus firms only the candidates table holds."""
    rng = random.Random(13)
    firms = []
    for province in provinces:
        lists = pd.read_csv(source / "invitations" / f"{province}.csv", dtype=str)
        codes = lists["credit_code"].drop_duplicates().tolist()
        firms += [(province, code) for code in rng.sample(codes, min(per_province, len(codes)))]
    candidates = pq.ParquetFile(source / "candidates.parquet")
    for group in rng.sample(range(candidates.num_row_groups), min(20, candidates.num_row_groups)):
        codes = candidates.read_row_group(group, columns=["credit_code"]).column(0)
        firms.append(("", str(codes[rng.randrange(len(codes))])))  # ministry reads these
    return firms


def search_terms(source: Path, provinces: list[str]) -> dict[str, list[str]]:
    terms: dict[str, list[str]] = {}
    for province in provinces:
        names = pd.read_csv(source / "invitations" / f"{province}.csv", dtype=str)["name"]
        terms[province] = [name[2:5] for name in names.dropna().sample(50, random_state=1)]
    return terms


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_gib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


async def drive(
    base: str,
    seconds: float,
    clients: int,
    run_ids: list[str],
    tokens: dict[str | None, str],
    firms: list[tuple[str, str]],
    terms: dict[str, list[str]],
    latest_share: float = LATEST_SHARE,
) -> Samples:
    samples = Samples()
    provinces = sorted(terms)
    names, weights = zip(*MIX, strict=True)
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)

    async def client(number: int, http: aiohttp.ClientSession) -> None:
        rng = random.Random(number)
        while time.perf_counter() < deadline:
            kind = rng.choices(names, weights)[0]
            run = "latest" if rng.random() < latest_share else rng.choice(run_ids)
            province = rng.choice(provinces)
            who = rng.choice([None, province])
            params: dict[str, str] = {}
            if kind == "runs":
                path = "/api/v1/runs"
            elif kind == "list":
                path = f"/api/v1/runs/{run}/provinces/{province}/invitations"
                params = {"page": str(rng.randint(1, 20)), "page_size": "50"}
            elif kind == "search":
                path = f"/api/v1/runs/{run}/provinces/{province}/invitations"
                params = {"q": rng.choice(terms[province])}
            elif kind == "firm":
                firm_province, code = rng.choice(firms)
                who = firm_province or None
                path = f"/api/v1/runs/{run}/firms/{code}"
            else:
                path = f"/api/v1/runs/{run}/provinces/{province}/download/"
                path += rng.choice(["csv", "xlsx"])
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            started = time.perf_counter()
            try:
                async with http.get(base + path, params=params, headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            elapsed = time.perf_counter() - started
            samples.latencies.setdefault(kind, []).append(elapsed)
            samples.statuses[status] = samples.statuses.get(status, 0) + 1
            if status != 200:
                samples.errors[kind] = samples.errors.get(kind, 0) + 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(client(n, http) for n in range(clients)))
    return samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--source", type=Path, help="a published run directory to copy")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument(
        "--latest-share", type=float, default=LATEST_SHARE, help="share of reads on `latest`"
    )
    args = parser.parse_args()
    source = source_run(args.firms, args.source)
    home = OUT / "service"
    runs_dir = home / "runs"
    run_ids = publish_copies(source, runs_dir, args.runs)
    provinces = sorted(p.stem for p in (source / "invitations").glob("*.csv"))
    tokens_file = home / "tokens.yaml"
    tokens_file.unlink(missing_ok=True)
    tokens = issue_tokens(tokens_file, provinces)
    firms = sample_firms(source, provinces, 200)
    terms = search_terms(source, provinces)
    firms_in_run = pq.ParquetFile(source / "candidates.parquet").metadata.num_rows
    port = free_port()
    audit = home / "audit.jsonl"
    audit.unlink(missing_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(runs_dir), str(tokens_file), str(audit), str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the service did not start")
            time.sleep(0.2)
        idle = peak_rss_gib(server.pid)
        print(
            f"{args.clients} clients for {args.seconds:.0f} s over {args.runs} runs …", flush=True
        )
        cpu_before, load_before = cpu_seconds(server.pid), os.getloadavg()[0]
        samples = asyncio.run(
            drive(
                base, args.seconds, args.clients, run_ids, tokens, firms, terms, args.latest_share
            )
        )
        cpu = cpu_seconds(server.pid) - cpu_before
        load = (load_before + os.getloadavg()[0]) / 2
        peak = peak_rss_gib(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # uvicorn still draining slow downloads
            server.kill()
            server.wait()
    table = Table(
        title=f"Service under load: {args.runs} runs of {source.name} ({firms_in_run:,} verdict "
        f"rows), {args.latest_share:.0%} of reads on latest, {args.clients} clients, "
        f"{args.seconds:.0f} s, {os.cpu_count()} cores"
    )
    for column in ("endpoint", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    everything: list[float] = []
    for kind, _ in MIX:
        values = samples.latencies.get(kind, [])
        everything += values
        table.add_row(kind, *_row(values, samples.errors.get(kind, 0), args.seconds))
    table.add_row("all", *_row(everything, sum(samples.errors.values()), args.seconds))
    console = Console(width=200)
    console.print(table)
    served = max(1, len(everything))
    console.print(
        f"server peak RSS {peak:.2f} GiB (after start {idle:.2f} GiB); server CPU {cpu:.1f} s "
        f"= {cpu / served * 1000:.1f} ms per request ({cpu / args.seconds:.2f} cores); machine "
        f"load average {load:.1f} on {os.cpu_count()} cores; statuses "
        f"{dict(sorted(samples.statuses.items()))}\n"
        "target: 0 errors, p95 < 300 ms, server peak RSS < 1.5 GiB",
        highlight=False,
    )


def _row(values: list[float], errors: int, seconds: float) -> list[str]:
    if not values:
        return ["0", str(errors), "0", "", "", ""]
    series = pd.Series(values) * 1000
    return [
        f"{len(values):,}",
        str(errors),
        f"{len(values) / seconds:.0f}",
        f"{series.quantile(0.50):.0f}",
        f"{series.quantile(0.95):.0f}",
        f"{series.quantile(0.99):.0f}",
    ]


if __name__ == "__main__":
    main()
