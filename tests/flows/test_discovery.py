"""End-to-end discovery runs through Prefect: standards, ranks, determinism, runners, kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.flows.conftest import AS_OF, World

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def first_run(world: World) -> Path:
    from flows.discovery import discovery

    return discovery(data_dir=world.data, as_of=AS_OF, runs_dir=world.runs)


def read_lists(run: Path) -> pd.DataFrame:
    files = sorted((run / "invitations").glob("*.csv"))
    return pd.concat(
        [pd.read_csv(f, dtype={"credit_code": "str", "region_code": "str"}) for f in files],
        ignore_index=True,
    )


def test_run_directory_is_complete(first_run: Path, world: World) -> None:
    expected = {
        "manifest.json",
        "candidates.parquet",
        "cultivation.csv",
        "renewals.csv",
        "match_review.csv",
        "rejects.csv",
        "report.html",
        "invitations",
    }
    assert expected <= {p.name for p in first_run.iterdir()}
    assert (world.runs / "latest").resolve() == first_run.resolve()
    provinces = {p.stem for p in (first_run / "invitations").glob("*.csv")}
    assert provinces and provinces == {p.stem for p in (first_run / "invitations").glob("*.xlsx")}
    indexed = {p.stem for p in (first_run / "index" / "invitations").glob("*.parquet")}
    assert indexed == provinces  # the service pages through every list by its row index
    assert {"cultivation.parquet", "renewals.parquet"} <= {
        p.name for p in (first_run / "index").iterdir()
    }


def test_no_invited_firm_fails_any_criterion(first_run: Path) -> None:
    lists = read_lists(first_run)
    assert len(lists) > 0
    criteria = pd.read_parquet(first_run / "candidates.parquet")
    fails = criteria[
        (criteria["mode"] == "discovery")
        & (criteria["criterion"] != "outcome")
        & (criteria["verdict"] == "fail")
    ]
    invited_fails = lists.merge(fails, on=["credit_code", "tier"])
    assert invited_fails.empty
    assert set(lists["outcome"]) <= {"eligible", "to_verify"}


@pytest.fixture(scope="module")
def refused_run(
    first_run: Path, world: World, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(run, data): the world where five invited firms have a refused credit event."""
    import shutil

    from flows.discovery import discovery

    data = tmp_path_factory.mktemp("refused") / "data"
    shutil.copytree(world.data, data, ignore=shutil.ignore_patterns("truth"))
    invited = read_lists(first_run)["credit_code"].drop_duplicates().head(5)
    events = data / "credit_events.csv"
    header = events.read_text(encoding="utf-8").splitlines()[0].split(",")
    lines = []
    for code in invited:  # a serious-dishonesty listing whose date cannot be read
        cells = {"credit_code": code, "event_type": "serious_dishonesty", "occurred_on": "2025年"}
        lines.append(",".join(cells.get(column, "") for column in header))
    with events.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    # its own runs directory: world.runs holds only the runs the other tests publish
    return discovery(data_dir=data, as_of=AS_OF, runs_dir=data.parent / "runs"), data


def test_no_invited_firm_has_a_refused_row_that_could_have_failed_it(
    refused_run: tuple[Path, Path],
) -> None:
    # Issue 11: a refused row naming an invited firm is among its to-verify items, never absent
    from features.sources import load_sources
    from features.unsettled import refused_by_firm
    from models.criteria.doubts import could_fail
    from models.criteria_config import load_criteria_config

    run, data = refused_run
    refused = refused_by_firm(load_sources(data))
    assert len(refused) >= 5  # the check below is not vacuous
    at_stake = could_fail(refused, AS_OF, load_criteria_config())
    lists = read_lists(run)
    criteria = pd.read_parquet(run / "candidates.parquet").astype("str")
    criteria = criteria[criteria["mode"] == "discovery"]
    at_risk = (
        lists[["credit_code", "tier", "outcome"]]
        .merge(at_stake, on="credit_code")
        .merge(criteria, on=["credit_code", "tier", "criterion"])
    )
    assert len(at_risk) > 0  # firms with a refused listing are still invited, as to_verify
    assert (at_risk["verdict"] == "unknown").all()
    assert at_risk["evidence"].str.contains("被拒收").all()
    assert (at_risk["outcome"] == "to_verify").all()


