"""The certification history: every approval passed the real criteria engine on its date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth import build_world, load_synth_config
from synth.population import day_number
from synth.titles import criteria_engine, outcomes
from synth.world import snapshot
from tests.synth.conftest import read


@pytest.fixture(scope="module")
def world_and_history():
    config = load_synth_config()
    world, history, champions = build_world(3000, 5, config, criteria_engine())
    return config, world, history, champions


def test_every_approval_was_not_ineligible_under_the_engine(world_and_history) -> None:
    config, world, history, _ = world_and_history
    engine = criteria_engine()
    approved = history.applications[history.applications["outcome"] == "approved"]
    assert len(approved) > 0
    for year, group in approved.groupby("year"):
        # when the engine is re-run, on its own, on the truth as it stood on the decision date
        date = config.application_date(int(year))
        result = outcomes(engine(snapshot(world, date, group["firm"].to_numpy()), date))
        verdict = result[result["mode"] == "discovery"].set_index(["credit_code", "tier"])[
            "verdict"
        ]
        keys = pd.MultiIndex.from_arrays(
            [world.codes[group["firm"].to_numpy()], group["tier"].to_numpy()]
        )
        # then no approved firm was ineligible (nor evaluated as something else)
        assert verdict.reindex(keys).isin(["eligible", "to_verify"]).all(), year


def test_rejections_have_reasons_and_hidden_factors_matter(world_and_history) -> None:
    _, _, history, _ = world_and_history
    apps = history.applications
    assert set(apps["outcome"]) <= {"approved", "rejected", "withdrawn"}
    rejected = apps[apps["outcome"] == "rejected"]
    assert set(rejected["reason"]) >= {"criteria"}
    # some firms the engine found not ineligible were still rejected: outcomes are not a
    # function of the observable data alone
    passed_engine = apps["engine_outcome"].isin(["eligible", "to_verify"])
    assert (passed_engine & (apps["outcome"] == "rejected")).any()


def test_titles_last_three_years_and_follow_approvals(out_dir: Path, synth_config) -> None:
    certs = read(out_dir, "certifications")
    apps = read(out_dir, "applications")
    titled = certs[certs["title"].isin(["specialized_sme", "little_giant"])]
    certified = pd.to_datetime(titled["certified_on"])
    expires = pd.to_datetime(titled["expires_on"])
    assert ((expires - certified).dt.days.between(365 * 3, 365 * 3 + 1)).all()  # Article 16
    approved = apps[apps["outcome"] == "approved"]
    day = {y: synth_config.application_date(y).isoformat() for y in synth_config.application_years}
    keys = set(zip(titled["credit_code"], titled["title"], titled["certified_on"], strict=True))
    for code, year, title in zip(
        approved["credit_code"], approved["year"], approved["title"], strict=True
    ):
        assert (code, title, day[int(year)]) in keys


def test_revocations_are_explained(out_dir: Path) -> None:
    certs = read(out_dir, "certifications")
    revoked = certs[certs["status"] == "revoked"]
    assert (revoked["revoked_on"] != "").all() and (revoked["revoke_reason"] != "").all()
    assert (certs.loc[certs["status"] != "revoked", "revoked_on"] == "").all()


def test_hidden_champions_never_applied_for_their_tier(out_dir: Path) -> None:
    champions = read(out_dir / "truth", "hidden_champions")
    apps = read(out_dir, "applications")
    tier_title = {"specialized": "specialized_sme", "little_giant": "little_giant"}
    applied = set(zip(apps["credit_code"], apps["title"], strict=True))
    assert len(champions) > 0
    assert set(champions["tier"]) <= set(tier_title)
    for code, tier in zip(champions["credit_code"], champions["tier"], strict=True):
        assert (code, tier_title[tier]) not in applied
    # and they hold no valid title of that tier on the evaluation date
    certs = read(out_dir, "certifications")
    valid = certs[
        (certs["status"] == "valid") & certs["title"].isin(["specialized_sme", "little_giant"])
    ]
    spec = champions[champions["tier"] == "specialized"]
    assert not spec["credit_code"].isin(valid["credit_code"]).any()


def test_hidden_champions_qualify_under_the_engine_on_the_evaluation_date(
    world_and_history,
) -> None:
    config, world, _, champions = world_and_history
    hidden = champions[~champions["applied_for_tier"]]
    assert len(hidden) > 0
    date: dt.date = config.evaluation_date
    result = outcomes(criteria_engine()(snapshot(world, date, hidden["firm"].to_numpy()), date))
    verdict = result[result["mode"] == "discovery"].set_index(["credit_code", "tier"])["verdict"]
    keys = pd.MultiIndex.from_arrays([hidden["credit_code"].to_numpy(), hidden["tier"].to_numpy()])
    assert verdict.reindex(keys).isin(["eligible", "to_verify"]).all()
    assert day_number(date) > 0 and np.isin(hidden["tier"], ["specialized", "little_giant"]).all()


def test_qualification_truth_agrees_with_the_decided_applications(out_dir: Path) -> None:
    # given the truth for discovery and the decided applications
    truth = read(out_dir, "truth/qualification")
    assert list(truth.columns[:3]) == ["as_of", "credit_code", "tier"]
    assert {"would_qualify", "p_apply", "applied_by_date"} <= set(truth.columns)
    apps = read(out_dir, "truth/applications")
    approved = apps[apps["outcome"] == "approved"].assign(as_of=lambda f: f["year"] + "-06-30")
    merged = approved.merge(truth, on=["as_of", "credit_code", "tier"], how="left")
    # then: every approval would have qualified on its date, and had applied by then
    assert (merged["would_qualify"] == "true").all()
    assert (merged["applied_by_date"] == "true").all()
    p = truth["p_apply"].astype(float)
    assert p.between(0, 1).all()
    # qualifiers who never applied exist (Article 9's target), and not every candidate qualifies
    qualifies = truth["would_qualify"] == "true"
    assert (qualifies & (truth["applied_by_date"] == "false")).any()
    assert not qualifies[truth["engine_outcome"].isin(["eligible", "to_verify"])].all()


def test_published_score_follows_the_2022_bands_but_is_not_a_function_of_the_data(
    out_dir: Path,
) -> None:
    # the score comes from the public bands on the true records plus hidden terms and noise:
    # firms with the same observed R&D band still differ in score
    scores = read(out_dir, "evaluation_scores").astype({"score": float})
    assert scores["score"].between(0, 100).all()
    assert scores.groupby("year")["score"].std().min() > 5
