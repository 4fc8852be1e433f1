"""`zjtx generate` through Typer: options, progress, files."""

from __future__ import annotations

from pathlib import Path

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
    for option in ("--firms", "--seed", "--out"):
        assert option in result.output
