"""One definition of "the data as published on date D" (features/point_in_time.py), used by the
training replay and by serving: parity with a snapshot cut on D, and each information gap."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.firm_features import build_features
from features.point_in_time import point_in_time
from models.ranking import features_as_published
from models.ranking_config import load_model_config
from tests.features.ranking_frames import (
    AS_OF,
    CODE_A,
    CODE_B,
    CODE_C,
    accounts,
    base_source,
    make_source,
    ts,
    with_rows,
)


def test_point_in_time_restates_what_dates_allow() -> None:
    # given a title valid today that was revoked later than as_of, and one expired since
    data = make_source(
        certifications=[
            {
                "credit_code": CODE_A,
                "title": "tech_sme",
                "certified_on": ts("2023-04-30"),
                "expires_on": ts("2024-12-31"),
                "status": "revoked",
                "revoked_on": ts("2024-09-01"),
                "revoke_reason": "other",
            },
            {
                "credit_code": CODE_B,
                "title": "tech_sme",
                "certified_on": ts("2023-04-30"),
                "expires_on": ts("2024-04-29"),
                "status": "valid",
            },
            {
                "credit_code": CODE_C,
                "title": "tech_sme",
                "certified_on": ts("2024-07-01"),
                "expires_on": ts("2025-06-30"),
                "status": "valid",
            },
        ],
        financials=[accounts(CODE_A, 2024, 1.0)],
    )
    # when
    then = point_in_time(data, AS_OF)
    # then
    titles = then.tables["certifications"].set_index("credit_code")
    assert titles.loc[CODE_A, "status"] == "valid"
    assert pd.isna(titles.loc[CODE_A, "revoked_on"])
    assert titles.loc[CODE_B, "status"] == "expired"
    assert CODE_C not in titles.index
    assert then.tables["financials"].empty


def test_same_year_rows_published_later_in_the_year_are_not_seen() -> None:
    # given awards, talent, supply and an official score of as_of's own year, and the year before
    year = AS_OF.year
    data = make_source(
        awards=[
            {
                "award_name": "省科技奖",
                "level": "provincial",
                "year": y,
                "unit_name": "甲",
                "unit_rank": 1,
                "unit_credit_code": CODE_A,
            }
            for y in (year - 1, year)
        ],
        talent=[
            {
                "unit_name": "甲",
                "unit_credit_code": CODE_A,
                "programme": "人才",
                "level": "national",
                "year": y,
                "headcount": 1,
            }
            for y in (year - 1, year)
        ],
        evaluation_scores=[
            {"credit_code": CODE_A, "year": y, "score": 70.0} for y in (year - 1, year)
        ],
        applications=[
            {"credit_code": CODE_A, "year": y, "title": "specialized_sme", "outcome": "rejected"}
            for y in (year - 1, year)
        ],
    )
    # when
    then = point_in_time(data, AS_OF)
    # then: only the year before — except this year's applications (the province has them)
    for table in ("awards", "talent", "evaluation_scores"):
        assert then.tables[table]["year"].tolist() == [year - 1], table
    assert sorted(then.tables["applications"]["year"]) == [year - 1, year]


def test_products_are_read_the_same_way_on_every_date() -> None:
    data = make_source(
        products=[
            {
                "credit_code": CODE_A,
                "product_name": "射频芯片",
                "revenue_share": 0.7,
                "niche_since": ts("2015-01-01"),
                "market_scope": "domestic",
            }
        ]
    )
    assert point_in_time(data, AS_OF).has("products")
    assert point_in_time(data, dt.date(2020, 6, 30)).has("products")
    assert not point_in_time(data, AS_OF, declared_products=False).has("products")
    assert not load_model_config().features.use_declared_products  # features never read them


def test_firm_status_is_restated_for_a_past_date() -> None:
    # given two firms cancelled today: one still filed accounts after as_of, one did not
    data = base_source()
    firms = data.tables["firms"].copy()
    firms.loc[firms["credit_code"].isin([CODE_A, CODE_B]), "status"] = "cancelled"
    data = with_rows(
        type(data)({**data.tables, "firms": firms}),
        financials=[accounts(CODE_A, AS_OF.year, 2e7)],
    )
    # when
    status = point_in_time(data, AS_OF).tables["firms"].set_index("credit_code")["status"]
    # then: A traded after as_of (operating then); B's cancellation stands (never guessed away)
    assert status[CODE_A] == "operating"
    assert status[CODE_B] == "cancelled"
    assert point_in_time(data, dt.date(2027, 6, 30)).tables["firms"].equals(data.tables["firms"])


def test_a_late_filing_falls_back_to_the_year_before() -> None:
    config = load_model_config().features
    data = base_source()
    features = build_features(data, AS_OF, config)
    financials = data.tables["financials"]
    late = financials[
        ~((financials["credit_code"] == CODE_A) & (financials["fiscal_year"] == AS_OF.year - 1))
    ]
    lagged = build_features(type(data)({**data.tables, "financials": late}), AS_OF, config)
    before = financials[
        (financials["credit_code"] == CODE_A) & (financials["fiscal_year"] == AS_OF.year - 2)
    ]
    assert lagged.loc[CODE_A, "revenue"] == pytest.approx(float(before["revenue"].iloc[0]))
    assert lagged.loc[CODE_A, "accounts_lag_years"] == 1
    assert features.loc[CODE_A, "accounts_lag_years"] == 0


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    """A small generated world (truth) with its decided history."""
    from synth import load_synth_config
    from synth.generate import build_world
    from synth.titles import criteria_engine

    config = load_synth_config()
    built, _, _ = build_world(600, 3, config, criteria_engine())
    return built, config


@pytest.mark.parametrize("day", [dt.date(2022, 6, 30), dt.date(2024, 6, 30)])
def test_replay_equals_a_snapshot_cut_to_what_was_published_by_the_date(world, day) -> None:  # type: ignore[no-untyped-def]
    # given the full history as of the evaluation date, and the snapshot as it stood on `day`
    from synth.world import snapshot

    built, synth_config = world
    config = load_model_config()
    full = snapshot(built, synth_config.evaluation_date)
    cut = snapshot(built, day)
    # when: the replay (training) and the snapshot of that day (serving then)
    replayed = features_as_published(full, day, config)
    served = features_as_published(cut, day, config)
    # then: the same features for every firm that existed on that day
    common = served.index.intersection(replayed.index)
    assert len(common) == len(served) > 0
    left, right = replayed.loc[common].sort_index(), served.loc[common].sort_index()
    mismatch = ~np.isclose(left, right, equal_nan=True)
    columns = left.columns[mismatch.any(axis=0)].tolist()
    assert not columns, columns
