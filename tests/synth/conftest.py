"""Shared generated data sets: generated once per test session (the real criteria engine)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synth import generate, load_synth_config
from synth.generate import Summary

FIRMS = 3000
SEED = 11


@pytest.fixture(scope="session")
def synth_config():
    return load_synth_config()


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Summary:
    """A 3,000-firm data set, seed 11."""
    return generate(FIRMS, SEED, tmp_path_factory.mktemp("synth-a"))


@pytest.fixture(scope="session")
def out_dir(generated: Summary) -> Path:
    return generated.out_dir


def read(directory: Path, table: str) -> pd.DataFrame:
    """A generated CSV as text (empty cells as empty strings)."""
    return pd.read_csv(directory / f"{table}.csv", dtype=str, keep_default_na=False)
