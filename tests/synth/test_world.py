"""World parameters (issue 24): each moves the world the way it says, defaults change nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.sources import load_sources
from synth import WorldConfig, build_world, generate, load_synth_config, with_world
from synth.titles import hidden_market_pass, reviewer_pass_probability
from synth.world import World
from tests.synth.conftest import read

FIRMS = 1500
SEED = 5
SPECIAL_TITLES = ["specialized_sme", "little_giant"]

MakeWorld = Callable[..., Path]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> MakeWorld:
    """`world_dir(name, **parameters)`: a 1,500-firm data set of those world parameters
    (seed 5), generated once per module."""
    made: dict[str, Path] = {}

    def make(name: str, **parameters: object) -> Path:
        if name not in made:
            out = tmp_path_factory.mktemp(f"world-{name}")
            generate(FIRMS, SEED, out, world=parameters)
            made[name] = out
        return made[name]

    return make


def _digests(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _approved_share(directory: Path) -> float:
    apps = read(directory, "applications")
    return float((apps["outcome"] == "approved").mean())


def _reviewed_share(directory: Path) -> float:
    """Approved share of the applications only the reviewers decided (criteria and hidden
    market position passed, not withdrawn)."""
    apps = read(directory, "truth/applications")
    reviewed = apps[
        apps["engine_outcome"].isin(["eligible", "to_verify"])
        & (apps["market_pass"] == "true")
        & (apps["outcome"] != "withdrawn")
    ]
    return float((reviewed["outcome"] == "approved").mean())


# --------------------------------------------------------------------------- defaults
def test_the_configured_world_is_the_default_world() -> None:
    # configs/synth.yaml's world: section states the code's defaults (today's world)
    config = load_synth_config()
    assert config.world == WorldConfig()
    assert config.application_years == list(range(2020, 2026))


def test_default_world_parameters_change_no_byte(world_dir: MakeWorld, tmp_path: Path) -> None:
    # given the data set of the configured world
    default = world_dir("default")
    # when generating again with every world parameter stated at its default
    generate(FIRMS, SEED, tmp_path, world=WorldConfig())
    # then every file, truth/world.json included, is byte-identical
    assert _digests(tmp_path) == _digests(default)


def test_truth_records_the_world_parameters(world_dir: MakeWorld) -> None:
    record = json.loads((world_dir("default") / "truth" / "world.json").read_text("utf-8"))
    assert record["world"] == WorldConfig().model_dump()
    assert record["n_firms"] == FIRMS and record["seed"] == SEED
    assert record["round_dates"] == [f"{y}-06-30" for y in range(2020, 2026)]


# --------------------------------------------------------------------------- rounds
def test_fewer_rounds_give_fewer_application_years_and_titles_only_from_them(
    world_dir: MakeWorld,
) -> None:
    # given a world with two rounds of history and the default six
    two = world_dir("rounds-2", application_rounds=2)
    six = world_dir("default")
    apps_two, apps_six = read(two, "applications"), read(six, "applications")
    # then the applications cover two years, not six
    assert set(apps_two["year"]) == {"2024", "2025"}
    assert len(set(apps_six["year"])) == 6
    assert len(apps_two) < len(apps_six)
    # and every 专精特新/小巨人 title was granted on a round date of that world
    certs = read(two, "certifications")
    titled = certs[certs["title"].isin(SPECIAL_TITLES)]
    assert len(titled) > 0
    assert set(titled["certified_on"]) <= {"2024-06-30", "2025-06-30"}
    approved = apps_two[apps_two["outcome"] == "approved"]
    granted = set(zip(titled["credit_code"], titled["title"], titled["certified_on"], strict=True))
    for code, year, title in zip(
        approved["credit_code"], approved["year"], approved["title"], strict=True
    ):
        assert (code, title, f"{year}-06-30") in granted
    # and the truth states the decision dates of the two rounds and the evaluation date
    truth = read(two, "truth/qualification")
    assert set(truth["as_of"]) == {"2024-06-30", "2025-06-30", "2026-06-30"}


def test_no_round_gives_a_loadable_data_set_without_applications(world_dir: MakeWorld) -> None:
    # given a world whose programme has had no round before the evaluation date
    out = world_dir("rounds-0", application_rounds=0)
    # when the loader reads it
    data = load_sources(out)
    # then nothing is refused, and the applications table is there without rows
    assert data.rejects.empty, data.rejects.head(10).to_string()
    assert "applications" in data.tables and data.tables["applications"].empty
    # no 专精特新/小巨人 title and no published score exist; the tech/innovative titles do
    certs = read(out, "certifications")
    assert not certs["title"].isin(SPECIAL_TITLES).any()
    assert set(certs["title"]) >= {"tech_sme", "innovative_sme"}
    assert len(read(out, "evaluation_scores")) == 0
    # the truth still states who would qualify on the evaluation date; nobody applied
    truth = read(out, "truth/qualification")
    assert set(truth["as_of"]) == {"2026-06-30"}
    assert (truth["applied_by_date"] == "false").all()
    record = json.loads((out / "truth" / "world.json").read_text("utf-8"))
    assert record["world"]["application_rounds"] == 0 and record["round_dates"] == []


# --------------------------------------------------------------------------- propensity
def test_higher_apply_propensity_gives_more_applications(world_dir: MakeWorld) -> None:
    keen = world_dir("propensity-3", apply_propensity=3.0)
    default = world_dir("default")
    assert len(read(keen, "applications")) > 1.2 * len(read(default, "applications"))
    # the truth's own probability of applying moves with it
    p_keen = read(keen, "truth/qualification")["p_apply"].astype(float)
    p_default = read(default, "truth/qualification")["p_apply"].astype(float)
    assert p_keen.mean() > p_default.mean()


# --------------------------------------------------------------------------- strictness
def test_stricter_review_approves_a_lower_share(world_dir: MakeWorld) -> None:
    strict = world_dir("strict-2", approval_strictness=2.0)
    default = world_dir("default")
    assert _approved_share(strict) < _approved_share(default)
    # among applicants the criteria and the market position let through, too
    assert _reviewed_share(strict) < _reviewed_share(default) - 0.1
    # and fewer candidates would qualify on review
    strict_q = read(strict, "truth/qualification")["would_qualify"] == "true"
    default_q = read(default, "truth/qualification")["would_qualify"] == "true"
    assert strict_q.mean() < default_q.mean()


# --------------------------------------------------------------------------- products
def test_no_products_share_withholds_declarations(world_dir: MakeWorld) -> None:
    sparse = world_dir("sparse", no_products_share=0.5, submitted_on=False)
    default = world_dir("default")
    declared = set(read(sparse, "products")["credit_code"])
    declared_default = set(read(default, "products")["credit_code"])
    # the same history, so the declarations are a subset, about half of them
    assert declared < declared_default
    assert 0.3 < len(declared) / len(declared_default) < 0.7


# --------------------------------------------------------------------------- submitted_on
def test_applications_are_submitted_in_the_weeks_before_their_round(
    world_dir: MakeWorld, synth_config
) -> None:
    apps = read(world_dir("default"), "applications")
    assert (apps["submitted_on"] != "").all()
    submitted = pd.to_datetime(apps["submitted_on"])
    decided = pd.to_datetime(apps["year"] + "-06-30")
    days_before = (decided - submitted).dt.days
    assert (days_before >= 1).all()  # before the round date, never on it
    assert (days_before <= 7 * synth_config.applications.submission_weeks).all()
    assert days_before.nunique() > 20  # spread over the weeks, not one day


def test_submitted_on_can_be_left_out(world_dir: MakeWorld) -> None:
    out = world_dir("sparse", no_products_share=0.5, submitted_on=False)
    header = (out / "applications.csv").read_text("utf-8").splitlines()[0]
    assert header == "credit_code,year,title,outcome"
    data = load_sources(out)
    assert data.rejects.empty
    assert "submitted_on" not in data.tables["applications"].columns
    # the rest of the table is the default world's
    default = read(world_dir("default"), "applications")
    assert read(out, "applications").equals(default.drop(columns=["submitted_on"]))


# --------------------------------------------------------------------------- signals
def _no_engine(data: object, as_of: dt.date) -> pd.DataFrame:
    """A criteria engine that evaluates nobody: the signals are built before any decision."""
    return pd.DataFrame(columns=["credit_code", "tier", "mode", "criterion", "verdict"])


def _signals(world: World) -> pd.DataFrame:
    """Per firm: which Article 9 signals its records show (truth form)."""
    tables, n = world.tables, len(world.firms)
    equity = tables["investments"]
    equity = equity[(equity["firm"] >= 0) & equity["investor_qualified"]]
    awards = tables["awards"]
    awards = awards[(awards["firm"] >= 0) & awards["level"].isin(["national", "provincial"])]
    talent = tables["talent"]
    talent = talent[talent["firm"] >= 0]
    supply = tables["supply_chain"]
    supply = supply[(supply["supplier"] >= 0) & (supply["customer"] >= 0)]
    leaders = world.firms["segment"].to_numpy()[supply["customer"].to_numpy()] == "large"
    firms_of = {
        "equity": equity["firm"],
        "award": awards["firm"],
        "talent": talent["firm"],
        "leader_customer": supply.loc[leaders, "supplier"],
    }
    return pd.DataFrame(
        {
            name: np.bincount(firm.to_numpy(dtype=np.int64), minlength=n) > 0
            for name, firm in firms_of.items()
        }
    )


@pytest.fixture(scope="module")
def signal_worlds() -> dict[float, tuple[World, pd.DataFrame]]:
    """20,000-firm worlds at three signal strengths (no history: signals come before it)."""
    worlds = {}
    for strength in (1.0, 0.5, 0.0):
        config = with_world(
            load_synth_config(), {"signal_strength": strength, "application_rounds": 0}
        )
        world, _, _ = build_world(20_000, 7, config, _no_engine)
        worlds[strength] = (world, _signals(world))
    return worlds


def test_signal_strength_ties_the_signals_to_what_decides_approval(signal_worlds) -> None:
    config = load_synth_config()
    association = {}
    for strength, (world, signals) in signal_worlds.items():
        # among tech firms (the candidate pool), the number of Article 9 signals a firm shows
        tech = np.flatnonzero(world.firms["segment"].to_numpy() == "tech")
        count = signals.to_numpy()[tech].sum(axis=1)
        quality = world.firms["quality"].to_numpy()[tech]
        # against the hidden parts of would_qualify: market position and reviewers' judgement
        market = hidden_market_pass(world, tech, np.full(tech.size, "specialized"), config)
        reviewers = reviewer_pass_probability(quality, config)
        association[strength] = [
            np.corrcoef(count, hidden)[0, 1] for hidden in (quality, market, reviewers)
        ]
    # then today's signals follow them, half strength less, strength 0 not at all (within noise:
    # 1,400 tech firms, standard error about 0.027)
    assert min(association[1.0]) > 0.15, association
    assert all(
        half < full for half, full in zip(association[0.5], association[1.0], strict=True)
    ), association
    assert max(abs(r) for r in association[0.0]) < 0.07, association


def test_signal_strength_keeps_the_volume_of_every_signal(signal_worlds) -> None:
    # weaker signals are not fewer signals: the world is not made easier or harder that way
    totals = {s: signals.sum() for s, (_, signals) in signal_worlds.items()}
    for name, today in totals[1.0].items():
        for strength in (0.5, 0.0):
            assert abs(totals[strength][name] - today) < 0.15 * today, (name, strength, totals)
