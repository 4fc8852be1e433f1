"""The weekly discovery flow: validate → match → features → (per province: criteria → score →
lists) → assemble → publish. Tasks wrap the pure functions of features/ and models/ and pass
file paths; a run is published all at once or not at all (zjtx/publication.py).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from prefect import Flow, flow, task
from prefect.futures import wait
from prefect.schedules import Cron

from flows.config import load_flows_config
from zjtx.settings import Settings

FLOWS_CONFIG = load_flows_config()
IO_RETRY_COUNT = FLOWS_CONFIG.retries.io_task_retries
IO_RETRY_DELAY = FLOWS_CONFIG.retries.retry_delay_seconds


@dataclass(frozen=True)
class RunPaths:
    """Where one run's files go: `work` is scratch, `staging` becomes the published run."""

    run_id: str
    work: Path
    staging: Path
    runs: Path

    @property
    def sources(self) -> Path:
        return self.work / "sources"

    @property
    def attributed(self) -> Path:
        return self.work / "attributed"


@task(retries=IO_RETRY_COUNT, retry_delay_seconds=IO_RETRY_DELAY)
def prepare(data_dir: Path, paths: RunPaths) -> dict[str, object]:
    """Validate the inputs once, keep the typed tables for the next stages, write rejects."""
    from features.sources import load_sources, save_sources
    from zjtx.publication import clear_abandoned_staging, input_fingerprints

    clear_abandoned_staging(paths.runs)
    paths.staging.mkdir(parents=True)
    sources = load_sources(data_dir)
    save_sources(sources, paths.sources)
    sources.rejects.to_csv(paths.staging / "rejects.csv", index=False)
    return {
        "inputs": input_fingerprints(data_dir),
        "coverage": sources.coverage.to_dict(orient="records"),
        "firms": len(sources.tables["firms"]),
        "rejected_rows": int(
            sources.rejects.loc[sources.rejects["action"] == "row_refused", ["table", "row"]]
            .drop_duplicates()
            .shape[0]
        ),
    }


@task
def match(paths: RunPaths) -> dict[str, object]:
    """Link every firm mention to the registry, officials' decisions first; ambiguous ones go
    to the review files (match_review.csv/.xlsx, match_review_candidates.csv)."""
    from features.match_decisions import load_decisions
    from features.match_review import write_review_files
    from features.matching import attribute_mentions, link_mentions, review_queue
    from features.sources import read_saved_sources, save_sources
    from features.unsettled import refused_by_firm

    sources = read_saved_sources(paths.sources)
    links = link_mentions(sources, decisions=load_decisions())
    write_review_files(links, sources, paths.staging)
    # Issue 11: refused rows and pending mentions go to the criteria, never silently away.
    review_queue(links).to_parquet(paths.work / "match_review.parquet")
    refused_by_firm(sources).to_parquet(paths.work / "refused.parquet")
    save_sources(attribute_mentions(sources, links), paths.attributed)
    return {
        "mentions": len(links),
        "linked": int(links["credit_code"].notna().sum()),
        "review": int((links["method"] == "review").sum()),
        "decided": int((links["method"] == "decision").sum()),
    }


@task
def features(paths: RunPaths, as_of: dt.date) -> Path:
    """Point-in-time features of every firm (the supply-chain graph needs the whole registry)."""
    from features.sources import read_saved_sources
    from models.ranking import features_as_published
    from models.ranking_config import load_model_config

    data = read_saved_sources(paths.attributed)
    out = paths.work / "features.parquet"
    features_as_published(data, as_of, load_model_config()).to_parquet(out)
    return out


