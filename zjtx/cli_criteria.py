"""`zjtx criteria --data DIR --as-of YYYY-MM-DD --out FILE` (outputs.md).

Registered on the main app in zjtx/cli.py: `app.command()(criteria)`. Reads the data directory,
attributes name-bearing mentions to firms (entity matching), evaluates every firm against both
tiers and writes the long criteria table (.csv or .parquet, by the file's extension).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.console import console, fail, reported_errors
from zjtx.options import AsOfOption, DataOption, check_table_path, parse_as_of, write_table


def evaluation_date(value: str, config: Path | None = None) -> dt.date:
    """The --as-of date, refused (one line, exit 2) when the measures were not yet in force on
    it (第三十一条: in force from 2026-04-01; the date is in the criteria configuration)."""
    from models.criteria_config import NotInForce, check_in_force, load_criteria_config

    day = parse_as_of(value)
    with reported_errors():
        settings = load_criteria_config(config)
    try:
        check_in_force(day, settings)
    except NotInForce as exc:
        raise fail(str(exc)) from None
    return day


def _summary(result: pd.DataFrame) -> Table:
    outcomes = result[result["criterion"] == "outcome"]
    counts = outcomes.groupby(["tier", "mode", "verdict"], observed=True).size()
    table = Table(title="Outcomes")
    for column in ("tier", "mode", "outcome", "firms"):
        table.add_column(column, justify="right" if column == "firms" else "left")
    for (tier, mode, verdict), count in counts.items():
        table.add_row(str(tier), str(mode), str(verdict), f"{count:,}")
    return table


def criteria(
    data: DataOption,
    as_of: AsOfOption,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output file for the long criteria table: .csv or .parquet (by extension).",
            show_default=False,
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Criteria configuration (default configs/criteria/2026.yaml); refused if "
            "looser than the regulation.",
        ),
    ] = None,
) -> None:
    """Evaluate every firm against Article 11, Article 20, Annex 1 and Annex 2 (both tiers)."""
    from features.match_decisions import load_decisions
    from features.matching import attribute_mentions, link_mentions, review_queue
    from features.point_in_time import point_in_time
    from features.sources import load_sources
    from features.unsettled import pending_mentions, refused_by_firm
    from models.criteria import evaluate_criteria
    from models.criteria_config import load_criteria_config

    day = evaluation_date(as_of, config)
    check_table_path(out)
    with (
        reported_errors(),
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        step = progress.add_task(f"reading {data} …")
        settings = load_criteria_config(config)
        sources = load_sources(data)
        progress.update(step, description="attributing mentions to firms …")
        # officials' match decisions (issue 14) first, as in `zjtx match` and the flow
        links = link_mentions(sources, decisions=load_decisions())
        refused = refused_by_firm(sources)
        # a live run: the data as it stood on the date, read as the weekly run reads it
        sources = point_in_time(attribute_mentions(sources, links), day, live=True)
        pending = pending_mentions(sources, review_queue(links))
        progress.update(step, description=f"evaluating {len(sources.tables['firms']):,} firms …")
        result = evaluate_criteria(sources, day, settings, refused=refused, pending=pending)
        progress.update(step, description=f"writing {len(result):,} rows to {out} …")
        write_table(result, out)
    console.print(_summary(result))
    console.print(f"{len(result):,} criterion rows written to {out}", highlight=False)
