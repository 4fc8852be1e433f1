"""The training flow: history → criteria on past dates → examples → model families → MLflow.

Tasks wrap the pure steps of models/ranking/ and pass file paths; a new version becomes
`champion` only through the paired-bootstrap gate (log_to_mlflow).
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from prefect import flow, task

from core.settings import Settings
from flows.common import IO_RETRY_COUNT, IO_RETRY_DELAY, score_thresholds
from models.ranking.rounds import RoundPlan


@dataclass(frozen=True)
class TrainingPaths:
    work: Path

    @property
    def attributed(self) -> Path:
        return self.work / "attributed"

    def examples(self, kind: str) -> Path:
        """kind: candidates, applications or scores (models.ranking.TrainingSet)."""
        return self.work / f"{kind}.parquet"

    @property
    def shared(self) -> Path:
        return self.work / "shared.joblib"

    def model(self, family: str) -> Path:
        return self.work / f"{family}.joblib"

    @property
    def rounds(self) -> Path:
        return self.work / "rounds.json"


def run_config(paths: TrainingPaths, config_path: Path | None) -> Any:
    """The ranking configuration with the rounds this run found in the data."""
    import json

    from models.ranking_config import load_model_config

    plan = RoundPlan.from_dict(json.loads(paths.rounds.read_text(encoding="utf-8")))
    return plan.apply(load_model_config(config_path))


EXAMPLE_KINDS = ("candidates", "applications", "scores")


@task(retries=IO_RETRY_COUNT, retry_delay_seconds=IO_RETRY_DELAY)
def load_history(
    data_dir: Path, paths: TrainingPaths, config_path: Path | None, run_date: dt.date
) -> RoundPlan:
    """Validate the history once, attribute firm mentions (entity matching) and find the
    application rounds it holds before the run date (models/ranking/rounds.py)."""
    import json

    from features.matching import attribute_mentions
    from features.sources import load_sources, save_sources
    from models.ranking.rounds import plan_rounds
    from models.ranking_config import load_model_config

    data = attribute_mentions(load_sources(data_dir))
    save_sources(data, paths.attributed)
    plan = plan_rounds(data, load_model_config(config_path), run_date)
    paths.rounds.write_text(json.dumps(plan.to_dict()), encoding="utf-8")
    return plan


@task
def examples(paths: TrainingPaths, config_path: Path | None) -> dict[str, Any]:
    """Criteria on every training and validation date (data as published then), features and
    labels: candidates, each round's applications, published scores."""
    from features.sources import read_saved_sources
    from models.criteria_config import load_criteria_config
    from models.ranking import build_training_set, replay_criteria, too_little_to_learn

    config = run_config(paths, config_path)
    data = read_saved_sources(paths.attributed)
    dates = [*config.training_dates, *config.validation_dates]
    criteria = replay_criteria(data, dates, load_criteria_config())
    table = build_training_set(data, criteria, config)
    for kind in EXAMPLE_KINDS:
        getattr(table, kind).to_parquet(paths.examples(kind))
    return {
        "examples": len(table.candidates),
        "certified": int(table.candidates["label"].sum()),
        "applications": len(table.applications),
        "approved": int(table.applications["label"].sum()) if len(table.applications) else 0,
        "published_scores": len(table.scores),
        "too_little": too_little_to_learn(table.applications, table.candidates, config) or "",
    }


@task
def shared_models(paths: TrainingPaths, config_path: Path | None) -> Path:
    """Model A (applies within 12 months) and the score model, shared by every family."""
    from models.ranking import (
        fit_applicant_propensity,
        fit_apply_model,
        fit_score_model,
        split_by_date,
    )

    config = run_config(paths, config_path)
    candidates, _ = split_by_date(pd.read_parquet(paths.examples("candidates")), config)
    scores, _ = split_by_date(pd.read_parquet(paths.examples("scores")), config)
    apply_model = fit_apply_model(candidates, config)
    score_model = fit_score_model(scores, config.features.evaluation_estimate)
    propensity = fit_applicant_propensity(candidates, config)
    joblib.dump((apply_model, score_model, propensity), paths.shared)
    return paths.shared


