"""MLflow I/O for the ranking models (thin): where runs go, what they log, who is champion.

Names are the contract's (../shared/contracts/outputs.md): experiment `zjtx-ranking`,
registered model `zjtx-ranker`, alias `champion`, metrics `val_*`, tag `model_family`.
A registered version is a `DiscoveryRanker` (Q, A, score model, priority), logged with its
signature, input example and model card; the champion gate lives in flows/training.py.
State lives under ZJTX_HOME: `mlflow/mlflow.db` (tracking and registry) and `mlflow/artifacts/`.
Everything is local; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import Any

import pandas as pd

from core.settings import Settings, apply_offline_env
from features.sources import SourceData
from models.ranking import DiscoveryRanker, Evaluation, GateDecision, model_card
from models.ranking_config import ModelConfig

EXPERIMENT = "zjtx-ranking"
REGISTERED_MODEL = "zjtx-ranker"
CHAMPION_ALIAS = "champion"
PROMOTION_METRIC = "val_novel_precision_at_k"  # the gate: paired bootstrap (models.ranking)
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
    ranker: DiscoveryRanker,
    evaluation: Evaluation,
    config: ModelConfig,
    fingerprint: str,
    calibration_figure: Any | None = None,
    extra_metrics: Mapping[str, float] | None = None,
    input_example: pd.DataFrame | None = None,
    counts: Mapping[str, int] | None = None,
    tags: Mapping[str, str] | None = None,
) -> LoggedModel:
    """One run: params, validation metrics (per tier, with intervals), tags, calibration plot,
    model card, and the model with its signature and input example (registered). Promotion is
    the gate's decision (flows/training.py), not this function's."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    metrics = dict(evaluation.metrics) | dict(extra_metrics or {})
    counts = dict(counts or {})
    with mlflow.start_run(run_name=ranker.family) as run:
        mlflow.set_tags(
            {
                "model_family": ranker.family,
                "ranking_basis": ranker.basis,
                "p_apply": "fitted" if ranker.a is not None else "not fitted (no applications)",
                "priority": ranker.priority if ranker.uses_apply_model else "q_alone",
                "selection_correction": ranker.selection_correction,
                **dict(tags or {}),
            }
        )
        mlflow.log_params(
            {
                "model_family": ranker.family,
                "data_fingerprint": fingerprint,
                "k": config.evaluation.k,
                "training_dates": ",".join(map(str, config.training_dates)),
                "validation_dates": ",".join(map(str, config.validation_dates)),
                "label_horizon_months": config.labels.horizon_months,
                "seed": config.seed,
                "n_features": len(ranker.feature_names),
            }
        )
        mlflow.log_metrics({k: v for k, v in metrics.items() if not _missing(v)})
        mlflow.log_metrics({f"n_{name}": float(value) for name, value in counts.items()})
        for row in evaluation.per_province.itertuples(index=False):
            province = str(row.province)
            for name in ("val_precision_at_k", "val_recall_at_k", "val_average_precision"):
                value = float(getattr(row, name))
                if not _missing(value):
                    mlflow.log_metric(f"{name}_province_{province}", value)
        mlflow.log_dict(config.model_dump(mode="json"), "config/model.json")
        mlflow.log_dict({"features": ranker.feature_names}, "features.json")
        mlflow.log_text(evaluation.per_province.to_csv(index=False), "per_province.csv")
        mlflow.log_text(evaluation.calibration.to_csv(index=False), "calibration.csv")
        mlflow.log_text(model_card(ranker, metrics, counts, config, fingerprint), "model_card.md")
        if calibration_figure is not None:
            mlflow.log_figure(calibration_figure, "calibration.png")
        example = None
        signature = None
        if input_example is not None and len(input_example):
            example = input_example[ranker.feature_names].head(5).reset_index(drop=True)
            signature = infer_signature(example, ranker.predict(example))
        info = mlflow.sklearn.log_model(
            sk_model=ranker,
            name=MODEL_ARTIFACT,
            serialization_format="pickle",
            registered_model_name=REGISTERED_MODEL,
            pip_requirements=[f"{p}=={package_version(p)}" for p in _MODEL_PACKAGES],
            signature=signature,
            input_example=example,
        )
        version = str(info.registered_model_version)
    return LoggedModel(ranker.family, run.info.run_id, version, False, metrics)


def log_gate(run_id: str, decision: GateDecision | None, promoted: bool) -> None:
    """Record the gate's decision on the challenger's run."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    client.set_tag(run_id, "champion_gate", decision.reason if decision else "no champion yet")
    client.set_tag(run_id, "promoted", str(promoted).lower())
    if decision is not None:
        client.log_metric(run_id, "gate_gain", decision.gain)
        if not _missing(decision.gain_low):
            client.log_metric(run_id, "gate_gain_lower_bound", decision.gain_low)
        client.log_metric(run_id, "gate_brier_change", decision.brier_change)


def promote(client: Any, version: str) -> None:
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, version)


def retire_champion(client: Any, reason: str) -> None:
    """Remove the champion alias (the version stays registered), with a tag saying why."""
    from mlflow.exceptions import MlflowException

    try:
        champion = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    except MlflowException:
        return
    client.set_model_version_tag(REGISTERED_MODEL, champion.version, "retired", reason)
    client.delete_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS)


def has_champion(settings: Settings | None = None) -> bool:
    """Whether a champion version exists (a cheap registry query; no model is loaded)."""
    from mlflow.exceptions import MlflowException

    client = connect(settings)
    try:
        client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    except MlflowException:
        return False
    return True


def schema_mismatch(champion: Any, columns: Sequence[str]) -> str | None:
    """Why a champion cannot be scored on today's examples, or None when it can."""
    if not isinstance(champion, DiscoveryRanker):
        return f"champion is a {type(champion).__name__}, not a discovery ranker (Q, A)"
    missing = sorted(set(champion.feature_names) - set(columns))
    if missing:
        return f"champion reads features the data no longer has: {', '.join(missing[:5])}"
    return None


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


def load_champion(settings: Settings | None = None) -> tuple[DiscoveryRanker, str]:
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
