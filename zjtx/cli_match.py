"""`zjtx match`, `zjtx match-eval` (../shared/contracts/outputs.md, issue 5) and
`zjtx match-review import` (issue 14).

The lead registers them in zjtx/cli.py, e.g. `app.command("match")(match)` and
`app.command("match-eval")(match_eval)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from features.sources import SourceData
from zjtx.console import (
    DataOption,
    check_table_path,
    console,
    fail,
    reported_errors,
    stdout,
    write_table,
)


def _link(data: Path) -> tuple[SourceData, pd.DataFrame]:
    """The data and its links, officials' decisions (under ZJTX_HOME) applied first."""
    from features.match_decisions import load_decisions
    from features.matching import link_mentions
    from features.sources import load_sources

    with reported_errors():
        with console.status(f"reading {data} …"):
            sources = load_sources(data)
        with console.status("matching firm mentions to the registry …"):
            return sources, link_mentions(sources, decisions=load_decisions())


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
    """Resolve every firm mention in the name-bearing tables to a registry firm.

    Officials' decisions ($ZJTX_HOME/matching/decisions.sqlite) are applied first. The review
    queue is written as <stem>.review.csv and .xlsx (fill `decision`, then `zjtx match-review
    import`) and <stem>.review_candidates.csv (each candidate with its score parts).
    """
    from features.match_review import write_review_files
    from features.matching import METHODS

    check_table_path(out)
    sources, links = _link(data)
    write_table(links, out)
    with reported_errors():
        queue = write_review_files(links, sources, out.parent, f"{out.stem}.review")
    counts = links["method"].value_counts()
    table = Table(title=f"Entity matching: {len(links):,} mentions")
    table.add_column("method")
    table.add_column("mentions", justify="right")
    for method in METHODS:
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
    _, links = _link(data)
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


match_review_app = typer.Typer(
    help="The entity-matching review queue: apply a filled match_review.csv/.xlsx.",
    no_args_is_help=True,
)


def _pending_sheet(run: Path | None) -> tuple[Path, pd.DataFrame]:
    from features.match_review import REVIEW_FILE
    from zjtx.settings import Settings

    folder = run or Settings.from_env().runs / "latest"
    path = folder / REVIEW_FILE
    if not path.is_file():
        raise fail(f"no review queue at {path}: run `zjtx discover` first, or pass --run")
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "mention_key" not in sheet.columns:
        raise fail(f"{path} has no mention_key column: it was written before issue 14; run again")
    return path, sheet


@match_review_app.command("import")
def match_review_import(
    file: Annotated[
        Path,
        typer.Argument(help="A filled review sheet (.csv or .xlsx) with its `decision` column."),
    ],
    by: Annotated[
        str,
        typer.Option("--by", help="Who decided (name of the official), kept with each decision."),
    ],
    run: Annotated[
        Path | None,
        typer.Option(
            "--run",
            help="Run directory whose review queue the sheet came from "
            "(default: $ZJTX_HOME/runs/latest).",
        ),
    ] = None,
    note: Annotated[str, typer.Option("--note", help="A note kept with each decision.")] = "",
) -> None:
    """Record the decisions of a filled review sheet; refuse unknown codes and stale rows.

    A decision is a candidate's credit code or `none`. Rows are checked one by one against the
    run's pending queue and the decisions already recorded; good rows are recorded (and
    audited), refused rows are listed with their reason and the command exits 2.
    """
    from features.match_decisions import DecisionStore, audit_entry
    from features.match_review import check_filled_sheet, read_filled_sheet
    from service.audit import AuditLog
    from service.paths import default_audit_log

    if not file.is_file():
        raise fail(f"file not found: {file}")
    queue_path, pending = _pending_sheet(run)
    try:
        filled = read_filled_sheet(file)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    store = DecisionStore()
    result = check_filled_sheet(filled, pending, store.current(), by.strip(), note)
    recorded = store.record(result.decisions)
    audit = AuditLog(default_audit_log())
    for decision in recorded:
        audit.append(audit_entry(decision, {"name": decision.decided_by}, str(file)))
    stdout.print(
        f"{len(recorded):,} decision(s) recorded from {file} (queue {queue_path}); "
        f"{result.blank:,} row(s) left blank; {len(result.refused):,} refused."
    )
    if len(result.refused):
        table = Table(title="Refused rows (row = 0-based data row of the file)")
        for column in ("row", "mention_key", "decision", "reason"):
            table.add_column(column, justify="right" if column == "row" else "left")
        for refused in result.refused.itertuples(index=False):
            table.add_row(
                str(refused.row), str(refused.mention_key), str(refused.decision), refused.reason
            )
        stdout.print(table)
        raise typer.Exit(2)