@task
def fit(paths: TrainingPaths, family: str, config_path: Path | None, truth: Path | None) -> Path:
    """Fit one family's Q (with the shared A and score model), evaluate it on the later
    validation dates (models.ranking.selection.fit_and_evaluate) and run the deletion test on
    its reasons."""
    from models.ranking import deletion_test, explain, rank_within_groups, split_by_date
    from models.ranking.selection import fit_and_evaluate

    config = run_config(paths, config_path)
    candidates = pd.read_parquet(paths.examples("candidates"))
    applications = pd.read_parquet(paths.examples("applications"))
    _, valid = split_by_date(candidates, config)
    ranker, evaluation = fit_and_evaluate(
        family,  # type: ignore[arg-type]
        applications,
        candidates,
        valid,
        config,
        score_thresholds(),
        joblib.load(paths.shared),
        _read_truth(truth),
    )
    listed = (rank_within_groups(evaluation.scored) <= config.evaluation.k).to_numpy()
    explanations = config.explanations
    assert ranker.q is not None  # fit_discovery always fits Q
    reasons = explain(
        ranker.q, valid[listed], explanations.top_reasons, explanations.min_abs_contribution
    )
    evaluation.metrics["val_reason_deletion_share"] = deletion_test(
        ranker.q, valid, listed, reasons
    )
    joblib.dump((ranker, evaluation), paths.model(family))
    return paths.model(family)


def _read_truth(truth: Path | None) -> pd.DataFrame | None:
    if truth is None:
        return None
    return pd.read_csv(truth, dtype={"credit_code": "str", "tier": "str", "as_of": "str"})


@task
def discovery_recall(
    paths: TrainingPaths, families: list[str], hidden_champions: Path, config_path: Path | None
) -> dict[str, float]:
    """Evaluation only: share of the generator's hidden champions in each province's top k."""
    from features.point_in_time import point_in_time
    from features.sources import read_saved_sources
    from models.criteria import evaluate_criteria
    from models.criteria_config import load_criteria_config
    from models.ranking import discovery_recall_at_k, features_as_published, score_candidates

    config = run_config(paths, config_path)
    data = read_saved_sources(paths.attributed)
    day = config.discovery_date
    criteria = evaluate_criteria(point_in_time(data, day, live=False), day, load_criteria_config())
    features = features_as_published(data, day, config)
    truth = pd.read_csv(hidden_champions, dtype="str")[["credit_code", "tier"]]
    recall = {}
    for family in families:
        ranker, _ = joblib.load(paths.model(family))
        scored = score_candidates(ranker, features, criteria, top_reasons=1)
        recall[family] = discovery_recall_at_k(scored, data.tables["firms"], truth, config)
    return recall


@task(retries=IO_RETRY_COUNT, retry_delay_seconds=IO_RETRY_DELAY)
def log_to_mlflow(
    paths: TrainingPaths,
    families: list[str],
    recall: dict[str, float],
    config_path: Path | None,
    truth: Path | None,
) -> list[dict[str, object]]:
    """One MLflow run per family, then the champion gate (models.ranking.selection): a
    challenger is promoted only when the paired-bootstrap lower bound of its gain in
    precision@k on the never-applied pool over the champion — or, without one, over the rule
    ordering — is above 0 (and Q's Brier is not worse beyond the tolerance). A champion whose
    feature schema differs is retired."""
    from features.sources import read_saved_sources
    from models import registry
    from models.criteria_config import load_criteria_config, standard_tags
    from models.ranking import (
        calibration_figure,
        evaluate,
        rule_baseline_ranker,
        split_by_date,
    )
    from models.ranking.selection import gate_families, ordered_families

    config = run_config(paths, config_path)
    # 第三十一条: labels replayed on dates before 2026-04-01 apply the 2026 standard to the past.
    replayed = [*config.training_dates, *config.validation_dates]
    replayed += [config.discovery_date] if config.discovery_date else []
    tags = standard_tags(replayed, load_criteria_config())
    client = registry.connect()
    fingerprint = registry.data_fingerprint(read_saved_sources(paths.attributed))
    candidates = pd.read_parquet(paths.examples("candidates"))
    applications = pd.read_parquet(paths.examples("applications"))
    _, valid = split_by_date(candidates, config)
    trained = {family: joblib.load(paths.model(family)) for family in families}
    figure = calibration_figure({f: ev.calibration for f, (_, ev) in trained.items()})
    champion_scored = _current_champion_scored(client, valid, config, truth)
    reference = evaluate(
        rule_baseline_ranker(config.features.evaluation_estimate, score_thresholds()),
        valid,
        config,
        _read_truth(truth),
    ).scored
    steps = {
        step.family: step
        for step in gate_families(
            {f: ev.scored for f, (_, ev) in trained.items()}, config, champion_scored, reference
        )
    }
    counts = {
        "train_applications": len(applications),
        "train_approved": int(applications["label"].sum()) if len(applications) else 0,
        "valid_examples": len(valid),
        "valid_positives": int(valid["label"].sum()),
    }
    logged = []
    for family in ordered_families(list(trained)):
        ranker, evaluation = trained[family]
        step = steps[family]
        extra = {"discovery_recall_at_k": recall[family]} if family in recall else {}
        item = registry.log_family(
            client,
            ranker,
            evaluation,
            config,
            fingerprint,
            figure,
            extra,
            input_example=valid,
            counts=counts,
            tags={"gate_data_fingerprint": fingerprint, **tags},
        )
        retroactive = tags["criteria_retroactive_dates"] or "none"
        client.log_param(item.run_id, "criteria_retroactive_dates", retroactive)
        registry.log_gate(item.run_id, step.decision, step.promoted)
        if step.promoted:
            registry.promote(client, item.version)
        promoted = step.promoted
        verdict = "promoted" if promoted else "kept"
        print(f"{family}: version {item.version}, {verdict} ({step.reason})")
        logged.append(
            {
                "family": item.family,
                "version": item.version,
                "promoted": promoted,
                "metrics": item.metrics,
            }
        )
    return logged


