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


# 第三十一条 (issue 11, item 10): the measures are in force from 2026-04-01.


@pytest.mark.parametrize(("as_of", "code"), [("2026-03-31", 2), ("2026-04-01", 0)])
def test_criteria_refuses_a_date_before_the_measures_took_effect(
    tmp_path: Path, as_of: str, code: int
) -> None:
    data = _write(tmp_path)
    out = tmp_path / "o.csv"
    result = runner.invoke(
        app, ["criteria", "--data", str(data), "--as-of", as_of, "--out", str(out)]
    )
    assert result.exit_code == code, result.output
    if code:
        assert "第三十一条" in result.output and "2026-04-01" in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not out.exists()


@pytest.fixture
def flow_never_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flow command that got as far as starting its flow fails the test."""
    import flows.discovery

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the flow must not start")

    monkeypatch.setattr(flows.discovery, "discovery_with_runner", never)


def test_discover_refuses_a_date_before_the_measures_before_prefect_starts(
    tmp_path: Path, flow_never_starts: None
) -> None:
    from zjtx.cli import app as zjtx_app

    data = _write(tmp_path)
    result = runner.invoke(zjtx_app, ["discover", "--data", str(data), "--as-of", "2025-06-30"])
    assert result.exit_code == 2, result.output
    assert "第三十一条" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["discover", "train"])
def test_a_flow_command_refuses_a_prefect_server_that_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flow_never_starts: None, command: str
) -> None:
    import socket

    from zjtx.cli import app as zjtx_app

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/api"
    monkeypatch.setenv("PREFECT_API_URL", url)
    data = _write(tmp_path)
    arguments = [command, "--data", str(data)]
    if command == "discover":
        arguments += ["--as-of", "2026-06-30"]
    result = runner.invoke(zjtx_app, arguments)
    assert result.exit_code == 2, result.output
    assert url in result.output and "does not answer" in result.output
    assert "Traceback" not in result.output


def test_criteria_evaluates_refused_rows_and_pending_mentions(tmp_path: Path) -> None:
    # given firm A whose serious-dishonesty listing has an unparseable date
    data = _write(tmp_path)
    (data / "credit_events.csv").write_text(
        "credit_code,event_type,occurred_on,resolved_on\n"
        f"{model_firm()['firms'][0]['credit_code']},serious_dishonesty,2025年3月,\n",
        encoding="utf-8",
    )
    out = tmp_path / "o.csv"
    # when
    result = runner.invoke(
        app, ["criteria", "--data", str(data), "--as-of", "2026-06-30", "--out", str(out)]
    )
    # then the listing is not taken as absent
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    mine = table[(table["tier"] == "little_giant") & (table["mode"] == "discovery")]
    lists = mine[mine["criterion"] == "art11_credit_lists"].iloc[0]
    assert lists["verdict"] == "unknown" and "第0行被拒收" in lists["evidence"]
    assert mine.loc[mine["criterion"] == "outcome", "verdict"].tolist() == ["to_verify"]


def test_a_dask_address_without_the_dask_runner_is_refused_before_prefect_starts(
    tmp_path: Path, flow_never_starts: None
) -> None:
    from zjtx.cli import app as zjtx_app

    data = _write(tmp_path)
    arguments = ["discover", "--data", str(data), "--as-of", "2026-06-30"]
    result = runner.invoke(zjtx_app, [*arguments, "--dask-address", "tcp://10.0.0.5:8786"])
    assert result.exit_code == 2, result.output
    assert "--dask-address needs --runner dask" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_dask_address_without_a_shared_prefect_server_is_warned_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.discovery
    from zjtx.cli import app as zjtx_app

    calls: list[tuple[object, ...]] = []

    def started(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise RuntimeError("stopped here: the flow would start")

    monkeypatch.setattr(flows.discovery, "discovery_with_runner", started)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    data = _write(tmp_path)
    arguments = ["discover", "--data", str(data), "--as-of", "2026-06-30", "--runner", "dask"]
    result = runner.invoke(zjtx_app, [*arguments, "--dask-address", "tcp://10.0.0.5:8786"])
    # the run still starts (one host is a real setup), after the warning
    assert calls == [("dask", "tcp://10.0.0.5:8786")]
    assert "PREFECT_API_URL is not set" in result.output
