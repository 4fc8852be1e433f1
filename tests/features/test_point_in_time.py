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


def _title(code: str, **changes: object) -> dict[str, object]:
    return {
        "credit_code": code,
        "title": "tech_sme",
        "certified_on": ts("2023-04-30"),
        "expires_on": ts("2026-04-29"),
        "status": "valid",
        **changes,
    }


@pytest.mark.parametrize("live", [True, False])
def test_point_in_time_restates_what_dates_allow(live: bool) -> None:
    # given a title revoked later than as_of, one expired by its date, one certified later
    data = make_source(
        certifications=[
            _title(CODE_A, status="revoked", revoked_on=ts("2024-09-01"), revoke_reason="other"),
            _title(CODE_B, expires_on=ts("2024-04-29")),
            _title(CODE_C, certified_on=ts("2024-07-01")),
        ],
        financials=[accounts(CODE_A, 2024, 1.0)],
    )
    # when
    then = point_in_time(data, AS_OF, live=live)
    # then: a revocation dated after as_of had not happened, in either reading
    titles = then.tables["certifications"].set_index("credit_code")
    assert titles.loc[CODE_A, "status"] == "valid"
    assert pd.isna(titles.loc[CODE_A, "revoked_on"])
    assert pd.isna(titles.loc[CODE_A, "revoke_reason"])
    assert titles.loc[CODE_B, "status"] == "expired"
    assert CODE_C not in titles.index
    # accounts of as_of's own year: filed after the year (replay); never read by the criteria
    assert then.tables["financials"].empty is (not live)


@pytest.mark.parametrize("live", [True, False])
def test_a_state_without_a_date_stands_as_given(live: bool) -> None:
    # issue 23 (1): a revocation for data fraud with no revoked_on, and a cancelled firm that
    # filed accounts for as_of's year
    data = base_source()
    firms = data.tables["firms"].copy()
    firms.loc[firms["credit_code"] == CODE_A, "status"] = "cancelled"
    data = with_rows(
        type(data)({**data.tables, "firms": firms}),
        certifications=[_title(CODE_B, status="revoked", revoke_reason="data_fraud")],
        financials=[accounts(CODE_A, AS_OF.year, 2e7)],
    )
    # when
    then = point_in_time(data, AS_OF, live=live)
    # then: never guessed back to `valid` or `operating`
    title = then.tables["certifications"].set_index("credit_code").loc[[CODE_B]].iloc[-1]
    assert (title["status"], title["revoke_reason"]) == ("revoked", "data_fraud")
    status = then.tables["firms"].set_index("credit_code")["status"]
    assert status[CODE_A] == "cancelled"


def test_an_expired_status_stands_in_a_live_run_and_is_dated_in_a_replay() -> None:
    # given a title marked expired whose expires_on is after as_of
    data = make_source(certifications=[_title(CODE_A, status="expired")])
    # when / then: live, what the data says stands; a replay dates the expiry by expires_on
    live = point_in_time(data, AS_OF, live=True).tables["certifications"]
    replay = point_in_time(data, AS_OF, live=False).tables["certifications"]
    assert live["status"].tolist() == ["expired"]
    assert replay["status"].tolist() == ["valid"]


def test_a_revocation_dated_by_as_of_ends_the_title_whatever_status_says() -> None:
    data = make_source(certifications=[_title(CODE_A, revoked_on=ts("2024-03-01"))])
    for live in (True, False):
        then = point_in_time(data, AS_OF, live=live).tables["certifications"]
        assert then["status"].tolist() == ["revoked"]


def test_same_year_rows_count_in_a_live_run_and_not_in_a_replay() -> None:
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
            {"credit_code": CODE_A, "year": y, "score": 70.0} for y in (year - 1, year, year + 1)
        ],
        applications=[
            {"credit_code": CODE_A, "year": y, "title": "specialized_sme", "outcome": "rejected"}
            for y in (year - 1, year)
        ],
    )
    # when
    replay = point_in_time(data, AS_OF, live=False)
    live = point_in_time(data, AS_OF, live=True)
    # then: a replay sees only the year before — except this year's applications (the
    # province has them); a live run sees every row up to this year (published before it)
    for table in ("awards", "talent", "evaluation_scores"):
        assert replay.tables[table]["year"].tolist() == [year - 1], table
        assert live.tables[table]["year"].tolist() == [year - 1, year], table
    # this year's applications without a submission date: known from the round day on
    assert replay.tables["applications"]["year"].tolist() == [year - 1]
    on_round = point_in_time(data, AS_OF, live=False, round_day=(AS_OF.month, AS_OF.day))
    assert sorted(on_round.tables["applications"]["year"]) == [year - 1, year]
    before_round = point_in_time(data, AS_OF, live=True, round_day=(12, 31))
    assert before_round.tables["applications"]["year"].tolist() == [year - 1]


def test_an_application_is_known_once_submitted_and_its_outcome_once_decided() -> None:
    # issue 24: applications.submitted_on; the round of AS_OF's year is decided on 30 June
    rows = [
        {
            "credit_code": CODE_A,
            "year": AS_OF.year,
            "title": "specialized_sme",
            "outcome": "approved",
            "submitted_on": ts(day),
        }
        for day in ("2024-03-01", "2024-07-01")
    ]
    data = make_source(applications=rows)
    march = point_in_time(data, dt.date(2024, 5, 1), live=True, round_day=(6, 30))
    known = march.tables["applications"]
    assert known["submitted_on"].tolist() == [ts("2024-03-01")]
    assert known["outcome"].isna().all()  # submitted, not decided yet
    july = point_in_time(data, dt.date(2024, 7, 2), live=True, round_day=(6, 30))
    assert len(july.tables["applications"]) == 2
    assert july.tables["applications"]["outcome"].tolist() == ["approved", "approved"]


def test_holders_of_a_right_granted_after_as_of_held_nothing_then() -> None:
    data = with_rows(
        base_source(),
        ip_rights=[
            {
                "ip_id": "ZL2099",
                "ip_type": "invention_patent",
                "title": "later",
                "granted_on": ts("2024-12-01"),
                "status": "valid",
                "transferred_in": False,
            }
        ],
        ip_holders=[
            {"ip_id": "ZL2099", "holder_name": "甲", "holder_rank": 1, "holder_credit_code": CODE_A}
        ],
    )
    for live in (True, False):
        holders = point_in_time(data, AS_OF, live=live).tables["ip_holders"]
        assert "ZL2099" not in set(holders["ip_id"])
        assert len(holders) == len(data.tables["ip_holders"]) - 1


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
    assert point_in_time(data, AS_OF, live=True).has("products")
    assert point_in_time(data, dt.date(2020, 6, 30), live=False).has("products")
    assert not point_in_time(data, AS_OF, live=False, declared_products=False).has("products")
    assert not load_model_config().features.use_declared_products  # features never read them


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


def test_a_replay_of_a_round_date_does_not_see_the_titles_that_round_granted() -> None:
    # issue 24: truth and pipeline agree on titles granted on D
    data = make_source(certifications=[_title(CODE_A, certified_on=ts(AS_OF.isoformat()))])
    assert point_in_time(data, AS_OF, live=False).tables["certifications"].empty
    live = point_in_time(data, AS_OF, live=True).tables["certifications"]
    assert live["status"].tolist() == ["valid"]
