"""The weekly discovery flow: validate → match → features → (per province: criteria → score →
lists) → assemble → publish. Tasks wrap the pure functions of features/ and models/ and pass
file paths; a run is published all at once or not at all (flows/publication). On Dask the
names are matched in parts on the workers (flows/match_parts.py), with the same links.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pandas as pd
from prefect import Flow, flow, get_run_logger, task
from prefect.futures import PrefectFuture, wait
from prefect.schedules import Cron
from prefect.task_runners import ThreadPoolTaskRunner

from core.config import CONFIG_DIR
from core.run_layout import (
    CANDIDATES,
    CULTIVATION,
    INVITATIONS,
    MANIFEST,
    REAPPLY,
    REJECTS,
    RENEWALS,
    REPORT,
    STAGING_PREFIX,
    WATCHLIST,
    FailedProvinceEntry,
    Manifest,
    Ranking,
)
from core.settings import Settings
from flows.common import FLOWS_CONFIG, IO_RETRY_COUNT, IO_RETRY_DELAY, score_thresholds
from flows.match_parts import ResolvedInParts, resolve_in_parts

if TYPE_CHECKING:
    from features.match_review import ReviewTables
    from features.sources import SourceData


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

    def share(self, province: str) -> Path:
        """A province's share of the data (models/partitions.py): sources/, pending/,
        refused.parquet and features.arrow, in a hive layout (`provinces/province=11/`); a
        province task reads its own folder only."""
        return self.work / "provinces" / f"province={province}"


class StageClock:
    """Wall time of each stage of one run, for the manifest: `seconds` per stage and the Unix
    time each began (`started_at`), by which bench/bench_discovery.py attributes memory."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started_at: dict[str, float] = {}
        self._began = self._mark = time.perf_counter()
        self._wall = time.time()

    def done(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._mark, 2)
        self.started_at[stage] = round(self._wall, 3)
        self._mark, self._wall = now, time.time()

    def total(self) -> float:
        return round(time.perf_counter() - self._began, 2)


class ProvincesFailed(RuntimeError):
    """Some province tasks failed: raised by the flow after it published the others (`run`,
    with `latest` on it), so that the flow run ends Failed — a weekly run never fails
    silently. `run` is None when no province succeeded and nothing was published.
    `failed`: the manifest's `failed_provinces` entries."""

    def __init__(self, run: Path | None, failed: list[FailedProvinceEntry]) -> None:
        super().__init__(run, failed)  # the arguments, so that it pickles as it was raised
        self.run = run
        self.failed = failed

    def __str__(self) -> str:
        names = ", ".join(f"{f['province']} ({f['task']}: {f['error']})" for f in self.failed)
        where = (
            f"the other provinces are published in {self.run}"
            if self.run
            else "no province succeeded: nothing published, latest unchanged"
        )
        return f"province tasks failed: {names}; {where}"


