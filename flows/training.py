"""The training flow: history → criteria on past dates → examples → model families → MLflow.

Tasks wrap the pure steps of models/ranking.py and pass file paths; the MLflow layer
(models/registry.py) promotes a new version to `champion` only if it beats the current one.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import joblib
import pandas as pd
from prefect import flow, task

from flows.discovery import IO_RETRY_COUNT, IO_RETRY_DELAY
from zjtx.settings import Settings


@dataclass(frozen=True)
class TrainingPaths:
    work: Path

    @property
    def attributed(self) -> Path:
        return self.work / "attributed"

    @property
    def examples(self) -> Path:
        return self.work / "examples.parquet"

    def model(self, family: str) -> Path:
        return self.work / f"{family}.joblib"


@task(retries=IO_RETRY_COUNT, retry_delay_seconds=IO_RETRY_DELAY)
def load_history(data_dir: Path, paths: TrainingPaths) -> None:
    """Validate the history once and attribute firm mentions (entity matching)."""
    from features.matching import attribute_mentions
    from features.sources import load_sources, save_sources

    save_sources(attribute_mentions(load_sources(data_dir)), paths.attributed)


@task
def examples(paths: TrainingPaths, config_path: Path | None) -> dict[str, int]:
    """Criteria on every training and validation date, then features and labels."""
    from features.sources import read_saved_sources
    from models.criteria_config import load_criteria_config
    from models.ranking import build_training_set, replay_criteria
    from models.ranking_config import load_model_config

    config = load_model_config(config_path)
    data = read_saved_sources(paths.attributed)
    dates = [*config.training_dates, *config.validation_dates]
    criteria = replay_criteria(
        data, dates, load_criteria_config(), config.features.use_declared_products
    )
    table = build_training_set(data, criteria, config)
    table.to_parquet(paths.examples)
    return {"examples": len(table), "certified": int(table["label"].sum())}


@task
def fit(paths: TrainingPaths, family: str, config_path: Path | None) -> Path:
    """Fit one family on the training dates and evaluate it on the later validation dates."""
    from models.ranking import evaluate, fit_family, split_by_date
    from models.ranking_config import load_model_config

    config = load_model_config(config_path)
    train_set, valid_set = split_by_date(pd.read_parquet(paths.examples), config)
    model = fit_family(family, train_set, config)  # type: ignore[arg-type]
    joblib.dump((model, evaluate(model, valid_set, config)), paths.model(family))
    return paths.model(family)


@task
def discovery_recall(
    paths: TrainingPaths, families: list[str], hidden_champions: Path, config_path: Path | None
) -> dict[str, float]:
    """Evaluation only: share of the generator's hidden champions in each province's top k."""
    from features.firm_features import build_features
    from features.sources import read_saved_sources
    from models.criteria import evaluate_criteria
    from models.criteria_config import load_criteria_config
    from models.ranking import discovery_recall_at_k, point_in_time, score_candidates
    from models.ranking_config import load_model_config

    config = load_model_config(config_path)
    data = read_saved_sources(paths.attributed)
    day = config.discovery_date
    snapshot = point_in_time(data, day)
    criteria = evaluate_criteria(snapshot, day, load_criteria_config())
    features = build_features(snapshot, day, config.features)
    truth = pd.read_csv(hidden_champions, dtype="str")[["credit_code", "tier"]]
    recall = {}
    for family in families:
        model, _ = joblib.load(paths.model(family))
        scored = score_candidates(
            model,
            features,
            criteria,
            config.explanations.top_reasons,
            config.explanations.min_abs_contribution,
        )
        recall[family] = discovery_recall_at_k(scored, data.tables["firms"], truth, config)
    return recall


@task(retries=IO_RETRY_COUNT, retry_delay_seconds=IO_RETRY_DELAY)
def log_to_mlflow(
    paths: TrainingPaths,
    families: list[str],
    recall: dict[str, float],
    config_path: Path | None,
) -> list[dict[str, object]]:
    """One MLflow run per family; promotion to champion only when better."""
    from features.sources import read_saved_sources
    from models import registry
    from models.criteria_config import load_criteria_config, standard_tags
    from models.ranking import calibration_figure
    from models.ranking_config import load_model_config

    config = load_model_config(config_path)
    # 第三十一条: labels replayed on dates before 2026-04-01 apply the 2026 standard to the past.
    replayed = [*config.training_dates, *config.validation_dates, config.discovery_date]
    tags = standard_tags(replayed, load_criteria_config())
    client = registry.connect()
    fingerprint = registry.data_fingerprint(read_saved_sources(paths.attributed))
    trained = {family: joblib.load(paths.model(family)) for family in families}
    figure = calibration_figure({f: ev.calibration for f, (_, ev) in trained.items()})
    logged = []
    for family, (model, evaluation) in trained.items():
        extra = {"discovery_recall_at_k": recall[family]} if family in recall else {}
        item = registry.log_family(client, model, evaluation, config, fingerprint, figure, extra)
        for key, value in tags.items():
            client.set_tag(item.run_id, key, value)
        retroactive = tags["criteria_retroactive_dates"] or "none"
        client.log_param(item.run_id, "criteria_retroactive_dates", retroactive)
        logged.append(
            {
                "family": item.family,
                "version": item.version,
                "promoted": item.promoted,
                "metrics": item.metrics,
            }
        )
    return logged


@flow(name="training", log_prints=True)
def training(
    data_dir: Path, config_path: Path | None = None, hidden_champions: Path | None = None
) -> list[dict[str, object]]:
    """Train every configured family and log it; `hidden_champions` only for evaluation."""
    from models.ranking_config import load_model_config

    config = load_model_config(config_path)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    paths = TrainingPaths(work=Settings.from_env().home / "work" / f"training-{stamp}")
    load_history(Path(data_dir), paths)
    counts = examples(paths, config_path)
    print(f"training set: {counts['examples']:,} examples, {counts['certified']} certified")
    families = [str(family) for family in config.models.families]
    futures = [fit.submit(paths, family, config_path) for family in families]
    for future in futures:
        future.result()
    recall = (
        discovery_recall(paths, families, Path(hidden_champions), config_path)
        if hidden_champions
        else {}
    )
    logged = log_to_mlflow(paths, families, recall, config_path)
    shutil.rmtree(paths.work, ignore_errors=True)
    return logged
