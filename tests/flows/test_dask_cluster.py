"""`zjtx discover --runner dask --dask-address` against a real Dask cluster (issue 26): a
scheduler and two workers in processes of their own, as an operator starts them, and the
command as officials run it. The run publishes the same bytes as the default runner, and the
province tasks ran on the cluster's workers, not in the command's process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.flows.conftest import AS_OF, World
from tests.flows.published_files import fingerprints

if TYPE_CHECKING:
    from distributed import Client

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's scripts: dask, zjtx
# A small world whose review queue has rows a province decides (match_review/<province>), in
# three provinces; the session world's has none.
CLUSTER_FIRMS = 3000
CLUSTER_SEED = 2
STARTUP_SECONDS = 60
RUN_SECONDS = 300


@dataclass(frozen=True)
class Cluster:
    address: str
    workers: frozenset[str]
    logs: Path
    client: Client  # connected for the module: the scheduler's task stream


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cluster_env(world: World, home: Path) -> dict[str, str]:
    """The environment of the workers and of the command alike: the same ZJTX_HOME, Prefect
    server and offline switches; the repository importable."""
    from core.settings import OFFLINE_ENV

    return {
        **os.environ,
        **OFFLINE_ENV,
        "ZJTX_HOME": str(home),
        "PREFECT_HOME": str(world.home / "prefect"),
        "PREFECT_API_URL": world.api_url,
        "PYTHONPATH": str(REPO),
    }


def log_tails(logs: Path) -> str:
    return "\n".join(
        f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        for log in sorted(logs.glob("*.log"))
    )


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Each process group (a worker's nanny and its worker) ends: TERM, then KILL."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def cluster(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`dask scheduler` and two `dask worker`s on the loopback address, started from the
    repository root; torn down whatever happens."""
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask-logs")
    scratch = tmp_path_factory.mktemp("dask-scratch")
    address = f"tcp://127.0.0.1:{free_port()}"
    env = cluster_env(world, world.home)
    commands = [
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
         address.rsplit(":", 1)[1], "--no-dashboard"],
        *[[str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
           "--no-dashboard", "--local-directory", str(scratch / f"worker-{n}")]
          for n in (1, 2)],
    ]  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    client = None
    try:
        for name, command in zip(("scheduler", "worker-1", "worker-2"), commands, strict=True):
            with (logs / f"{name}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=REPO,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its own process group, killed as one
                    )
                )
        try:
            client = Client(address, timeout=STARTUP_SECONDS, set_as_default=False)
            client.wait_for_workers(2, timeout=STARTUP_SECONDS)
        except Exception as exc:
            raise AssertionError(f"the cluster did not start: {exc}\n{log_tails(logs)}") from exc
        client.get_task_stream()  # the scheduler records the task stream from now on
        workers = frozenset(client.scheduler_info(n_workers=-1)["workers"])
        assert len(workers) == 2
        yield Cluster(address=address, workers=workers, logs=logs, client=client)
    finally:
        if client is not None:
            client.close(timeout=10)
        stop(processes[::-1])  # workers first, then the scheduler


@pytest.fixture(scope="module")
def cluster_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import synth

    data = tmp_path_factory.mktemp("cluster-world") / "data"
    synth.generate(CLUSTER_FIRMS, CLUSTER_SEED, data)
    return data


def discover(world: World, data: Path, runs: Path, *runner: str) -> Path:
    """`zjtx discover` in a process of its own, from outside the repository, with the
    session world's champion; the run it published."""
    command = [
        str(BIN / "zjtx"), "discover", "--data", str(data), "--as-of", AS_OF.isoformat(),
        "--out", str(runs), *runner,
    ]  # fmt: skip
    runs.mkdir(parents=True)
    done = subprocess.run(
        command,
        cwd=runs,
        env=cluster_env(world, world.home),
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return (runs / "latest").resolve()


def test_a_real_cluster_publishes_the_default_runners_bytes_from_its_workers(
    world: World, cluster: Cluster, cluster_data: Path, tmp_path: Path
) -> None:
    client = cluster.client
    # when the weekly command runs on the cluster, and with the default runner
    dask_run = discover(world, cluster_data, tmp_path / "dask", "--runner", "dask",
                        "--dask-address", cluster.address)  # fmt: skip
    stream = client.get_task_stream()
    default_run = discover(world, cluster_data, tmp_path / "default")
    # then every published file holds the same bytes (workbooks: the same cells)
    published = fingerprints(dask_run)
    assert published == fingerprints(default_run)
    provinces = sorted(p.stem for p in (dask_run / "invitations").glob("*.csv"))
    assert len(provinces) >= 2  # several province tasks to spread
    for code in provinces:
        for folder in ("invitations", "reapply", "watchlist"):
            assert {f"{folder}/{code}.csv", f"{folder}/{code}.xlsx"} <= set(published), code
    assert any(path.startswith("match_review/") for path in published), sorted(published)
    assert {
        "candidates.parquet",
        "cultivation.csv",
        "renewals.csv",
        "match_review.csv",
        "match_review.xlsx",
        "match_review_candidates.csv",
        "manifest.json",
    } <= set(published)
    # and the tasks handed to the runner ran on the cluster's workers: one province task per
    # province, each finished there, and the work spread over both workers
    matching = ("registry_piece", "name_keys", "equal_keys", "first_pass", "ngram_candidates",
                "firm_entries", "resolve")  # fmt: skip
    ran = {name: [r for r in stream if r["key"].startswith(f"{name}-")]
           for name in ("province", "review_files", *matching)}  # fmt: skip
    assert len(ran["province"]) == len(provinces), stream
    assert len(ran["review_files"]) == 1, stream
    # matching in parts (issue 26): the registry's parts and the names' chunks, two at least
    for name in matching:
        assert len(ran[name]) >= 2, (name, stream)
    records = [r for name in ran for r in ran[name]]
    assert all(r["status"] == "OK" for r in records), records
    assert {r["worker"] for r in records} == cluster.workers, records
    # as Prefect tasks, in the workers' processes
    logged = "".join(log.read_text(errors="replace") for log in cluster.logs.glob("worker-*"))
    assert logged.count("Task run 'province-") == len(provinces), log_tails(cluster.logs)
