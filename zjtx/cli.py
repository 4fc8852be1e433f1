"""The `zjtx` command (../shared/contracts/outputs.md). Commands are thin: they parse options,
call the pure functions in features/ and models/ (or the flows), and report.

Bad input ends with a one-line reason and a non-zero exit, never a traceback
(set ZJTX_DEBUG=1 to see the traceback of an unexpected failure). Exit codes: 2 bad input,
1 an unexpected failure, 3 `discover` published a run without the provinces whose task failed.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from core.console import (
    check_prefect_server,
    console,
    fail,
    reported_errors,
    stdout,
    temporary_server_in_background,
)
from core.run_layout import MANIFEST
from core.settings import apply_offline_env
from zjtx.options import AsOfOption, DataOption

if TYPE_CHECKING:
    from flows.discovery import ProvincesFailed

apply_offline_env()

# `zjtx discover`: the run is published, but without the provinces whose task failed (issue 23).
EXIT_PROVINCES_FAILED = 3

app = typer.Typer(
    name="zjtx",
    help="Proactive discovery of 专精特新 SMEs (工信部企业〔2026〕2号, Article 9).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Proactive discovery of 专精特新 SMEs (工信部企业〔2026〕2号, Article 9)."""


class Runner(enum.StrEnum):
    default = "default"
    dask = "dask"


@app.command()
def validate(
    data: DataOption,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Write refused rows here as CSV (table, row, column, reason, value, action).",
        ),
    ] = None,
) -> None:
    """Read every table, print rows read / refused / tables missing, and write the rejects."""
    from features.safe_cells import safe_frame
    from features.sources import load_sources

    with reported_errors():
        with stdout.status(f"reading {data} …"):
            sources = load_sources(data)
        table = Table(title=f"Source coverage: {data}")
        for column in ("table", "status", "rows read", "rows refused", "rows used", "files"):
            table.add_column(column, justify="right" if column.startswith("rows") else "left")
        for row in sources.coverage.itertuples(index=False):
            style = "dim" if row.status == "missing" else "red" if row.rows_refused else ""
            table.add_row(
                row.table,
                row.status,
                f"{row.rows_read:,}",
                f"{row.rows_refused:,}",
                f"{row.rows_used:,}",
                row.files,
                style=style,
            )
        stdout.print(table)
        missing = int((sources.coverage["status"] == "missing").sum())
        refused = len(sources.rejects[sources.rejects["action"] == "row_refused"])
        stdout.print(
            f"{len(sources.tables)} tables read, {missing} missing, "
            f"{refused:,} problems in refused rows, "
            f"{int((sources.rejects['action'] == 'value_ignored').sum()):,} values ignored."
        )
        if rejects is not None:
            rejects.parent.mkdir(parents=True, exist_ok=True)
            safe_frame(sources.rejects).to_csv(rejects, index=False, encoding="utf-8-sig")
            stdout.print(f"rejects written to {rejects}")


RunnerOption = Annotated[
    Runner,
    typer.Option(
        "--runner",
        help="Task runner for the per-province work: `default` (threads in this process) or "
        "`dask` (Prefect's Dask task runner; a local cluster unless --dask-address is given).",
    ),
]
DaskAddressOption = Annotated[
    str | None,
    typer.Option(
        "--dask-address", help="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786."
    ),
]


@app.command()
def discover(
    data: DataOption,
    as_of: AsOfOption,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Runs directory (default: $ZJTX_HOME/runs)."),
    ] = None,
    runner: RunnerOption = Runner.default,
    dask_address: DaskAddressOption = None,
) -> None:
    """Run the weekly discovery flow once and publish a complete run directory.

    A province whose task fails is left out and named (manifest `failed_provinces`, report);
    the others are published and the command exits 3.
    """
    from features.sources import preflight
    from zjtx.cli_criteria import evaluation_date

    day = evaluation_date(as_of)  # 第三十一条: refused before Prefect starts
    check_dask_options(runner, dask_address)
    with reported_errors():
        preflight(data)
        check_prefect_server()
        server_ready = temporary_server_in_background()
        from models.registry import has_champion

        # Checked before Prefect starts: a first week without a trained model still gets lists.
        if not has_champion():
            stdout.print(
                "no champion model yet (run `zjtx train`): the lists are ordered by the rule "
                "baseline (estimated evaluation score) and say so in the manifest and 说明 sheet"
            )
        from flows.discovery import ProvincesFailed, discovery_with_runner

        server_ready()
        try:
            final: Path = discovery_with_runner(runner.value, dask_address)(
                data_dir=data, as_of=day, runs_dir=out
            )
        except ProvincesFailed as failure:
            raise provinces_failed(failure) from None
        stdout.print(f"published {final}")
        stdout.print(f"invitation lists: {final / 'invitations'}")
        stdout.print(ordering_line(final), highlight=False)


