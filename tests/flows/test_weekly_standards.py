"""Issue 23: the weekly run applies the standards as `zjtx criteria` does — on a data set
written from the measures (tests/flows/measures_world.py), and verdict for verdict on the
generated world, on it with every optional table missing, and with refused rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.flows.conftest import AS_OF, World
from tests.flows.measures_world import code_of, write_measures_world

pytestmark = pytest.mark.e2e


def _discover(data: Path, runs: Path) -> Path:
    from flows.discovery import discovery

    return discovery(data_dir=data, as_of=AS_OF, runs_dir=runs)


@pytest.fixture(scope="module")
def measures_run(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The weekly run on the measures world (province 44 declared no products)."""
    data = write_measures_world(tmp_path_factory.mktemp("measures") / "data")
    return _discover(data, data.parent / "runs")


def _lists(run: Path) -> pd.DataFrame:
    files = sorted((run / "invitations").glob("*.csv"))
    return pd.concat(
        [pd.read_csv(f, dtype="str").assign(province=f.stem) for f in files], ignore_index=True
    )


def _verdict(run: Path, case: str, tier: str, criterion: str) -> str:
    criteria = pd.read_parquet(run / "candidates.parquet").astype("str")
    row = criteria[
        (criteria["credit_code"] == code_of(case))
        & (criteria["tier"] == tier)
        & (criteria["mode"] == "discovery")
        & (criteria["criterion"] == criterion)
    ]
    assert len(row) == 1, (case, tier, criterion)
    return str(row["verdict"].iloc[0])


def test_a_province_whose_firms_declared_no_products_gets_its_list(measures_run: Path) -> None:
    lists = _lists(measures_run)
    assert set(lists["province"]) == {"11", "44"}
    mine = lists[lists["credit_code"] == code_of("no_products_44")]
    assert mine[["province", "tier", "outcome"]].values.tolist() == [
        ["44", "little_giant", "to_verify"]
    ]
    assert "a2_1_niche_years" in mine["to_verify"].iloc[0]


@pytest.mark.parametrize(
    ("case", "criterion", "verdict"),
    [
        ("revoked_without_date", "a2_1_title", "fail"),
        ("revoked_without_date", "art20_ban", "unknown"),
        ("expired_with_later_expiry", "a2_1_title", "fail"),
        ("cancelled_with_current_accounts", "art11_registered", "fail"),
        ("product_outside_fields", "a2_6_domain", "fail"),
        ("lift_before_revocation", "art20_ban", "fail"),
    ],
)
def test_the_weekly_run_invites_no_firm_the_standards_exclude(
    measures_run: Path, case: str, criterion: str, verdict: str
) -> None:
    assert _verdict(measures_run, case, "little_giant", criterion) == verdict
    lists = _lists(measures_run)
    assert code_of(case) not in set(lists["credit_code"])


def test_a_current_year_provincial_award_opens_the_specialized_list(measures_run: Path) -> None:
    assert _verdict(measures_run, "current_year_award_only", "specialized", "a1_4_ip") == "pass"
    lists = _lists(measures_run)
    mine = lists[lists["credit_code"] == code_of("current_year_award_only")]
    assert mine[["tier", "outcome"]].values.tolist() == [["specialized", "eligible"]]


def test_an_old_refused_accounts_row_leaves_the_firm_eligible(measures_run: Path) -> None:
    lists = _lists(measures_run)
    mine = lists[lists["credit_code"] == code_of("refused_old_accounts")]
    assert mine["outcome"].tolist() == ["eligible"]
    assert code_of("control") in set(lists["credit_code"])


def test_a_moved_firm_is_evaluated_by_its_receiving_province(measures_run: Path) -> None:
    assert _verdict(measures_run, "moved_to_44", "little_giant", "art11_registered") == "pass"
    # a titled firm that moved is handed over (第十九条), on the receiving province's watch list
    watch = pd.read_csv(measures_run / "watchlist" / "44.csv", dtype="str")
    moved = watch[watch["credit_code"] == code_of("moved_to_44")]
    assert "moved_out" in set(moved["ground"])


# --- parity: the weekly run's verdicts are `zjtx criteria`'s ---------------------------------


def _criteria_cli(data: Path, out: Path) -> pd.DataFrame:
    from zjtx.cli import app

    result = CliRunner().invoke(
        app, ["criteria", "--data", str(data), "--as-of", AS_OF.isoformat(), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


def _assert_parity(run: Path, data: Path, out: Path) -> None:
    from features.sources import load_sources
    from models.invitations import NO_PROVINCE, home_province

    keys = ["credit_code", "tier", "mode", "criterion"]
    flow = pd.read_parquet(run / "candidates.parquet").astype("str")
    cli = _criteria_cli(data, out).astype("str")
    firms = load_sources(data).tables["firms"]
    placed = firms.loc[home_province(firms) != NO_PROVINCE, "credit_code"]
    cli = cli[cli["credit_code"].isin(placed)]
    assert len(flow) == len(cli) > 0
    joined = flow.merge(cli, on=keys, how="outer", suffixes=("_flow", "_cli"), indicator=True)
    assert (joined["_merge"] == "both").all()
    differ = joined[
        (joined["verdict_flow"] != joined["verdict_cli"])
        | (joined["evidence_flow"] != joined["evidence_cli"])
    ]
    shown = ["credit_code", "tier", "criterion", "verdict_flow", "verdict_cli"]
    assert differ.empty, (
        differ[[*shown, "evidence_flow", "evidence_cli"]].head(3).to_dict(orient="records")
    )
    # every firm, tier, mode and criterion, and both verdict kinds
    assert set(flow["mode"]) >= {"discovery"} and set(flow["tier"]) == {
        "specialized",
        "little_giant",
    }


def test_parity_on_the_measures_world(measures_run: Path, tmp_path: Path) -> None:
    data = measures_run.parent.parent / "data"
    _assert_parity(measures_run, data, tmp_path / "criteria.parquet")


def test_parity_on_the_generated_world(world: World, tmp_path: Path) -> None:
    run = _discover(world.data, tmp_path / "runs")
    _assert_parity(run, world.data, tmp_path / "criteria.parquet")


def test_parity_with_every_optional_table_missing(world: World, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(world.data / "firms.csv", data / "firms.csv")
    run = _discover(data, tmp_path / "runs")
    _assert_parity(run, data, tmp_path / "criteria.parquet")
