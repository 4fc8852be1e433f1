"""The training flow's MLflow runs say which standard labelled the past (第三十一条)."""

from __future__ import annotations

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
