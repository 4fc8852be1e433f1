"""Shared fixtures: small valid data directories written to temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

SAMPLE_DATA = Path(__file__).parent / "data" / "sample"

FIRMS_HEADER = "credit_code,name,established_on,region_code,industry_code,status"
FIRM_A = "91440300MA5F00001A,深圳市华芯微电子有限公司,2012-05-18,440305,C3973,operating"
FIRM_B = "91440300MA5F00002D,深圳市蓝海精密机械有限公司,2016-09-01,440306,C3484,operating"
CODE_A = "91440300MA5F00001A"
CODE_B = "91440300MA5F00002D"


def write_csv(directory: Path, table: str, lines: list[str], encoding: str = "utf-8") -> Path:
    """Write `<table>.csv` from lines (header first) and return its path."""
    path = directory / f"{table}.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory holding a valid two-firm registry."""
    write_csv(tmp_path, "firms", [FIRMS_HEADER, FIRM_A, FIRM_B])
    return tmp_path
