"""One Prefect test harness and one trained demo world for the whole flows test session."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

FLOW_FIRMS = 3000
FLOW_SEED = 11
AS_OF = dt.date(2026, 6, 30)


@dataclass(frozen=True)
class World:
    home: Path
    data: Path
    runs: Path
    api_url: str


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("zjtx-home")
    previous = {key: os.environ.get(key) for key in ("ZJTX_HOME", "PREFECT_HOME")}
    os.environ["ZJTX_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    import synth
    from flows.training import training

    data = home / "data"
    synth.generate(FLOW_FIRMS, FLOW_SEED, data)
    with prefect_test_harness(server_startup_timeout=120):
        training(data_dir=data)
        yield World(home=home, data=data, runs=home / "runs", api_url=str(PREFECT_API_URL.value()))
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
