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
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.sources import SourceData

console = Console(stderr=True)
EXIT_BAD_INPUT = 2
OUTPUT_SUFFIXES = (".csv", ".parquet")

# Name-bearing tables: (name column, credit-code column) pairs (sources.md).
MENTION_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "ip_holders": [("holder_name", "holder_credit_code")],
    "investments": [("investee_name", "investee_credit_code")],
    "awards": [("unit_name", "unit_credit_code")],
    "rd_institutions": [("unit_name", "unit_credit_code")],
    "talent": [("unit_name", "unit_credit_code")],
    "supply_chain": [
        ("supplier_name", "supplier_credit_code"),
        ("customer_name", "customer_credit_code"),
    ],
}


def attribute_by_exact_name(data: SourceData) -> SourceData:
    """Fallback attribution while no entity matcher is available: an empty `*_credit_code` is
    filled when the mention's name is exactly one firm's current or former registered name
    (current names win; a name shared by several firms attributes nothing)."""
    firms = data.tables["firms"]
    names = [pd.DataFrame({"name": firms["name"], "code": firms["credit_code"], "rank": 0})]
    history = data.get("name_history")
    if history is not None:
        names.append(
            pd.DataFrame(
                {"name": history["former_name"], "code": history["credit_code"], "rank": 1}
            )
        )
    known = pd.concat(names, ignore_index=True).dropna(subset=["name", "code"])
    known = known[known["rank"] == known.groupby("name")["rank"].transform("min")]
    known = known.drop_duplicates(["name", "code"])
    unique = known[~known["name"].duplicated(keep=False)].set_index("name")["code"]
    tables = dict(data.tables)
    for table, pairs in MENTION_COLUMNS.items():
        if table not in tables:
            continue
        frame = tables[table].copy()
        for name_column, code_column in pairs:
            if name_column not in frame:
                continue
            codes = (
                frame[code_column]
                if code_column in frame
                else pd.Series(pd.NA, index=frame.index, dtype="str")
            )
            by_name = frame[name_column].map(unique)
            frame[code_column] = codes.where(codes.notna(), by_name).astype("str")
        tables[table] = frame
    return SourceData(tables, data.rejects, data.coverage)


def _attribute(data: SourceData) -> SourceData:
    try:
        from features.matching import attribute_mentions
    except ImportError:
        return attribute_by_exact_name(data)
    return attribute_mentions(data)


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _fail(f"--as-of must be a date YYYY-MM-DD, got {text!r}") from None


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
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="Data directory with one file per table (<table>.csv, <table>.parquet or "
            "<table>/*.csv), per the source contract.",
            show_default=False,
        ),
    ],
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="Evaluation date YYYY-MM-DD; 上年度 (fiscal year Y) is the year before it.",
            show_default=False,
        ),
    ],
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
    from features.sources import SourceError, load_sources
    from models.criteria import evaluate_criteria
    from models.criteria_config import load_criteria_config
    from zjtx.config import ConfigError

    evaluation_date = _parse_date(as_of)
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise _fail(f"--out must end in .csv or .parquet, got {out.name!r}")
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            step = progress.add_task(f"reading {data} …")
            settings = load_criteria_config(config)
            sources = load_sources(data)
            progress.update(step, description="attributing mentions to firms …")
            sources = _attribute(sources)
            progress.update(
                step, description=f"evaluating {len(sources.tables['firms']):,} firms …"
            )
            result = evaluate_criteria(sources, evaluation_date, settings)
            progress.update(step, description=f"writing {len(result):,} rows to {out} …")
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.suffix.lower() == ".parquet":
                result.to_parquet(out, index=False)
            else:
                result.to_csv(out, index=False)
    except (SourceError, ConfigError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc.strerror or exc}") from None
    console.print(_summary(result))
    console.print(f"{len(result):,} criterion rows written to {out}", highlight=False)
