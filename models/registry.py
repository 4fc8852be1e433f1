"""MLflow I/O for the ranking models (thin): where runs go, what they log, who is champion.

Names are the contract's (../shared/contracts/outputs.md): experiment `zjtx-ranking`,
registered model `zjtx-ranker`, alias `champion`, metrics `val_*`, tag `model_family`.
State lives under ZJTX_HOME: `mlflow/mlflow.db` (tracking and registry) and `mlflow/artifacts/`.
Everything is local; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import Any

import pandas as pd

from features.sources import SourceData
from models.ranking import Evaluation, RankingModel
from models.ranking_config import ModelConfig
from zjtx.settings import Settings, apply_offline_env

EXPERIMENT = "zjtx-ranking"
REGISTERED_MODEL = "zjtx-ranker"
CHAMPION_ALIAS = "champion"
PROMOTION_METRIC = "val_precision_at_k"
MODEL_ARTIFACT = "model"
# Packages a logged model needs; pinned to what trained it (no requirement inference: offline).
_MODEL_PACKAGES = ("scikit-learn", "pandas", "numpy", "networkx")


def tracking_uri(settings: Settings) -> str:
    return f"sqlite:///{settings.mlflow_db}"


def connect(settings: Settings | None = None) -> Any:
    """Point MLflow at ZJTX_HOME's store, create the experiment if needed; returns a client."""
    apply_offline_env()
    # A logged model carries its pinned requirements, not a copy of the project's uv files.
    os.environ.setdefault("MLFLOW_LOG_UV_FILES", "false")
    import mlflow
    from mlflow.tracking import MlflowClient

    settings = settings or Settings.from_env()
    settings.mlflow_db.parent.mkdir(parents=True, exist_ok=True)
    settings.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri(settings)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.get_experiment_by_name(EXPERIMENT) is None:
        client.create_experiment(EXPERIMENT, artifact_location=settings.mlflow_artifacts.as_uri())
    mlflow.set_experiment(EXPERIMENT)
    return client


def data_fingerprint(data: SourceData) -> str:
    """A short hash of every table's content (row order included): which data trained a run."""
    digest = hashlib.sha256()
    for name in sorted(data.tables):
        frame = data.tables[name]
        digest.update(name.encode())
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class LoggedModel:
    family: str
    run_id: str
    version: str
    promoted: bool
    metrics: dict[str, float]


def log_family(
    client: Any,
    model: RankingModel,
    evaluation: Evaluation,
    config: ModelConfig,
    fingerprint: str,
    calibration_figure: Any | None = None,
    extra_metrics: Mapping[str, float] | None = None,
) -> LoggedModel:
    """One run: params, validation metrics, tag, calibration plot, model (registered), then
    promotion of the new version if it beats the champion on validation precision@k."""
    import mlflow
    import mlflow.sklearn

    metrics = dict(evaluation.metrics) | dict(extra_metrics or {})
    with mlflow.start_run(run_name=model.family) as run:
        mlflow.set_tag("model_family", model.family)
        mlflow.log_params(
            {
                "model_family": model.family,
                "data_fingerprint": fingerprint,
                "k": config.evaluation.k,
                "training_dates": ",".join(map(str, config.training_dates)),
                "validation_dates": ",".join(map(str, config.validation_dates)),
                "label_horizon_months": config.labels.horizon_months,
                "seed": config.seed,
                "n_features": len(model.used_features),
            }
        )
        mlflow.log_metrics({k: v for k, v in metrics.items() if not _missing(v)})
        for row in evaluation.per_province.itertuples(index=False):
            province = str(row.province)
            for name in ("val_precision_at_k", "val_recall_at_k", "val_average_precision"):
                value = float(getattr(row, name))
                if not _missing(value):
                    mlflow.log_metric(f"{name}_province_{province}", value)
        mlflow.log_dict(config.model_dump(mode="json"), "config/model.json")
        mlflow.log_dict({"features": model.used_features}, "features.json")
        mlflow.log_text(evaluation.per_province.to_csv(index=False), "per_province.csv")
        mlflow.log_text(evaluation.calibration.to_csv(index=False), "calibration.csv")
        if calibration_figure is not None:
            mlflow.log_figure(calibration_figure, "calibration.png")
        info = mlflow.sklearn.log_model(
            sk_model=model,
            name=MODEL_ARTIFACT,
            serialization_format="pickle",
            registered_model_name=REGISTERED_MODEL,
            pip_requirements=[f"{p}=={package_version(p)}" for p in _MODEL_PACKAGES],
        )
        version = str(info.registered_model_version)
    promoted = promote_if_better(client, version, metrics.get(PROMOTION_METRIC, math.nan))
    return LoggedModel(model.family, run.info.run_id, version, promoted, metrics)


def champion_metric(client: Any) -> float | None:
    """The champion's validation precision@k, or None when there is no champion yet."""
    from mlflow.exceptions import MlflowException

    try:
        champion = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    except MlflowException:
        return None
    value = client.get_run(champion.run_id).data.metrics.get(PROMOTION_METRIC)
    return float(value) if value is not None else math.nan


def promote_if_better(client: Any, version: str, value: float) -> bool:
    """Give `version` the champion alias only if it beats the champion (strictly) on
    validation precision@k; with no champion yet, any measured version takes it."""
    if _missing(value):
        return False
    current = champion_metric(client)
    if current is not None and not (_missing(current) or value > current):
        return False
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, version)
    return True


@contextmanager
def _trusted_local_store() -> Iterator[None]:
    # Our own registry under ZJTX_HOME is trusted; MLflow refuses pickled models otherwise.
    key = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
    before = os.environ.get(key)
    os.environ[key] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def load_champion(settings: Settings | None = None) -> tuple[RankingModel, str]:
    """The champion model and its registry version (raises LookupError without a champion)."""
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    client = connect(settings)
    try:
        champion = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    except MlflowException as exc:
        raise LookupError(
            f"no {CHAMPION_ALIAS!r} version of {REGISTERED_MODEL!r}: run `zjtx train` first"
        ) from exc
    with _trusted_local_store():
        model = mlflow.sklearn.load_model(f"models:/{REGISTERED_MODEL}@{CHAMPION_ALIAS}")
    return model, str(champion.version)


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
