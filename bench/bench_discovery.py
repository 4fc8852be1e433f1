"""The weekly run at scale: wall time and peak memory of `zjtx discover`, stage by stage.

The bench runs the real command in one process, as the weekly run does, and samples that
process's resident memory (/proc) while it runs. Stage times are the flow's own: the manifest's
`timings_seconds` and `stages_started_at`; `startup` is the time before the first stage (imports,
checks, Prefect), `publish` the time from the manifest to the command's exit. The ranking model
is trained once on a small data set, so the lists are ordered by a champion as in a real week.

    python -m bench.bench_discovery                  # 250k, 500k and 1M firms
    python -m bench.bench_discovery --firms 20000    # a quick check

With PREFECT_API_URL set the command uses that server; without, Prefect's temporary one, which
`startup` then includes. `--prefect-server` starts a Prefect server for the bench (as the
scheduled deployment runs on one) and runs the command against it, to measure the difference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
AS_OF = dt.date(2026, 6, 30)
SEED = 5
# The flow's stages in order (flows/discovery.py, StageClock), between start-up and publishing.
FLOW_STAGES = ("validate", "match", "features", "partition", "criteria_score_lists", "assemble")
STAGES = ("startup", *FLOW_STAGES, "publish")
SAMPLE_SECONDS = 0.1
MIB = 1024**2


@dataclass(frozen=True)
class Measurement:
    """One `zjtx discover` run: seconds and peak resident MiB of each stage in STAGES."""

    firms: int
    seconds: dict[str, float]
    peak_mib: dict[str, float]
    total_seconds: float
    total_peak_mib: float
    run: Path


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 once it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def discover_command(data: Path, runs: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "zjtx.cli",
        "discover",
        "--data",
        str(data),
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(runs),
    ]


def measure(data: Path, runs: Path, env: dict[str, str], firms: int) -> Measurement:
    """Run `zjtx discover` on `data` once; stage times from its manifest, memory sampled here."""
    samples: list[tuple[float, int]] = []
    started = time.time()
    runs.mkdir(parents=True, exist_ok=True)
    log = runs / f"discover-{firms}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            discover_command(data, runs), env=env, cwd=ROOT, stdout=output, stderr=output
        )
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.time(), rss_bytes(process.pid)))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    ended = time.time()
    done.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"zjtx discover failed with exit code {code} ({log}):\n{tail}")
    run = (runs / "latest").resolve()
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    bounds = stage_bounds(manifest, started, ended)
    seconds = {stage: round(end - begin, 2) for stage, (begin, end) in bounds.items()}
    peak = {
        stage: max((rss for at, rss in samples if begin <= at <= end), default=0) / MIB
        for stage, (begin, end) in bounds.items()
    }
    return Measurement(firms, seconds, peak, ended - started, usage.ru_maxrss / 1024, run)


def stage_bounds(
    manifest: dict[str, object], started: float, ended: float
) -> dict[str, tuple[float, float]]:
    """The Unix start and end of every stage in STAGES, from the run's manifest."""
    seconds = manifest["timings_seconds"]
    began = manifest["stages_started_at"]
    assert isinstance(seconds, dict) and isinstance(began, dict)
    missing = [stage for stage in FLOW_STAGES if stage not in seconds or stage not in began]
    if missing:
        raise SystemExit(f"the manifest has no timing for {missing}: update FLOW_STAGES")
    bounds = {"startup": (started, float(began[FLOW_STAGES[0]]))}
    for stage in FLOW_STAGES:
        bounds[stage] = (float(began[stage]), float(began[stage]) + float(seconds[stage]))
    bounds["publish"] = (bounds[FLOW_STAGES[-1]][1], ended)
    return bounds