@task(retries=IO_RETRY_COUNT, retry_delay_seconds=IO_RETRY_DELAY)
def prepare(data_dir: Path, paths: RunPaths) -> dict[str, object]:
    """Validate the inputs once, keep the typed tables for the next stages, write rejects."""
    from features.safe_cells import safe_frame
    from features.sources import load_sources, save_sources
    from flows.publication.runs import clear_abandoned_staging, input_fingerprints

    clear_abandoned_staging(paths.runs)
    paths.staging.mkdir(parents=True)
    sources = load_sources(data_dir)
    save_sources(sources, paths.sources)
    safe_frame(sources.rejects).to_csv(paths.staging / REJECTS, index=False, encoding="utf-8-sig")
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
    to the review tables, which `review_files` writes."""
    from features.match_decisions import load_decisions
    from features.match_registry import Registry
    from features.match_review import review_tables
    from features.matching import MATCH_TABLES, link_mentions
    from features.sources import read_saved_sources
    from features.unsettled import refused_by_firm

    sources = read_saved_sources(paths.sources, MATCH_TABLES)
    registry = Registry.from_sources(sources)  # one registry for links, review files, refusals
    links = link_mentions(sources, decisions=load_decisions(), registry=registry)
    keep_review(paths, review_tables(links, sources, registry=registry))
    refused_by_firm(sources, registry=registry).to_parquet(paths.work / "refused.parquet")
    del registry
    return keep_links(paths, sources, links)


@task
def match_from_parts(paths: RunPaths, parts: ResolvedInParts) -> dict[str, object]:
    """`match` with the names resolved against the registry in parts on the workers
    (flows/match_parts.py): the same links, review tables and refusals."""
    from features.match_review import review_tables
    from features.matching import MATCH_TABLES, links_from
    from features.sources import read_saved_sources, read_saved_table
    from features.unsettled import refused_by_firm

    sources = read_saved_sources(paths.sources, MATCH_TABLES)
    links = links_from(read_saved_table(parts.files.plan), parts.resolved("mentions"), sources)
    keep_review(paths, review_tables(links, sources, compared=parts.compared()))
    refused = refused_by_firm(sources, resolved=parts.resolved("refused"))
    refused.to_parquet(paths.work / "refused.parquet")
    return keep_links(paths, sources, links)


def keep_review(paths: RunPaths, review: ReviewTables) -> None:
    """The review tables for `review_files`, and the queue for the criteria."""
    from features.match_review import SHEET_COLUMNS

    review.sheet.to_parquet(paths.work / "review_sheet.parquet")
    review.candidates.to_parquet(paths.work / "review_candidates.parquet")
    # Issue 11: refused rows and pending mentions go to the criteria, never silently away.
    queue = review.sheet.drop(columns=list(SHEET_COLUMNS))  # the sheet is the queue and these
    queue.to_parquet(paths.work / "match_review.parquet")


def keep_links(paths: RunPaths, sources: SourceData, links: pd.DataFrame) -> dict[str, object]:
    """The mention tables with their linked codes for the next stages; the match counts."""
    from features.matching import attribute_mentions
    from features.schemas import MENTION_COLUMNS
    from features.sources import pass_on_saved_sources, save_sources

    attributed = attribute_mentions(sources, links)
    mentioning = {t: f for t, f in attributed.tables.items() if t in MENTION_COLUMNS}
    save_sources(replace(attributed, tables=mentioning), paths.attributed)
    pass_on_saved_sources(paths.sources, paths.attributed)  # the tables no mention changed
    return {
        "mentions": len(links),
        "linked": int(links["credit_code"].notna().sum()),
        "review": int((links["method"] == "review").sum()),
        "decided": int((links["method"] == "decision").sum()),
    }


def runs_on_dask() -> bool:
    """Whether this flow run's task runner is Dask's: then matching runs in parts."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return context is not None and type(context.task_runner).__name__ == "DaskTaskRunner"


@task(retries=IO_RETRY_COUNT, retry_delay_seconds=IO_RETRY_DELAY)
def review_files(paths: RunPaths) -> None:
    """The review files (match_review.csv/.xlsx, match_review_candidates.csv, a sheet per
    province) from the tables `match` kept; nothing later reads them, so they are written
    beside the next stages."""
    from features.match_review import ReviewTables, write_review_tables

    review = ReviewTables(
        sheet=pd.read_parquet(paths.work / "review_sheet.parquet"),
        candidates=pd.read_parquet(paths.work / "review_candidates.parquet"),
    )
    write_review_tables(review, paths.staging)


@task
def features(paths: RunPaths, as_of: dt.date) -> Path:
    """Point-in-time features of every firm (the supply-chain graph needs the whole registry)."""
    from features.sources import SAVED_SUFFIX, read_saved_sources, save_table
    from models.ranking import features_as_published
    from models.ranking_config import load_model_config

    data = read_saved_sources(paths.attributed)
    out = paths.work / f"features{SAVED_SUFFIX}"
    save_table(features_as_published(data, as_of, load_model_config()), out)
    return out


