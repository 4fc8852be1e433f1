"""`zjtx match`, `zjtx match-eval` (../shared/contracts/outputs.md, issue 5),
`zjtx match-review import` (issue 14) and `zjtx match-review undo` (issue 28).

The lead registers them in zjtx/cli.py, e.g. `app.command("match")(match)` and
`app.command("match-eval")(match_eval)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.table import Table

from core.console import console, fail, reported_errors, stdout
from core.run_layout import LATEST, MANIFEST
from features.sources import SourceData
from zjtx.options import DataOption, check_table_path, write_table

if TYPE_CHECKING:
    from features.match_decisions import Decision


def _link(data: Path) -> tuple[SourceData, pd.DataFrame]:
    """The data and its links, officials' decisions (under ZJTX_HOME) applied first."""
    from features.match_decisions import DecisionStoreError, load_decisions
    from features.matching import link_mentions
    from features.sources import load_sources

    try:
        decisions = load_decisions()
    except DecisionStoreError as exc:
        raise fail(str(exc)) from None
    with reported_errors():
        with console.status(f"reading {data} …"):
            sources = load_sources(data)
        with console.status("matching firm mentions to the registry …"):
            return sources, link_mentions(sources, decisions=decisions)


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
    from features.match_config import METHODS
    from features.match_review import write_review_files

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
    help="The entity-matching review queue: apply a filled match_review.csv/.xlsx, or undo a "
    "decision.",
    no_args_is_help=True,
)

ByOption = Annotated[
    str,
    typer.Option("--by", help="Who decides (name of the official), kept with each decision."),
]
ProvinceOption = Annotated[
    str | None,
    typer.Option(
        "--province",
        help="Act for this province (2-digit code): only its mentions (all candidates in it).",
        show_default=False,
    ),
]
MinistryOption = Annotated[
    bool,
    typer.Option("--ministry", help="Act for the ministry: every mention, any decision."),
]
NoteOption = Annotated[str, typer.Option("--note", help="A note kept with each decision.")]


def _scope(province: str | None, ministry: bool) -> str:
    """ "" for the ministry, else the province code; exactly one of the two must be given."""
    if ministry == (province is not None):
        raise fail("give exactly one of --province PP and --ministry")
    if province is None:
        return ""
    province = province.strip()
    if len(province) != 2 or not province.isdigit():
        raise fail(f"--province must be a 2-digit province code, not {province!r}")
    return province


def _official(by: str) -> str:
    name = by.strip()
    if not name:
        raise fail("--by must name the official who decides")
    return name


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: still say who ran it
        return f"uid:{os.getuid()}"


def _published_run(run: Path | None) -> Path:
    """The run folder, resolved inside the runs directory and published (a manifest inside)."""
    from core.settings import Settings

    runs = Settings.from_env().runs.resolve()
    given = run if run is not None else Path(LATEST)
    candidate = given if given.is_absolute() or given.exists() else runs / given
    folder = candidate.resolve()
    if folder == runs or not folder.is_relative_to(runs):
        raise fail(f"--run {given}: not a run under {runs}")
    if not folder.is_dir() or not (folder / MANIFEST).is_file():
        raise fail(f"--run {given}: not a published run (no manifest.json in {folder})")
    return folder


def _pending_sheet(folder: Path) -> tuple[Path, pd.DataFrame]:
    from core.run_layout import MATCH_REVIEW_CSV

    path = folder / MATCH_REVIEW_CSV
    if not path.is_file():
        raise fail(f"no review queue at {path}: run `zjtx discover` first, or pass --run")
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if "mention_key" not in sheet.columns:
        raise fail(f"{path} has no mention_key column: it was written before issue 14; run again")
    return path, sheet


def _audited(where: str) -> Callable[[list[Decision]], None]:
    """Writes each decision's audit line (Article 28) inside the store's transaction: a line
    that cannot be written leaves nothing recorded."""
    from features.match_decisions import audit_entry
    from service.audit import AuditLog
    from service.paths import default_audit_log

    audit = AuditLog(default_audit_log())

    def write(decisions: list[Decision]) -> None:
        for decision in decisions:
            who = {"name": decision.decided_by, "os_user": decision.decider_id}
            audit.append(audit_entry(decision, who, where))

    return write


def _recorded(decisions: list[Decision], where: str) -> list[Decision]:
    """Record (audit line first) or fail with one line, exit 2."""
    from features.match_decisions import DecisionStore, DecisionStoreError
    from service.audit import AuditLogError

    try:
        return DecisionStore().record(decisions, before_commit=_audited(where))
    except AuditLogError as exc:
        raise fail(f"nothing recorded: {exc}") from None
    except DecisionStoreError as exc:
        raise fail(f"nothing recorded: {exc}") from None


def _out_of_scope(
    filled: pd.DataFrame, pending: pd.DataFrame, scope: str
) -> tuple[pd.Series, pd.Series]:
    """Rows of `filled` with an answer for a mention of another province (mask), and the
    province each belongs to ("" = the ministry's)."""
    from features.match_review import sheet_province

    provinces = sheet_province(pending).fillna("")
    province_of = pd.Series(provinces.to_numpy(), index=pending["mention_key"])
    province_of = province_of[~province_of.index.duplicated()]
    keys = filled["mention_key"].astype(str).str.strip()
    owner = keys.map(province_of)  # NA: not pending; the row check says why
    answered = filled["decision"].astype(str).str.strip().ne("")
    if not scope:
        return pd.Series(False, index=filled.index), owner
    return answered & owner.notna() & owner.ne(scope), owner


