"""`zjtx match` and `zjtx match-eval` (../shared/contracts/outputs.md, issue 5).

The lead registers them in zjtx/cli.py, e.g. `app.command("match")(match)` and
`app.command("match-eval")(match_eval)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from zjtx.console import (
    DataOption,
    check_table_path,
    console,
    fail,
    reported_errors,
    stdout,
    write_table,
)


def _link(data: Path) -> pd.DataFrame:
    from features.matching import link_mentions
    from features.sources import load_sources

    with reported_errors():
        with console.status(f"reading {data} …"):
            sources = load_sources(data)
        with console.status("matching firm mentions to the registry …"):
            return link_mentions(sources)


def review_path(out: Path) -> Path:
    """Where the review queue goes beside FILE: `<stem>.review.csv`."""
    return out.with_name(f"{out.stem}.review.csv")


def match(
    data: DataOption,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Links file, .csv or .parquet by extension; the review queue is written "
            "beside it as <stem>.review.csv.",
            show_default=False,
        ),
    ],
) -> None:
    """Resolve every firm mention in the name-bearing tables to a registry firm."""
    from features.matching import review_queue

    check_table_path(out)
    links = _link(data)
    write_table(links, out)
    queue = review_queue(links)
    queue.to_csv(review_path(out), index=False)
    counts = links["method"].value_counts()
    table = Table(title=f"Entity matching: {len(links):,} mentions")
    table.add_column("method")
    table.add_column("mentions", justify="right")
    for method in ("code", "exact", "normalized", "history", "fuzzy", "review", "none"):
        table.add_row(method, f"{int(counts.get(method, 0)):,}")
    stdout.print(table)
    stdout.print(f"links written to {out}; review queue ({len(queue):,}) to {review_path(out)}")


def _truth(data: Path) -> pd.DataFrame:
    path = data / "truth" / "mentions.csv"
    if not path.is_file():
        raise fail(f"no ground truth at {path}")
    truth = pd.read_csv(path, dtype=str, keep_default_na=False)
    needed = {"source", "row", "column", "credit_code"}
    if missing := needed - set(truth.columns):
        raise fail(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    truth["row"] = pd.to_numeric(truth["row"], errors="coerce")
    if truth["row"].isna().any():
        raise fail(f"{path}: column row must hold integers")
    return truth


def match_eval(data: DataOption) -> None:
    """Score entity matching against DIR/truth/mentions.csv: precision, recall, F1 per variant."""
    from features.matching import evaluate_links

    truth = _truth(data)
    links = _link(data)
    metrics = evaluate_links(links, truth)
    table = Table(title=f"Entity matching against {data / 'truth' / 'mentions.csv'}")
    for column in ("variant", "mentions", "linkable", "linked", "wrong", "review"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for column in ("precision", "recall", "F1"):
        table.add_column(column, justify="right")

    def share(value: float) -> str:
        return "–" if pd.isna(value) else f"{value:.3f}"

    for variant, row in metrics.by_variant.iterrows():
        table.add_row(
            str(variant),
            f"{int(row['mentions']):,}",
            f"{int(row['linkable']):,}",
            f"{int(row['linked']):,}",
            f"{int(row['wrong']):,}",
            f"{int(row['review']):,}",
            share(row["precision"]),
            share(row["recall"]),
            share(row["f1"]),
            style="bold" if variant == "all" else "",
        )
    stdout.print(table)
    stdout.print(
        f"NIL accuracy {share(metrics.nil_accuracy)} (NIL mentions left unlinked); "
        f"NIL linked wrongly {share(metrics.nil_wrong_link_rate)}; "
        f"review queue {metrics.review_size:,}"
    )
