"""The weekly run at scale, checked on small worlds: the bench measures the real command, and a
20k-firm run publishes the same bytes as before the speed work (issue 25)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bench.bench_discovery import STAGES, discover_command, measure
from tests.flows.conftest import AS_OF, FLOW_FIRMS, World
from tests.flows.published_files import fingerprints

GOLDEN = Path(__file__).with_name("published_20k.json")
COMPARISON_FIRMS = 20_000
COMPARISON_SEED = 7


def command_env(world: World, home: Path) -> dict[str, str]:
    """`zjtx discover` in a process of its own, against the session's Prefect server."""
    return {
        **os.environ,
        "ZJTX_HOME": str(home),
        "PREFECT_HOME": str(world.home / "prefect"),
        "PREFECT_API_URL": world.api_url,
    }


def test_the_bench_times_every_stage_of_the_real_command(world: World, tmp_path: Path) -> None:
    measured = measure(world.data, tmp_path / "runs", command_env(world, world.home), FLOW_FIRMS)
    assert list(measured.seconds) == list(STAGES)
    assert all(seconds >= 0 for seconds in measured.seconds.values())
    # the stages cover the command's life, one after the other
    assert sum(measured.seconds.values()) == pytest.approx(measured.total_seconds, abs=0.5)
    assert min(measured.peak_mib[stage] for stage in STAGES[1:-1]) > 0
    assert measured.total_peak_mib >= max(measured.peak_mib.values()) * 0.99
    manifest = json.loads((measured.run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == AS_OF.isoformat()


def test_a_20k_run_publishes_the_bytes_it_published_before(world: World, tmp_path: Path) -> None:
    import synth

    data = tmp_path / "data"
    synth.generate(COMPARISON_FIRMS, COMPARISON_SEED, data)
    runs = tmp_path / "runs"
    # a home without a champion: the rule ordering, the same on every machine
    env = command_env(world, tmp_path / "home")
    done = subprocess.run(discover_command(data, runs), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    published = fingerprints((runs / "latest").resolve())
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(published) == sorted(golden)
    changed = sorted(path for path in golden if published[path] != golden[path])
    assert changed == []


def test_the_national_bench_runs_the_command_on_a_cluster_of_two_workers(
    world: World, tmp_path: Path
) -> None:
    from bench.bench_national import WORKERS, run_on_cluster, table

    # given the flow's small world, run by the bench against its local cluster
    run = run_on_cluster(world.data, tmp_path / "runs", command_env(world, world.home), FLOW_FIRMS)
    # then every stage is timed, both workers were sampled and none was lost
    assert list(run.seconds) == list(STAGES)
    assert len(run.worker_peak_mib) == WORKERS
    assert min(run.worker_peak_mib) > 0 and run.command_peak_mib > 0
    assert run.workers_lost == 0
    # and the largest partition is one province's firms, not the nation's
    assert run.provinces > 1
    assert 0 < run.largest_firms < FLOW_FIRMS
    assert table([run], "check").row_count > 0
