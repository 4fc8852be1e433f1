"""Shared fixtures for the criteria engine tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from models.criteria import evaluate_criteria
from models.criteria_config import CriteriaConfig, load_criteria_config
from tests.models.frames import AS_OF, CODE_A, model_firm, source


@pytest.fixture(scope="session")
def config() -> CriteriaConfig:
    return load_criteria_config()


Judge = Callable[..., tuple[str, str]]


@pytest.fixture
def judge(config: CriteriaConfig) -> Judge:
    """judge(criterion, tier=…, mode=…, as_of=…, code=…, **tables) → (verdict, evidence) for the
    model firm with the given tables replaced (None drops a table)."""

    def run(
        criterion: str,
        tier: str = "little_giant",
        mode: str = "discovery",
        as_of: dt.date = AS_OF,
        code: str = CODE_A,
        cfg: CriteriaConfig | None = None,
        **tables: Any,
    ) -> tuple[str, str]:
        out = evaluate_criteria(source(**model_firm(**tables)), as_of, cfg or config)
        row = out[
            (out["credit_code"] == code)
            & (out["tier"] == tier)
            & (out["mode"] == mode)
            & (out["criterion"] == criterion)
        ]
        assert len(row) == 1, f"expected one {tier}/{mode}/{criterion} row, got {len(row)}"
        return str(row["verdict"].iloc[0]), str(row["evidence"].iloc[0])

    return run


def rows_of(out: pd.DataFrame, **match: str) -> pd.DataFrame:
    mask = pd.Series(True, index=out.index)
    for column, value in match.items():
        mask &= out[column] == value
    return out[mask]