@task
def champion(paths: RunPaths) -> tuple[Path, str, dict[str, str]]:
    """Fetch the champion ranking model once, for every province task to read. Without a
    champion (a first week), the lists are ordered by the rule baseline and say so."""
    import joblib

    from flows.training import score_thresholds
    from models.ranking import rule_baseline_ranker
    from models.ranking_config import load_model_config
    from models.registry import has_champion, load_champion

    if has_champion():
        ranker, version = load_champion()
        ordered_by = "champion"
    else:
        estimate = load_model_config().features.evaluation_estimate
        ranker, version = rule_baseline_ranker(estimate, score_thresholds()), "none"
        ordered_by = "rule_baseline"
    out = paths.work / "champion.joblib"
    joblib.dump(ranker, out)
    ranking = {
        "ordered_by": ordered_by,
        "model_version": version,
        "model_family": str(ranker.family),
        "basis": str(ranker.basis),
        "p_apply": "fitted" if ranker.a is not None else "not fitted",
        "priority": ranker.priority if ranker.uses_apply_model else "q_alone",
    }
    return out, version, ranking


def ranking_notes(ranking: dict[str, str]) -> list[str]:
    """What the lists' 说明 sheet says about how this run ordered them."""
    if ranking["ordered_by"] == "rule_baseline":
        return [
            "本次尚无训练好的排序模型（冠军模型）：名单按规则基线排序，即2022年公开评分表中"
            "数据可见指标的估算得分；认定概率、自主申报概率与评价得分达标概率均未估计。"
        ]
    notes = [f"排序模型：{ranking['model_family']}（版本 {ranking['model_version']}）。"]
    if ranking["basis"] == "title_transitions":
        notes.append(
            "无申报记录：认定概率由企业获得称号的历史（称号变化）学得，未拟合自主申报概率，"
            "邀请优先度 = 认定概率。"
        )
    elif ranking["priority"] == "q_alone":
        notes.append("邀请优先度 = 认定概率（配置为不考虑自主申报概率）。")
    return notes


@task
def province(
    paths: RunPaths,
    province_code: str,
    as_of: dt.date,
    features_path: Path,
    model_path: Path,
    ranking: dict[str, str],
) -> dict[str, object]:
    """Criteria, scores and ranked lists of one province's firms."""
    import joblib

    from features.point_in_time import point_in_time
    from features.sources import read_saved_sources, subset_sources
    from features.unsettled import pending_mentions
    from models.criteria import cultivation_list, evaluate_criteria
    from models.criteria_config import load_criteria_config
    from models.invitations import (
        funnel,
        invitation_lists,
        province_of,
        renewal_rows,
        with_registry_columns,
    )
    from models.ranking import score_candidates
    from models.ranking_config import load_model_config
    from models.watchlist import watchlist_rows
    from models.watchlist_config import load_watchlist_config
    from zjtx.publication import write_list_csv, write_list_xlsx

    # The data as it stood on as_of: titles valid from their dates, later rows left out.
    sources = point_in_time(read_saved_sources(paths.attributed), as_of)
    firms = sources.tables["firms"]
    codes = pd.Index(firms.loc[province_of(firms["region_code"]) == province_code, "credit_code"])
    subset = subset_sources(sources, codes)
    criteria_config = load_criteria_config()
    refused = pd.read_parquet(paths.work / "refused.parquet")
    queue = pd.read_parquet(paths.work / "match_review.parquet")
    pending = subset_sources(pending_mentions(sources, queue), codes)
    criteria = evaluate_criteria(subset, as_of, criteria_config, refused=refused, pending=pending)
    criteria.to_parquet(paths.work / f"criteria-{province_code}.parquet", index=False)
    watch = watchlist_rows(criteria, subset, as_of, load_watchlist_config())
    watch.to_parquet(paths.work / f"watch-{province_code}.parquet")
    firm_features = pd.read_parquet(features_path)
    explanations = load_model_config().explanations
    scores = score_candidates(
        joblib.load(model_path),
        firm_features,
        criteria,
        explanations.top_reasons,
        explanations.min_abs_contribution,
    )
    lists = invitation_lists(
        criteria,
        scores,
        subset.tables["firms"],
        FLOWS_CONFIG.publication.max_invitations_per_list,
        watched=watch["credit_code"],
        refused=refused,
    )
    folder = paths.staging / "invitations"
    folder.mkdir(exist_ok=True)
    own = lists.drop(columns=["province"])
    write_list_csv(own, folder / f"{province_code}.csv")
    write_list_xlsx(own, folder / f"{province_code}.xlsx", notes=ranking_notes(ranking))
    lists.to_parquet(paths.work / f"lists-{province_code}.parquet")
    province_firms = subset.tables["firms"]
    cultivation = cultivation_list(criteria, criteria_config)
    with_registry_columns(cultivation, province_firms).to_parquet(
        paths.work / f"cultivation-{province_code}.parquet"
    )
    renewal_rows(criteria, province_firms).to_parquet(
        paths.work / f"renewals-{province_code}.parquet"
    )
    funnel(criteria, province_firms, lists).to_parquet(
        paths.work / f"funnel-{province_code}.parquet"
    )
    return {"province": province_code, "invited": len(lists)}