@contextmanager
def prefect_server(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A Prefect server for the duration (its own PREFECT_HOME under bench/out); yields the
    environment naming it in PREFECT_API_URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home = OUT / "prefect-server"
    home.mkdir(parents=True, exist_ok=True)
    prefect = str(Path(sys.executable).parent / "prefect")
    command = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with (home / "server.log").open("w") as log:
        server = subprocess.Popen(
            command, env={**env, "PREFECT_HOME": str(home)}, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log_path = home / "server.log"
                    raise SystemExit(f"the Prefect server did not start: {log_path}") from None
                time.sleep(0.5)
        yield {**env, "PREFECT_API_URL": url}
    finally:
        server.terminate()
        server.wait(timeout=60)


def ensure_data(firms: int, env: dict[str, str], provinces: str | None = None) -> Path:
    """The bench's data set of `firms` firms (generated once): the configured provinces, or
    `provinces` (`"all"`: the nation, synth's `provinces=`)."""
    data = OUT / (f"gen-{firms}-{SEED}" if provinces is None else f"national-{firms}-{SEED}")
    if not (data / "firms.csv").exists():
        print(f"generating {firms:,} firms ({provinces or 'configured'} provinces) …", flush=True)
        code = (
            f"import synth, pathlib; synth.generate({firms}, {SEED}, "
            f"pathlib.Path({str(data)!r}), provinces={provinces!r})"
        )
        subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
    return data


def ensure_champion(env: dict[str, str]) -> None:
    if (Path(env["ZJTX_HOME"]) / "mlflow" / "mlflow.db").exists():
        return
    data = ensure_data(20_000, env)
    print("training the ranking model once on 20,000 firms …", flush=True)
    train = [sys.executable, "-m", "zjtx.cli", "train", "--data", str(data)]
    subprocess.run(train, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def table(measurements: list[Measurement], title: str) -> Table:
    """Rows: the stages, the end-to-end figures and their slope per 100k firms."""
    out = Table(title=title)
    out.add_column("stage")
    for m in measurements:
        out.add_column(f"{m.firms:,} s", justify="right")
        out.add_column(f"{m.firms:,} peak MiB", justify="right")
    for stage in STAGES:
        cells = [(f"{m.seconds[stage]:.1f}", f"{m.peak_mib[stage]:,.0f}") for m in measurements]
        out.add_row(stage, *[cell for pair in cells for cell in pair])
    out.add_section()
    totals = [(f"{m.total_seconds:.1f}", f"{m.total_peak_mib:,.0f}") for m in measurements]
    out.add_row("end to end", *[cell for pair in totals for cell in pair])
    slope = [
        (f"{m.total_seconds / m.firms * 1e5:.1f}", f"{m.total_peak_mib / m.firms * 1e5:,.0f}")
        for m in measurements
    ]
    out.add_row("per 100k firms", *[cell for pair in slope for cell in pair])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, nargs="*", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--home", type=Path, default=OUT / "home", help="ZJTX_HOME of the runs")
    parser.add_argument(
        "--prefect-server",
        action="store_true",
        help="run against a Prefect server started for the bench, not the temporary one",
    )
    arguments = parser.parse_args()
    env = {**os.environ, "ZJTX_HOME": str(arguments.home), "PYTHONUNBUFFERED": "1"}
    load = os.getloadavg()  # before the runs: what else the machine was doing
    ensure_champion(env)
    measurements = []
    with prefect_server(env) if arguments.prefect_server else nullcontext(env) as run_env:
        for firms in arguments.firms:
            data = ensure_data(firms, run_env)
            m = measure(data, arguments.home / "runs", run_env, firms)
            print(f"{firms:>9,} firms: {m.total_seconds:.1f} s, peak {m.total_peak_mib:,.0f} MiB")
            measurements.append(m)
    server = "a running Prefect server" if arguments.prefect_server else "a temporary server"
    title = (
        f"zjtx discover per stage (as of {AS_OF}; {server}; {os.cpu_count()} cores; "
        f"load average before the runs {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f})"
    )
    Console(width=200).print(table(measurements, title))


if __name__ == "__main__":
    main()