def _current_champion_scored(
    client: object, valid: pd.DataFrame, config: object, truth: Path | None
) -> pd.DataFrame | None:
    """The current champion scored on this run's validation rows, or None when there is no
    champion (or it was retired: a different feature schema cannot be compared)."""
    from models import registry
    from models.ranking import evaluate

    if not registry.has_champion():
        return None
    champion, version = registry.load_champion()
    mismatch = registry.schema_mismatch(champion, list(valid.columns))
    if mismatch is not None:
        registry.retire_champion(client, mismatch)
        print(f"champion version {version} retired: {mismatch}")
        return None
    return evaluate(champion, valid, config, _read_truth(truth)).scored  # type: ignore[arg-type]


def _too_little(paths: TrainingPaths, reason: str) -> list[dict[str, object]]:
    """No model: the rule ordering orders the lists. A champion from other data would not be
    tested on this one, so it is retired."""
    from models import registry

    registry.retire_champion(registry.connect(), reason)
    print(f"no model trained ({reason}); the lists use the rule ordering")
    shutil.rmtree(paths.work, ignore_errors=True)
    return []


@flow(name="training", log_prints=True)
def training(
    data_dir: Path,
    config_path: Path | None = None,
    hidden_champions: Path | None = None,
    truth: Path | None = None,
    as_of: dt.date | None = None,
) -> list[dict[str, object]]:
    """Train every configured family on the rounds found in the data before `as_of` (default:
    today) and log it. `hidden_champions` and `truth` (truth/qualification.csv) are the
    generator's, for evaluation only. With too little history nothing is trained, the champion
    is retired and the lists use the rule ordering (an empty list is returned)."""
    from models.ranking_config import load_model_config

    config = load_model_config(config_path)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    paths = TrainingPaths(work=Settings.from_env().home / "work" / f"training-{stamp}")
    run_date = as_of or dt.datetime.now(dt.UTC).date()
    plan = load_history(Path(data_dir), paths, config_path, run_date)
    if plan.too_little:
        return _too_little(paths, f"too little application history: {plan.too_little}")
    print(
        f"rounds found ({plan.basis}): {', '.join(map(str, plan.found))}; training on "
        f"{', '.join(map(str, plan.training))}, validating on "
        f"{', '.join(map(str, plan.validation))}"
    )
    counts = examples(paths, config_path)
    print(
        f"training set: {counts['examples']:,} candidate examples, "
        f"{counts['applications']:,} applications ({counts['approved']} approved), "
        f"{counts['published_scores']:,} published scores"
    )
    if counts["too_little"]:
        return _too_little(paths, f"too little to learn from: {counts['too_little']}")
    if not counts["applications"]:
        print("no applications: Q learns from title transitions, A is not fitted (priority = Q)")
    shared_models(paths, config_path)
    families = [str(family) for family in config.models.families]
    truth_path = Path(truth) if truth else None
    futures = [fit.submit(paths, family, config_path, truth_path) for family in families]
    for future in futures:
        future.result()
    recall = (
        discovery_recall(paths, families, Path(hidden_champions), config_path)
        if hidden_champions
        else {}
    )
    logged = log_to_mlflow(paths, families, recall, config_path, truth_path)
    shutil.rmtree(paths.work, ignore_errors=True)
    return logged