def check_dask_options(runner: Runner, dask_address: str | None) -> None:
    """`--dask-address` only with `--runner dask` (never a silently local run); without a
    shared Prefect server, remote workers would report their task runs to servers of their
    own: said before the run starts."""
    if dask_address is None:
        return
    if runner is not Runner.dask:
        raise fail("--dask-address needs --runner dask")
    if not os.environ.get("PREFECT_API_URL", "").strip():
        console.print(
            "[yellow]warning:[/] PREFECT_API_URL is not set: workers on other hosts report "
            "their task runs to temporary Prefect servers of their own; set it to a server "
            "every host reaches (README, Scale-out)",
            highlight=False,
            soft_wrap=True,
        )


def ordering_line(run: Path) -> str:
    """One line: which ordering this run's lists use (the manifest's `ranking`)."""
    import json

    ranking = json.loads((run / MANIFEST).read_text(encoding="utf-8"))["ranking"]
    if ranking["ordered_by"] == "rule_baseline":
        return "lists ordered by: the rule ordering (no champion model)"
    return (
        f"lists ordered by: the champion, {ranking['model_family']} "
        f"v{ranking['model_version']} (priority {ranking['priority']})"
    )


def provinces_failed(failure: ProvincesFailed) -> typer.Exit:
    """Where the run was published, one line per failed province (its error and its previous
    list), then a one-line reason; the Exit (code 3) to raise."""
    if failure.run is not None:
        for line in (
            f"published {failure.run}",
            f"invitation lists: {failure.run / 'invitations'}",
        ):
            stdout.print(escape(line), highlight=False, soft_wrap=True)
    for entry in failure.failed:
        province, previous = entry["province"], entry.get("previous_run")
        listed = f"{previous}/invitations/{province}.csv"  # publishing never deletes a run
        if not previous:
            where = "no previous list"
        elif failure.run is None:
            where = f"previous list: run {listed}"
        else:
            where = f"previous list: {failure.run.parent / listed}"
        line = f"province {province} failed in task {entry['task']}: {entry['error']} ({where})"
        console.print(escape(line), highlight=False, soft_wrap=True)
    codes = ", ".join(str(entry["province"]) for entry in failure.failed)
    if failure.run is None:
        reason = f"every province failed ({codes}): nothing published, latest unchanged"
    else:
        reason = f"provinces {codes} failed: published without them, see the manifest"
    return fail(reason, code=EXIT_PROVINCES_FAILED)


@app.command()
def serve(
    data: DataOption,
    runner: RunnerOption = Runner.default,
    dask_address: DaskAddressOption = None,
) -> None:
    """Register the weekly discovery deployment (cron from configs/flows.yaml) and serve it.

    Needs a Prefect server (`prefect server start`, PREFECT_API_URL set); each run evaluates
    as of its run date.
    """
    from features.sources import preflight

    check_dask_options(runner, dask_address)
    with reported_errors():
        preflight(data)
        check_prefect_server()
        from flows.discovery import serve_weekly

        serve_weekly(data.resolve(), runner.value, dask_address)


def _register_area_commands() -> None:
    """Commands written beside this module, one module per area."""
    from zjtx.cli_api import api_app
    from zjtx.cli_criteria import criteria
    from zjtx.cli_generate import generate
    from zjtx.cli_match import match, match_eval, match_review_app
    from zjtx.cli_train import train

    app.command("criteria")(criteria)
    app.command("generate")(generate)
    app.command("match")(match)
    app.command("match-eval")(match_eval)
    app.command("train")(train)
    app.add_typer(api_app, name="api")
    app.add_typer(match_review_app, name="match-review")


_register_area_commands()

if __name__ == "__main__":  # pragma: no cover
    app()