@task
def partition(paths: RunPaths, as_of: dt.date, features_path: Path) -> list[str]:
    """Cut the data as it stood on as_of (read live) into each province's share, once, so
    that every province task reads its own rows only; returns the provinces."""
    from features.point_in_time import point_in_time
    from features.sources import (
        SAVED_SUFFIX,
        SourceData,
        read_saved_sources,
        read_saved_table,
        save_sources,
        save_table,
    )
    from features.unsettled import pending_mentions
    from models.partitions import Provinces
    from models.ranking import round_of
    from models.ranking_config import load_model_config

    # The data as it stood on as_of, read live: what the data says stands (sources.md).
    round_day = round_of(load_model_config())  # this year's applications known from it on
    live = point_in_time(
        read_saved_sources(paths.attributed), as_of, live=True, round_day=round_day
    )
    queue = pd.read_parquet(paths.work / "match_review.parquet")
    pending = pending_mentions(live, queue)
    del queue
    provinces = Provinces(live.tables["firms"])
    for share in provinces.shares(live, pending):
        folder = paths.share(share.province)
        save_sources(SourceData(tables=share.sources.tables), folder / "sources")
        save_sources(SourceData(tables=share.pending.tables), folder / "pending")
        del share
    # the refused rows that name a province's firms: a province task reads its folder only
    refused = pd.read_parquet(paths.work / "refused.parquet")
    for code, own in provinces.refused_shares(refused):
        own.to_parquet(paths.share(code) / "refused.parquet")
    del refused
    del live, pending
    release_memory()  # the sources gone before the features come (issue 25)
    for province, rows in provinces.feature_shares(read_saved_table(features_path)):
        save_table(rows, paths.share(province) / f"features{SAVED_SUFFIX}")
    return provinces.codes


@task
def champion(paths: RunPaths) -> tuple[Path, str, Ranking]:
    """Fetch the champion ranking model once, for every province task to read. Without a
    champion (a first week), the lists are ordered by the rule baseline and say so."""
    import joblib

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
    ranking: Ranking = {
        "ordered_by": ordered_by,
        "model_version": version,
        "model_family": str(ranker.family),
        "basis": str(ranker.basis),
        "p_apply": "fitted" if ranker.a is not None else "not fitted",
        "priority": ranker.priority if ranker.uses_apply_model else "q_alone",
    }
    return out, version, ranking