def test_ranks_are_one_to_n_per_list(first_run: Path) -> None:
    for path in (first_run / "invitations").glob("*.csv"):
        frame = pd.read_csv(path)
        for _, ranks in frame.groupby("tier")["rank"]:
            assert list(ranks) == list(range(1, len(ranks) + 1))


def test_lists_carry_p_qualify_and_score_bounds_and_actionable_reasons(first_run: Path) -> None:
    import json

    from openpyxl import load_workbook

    from core.run_layout import LIST_COLUMNS

    lists = read_lists(first_run)
    assert list(lists.columns) == LIST_COLUMNS
    assert lists["p_qualify"].between(0, 1).all()
    assert (lists["score"] == lists["priority"]).all()
    assert (lists["est_score_low"] <= lists["est_score_high"]).all()
    # reasons: never application history, the tier or missingness
    for forbidden in ("申报", "小巨人", "缺失", "层级"):
        assert not lists["reasons"].fillna("").str.contains(forbidden).any(), forbidden
    workbook = load_workbook(next((first_run / "invitations").glob("*.xlsx")))
    headers = [cell.value for cell in next(workbook.worksheets[0].iter_rows(max_row=1))]
    assert {"认定概率", "估算评价得分下限", "估算评价得分上限"} <= set(headers)
    manifest = json.loads((first_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["ranking"]["ordered_by"] == "champion"


def test_without_a_champion_the_lists_follow_the_rule_baseline(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from openpyxl import load_workbook

    from flows.discovery import discovery

    # given an empty model registry (a first week)
    monkeypatch.setenv("ZJTX_HOME", str(tmp_path / "first-week"))
    run = discovery(data_dir=world.data, as_of=AS_OF, runs_dir=tmp_path / "runs")
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["ranking"]["ordered_by"] == "rule_baseline"
    lists = read_lists(run)
    assert len(lists) > 0 and lists["p_qualify"].isna().all()
    assert lists["est_score_low"].notna().all()
    guide = load_workbook(next((run / "invitations").glob("*.xlsx")))["说明"]
    assert any("规则基线" in str(cell.value) for row in guide.iter_rows() for cell in row)


def test_rerun_publishes_byte_identical_lists(first_run: Path, world: World) -> None:
    from flows.discovery import discovery

    second = discovery(data_dir=world.data, as_of=AS_OF, runs_dir=world.runs)
    assert second != first_run
    for path in sorted((first_run / "invitations").iterdir()):
        assert path.read_bytes() == (second / "invitations" / path.name).read_bytes(), path.name


def test_dask_runner_publishes_the_same_lists(first_run: Path, world: World) -> None:
    from flows.discovery import discovery_with_runner

    dask_run = discovery_with_runner("dask")(
        data_dir=world.data, as_of=AS_OF, runs_dir=world.home / "dask-runs"
    )
    for path in sorted((first_run / "invitations").glob("*.csv")):
        assert path.read_bytes() == (dask_run / "invitations" / path.name).read_bytes(), path.name


@pytest.mark.parametrize("kill_after", [0.0, 1.0, 3.0])
def test_killed_run_leaves_latest_on_the_previous_complete_run(
    first_run: Path, world: World, kill_after: float
) -> None:
    before = (world.runs / "latest").resolve()
    visible_before = {p.name for p in world.runs.iterdir() if not p.name.startswith(".")}
    env = {
        **os.environ,
        "ZJTX_HOME": str(world.home),
        "PREFECT_HOME": str(world.home / "prefect"),
        "PREFECT_API_URL": world.api_url,
    }
    command = [
        sys.executable,
        "-m",
        "zjtx.cli",
        "discover",
        "--data",
        str(world.data),
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(world.runs),
    ]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # given a run in progress: its staging directory exists
    deadline = time.monotonic() + 120
    staging: list[Path] = []
    while not staging and process.poll() is None and time.monotonic() < deadline:
        staging = list(world.runs.glob(".staging-*"))
        time.sleep(0.05)
    assert staging, "the run never started assembling"
    time.sleep(kill_after)
    # when it is killed
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # then latest points at a complete run: the previous one, unless this run had already
    # been renamed into place (complete by then) before the kill
    run_id = staging[0].name.removeprefix(".staging-")
    published = (world.runs / run_id).exists()
    latest = (world.runs / "latest").resolve()
    assert latest in ({before, (world.runs / run_id).resolve()} if published else {before})
    assert (latest / "manifest.json").is_file()
    visible = {p.name for p in world.runs.iterdir() if not p.name.startswith(".")}
    assert visible == visible_before | ({run_id} if published else set())
    for name in visible - {"latest"}:
        assert (world.runs / name / "manifest.json").is_file(), f"{name} is incomplete"


# ---------------------------------------------------------------- one province fails (issue 23)


def fail_province(monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    """The province task of `failing` raises: invitation_lists, which the task imports when it
    runs, breaks for that province's firms only (the default runner's threads see the patch)."""
    from models import invitations

    real = invitations.invitation_lists

    def broken(
        criteria: pd.DataFrame, scores: pd.DataFrame, firms: pd.DataFrame, *args: Any, **kwargs: Any
    ) -> pd.DataFrame:
        if (invitations.province_of(firms["region_code"]) == failing).mean() > 0.5:
            raise ValueError(f"lists of {failing} broke\non purpose")
        return real(criteria, scores, firms, *args, **kwargs)

    monkeypatch.setattr("models.invitations.invitation_lists", broken)


def test_a_failed_province_is_named_and_the_others_are_published(
    first_run: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import shutil

    from flows.discovery import ProvincesFailed, discovery

    # given: a runs directory whose last complete run has every province's list (first_run's)
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(first_run, runs / first_run.name)
    (runs / "latest").symlink_to(first_run.name)
    provinces = sorted(p.stem for p in (first_run / "invitations").glob("*.csv"))
    assert len(provinces) >= 2
    failing, others = provinces[0], provinces[1:]
    fail_province(monkeypatch, failing)
    # when the weekly run meets a failing province
    state = discovery(data_dir=world.data, as_of=AS_OF, runs_dir=runs, return_state=True)
    # then the flow run ends Failed, raising ProvincesFailed ...
    assert state.is_failed()
    with pytest.raises(ProvincesFailed) as raised:
        state.result()
    run = raised.value.run
    # ... after publishing the other provinces, identical to a full run's, with latest on them
    assert run is not None and run.parent == runs and run.name != first_run.name
    assert (runs / "latest").resolve() == run.resolve()
    assert {p.stem for p in (run / "invitations").glob("*.csv")} == set(others)
    assert {p.stem for p in (run / "invitations").glob("*.xlsx")} == set(others)
    assert {p.stem for p in (run / "index" / "invitations").glob("*.parquet")} == set(others)
    for code in others:
        for suffix in (".csv", ".xlsx"):
            name = f"{code}{suffix}"
            assert (run / "invitations" / name).read_bytes() == (
                first_run / "invitations" / name
            ).read_bytes(), name
    assert not (run / "watchlist" / f"{failing}.csv").exists()
    # the manifest names the province, the task, the error and the run with its previous list
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["failed_provinces"] == [
        {
            "province": failing,
            "task": "province",
            "error": f"ValueError: lists of {failing} broke on purpose",
            "previous_run": first_run.name,
        }
    ]
    assert raised.value.failed == manifest["failed_provinces"]
    assert manifest["counts"]["provinces"] == len(others)
    assert {row["province"] for row in manifest["counts"]["funnel"]} == set(others)
    previous = runs / first_run.name / "invitations" / f"{failing}.csv"
    assert previous.is_file()  # the previous list stays where the manifest points
    # and the report says it where officials look
    report = (run / "report.html").read_text(encoding="utf-8")
    assert f"本次运行有省份处理失败：{failing}" in report
    assert f"lists of {failing} broke on purpose" in report
    assert f'href="../{first_run.name}/invitations/{failing}.csv"' in report


def test_when_every_province_fails_nothing_is_published_and_latest_stays(
    first_run: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from flows.discovery import ProvincesFailed, discovery

    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(first_run, runs / first_run.name)
    (runs / "latest").symlink_to(first_run.name)

    def broken(*_: Any, **__: Any) -> pd.DataFrame:
        raise OSError("disk full")

    monkeypatch.setattr("models.invitations.invitation_lists", broken)
    with pytest.raises(ProvincesFailed) as raised:
        discovery(data_dir=world.data, as_of=AS_OF, runs_dir=runs)
    assert raised.value.run is None
    assert {f["error"] for f in raised.value.failed} == {"OSError: disk full"}
    assert {f["previous_run"] for f in raised.value.failed} == {first_run.name}
    assert sorted(p.name for p in runs.iterdir()) == sorted([first_run.name, "latest"])
    assert (runs / "latest").resolve() == (runs / first_run.name).resolve()


def test_a_full_run_names_no_failed_province(first_run: Path) -> None:
    import json

    manifest = json.loads((first_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["failed_provinces"] == []
    assert "failed-provinces" not in (first_run / "report.html").read_text(encoding="utf-8")


def test_discover_exits_3_naming_the_run_and_each_failed_province(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import flows.discovery
    from flows.discovery import ProvincesFailed
    from zjtx.cli import EXIT_PROVINCES_FAILED, app

    runs = tmp_path / "runs"
    failed = [
        {"province": "44", "task": "province", "error": "ValueError: broke",
         "previous_run": "20260623-x"},
        {"province": "11", "task": "province", "error": "OSError: [disk] full",
         "previous_run": None},
    ]  # fmt: skip

    def flow(**_: object) -> Path:
        raise ProvincesFailed(runs / "20260630-y", failed)

    monkeypatch.setattr(flows.discovery, "discovery_with_runner", lambda *_: flow)
    monkeypatch.setattr("models.registry.has_champion", lambda: True)
    result = CliRunner().invoke(
        app, ["discover", "--data", str(data_dir), "--as-of", AS_OF.isoformat()]
    )
    assert result.exit_code == EXIT_PROVINCES_FAILED == 3
    lines = result.output.splitlines()
    assert f"published {runs / '20260630-y'}" in lines
    previous = runs / "20260623-x" / "invitations" / "44.csv"
    assert (
        f"province 44 failed in task province: ValueError: broke (previous list: {previous})"
        in lines
    )
    assert "province 11 failed in task province: OSError: [disk] full (no previous list)" in lines
    assert any(line.startswith("error: provinces 44, 11 failed") for line in lines)
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- discoveries only (issue 24)


def read_reapply(run: Path) -> pd.DataFrame:
    files = sorted((run / "reapply").glob("*.csv"))
    return pd.concat(
        [
            pd.read_csv(f, dtype={"credit_code": "str", "region_code": "str"}).assign(
                province=f.stem
            )
            for f in files
        ],
        ignore_index=True,
    )


def known_applications(world: World) -> pd.DataFrame:
    """(credit_code, tier, year, outcome) of the applications the data holds that are known
    on AS_OF (sources.md): submitted by then; without `submitted_on`, earlier years' and this
    year's from the configured round day on."""
    from models.ranking_config import load_model_config

    labels = load_model_config().labels
    apps = pd.read_csv(world.data / "applications.csv", dtype={"credit_code": "str"})
    round_day = pd.Timestamp(AS_OF.year, labels.application_month, labels.application_day)
    undated = (apps["year"] < AS_OF.year) | (
        (apps["year"] == AS_OF.year) & (pd.Timestamp(AS_OF) >= round_day)
    )
    if "submitted_on" in apps:
        submitted = pd.to_datetime(apps["submitted_on"])
        known = submitted.le(pd.Timestamp(AS_OF)).where(submitted.notna(), undated)
    else:
        known = undated
    tiers = {title: tier for tier, title in labels.titles.items()}
    return apps[known.astype(bool)].assign(tier=apps["title"].map(tiers))


def test_the_invitation_lists_hold_discoveries_only(first_run: Path, world: World) -> None:
    lists = read_lists(first_run)
    known = known_applications(world)
    keys = ["credit_code", "tier"]
    assert (known["year"] < AS_OF.year).any()  # the check below is not vacuous
    applied = lists[keys].merge(known[keys].drop_duplicates())
    assert applied.empty, applied.head()
    # the applicants the province knows went somewhere: to the re-application lists
    assert len(read_reapply(first_run)) > 0


def test_a_reapply_list_is_published_for_every_province_with_a_list(first_run: Path) -> None:
    provinces = {p.stem for p in (first_run / "invitations").glob("*.csv")}
    assert {p.stem for p in (first_run / "reapply").glob("*.csv")} == provinces
    assert {p.stem for p in (first_run / "reapply").glob("*.xlsx")} == provinces
    indexed = {p.stem for p in (first_run / "index" / "reapply").glob("*.parquet")}
    assert indexed == provinces  # paged by the service through its row index


def test_every_reapply_row_has_its_last_application_and_passes_the_criteria(
    first_run: Path, world: World
) -> None:
    from core.run_layout import REAPPLY_COLUMNS

    reapply = read_reapply(first_run)
    assert list(reapply.columns) == [*REAPPLY_COLUMNS, "province"]
    assert reapply["last_round"].notna().all() and (reapply["last_round"] < AS_OF.year).all()
    assert set(reapply["last_outcome"]) <= {"rejected", "withdrawn", "approved"}
    assert set(reapply["outcome"]) <= {"eligible", "to_verify"}
    # the last known application for the tier, as the data has it
    known = known_applications(world).sort_values(["credit_code", "tier", "year"])
    last = known.drop_duplicates(["credit_code", "tier"], keep="last")
    joined = reapply.merge(last, on=["credit_code", "tier"], suffixes=("", "_data"))
    assert len(joined) == len(reapply)
    assert (joined["last_round"] == joined["year"]).all()
    assert (joined["last_outcome"] == joined["outcome_data"]).all()
    # the criteria: no fail, and no firm on its province's watch list
    criteria = pd.read_parquet(first_run / "candidates.parquet")
    fails = criteria[
        (criteria["mode"] == "discovery")
        & (criteria["criterion"] != "outcome")
        & (criteria["verdict"] == "fail")
    ][["credit_code", "tier"]].astype("str")
    assert reapply[["credit_code", "tier"]].merge(fails).empty
    watched = pd.concat(
        [pd.read_csv(f, dtype="str") for f in (first_run / "watchlist").glob("*.csv")]
    )
    assert not reapply["credit_code"].isin(watched["credit_code"]).any()
    # ranks 1..n per tier, by p_qualify (descending), ties by credit code
    for _, rows in reapply.groupby(["province", "tier"]):
        assert list(rows["rank"]) == list(range(1, len(rows) + 1))
        ordered = rows.sort_values(["p_qualify", "credit_code"], ascending=[False, True])
        assert list(ordered["credit_code"]) == list(rows["credit_code"])


def test_no_firm_is_on_both_lists_for_the_same_tier(first_run: Path) -> None:
    keys = ["credit_code", "tier"]
    lists, reapply = read_lists(first_run), read_reapply(first_run)
    assert len(lists) > 0 and len(reapply) > 0
    assert lists[keys].merge(reapply[keys]).empty


@pytest.fixture(scope="module")
def current_round_run(
    first_run: Path, world: World, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, pd.DataFrame]]:
    """(run, firms): the world where firms of first_run's lists apply in the current round —
    `submitted` (submitted before AS_OF), `undated` (no submission date: known from the round
    day on) — and `later` ones whose application reaches the province after AS_OF."""
    import shutil

    from flows.discovery import discovery
    from models.ranking_config import load_model_config

    data = tmp_path_factory.mktemp("current-round") / "data"
    shutil.copytree(world.data, data, ignore=shutil.ignore_patterns("truth"))
    keys = ["credit_code", "tier"]
    invited = read_lists(first_run)[keys].drop_duplicates()
    firms = {
        "submitted": invited.iloc[0:3],
        "later": invited.iloc[3:5],
        "undated": read_reapply(first_run)[keys].drop_duplicates().iloc[0:2],
    }
    submitted_on = {"submitted": "2026-05-08", "later": "2026-07-15", "undated": ""}
    titles = load_model_config().labels.titles
    path = data / "applications.csv"
    applications = pd.read_csv(path, dtype="str", keep_default_na=False, encoding="utf-8-sig")
    added = [
        frame.assign(
            year=str(AS_OF.year),
            title=frame["tier"].map(titles),
            outcome="rejected",
            submitted_on=submitted_on[kind],
        ).drop(columns=["tier"])
        for kind, frame in firms.items()
    ]
    applications = pd.concat([applications.assign(submitted_on=""), *added], ignore_index=True)
    applications.to_csv(path, index=False, encoding="utf-8")
    return discovery(data_dir=data, as_of=AS_OF, runs_dir=data.parent / "runs"), firms


def test_this_rounds_applicants_are_on_neither_list(
    current_round_run: tuple[Path, dict[str, pd.DataFrame]],
) -> None:
    run, firms = current_round_run
    keys = ["credit_code", "tier"]
    lists, reapply = read_lists(run), read_reapply(run)
    for kind in ("submitted", "undated"):
        assert len(firms[kind]) > 0, kind
        assert lists[keys].merge(firms[kind]).empty, kind
        assert reapply[keys].merge(firms[kind]).empty, kind
    # an application that reaches the province after AS_OF is not known on AS_OF
    assert len(lists[keys].merge(firms["later"])) == len(firms["later"]) > 0


def test_manifest_funnel_and_report_count_the_reapply_lists(first_run: Path) -> None:
    import json
    import re

    from openpyxl import load_workbook

    reapply = read_reapply(first_run)
    manifest = json.loads((first_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["reapply"] == len(reapply)
    assert manifest["counts"]["invited"] == len(read_lists(first_run))
    funnel = pd.DataFrame(manifest["counts"]["funnel"])
    assert funnel["reapply"].sum() == len(reapply)
    assert sum(entry["reapply"] for entry in manifest["counts"]["lists"]) == len(reapply)
    report = (first_run / "report.html").read_text(encoding="utf-8")
    lines = re.findall(r"<li>省份 (\d{2}) · [^：]+：再申报名单 (\d+) 家", report)
    assert 'id="reapply-counts"' in report and len(lines) == len(funnel)
    assert sum(int(count) for _, count in lines) == len(reapply)
    guide = load_workbook(next((first_run / "reapply").glob("*.xlsx")))["说明"]
    text = " ".join(str(c.value) for row in guide.iter_rows() for c in row if c.value)
    assert "从不混入邀请名单" in text
    guide = load_workbook(next((first_run / "invitations").glob("*.xlsx")))["说明"]
    text = " ".join(str(c.value) for row in guide.iter_rows() for c in row if c.value)
    assert "只列主动发现的企业" in text and "reapply/" in text


def test_reapply_lists_are_byte_identical_on_a_rerun_and_a_failed_provinces_is_dropped(
    first_run: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.discovery import ProvincesFailed, discovery
    from models import invitations

    again = discovery(data_dir=world.data, as_of=AS_OF, runs_dir=tmp_path / "again")
    for path in sorted((first_run / "reapply").iterdir()):
        assert path.read_bytes() == (again / "reapply" / path.name).read_bytes(), path.name
    # given a province task that fails after it wrote its lists (in the renewal list)
    provinces = sorted(p.stem for p in (first_run / "reapply").glob("*.csv"))
    failing = provinces[0]
    real = invitations.renewal_rows

    def broken(criteria: pd.DataFrame, firms: pd.DataFrame) -> pd.DataFrame:
        if (invitations.province_of(firms["region_code"]) == failing).mean() > 0.5:
            raise ValueError(f"renewals of {failing} broke")
        return real(criteria, firms)

    monkeypatch.setattr("models.invitations.renewal_rows", broken)
    with pytest.raises(ProvincesFailed) as raised:
        discovery(data_dir=world.data, as_of=AS_OF, runs_dir=tmp_path / "failed")
    run = raised.value.run
    assert run is not None
    # then neither of its half-published lists is in the run; the others' are
    assert {p.stem for p in (run / "reapply").glob("*.*")} == set(provinces[1:])
    assert {p.stem for p in (run / "invitations").glob("*.*")} == set(provinces[1:])
    assert {p.stem for p in (run / "index" / "reapply").glob("*.parquet")} == set(provinces[1:])
