"""`zjtx train --data DIR`: run the training flow, then print the families side by side.

Evaluation against the generator's truth reads `DIR/truth/hidden_champions.csv` and
`DIR/truth/qualification.csv` (who would qualify) — only here (an evaluation command), never in
the pipeline.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.console import (
    check_prefect_server,
    reported_errors,
    stdout,
    temporary_server_in_background,
)
from models.ranking_config import ModelConfig
from zjtx.options import parse_as_of

HIDDEN_CHAMPIONS = Path("truth") / "hidden_champions.csv"
QUALIFICATION = Path("truth") / "qualification.csv"
_SUMMARY_METRICS = {
    "P@k": "val_precision_at_k",
    "R@k": "val_recall_at_k",
    "AP": "val_average_precision",
    "AUC": "val_roc_auc",
    "Brier": "val_brier",
}


def train(
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="Data directory (source contract) with the history to learn from: "
            "certifications or applications on past evaluation dates. If it holds the "
            "generator's truth/, discovery recall@k on the hidden champions is reported too.",
            show_default=False,
        ),
    ],
    config_path: Annotated[
        Path | None,
        typer.Option("--config", help="Ranking configuration (default: configs/model.yaml)."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Run date YYYY-MM-DD (default: today): the rounds decided by it train and "
            "validate.",
        ),
    ] = None,
) -> None:
    """Train the rule baseline, logistic regression and gradient boosting (model Q, with model A
    and the score model) on past evaluation dates, log them to MLflow (experiment zjtx-ranking)
    and promote a version to `champion` only through the paired-bootstrap gate."""
    with reported_errors():
        from features.sources import preflight
        from models.ranking_config import load_model_config

        preflight(data)
        check_prefect_server()
        server_ready = temporary_server_in_background()
        config = load_model_config(config_path)
        truth = data / HIDDEN_CHAMPIONS
        qualification = data / QUALIFICATION
        from flows.training import training

        server_ready()
        logged = training(
            data_dir=data,
            config_path=config_path,
            hidden_champions=truth if truth.is_file() else None,
            truth=qualification if qualification.is_file() else None,
            as_of=parse_as_of(as_of) if as_of else None,
        )
        if logged:
            _print_summary(logged, config, truth.is_file(), qualification.is_file())
        stdout.print(what_orders_the_lists(logged), highlight=False, soft_wrap=True)


def what_orders_the_lists(logged: list[dict[str, object]]) -> str:
    """One line: what this run trained and which ordering the lists use now."""
    from models.registry import has_champion, load_champion

    if not logged:
        return "trained: nothing (too little history); the lists use the rule ordering"
    trained = ", ".join(f"{item['family']} v{item['version']}" for item in logged)
    if not has_champion():
        return f"trained: {trained}; no champion: the lists use the rule ordering"
    ranker, version = load_champion()
    return f"trained: {trained}; the lists use the champion, {ranker.family} v{version}"


def _print_summary(
    logged: list[dict[str, object]], config: ModelConfig, truth: bool, qualification: bool
) -> None:
    from core.settings import Settings
    from models.registry import tracking_uri

    table = Table(title=f"Validation rounds, k = {config.evaluation.k} per province and tier")
    table.add_column("family")
    table.add_column("version", justify="right")
    table.add_column("champion")
    metrics = dict(_SUMMARY_METRICS)
    if qualification:
        metrics |= {
            "novel P@k": "val_novel_precision_at_k",
            "disc P@k": "val_discovery_precision_at_k",
            "added@k": "val_expected_added_at_k",
        }
    if truth:
        metrics |= {"discovery R@k": "discovery_recall_at_k"}
    for header in metrics:
        table.add_column(header, justify="right")
    for item in logged:
        values: dict[str, float] = item["metrics"]  # type: ignore[assignment]
        cells = [_fmt(values.get(name)) for name in metrics.values()]
        promoted = "promoted" if item["promoted"] else ""
        table.add_row(str(item["family"]), str(item["version"]), promoted, *cells)
    stdout.print(table)
    stdout.print(
        f"Compare the runs: mlflow ui --backend-store-uri {tracking_uri(Settings.from_env())}",
        highlight=False,
        soft_wrap=True,
    )


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.3f}"