@match_review_app.command("import")
def match_review_import(
    file: Annotated[
        Path,
        typer.Argument(help="A filled review sheet (.csv or .xlsx) with its `decision` column."),
    ],
    by: ByOption,
    province: ProvinceOption = None,
    ministry: MinistryOption = False,
    run: Annotated[
        Path | None,
        typer.Option(
            "--run",
            help="Published run (id or folder under $ZJTX_HOME/runs) whose review queue the "
            "sheet came from (default: latest).",
        ),
    ] = None,
    note: NoteOption = "",
) -> None:
    """Record the decisions of a filled review sheet; refuse unknown codes and stale rows.

    A decision is a candidate's credit code or `none`. Rows are checked one by one against the
    run's pending queue, the scope (--province: only mentions whose candidates all lie in it)
    and the decisions already recorded; good rows are recorded with the OS user, each audited
    before it counts; refused rows are listed with their reason and the command exits 2.
    """
    from features.match_config import MatchingConfig
    from features.match_decisions import DecisionStore, DecisionStoreError, read_decision_sheet
    from features.match_review import check_filled_sheet

    official = _official(by)
    scope = _scope(province, ministry)
    if not file.is_file():
        raise fail(f"file not found: {file}")
    folder = _published_run(run)
    queue_path, pending = _pending_sheet(folder)
    with reported_errors():
        limits = MatchingConfig.load().review_import
    try:
        filled = read_decision_sheet(file, limits)
        decided = DecisionStore().current()
    except (ValueError, OSError, DecisionStoreError) as exc:
        raise fail(str(exc)) from None
    outside, owner = _out_of_scope(filled, pending, scope)
    result = check_filled_sheet(
        filled.assign(decision=filled["decision"].where(~outside, "")),
        pending,
        decided,
        official,
        note,
    )
    refused_outside = pd.DataFrame(
        {
            "row": filled.index[outside.to_numpy()],
            "mention_key": filled.loc[outside, "mention_key"].astype(str).to_numpy(),
            "decision": filled.loc[outside, "decision"].astype(str).to_numpy(),
            "reason": [
                f"out of scope: the mention is {'province ' + p if p else 'the ministry'}'s, "
                f"not province {scope}'s"
                for p in owner[outside]
            ],
        }
    )
    refused = pd.concat([result.refused, refused_outside], ignore_index=True).sort_values(
        "row", kind="stable"
    )
    user = _os_user()
    decisions = [
        replace(
            d,
            decider_id=user,
            role="offline",
            province=scope,
            run_id=folder.name,
        )
        for d in result.decisions
    ]
    recorded = _recorded(decisions, str(file)) if decisions else []
    stdout.print(
        f"{len(recorded):,} decision(s) recorded from {file} (queue {queue_path}); "
        f"{result.blank - int(outside.sum()):,} row(s) left blank; {len(refused):,} refused."
    )
    if len(refused):
        table = Table(title="Refused rows (row = 0-based data row of the file)")
        for column in ("row", "mention_key", "decision", "reason"):
            table.add_column(column, justify="right" if column == "row" else "left")
        for row in refused.itertuples(index=False):
            table.add_row(str(row.row), str(row.mention_key), str(row.decision), str(row.reason))
        stdout.print(table)
        raise typer.Exit(2)


@match_review_app.command("undo")
def match_review_undo(
    mention: Annotated[
        str,
        typer.Option(
            "--mention",
            help="The mention's key (`mention_key` of the review sheet, e.g. ip_holders:…).",
            show_default=False,
        ),
    ],
    by: ByOption,
    province: ProvinceOption = None,
    ministry: MinistryOption = False,
    note: NoteOption = "",
) -> None:
    """Undo the decision in force for one mention: it returns to the review queue.

    The ministry may undo any decision, a province only the ones made for it. The undo is a
    new row of the store (the history keeps the decision), audited before it counts.
    """
    from features.match_decisions import Decision, DecisionStore, DecisionStoreError

    official = _official(by)
    scope = _scope(province, ministry)
    key = mention.strip()
    try:
        in_force = DecisionStore().in_force(key)
    except DecisionStoreError as exc:
        raise fail(str(exc)) from None
    if in_force is None:
        raise fail(f"no decision in force for mention {key}")
    undo = Decision(
        mention_key=key,
        source=in_force["source"],
        column=in_force["column"],
        raw_name=in_force["raw_name"],
        credit_code="",
        decided_by=official,
        note=note,
        channel="undo",
        action="undo",
        decider_id=_os_user(),
        role="offline",
        province=scope,
    )
    (recorded,) = _recorded([undo], "zjtx match-review undo")
    stdout.print(
        f"decision {in_force['credit_code']} of {in_force['decided_by']} for {key} undone by "
        f"{recorded.decided_by}; the mention is pending again"
    )