def ranking_notes(ranking: Ranking) -> list[str]:
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
    model_path: Path,
    ranking: Ranking,
) -> dict[str, object]:
    """Criteria, scores and ranked lists of one province's firms, from its share of the data
    (the `partition` task)."""
    import joblib

    from features.sources import SAVED_SUFFIX, read_saved_sources, read_saved_table
    from flows.publication.candidates import write_sorted_part
    from flows.publication.lists import write_list_csv, write_list_xlsx, write_reapply
    from models.criteria import cultivation_list, evaluate_criteria
    from models.criteria.doubts import could_fail
    from models.criteria_config import load_criteria_config
    from models.invitations import (
        funnel,
        invitation_lists,
        reapply_lists,
        renewal_rows,
        with_registry_columns,
    )
    from models.ranking import score_candidates
    from models.ranking_config import load_model_config
    from models.watchlist import watchlist_rows
    from models.watchlist_config import load_watchlist_config

    share = paths.share(province_code)
    subset = read_saved_sources(share / "sources")
    pending = read_saved_sources(share / "pending")
    criteria_config = load_criteria_config()
    refused = pd.read_parquet(share / "refused.parquet")
    criteria = evaluate_criteria(subset, as_of, criteria_config, refused=refused, pending=pending)
    write_sorted_part(criteria, paths.work / f"criteria-{province_code}.arrow")
    watch = watchlist_rows(criteria, subset, as_of, load_watchlist_config())
    watch.to_parquet(paths.work / f"watch-{province_code}.parquet")
    firm_features = read_saved_table(share / f"features{SAVED_SUFFIX}")
    explanations = load_model_config().explanations
    scores = score_candidates(
        joblib.load(model_path),
        firm_features,
        criteria,
        explanations.top_reasons,
        explanations.min_abs_contribution,
    )
    # Issue 24: the lists split by what the province already knows — the applications of its
    # firms known on as_of (point_in_time above); none known: every invitable firm is new.
    applications = subset.tables.get("applications")
    titles = load_model_config().labels.titles
    doubts = could_fail(refused, as_of, criteria_config)
    cap = FLOWS_CONFIG.publication.max_invitations_per_list
    lists = invitation_lists(
        criteria,
        scores,
        subset.tables["firms"],
        cap,
        watched=watch["credit_code"],
        could_fail=doubts,
        applications=applications,
        as_of=as_of,
        titles=titles,
    )
    reapply = reapply_lists(
        criteria,
        scores,
        subset.tables["firms"],
        applications,
        as_of,
        cap,
        watched=watch["credit_code"],
        could_fail=doubts,
        titles=titles,
    )
    folder = paths.staging / INVITATIONS
    folder.mkdir(exist_ok=True)
    own = lists.drop(columns=["province"])
    write_list_csv(own, folder / f"{province_code}.csv")
    write_list_xlsx(own, folder / f"{province_code}.xlsx", notes=ranking_notes(ranking))
    lists.to_parquet(paths.work / f"lists-{province_code}.parquet")
    # its own files, for every province with a list (empty or not): never mixed into the above
    write_reapply(reapply, paths.staging / REAPPLY, province_code, ranking["ordered_by"])
    reapply.to_parquet(paths.work / f"reapply-{province_code}.parquet")
    province_firms = subset.tables["firms"]
    cultivation = cultivation_list(criteria, criteria_config)
    with_registry_columns(cultivation, province_firms).to_parquet(
        paths.work / f"cultivation-{province_code}.parquet"
    )
    renewal_rows(criteria, province_firms).to_parquet(
        paths.work / f"renewals-{province_code}.parquet"
    )
    funnel(criteria, province_firms, lists, reapply).to_parquet(
        paths.work / f"funnel-{province_code}.parquet"
    )
    return {"province": province_code, "invited": len(lists), "reapply": len(reapply)}


