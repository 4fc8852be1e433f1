"""`zjtx criteria`: writes the long table; bad input is one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from tests.models.frames import frame, model_firm
from zjtx.cli_criteria import criteria

app = typer.Typer()
app.command()(criteria)
app.command("noop")(lambda: None)  # two commands: `criteria` is invoked by name
runner = CliRunner()


def _write(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for table, rows in model_firm().items():
        frame(table, rows).to_csv(data / f"{table}.csv", index=False)
    return data


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_criteria_writes_the_long_table(tmp_path: Path, suffix: str) -> None:
    # given a data directory
    data = _write(tmp_path)
    out = tmp_path / f"criteria{suffix}"
    # when
    result = runner.invoke(
        app, ["criteria", "--data", str(data), "--as-of", "2026-06-30", "--out", str(out)]
    )
    # then
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(table.columns) == [
        "credit_code",
        "tier",
        "mode",
        "criterion",
        "verdict",
        "evidence",
    ]
    outcome = table[(table["criterion"] == "outcome") & (table["tier"] == "little_giant")]
    assert outcome["verdict"].astype(str).tolist() == ["eligible"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2026-13-01"], "--as-of"),
        (["--out", "x.xlsx"], ".csv or .parquet"),
        (["--data", "/nonexistent/dir"], "not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    data = _write(tmp_path)
    base = {"--data": str(data), "--as-of": "2026-06-30", "--out": str(tmp_path / "o.csv")}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = runner.invoke(app, ["criteria", *[x for kv in base.items() for x in kv]])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
