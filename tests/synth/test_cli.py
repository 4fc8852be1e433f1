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
    for option in ("--firms", "--seed", "--out", "--provinces", *WORLD_OPTIONS):
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


def test_provinces_option_writes_a_national_data_set(tmp_path: Path) -> None:
    # when generating over two provinces
    result = CliRunner().invoke(
        _app(), ["--firms", "200", "--seed", "3", "--out", str(tmp_path), "--provinces", "46,54"]
    )
    # then each gets its share, the truth says so, and firms carry their province's code
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "truth" / "world.json").read_text("utf-8"))
    assert record["national"]["provinces"] == {"46": 100, "54": 100}
    lines = (tmp_path / "firms.csv").read_text("utf-8").splitlines()[1:]
    assert sorted({line[2:4] for line in lines}) == ["46", "54"]
    assert "provinces: 46 100, 54 100" in result.output


@pytest.mark.parametrize(
    ("firms", "provinces", "reason"),
    [
        ("300", "71", "71 is no province"),
        ("300", "44,44", "named twice"),
        ("150", "46,54", "at least 200 firms"),
    ],
)
def test_wrong_provinces_are_refused_in_one_line(
    tmp_path: Path, firms: str, provinces: str, reason: str
) -> None:
    result = CliRunner().invoke(
        _app(), ["--firms", firms, "--out", str(tmp_path), "--provinces", provinces]
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and reason in lines[0]
    assert not (tmp_path / "firms.csv").exists()
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error:") and reason in lines[-1], lines
    assert "Traceback" not in result.output
    assert not (tmp_path / "firms.csv").exists()