@task
def assemble(
    paths: RunPaths,
    as_of: dt.date,
    provinces: list[str],
    counts: dict[str, object],
    model_version: str,
    ranking: Ranking,
    clock: StageClock,
    failed: list[FailedProvinceEntry],
) -> None:
    """Join the results of the provinces that succeeded (`provinces`) into the run's summary
    files and manifest; those in `failed` are named in the manifest and the report."""
    from flows.publication.candidates import merge_sorted_parts
    from flows.publication.lists import write_list_csv, write_row_indexes
    from flows.publication.report import write_report_html
    from flows.publication.runs import config_hash, write_manifest

    def joined(stem: str) -> pd.DataFrame:
        parts = [pd.read_parquet(paths.work / f"{stem}-{p}.parquet") for p in provinces]
        return pd.concat(parts, ignore_index=True)

    failed_codes = [str(f["province"]) for f in failed]
    drop_partial_lists(paths.staging, failed_codes)
    for code in failed_codes:  # nor its re-application list, half-written or not
        for suffix in (".csv", ".xlsx"):
            (paths.staging / REAPPLY / f"{code}{suffix}").unlink(missing_ok=True)
    # The criteria of every firm are large: streamed file to file, never held whole.
    merge_sorted_parts(
        [paths.work / f"criteria-{p}.arrow" for p in provinces],
        paths.staging / CANDIDATES,
    )
    lists = joined("lists")
    reapply = joined("reapply")
    write_list_csv(joined("cultivation"), paths.staging / CULTIVATION)
    write_list_csv(joined("renewals"), paths.staging / RENEWALS)
    write_row_indexes(paths.staging)  # the service pages through the lists by these
    stage_funnel = joined("funnel")
    watchlist, watch_summary = watchlists(paths, as_of, provinces, counts, failed_codes)
    manifest: Manifest = {
        "run_id": paths.run_id,
        "as_of": as_of.isoformat(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model_version": model_version,
        "ranking": ranking,
        "failed_provinces": failed,
        "config_hash": config_hash(CONFIG_DIR.rglob("*.yaml")),
        "counts": {
            **counts,
            "provinces": len(provinces),
            "invited": len(lists),
            "reapply": len(reapply),  # re-application lists (reapply/), never among the invited
            "funnel": stage_funnel.to_dict(orient="records"),
            "watchlist": watch_summary,
        },
    }
    write_report_html(
        paths.staging / REPORT, manifest, stage_funnel, lists, watchlist, watch_summary
    )
    clock.done("assemble")
    manifest["timings_seconds"] = {**clock.seconds, "total": clock.total()}
    manifest["stages_started_at"] = clock.started_at
    write_manifest(paths.staging / MANIFEST, manifest)


def watchlists(
    paths: RunPaths,
    as_of: dt.date,
    provinces: list[str],
    counts: dict[str, object],
    failed: list[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The watch list of every province: grounds marked `new` against the previous published
    run, ordered, written as watchlist/<province>.csv and .xlsx (a file for every province).
    A province in `failed` gets no file: the rows other provinces hand it (a firm moving in)
    are only part of its list, and its officials keep the previous published one."""
    from flows.publication.lists import write_watchlist
    from flows.publication.runs import previous_watchlist
    from models.watchlist import ground_counts, mark_new, order_watchlist, watch_coverage
    from models.watchlist_config import load_watchlist_config

    parts = [pd.read_parquet(paths.work / f"watch-{p}.parquet") for p in provinces]
    rows = pd.concat(parts, ignore_index=True)
    rows = rows[~rows["province"].isin(failed or [])]
    rows = mark_new(rows, previous_watchlist(paths.runs), as_of)
    rows = order_watchlist(rows, load_watchlist_config())
    for code in sorted({*provinces, *rows["province"]}):
        write_watchlist(rows[rows["province"] == code], paths.staging / WATCHLIST, code)
    coverage = pd.DataFrame(counts.get("coverage", []))
    summary: dict[str, object] = {
        "rows": len(rows),
        "firms": int(rows["credit_code"].nunique()),
        "new": int(rows["new"].sum()),
        "grounds": ground_counts(rows),
        "coverage": watch_coverage(coverage),
    }
    return rows, summary


def drop_partial_lists(staging: Path, provinces: list[str]) -> None:
    """Remove what a failed province task may have written into the run before it failed: a
    list of a failed province is never published, half-written or not."""
    for code in provinces:
        for suffix in (".csv", ".xlsx"):
            (staging / INVITATIONS / f"{code}{suffix}").unlink(missing_ok=True)


def province_outcomes(
    paths: RunPaths, provinces: list[str], futures: list[PrefectFuture[dict[str, object]]]
) -> tuple[list[dict[str, object]], list[FailedProvinceEntry]]:
    """The results of the province tasks that completed, and a manifest entry for each one
    that did not (failed after its retries, or crashed): one province never takes the
    others down (issue 23)."""
    from flows.publication.runs import failed_province, previous_run_with_list

    done: list[dict[str, object]] = []
    failed: list[FailedProvinceEntry] = []
    for code, future in zip(provinces, futures, strict=True):
        outcome = future.result(raise_on_failure=False)
        state = future.state
        if state.is_completed() and not isinstance(outcome, BaseException):
            done.append(outcome)
            continue
        error = outcome if isinstance(outcome, BaseException) else state.message
        previous = previous_run_with_list(paths.runs, code, paths.run_id)
        failed.append(failed_province(code, "province", error, previous))
        get_run_logger().error(
            "province %s failed: %s; previous list: %s", code, failed[-1]["error"], previous
        )
    return done, failed


@task(retries=IO_RETRY_COUNT, retry_delay_seconds=IO_RETRY_DELAY)
def publish(paths: RunPaths) -> Path:
    from flows.publication.runs import publish as publish_run

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
        staging=runs_dir / f"{STAGING_PREFIX}{run_id}",
        runs=runs_dir,
    )


def release_memory() -> None:
    """Hand what a finished stage freed back to the system (Python's collector, Arrow's pool,
    the C allocator's free pages), so that the next stage does not start on the last one's
    peak. No value changes."""
    import contextlib
    import ctypes
    import gc

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@flow(
    name="discovery",
    log_prints=True,
    task_runner=ThreadPoolTaskRunner(max_workers=FLOWS_CONFIG.default_runner.provinces_at_once),  # type: ignore[arg-type]
)
def discovery(data_dir: Path, as_of: dt.date | None = None, runs_dir: Path | None = None) -> Path:
    """The weekly job: publish one complete run directory or nothing.

    Without `as_of` the run evaluates as of its own date in the schedule's time zone. A
    province whose task fails is left out and named (manifest `failed_provinces`, report);
    the others are published, then the flow raises ProvincesFailed so that the run ends Failed.
    """
    from models.criteria_config import check_in_force, load_criteria_config

    if as_of is None:
        as_of = dt.datetime.now(ZoneInfo(FLOWS_CONFIG.schedule.timezone)).date()
    check_in_force(as_of, load_criteria_config())  # 第三十一条, as the CLI refuses it
    clock = StageClock()
    paths = new_run_paths(Path(runs_dir or Settings.from_env().runs), as_of)
    counts = prepare(Path(data_dir), paths)
    release_memory()
    clock.done("validate")
    if runs_on_dask():  # no worker holds the whole registry (issue 26)
        counts["matching"] = match_from_parts(paths, resolve_in_parts(paths.work, paths.sources))
    else:
        counts["matching"] = match(paths)
    release_memory()
    clock.done("match")
    reviewed = review_files.submit(paths)  # beside features and partition (issue 25)
    features_path = features(paths, as_of)
    model_path, model_version, ranking = champion(paths)
    release_memory()
    clock.done("features")
    provinces = partition(paths, as_of, features_path)
    release_memory()
    clock.done("partition")
    from features.sources import SAVED_SUFFIX, read_saved_table
    from models.invitations import NO_PROVINCE, home_province

    firms = read_saved_table(paths.sources / f"firms{SAVED_SUFFIX}")

    counts["firms_without_province"] = int((home_province(firms) == NO_PROVINCE).sum())
    del firms
    futures = [province.submit(paths, code, as_of, model_path, ranking) for code in provinces]
    wait(futures)
    reviewed.result()  # a run without its review files is not published
    lists, failed = province_outcomes(paths, provinces, futures)
    release_memory()
    counts["lists"] = lists
    left_out = {entry["province"] for entry in failed}
    succeeded = [code for code in provinces if code not in left_out]
    clock.done("criteria_score_lists")
    if failed and not succeeded:  # nothing to publish: `latest` stays on the last full run
        shutil.rmtree(paths.staging, ignore_errors=True)
        shutil.rmtree(paths.work, ignore_errors=True)
        raise ProvincesFailed(None, failed)
    assemble(paths, as_of, succeeded, counts, model_version, ranking, clock, failed)
    final = publish(paths)
    print(f"published {final}")
    print(json.dumps({"run": str(final)}))
    if failed:  # published, and still a failed flow run: someone must look
        raise ProvincesFailed(final, failed)
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
