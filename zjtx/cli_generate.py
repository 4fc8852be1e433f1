"""`zjtx generate --firms N --seed S --out DIR`: the synthetic data set (outputs.md).

The lead registers `generate` in zjtx/cli.py (e.g. `app.command()(generate)`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zjtx.console import console, fail, stdout


def generate(
    firms: Annotated[
        int,
        typer.Option(
            "--firms", min=100, max=5_000_000, help="Number of registry firms to generate."
        ),
    ] = 10_000,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: the same seed gives the same bytes.")
    ] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            file_okay=False,
            help="Directory to write the tables and truth/ into (default: $ZJTX_HOME/data/demo).",
        ),
    ] = None,
) -> None:
    """Write a synthetic province data set in the source contract, plus DIR/truth/."""
    from synth import generate as run_generate
    from synth.generate import STAGES
    from zjtx.config import ConfigError
    from zjtx.settings import Settings

    out = out if out is not None else Settings.from_env().demo_data
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} is a file, not a directory")
    with Progress(
        TextColumn("[bold]generate[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(STAGES[0], total=len(STAGES))

        def step(stage: str) -> None:
            position = STAGES.index(stage) + 1
            bar.update(task, completed=position, description=STAGES[min(position, len(STAGES) - 1)])

        try:
            summary = run_generate(firms, seed, out, progress=step)
        except (ConfigError, ValueError, OSError) as exc:
            raise fail(str(exc)) from exc
    table = Table(title=f"{summary.n_firms:,} firms, seed {summary.seed} → {summary.out_dir}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    for name, rows in summary.truth_rows.items():
        table.add_row(f"truth/{name}", f"{rows:,}")
    stdout.print(table)
    console.print(f"done in {summary.seconds:.1f} s")
