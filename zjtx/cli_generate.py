"""`zjtx generate --firms N --seed S --out DIR`: the synthetic data set (outputs.md).

The lead registers `generate` in zjtx/cli.py (e.g. `app.command()(generate)`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.console import console, fail, stdout


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
    rounds: Annotated[
        int | None,
        typer.Option(
            "--rounds",
            help="World: yearly application rounds before the evaluation date, 0 to 7 "
            "(default 6: 2020-2025). The programme starts with the first round; 0 = no "
            "applications and no 专精特新/小巨人 titles.",
        ),
    ] = None,
    apply_propensity: Annotated[
        float | None,
        typer.Option(
            "--apply-propensity",
            help="World: odds multiplier on each firm's own chance of applying in a round, "
            "0 to 10 (default 1; 0 = no firm applies).",
        ),
    ] = None,
    approval_strictness: Annotated[
        float | None,
        typer.Option(
            "--approval-strictness",
            help="World: logit units taken off the reviewers' pass of applications and "
            "renewals, 0 to 5 (default 0 = today's; 1 approves fewer qualifying applicants).",
        ),
    ] = None,
    no_products_share: Annotated[
        float | None,
        typer.Option(
            "--no-products-share",
            help="World: share of firms whose product declarations are withheld on top of "
            "the usual self-declaration, 0 to 1 (default 0; 1 = products.csv without rows).",
        ),
    ] = None,
    signal_strength: Annotated[
        float | None,
        typer.Option(
            "--signal-strength",
            help="World: how strongly the Article 9 signals (chain-leader customers, qualified "
            "equity, awards, talent) follow the hidden quality that decides approval, 0 to 1 "
            "(default 1 = today's; 0 = unrelated).",
        ),
    ] = None,
    no_submitted_on: Annotated[
        bool,
        typer.Option(
            "--no-submitted-on",
            help="World: leave the optional applications.submitted_on column out "
            "(default: written).",
        ),
    ] = False,
    provinces: Annotated[
        str | None,
        typer.Option(
            "--provinces",
            help="National run: 'all' spreads the firms over the 31 provinces of mainland "
            "China (codes 11..65) in proportion to their legal units (第四次全国经济普查公报"
            "第七号 表7-1, docs/national-provinces.md), or a comma list of 2-digit codes "
            "(e.g. 44,32,33); each province gets at least national.min_firms_per_province "
            "(configs/synth.yaml) and is built and written one at a time. Default: the few "
            "provinces of configs/synth.yaml.",
        ),
    ] = None,
) -> None:
    """Write a synthetic province data set in the source contract, plus DIR/truth/.

    World parameters default to configs/synth.yaml (`world:`); truth/world.json records them.
    With --provinces, a national data set, written province by province.
    """
    from core.config import ConfigError
    from core.settings import Settings
    from synth import generate as run_generate
    from synth import load_synth_config, with_world
    from synth.generate import STAGES

    out = out if out is not None else Settings.from_env().demo_data
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} is a file, not a directory")
    chosen = {
        "application_rounds": rounds,
        "apply_propensity": apply_propensity,
        "approval_strictness": approval_strictness,
        "no_products_share": no_products_share,
        "signal_strength": signal_strength,
        "submitted_on": False if no_submitted_on else None,
    }
    try:
        config = with_world(load_synth_config(), {k: v for k, v in chosen.items() if v is not None})
    except ConfigError as exc:
        raise fail(_option_names(str(exc))) from None
    if provinces is not None:
        from synth.national import spread as spread_firms

        try:
            codes = list(spread_firms(firms, provinces, config.national))
        except ValueError as exc:
            raise fail(str(exc)) from None
    with Progress(
        TextColumn("[bold]generate[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        if provinces is None:
            task = bar.add_task(STAGES[0], total=len(STAGES))

            def step(stage: str) -> None:
                position = STAGES.index(stage) + 1
                description = STAGES[min(position, len(STAGES) - 1)]
                bar.update(task, completed=position, description=description)

        else:
            task = bar.add_task("provinces", total=len(codes))

            def step(stage: str) -> None:
                bar.update(task, advance=1, description=f"province {stage} written")

        try:
            summary = run_generate(
                firms, seed, out, config=config, progress=step, provinces=provinces
            )
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
    world = ", ".join(f"{k} {v}" for k, v in summary.world.model_dump().items())
    console.print(f"world: {world}")
    if summary.provinces:
        spread = ", ".join(f"{code} {count:,}" for code, count in summary.provinces.items())
        console.print(f"provinces: {spread}")
    console.print(f"done in {summary.seconds:.1f} s")


OPTION_OF = {
    "world.application_rounds": "--rounds",
    "world.apply_propensity": "--apply-propensity",
    "world.approval_strictness": "--approval-strictness",
    "world.no_products_share": "--no-products-share",
    "world.signal_strength": "--signal-strength",
}


def _option_names(message: str) -> str:
    """A refused world parameter named by its option."""
    for field, option in OPTION_OF.items():
        message = message.replace(field, option)
    return message
