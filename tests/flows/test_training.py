"""The training flow: the standard that labelled the past (第三十一条), and rounds found in the
data whatever the length of the history (issue 24)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.flows.conftest import World

pytestmark = pytest.mark.e2e


def test_training_runs_say_the_2026_standard_is_applied_to_past_dates(world: World) -> None:
    # given the session's trained world (training dates 2020-2024, before 2026-04-01)
    from models import registry

    client = registry.connect()
    experiment = client.get_experiment_by_name(registry.EXPERIMENT)
    # when
    runs = client.search_runs([experiment.experiment_id])
    # then every family's run carries the tag and the dates it applies to
    assert runs
    for run in runs:
        assert run.data.tags["criteria_applied_retroactively"] == "true"
        assert run.data.tags["criteria_in_force_from"] == "2026-04-01"
        assert "2020-06-30" in run.data.params["criteria_retroactive_dates"]
        assert "2026-06-30" not in run.data.params["criteria_retroactive_dates"]


@pytest.mark.parametrize("rounds", [0, 1, 2, 3, 6])
def test_train_then_discover_on_any_length_of_history(
    world: World, rounds: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 24: rounds come from the data; too little history leaves the rule ordering
    from typer.testing import CliRunner

    from synth import WorldConfig, generate
    from zjtx.cli import app

    monkeypatch.setenv("ZJTX_HOME", str(tmp_path / "home"))
    data = tmp_path / "data"
    generate(1500, 400 + rounds, data, world=WorldConfig(application_rounds=rounds))
    runner = CliRunner()
    trained = runner.invoke(app, ["train", "--data", str(data), "--as-of", "2026-06-30"])
    assert trained.exit_code == 0, trained.output
    lines = [line for line in trained.output.splitlines() if line.startswith("trained: ")]
    assert len(lines) == 1, trained.output
    if rounds < 5:  # 2 to validate, 2 to train and one to label the last
        assert "too little history" in lines[0] and "rule ordering" in lines[0]
    discovered = runner.invoke(
        app,
        ["discover", "--data", str(data), "--as-of", "2026-06-30", "--out", str(tmp_path / "runs")],
    )
    assert discovered.exit_code == 0, discovered.output
    assert "lists ordered by: " in discovered.output
    manifest = json.loads((tmp_path / "runs" / "latest" / "manifest.json").read_text("utf-8"))
    ordered_by = manifest["ranking"]["ordered_by"]
    assert ordered_by == ("rule_baseline" if "rule ordering" in lines[0] else "champion")
