"""`zjtx generate` through Typer: options, progress, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from zjtx.cli_generate import generate


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(generate)
    return app


def test_generate_writes_the_tables_and_truth(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["--firms", "300", "--seed", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "firms.csv").exists()
    assert (tmp_path / "truth" / "mentions.csv").exists()


def test_generate_refuses_too_few_firms(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["--firms", "5", "--out", str(tmp_path)])
    assert result.exit_code != 0


def test_every_option_has_help() -> None:
    result = CliRunner().invoke(_app(), ["--help"])
    assert result.exit_code == 0
    for option in ("--firms", "--seed", "--out", *WORLD_OPTIONS):
        assert option in result.output


WORLD_OPTIONS = (
    "--rounds",
    "--apply-propensity",
    "--approval-strictness",
    "--no-products-share",
    "--signal-strength",
    "--no-submitted-on",
)


def test_world_options_reach_the_data_and_the_truth(tmp_path: Path) -> None:
    # when generating a world with one round, weaker signals and no submitted_on
    result = CliRunner().invoke(
        _app(),
        [
            *("--firms", "300", "--seed", "2", "--out", str(tmp_path)),
            *("--rounds", "1", "--signal-strength", "0.5", "--no-submitted-on"),
        ],
    )
    # then the data has that shape and truth/world.json says so
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "truth" / "world.json").read_text("utf-8"))
    assert record["world"]["application_rounds"] == 1
    assert record["world"]["signal_strength"] == 0.5
    assert record["world"]["submitted_on"] is False
    assert record["round_dates"] == ["2025-06-30"]
    header = (tmp_path / "applications.csv").read_text("utf-8").splitlines()[0]
    assert header == "credit_code,year,title,outcome"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--rounds", "-1"),
        ("--rounds", "8"),
        ("--apply-propensity", "-0.5"),
        ("--apply-propensity", "11"),
        ("--approval-strictness", "-1"),
        ("--approval-strictness", "6"),
        ("--no-products-share", "1.5"),
        ("--signal-strength", "1.2"),
        ("--signal-strength", "nan"),
    ],
)
def test_invalid_world_values_are_refused_in_one_line(
    tmp_path: Path, option: str, value: str
) -> None:
    result = CliRunner().invoke(_app(), ["--firms", "300", "--out", str(tmp_path), option, value])
    # then: exit 2, one line naming the option, no traceback, nothing written
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and option in lines[0], lines
    assert "Traceback" not in result.output
    assert not (tmp_path / "firms.csv").exists()