@task
def assemble(
    paths: RunPaths,
    as_of: dt.date,
    provinces: list[str],
    counts: dict[str, object],
    model_version: str,
    ranking: dict[str, str],
    started: float,
    timings: dict[str, float],
) -> None:
    """Join the per-province results into the run's summary files and manifest."""
    from zjtx.publication import (
        concatenate_parquet,
        config_hash,
        write_list_csv,
        write_manifest,
        write_report_html,
        write_row_indexes,
    )

    def joined(stem: str) -> pd.DataFrame:
        parts = [pd.read_parquet(paths.work / f"{stem}-{p}.parquet") for p in provinces]
        return pd.concat(parts, ignore_index=True)

    # The criteria of every firm are large: streamed file to file, never held whole.
    concatenate_parquet(
        [paths.work / f"criteria-{p}.parquet" for p in provinces],
        paths.staging / "candidates.parquet",
    )
    lists = joined("lists")
    write_list_csv(joined("cultivation"), paths.staging / "cultivation.csv")
    write_list_csv(joined("renewals"), paths.staging / "renewals.csv")
    write_row_indexes(paths.staging)  # the service pages through the lists by these
    stage_funnel = joined("funnel")
    watchlist, watch_summary = watchlists(paths, as_of, provinces, counts)
    config_dir = Path(__file__).resolve().parent.parent / "configs"
    manifest = {
        "run_id": paths.run_id,
        "as_of": as_of.isoformat(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model_version": model_version,
        "ranking": ranking,
        "config_hash": config_hash(config_dir.rglob("*.yaml")),
        "counts": {
            **counts,
            "provinces": len(provinces),
            "invited": len(lists),
            "funnel": stage_funnel.to_dict(orient="records"),
            "watchlist": watch_summary,
        },
        "timings_seconds": {**timings, "total": round(time.perf_counter() - started, 2)},
    }
    write_report_html(
        paths.staging / "report.html", manifest, stage_funnel, lists, watchlist, watch_summary
    )
    write_manifest(paths.staging / "manifest.json", manifest)


def watchlists(
    paths: RunPaths, as_of: dt.date, provinces: list[str], counts: dict[str, object]
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The watch list of every province: grounds marked `new` against the previous published
    run, ordered, written as watchlist/<province>.csv and .xlsx (a file for every province)."""
    from models.watchlist import ground_counts, mark_new, order_watchlist, watch_coverage
    from models.watchlist_config import load_watchlist_config
    from zjtx.publication import previous_watchlist, write_watchlist

    parts = [pd.read_parquet(paths.work / f"watch-{p}.parquet") for p in provinces]
    rows = mark_new(pd.concat(parts, ignore_index=True), previous_watchlist(paths.runs), as_of)
    rows = order_watchlist(rows, load_watchlist_config())
    for code in sorted({*provinces, *rows["province"]}):
        write_watchlist(rows[rows["province"] == code], paths.staging / "watchlist", code)
    coverage = pd.DataFrame(counts.get("coverage", []))
    summary: dict[str, object] = {
        "rows": len(rows),
        "firms": int(rows["credit_code"].nunique()),
        "new": int(rows["new"].sum()),
        "grounds": ground_counts(rows),
        "coverage": watch_coverage(coverage),
    }
    return rows, summary


@task(retries=IO_RETRY_COUNT, retry_delay_seconds=IO_RETRY_DELAY)
def publish(paths: RunPaths) -> Path:
    from zjtx.publication import publish as publish_run

    final = publish_run(paths.staging, paths.runs, paths.run_id)
    shutil.rmtree(paths.work, ignore_errors=True)
    return final


def new_run_paths(runs_dir: Path, as_of: dt.date) -> RunPaths:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    run_id = f"{as_of:%Y%m%d}-{stamp}"
    home = Settings.from_env().home
    return RunPaths(
        run_id=run_id,
        work=home / "work" / run_id,
        staging=runs_dir / f".staging-{run_id}",
        runs=runs_dir,
    )


@flow(name="discovery", log_prints=True)
def discovery(data_dir: Path, as_of: dt.date | None = None, runs_dir: Path | None = None) -> Path:
    """The weekly job: publish one complete run directory or nothing.

    Without `as_of` the run evaluates as of its own date in the schedule's time zone.
    """
    if as_of is None:
        as_of = dt.datetime.now(ZoneInfo(FLOWS_CONFIG.schedule.timezone)).date()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    paths = new_run_paths(Path(runs_dir or Settings.from_env().runs), as_of)

    def timed(name: str, since: float) -> float:
        timings[name] = round(time.perf_counter() - since, 2)
        return time.perf_counter()

    mark = time.perf_counter()
    counts = prepare(Path(data_dir), paths)
    mark = timed("validate", mark)
    counts["matching"] = match(paths)
    mark = timed("match", mark)
    features_path = features(paths, as_of)
    model_path, model_version, ranking = champion(paths)
    mark = timed("features", mark)
    firms = pd.read_parquet(paths.sources / "firms.parquet", columns=["region_code"])
    from models.invitations import NO_PROVINCE, province_of

    provinces = sorted(set(province_of(firms["region_code"])) - {NO_PROVINCE})
    counts["firms_without_province"] = int((province_of(firms["region_code"]) == NO_PROVINCE).sum())
    futures = [
        province.submit(paths, code, as_of, features_path, model_path, ranking)
        for code in provinces
    ]
    wait(futures)
    counts["lists"] = [future.result() for future in futures]
    mark = timed("criteria_score_lists", mark)
    assemble(paths, as_of, provinces, counts, model_version, ranking, started, timings)
    final = publish(paths)
    print(f"published {final}")
    print(json.dumps({"run": str(final)}))
    return final


def discovery_with_runner(runner: str, dask_address: str | None = None) -> Flow[..., Path]:
    """The discovery flow with the chosen task runner for the per-province work."""
    if runner == "default":
        return discovery
    from prefect_dask import DaskTaskRunner

    if dask_address:
        return discovery.with_options(task_runner=DaskTaskRunner(address=dask_address))  # type: ignore[arg-type]
    cluster = {
        "n_workers": FLOWS_CONFIG.dask.n_workers,
        "threads_per_worker": FLOWS_CONFIG.dask.threads_per_worker,
        "dashboard_address": None,
    }
    return discovery.with_options(task_runner=DaskTaskRunner(cluster_kwargs=cluster))  # type: ignore[arg-type]


def serve_weekly(data_dir: Path, runner: str, dask_address: str | None = None) -> None:
    """Serve the weekly deployment against the Prefect server in PREFECT_API_URL."""
    schedule = FLOWS_CONFIG.schedule
    discovery_with_runner(runner, dask_address).serve(
        name=schedule.deployment_name,
        schedules=[Cron(schedule.cron, timezone=schedule.timezone)],
        parameters={"data_dir": str(data_dir)},
    )
