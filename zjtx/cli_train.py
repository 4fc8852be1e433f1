"""`zjtx train --data DIR`: train the ranking model families, log them to MLflow, promote.

The command only chains pure steps (features.*, models.ranking) and the thin MLflow layer
(models.registry); a Prefect flow can call the same steps one by one. Evaluation against the
generator's hidden champions reads `DIR/truth/` — only here, never in the pipeline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from features.sources import SourceData
from models.ranking import (
    Evaluation,
    RankingModel,
    build_training_set,
    calibration_figure,
    discovery_recall_at_k,
    evaluate,
    fit_family,
    point_in_time,
    replay_criteria,
    score_candidates,
    split_by_date,
)
from models.ranking_config import ModelConfig
from models.registry import LoggedModel

EXIT_BAD_INPUT = 2
TRUTH_DIR = "truth"
HIDDEN_CHAMPIONS = "hidden_champions.csv"

console = Console(stderr=True)
stdout = Console()


@dataclass(frozen=True)
class FamilyResult:
    model: RankingModel
    evaluation: Evaluation
    discovery_recall_at_k: float


def train_families(
    train: pd.DataFrame, valid: pd.DataFrame, config: ModelConfig
) -> dict[str, tuple[RankingModel, Evaluation]]:
    """Fit every configured family on the training dates and evaluate on the validation dates."""
    results: dict[str, tuple[RankingModel, Evaluation]] = {}
    for family in config.models.families:
        model = fit_family(family, train, config)
        results[family] = (model, evaluate(model, valid, config))
    return results


def discovery_scores(
    data: SourceData, model: RankingModel, config: ModelConfig, criteria: pd.DataFrame
) -> pd.DataFrame:
    """Score the discovery date's candidates (features from data before that date)."""
    from features.firm_features import build_features

    features = build_features(data, config.discovery_date, config.features)
    return score_candidates(
        model,
        features,
        criteria,
        config.explanations.top_reasons,
        config.explanations.min_abs_contribution,
    )


def read_hidden_champions(data_dir: Path) -> pd.DataFrame | None:
    """The generator's hidden champions (credit_code, tier), if the data set has a truth/."""
    path = data_dir / TRUTH_DIR / HIDDEN_CHAMPIONS
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype="str")[["credit_code", "tier"]]


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
) -> None:
    """Train the rule baseline, logistic regression and gradient boosting on past evaluation
    dates, log them to MLflow (experiment zjtx-ranking) and promote the best to `champion`."""
    from features.sources import SourceError
    from zjtx.config import ConfigError

    try:
        _train(data, config_path)
    except (SourceError, ConfigError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _train(data_dir: Path, config_path: Path | None) -> None:
    from features.matching import attribute_mentions
    from features.sources import load_sources
    from models import registry
    from models.criteria import evaluate_criteria
    from models.criteria_config import load_criteria_config
    from models.ranking_config import load_model_config

    config = load_model_config(config_path)
    criteria_config = load_criteria_config()
    with console.status(f"reading {data_dir} …"):
        data = load_sources(data_dir)
    with console.status("matching firm mentions …"):
        data = attribute_mentions(data)
    dates: list[date] = [*config.training_dates, *config.validation_dates]
    with console.status(f"criteria on {len(dates)} past dates …"):
        criteria = replay_criteria(
            data, dates, criteria_config, config.features.use_declared_products
        )
    with console.status("features and labels …"):
        examples = build_training_set(data, criteria, config)
    train_set, valid_set = split_by_date(examples, config)
    console.print(
        f"training examples {len(train_set):,} ({int(train_set['label'].sum())} certified), "
        f"validation {len(valid_set):,} ({int(valid_set['label'].sum())} certified)"
    )
    with console.status("training …"):
        trained = train_families(train_set, valid_set, config)

    truth = read_hidden_champions(data_dir)
    recall: dict[str, float] = {}
    if truth is not None:
        with console.status("discovery recall on the hidden champions …"):
            # As a discovery run sees it: the data of that day, declared products included.
            discovery = config.discovery_date
            snapshot = point_in_time(data, discovery)
            today = evaluate_criteria(snapshot, discovery, criteria_config)
            for family, (model, _) in trained.items():
                scored = discovery_scores(snapshot, model, config, today)
                recall[family] = discovery_recall_at_k(scored, data.tables["firms"], truth, config)

    with console.status("logging to MLflow …"):
        client = registry.connect()
        fingerprint = registry.data_fingerprint(data)
        figure = calibration_figure({f: ev.calibration for f, (_, ev) in trained.items()})
        logged = []
        for family, (model, evaluation) in trained.items():
            extra = {"discovery_recall_at_k": recall[family]} if family in recall else {}
            logged.append(
                registry.log_family(client, model, evaluation, config, fingerprint, figure, extra)
            )
    _print_summary(logged, config, truth is not None)


_SUMMARY_METRICS = {
    "P@k": "val_precision_at_k",
    "R@k": "val_recall_at_k",
    "AP": "val_average_precision",
    "AUC": "val_roc_auc",
    "Brier": "val_brier",
}


def _print_summary(logged: list[LoggedModel], config: ModelConfig, truth: bool) -> None:
    dates = ", ".join(map(str, config.validation_dates))
    table = Table(title=f"Validation {dates}, k = {config.evaluation.k} per province and tier")
    table.add_column("family")
    table.add_column("version", justify="right")
    table.add_column("champion")
    metrics = dict(_SUMMARY_METRICS) | ({"discovery R@k": "discovery_recall_at_k"} if truth else {})
    for header in metrics:
        table.add_column(header, justify="right")
    for item in logged:
        cells = [_fmt(item.metrics.get(name)) for name in metrics.values()]
        table.add_row(item.family, item.version, "promoted" if item.promoted else "", *cells)
    stdout.print(table)
    stdout.print(
        f"Compare the runs: mlflow ui --backend-store-uri {registry_uri()}",
        highlight=False,
        soft_wrap=True,
    )


def registry_uri() -> str:
    from models.registry import tracking_uri
    from zjtx.settings import Settings

    return tracking_uri(Settings.from_env())


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.3f}"
