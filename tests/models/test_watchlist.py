"""The watch list (issue 16): every ground from both sides, actions, `new`, order, coverage."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from core.config import CONFIG_DIR, ConfigError
from features.sources import SourceData
from models.criteria import evaluate_criteria
from models.criteria_config import CriteriaConfig
from models.watchlist import (
    HAND_OVER,
    MINISTRY,
    MONITOR,
    REVOKE,
    mark_new,
    order_watchlist,
    watch_coverage,
    watchlist_rows,
)
from models.watchlist_config import WatchlistConfig, load_watchlist_config
from tests.models.frames import AS_OF, CODE_A, CODE_B, Y, financial_year, model_firm, source


@pytest.fixture(scope="module")
def watch_config() -> WatchlistConfig:
    return load_watchlist_config()


@pytest.fixture
def watch(config: CriteriaConfig, watch_config: WatchlistConfig):  # type: ignore[no-untyped-def]
    """watch(as_of=…, **tables) → the watch-list rows of the model firm with tables replaced."""

    def run(as_of: dt.date = AS_OF, **tables: Any) -> pd.DataFrame:
        data = source(**model_firm(**tables))
        criteria = evaluate_criteria(data, as_of, config)
        return watchlist_rows(criteria, data, as_of, watch_config)

    return run


def grounds(rows: pd.DataFrame) -> set[str]:
    return set(rows["ground"])


def updates(*rows: tuple[int, str | None]) -> list[dict[str, Any]]:
    return [{"credit_code": CODE_A, "year": y, "updated_on": on} for y, on in rows]


def change(occurred: str, reported: str | None, kind: str = "merger") -> list[dict[str, Any]]:
    return [
        {
            "credit_code": CODE_A,
            "change_type": kind,
            "occurred_on": occurred,
            "reported_on": reported,
        }
    ]


def giant() -> list[dict[str, Any]]:
    return [
        {
            "credit_code": CODE_A,
            "title": "little_giant",
            "certified_on": "2024-07-01",
            "expires_on": "2027-06-30",
            "status": "valid",
        }
    ]


def test_model_firm_is_not_watched(watch) -> None:  # type: ignore[no-untyped-def]
    assert watch(annual_updates=updates((2024, "2024-05-20"), (2025, "2025-05-31"))).empty


# --- 第十七条: annual updates ------------------------------------------------------------------


def test_update_on_31_may_counts_and_on_1_june_does_not(watch) -> None:  # type: ignore[no-untyped-def]
    assert watch(annual_updates=updates((2025, "2025-05-31"))).empty
    rows = watch(annual_updates=updates((2025, "2025-06-01")))
    assert list(rows["ground"]) == ["update_missed_once"]
    assert rows["action"].iloc[0] == MONITOR
    assert "2025-06-01更新，已逾期" in rows["evidence"].iloc[0]


def test_update_missed_only_once_the_deadline_has_passed(watch) -> None:  # type: ignore[no-untyped-def]
    not_yet = updates((2026, None))
    assert watch(as_of=dt.date(2026, 5, 31), annual_updates=not_yet).empty
    rows = watch(as_of=dt.date(2026, 6, 1), annual_updates=not_yet)
    assert list(rows["ground"]) == ["update_missed_once"]
    assert rows["since"].iloc[0] == pd.Timestamp("2026-05-31")


def test_second_miss_in_the_validity_period_means_cancellation(watch) -> None:  # type: ignore[no-untyped-def]
    rows = watch(annual_updates=updates((2024, None), (2025, "2025-05-01"), (2026, None)))
    assert list(rows["ground"]) == ["update_missed_twice"]
    assert rows["action"].iloc[0] == REVOKE
    assert "累计未更新2次" in rows["evidence"].iloc[0]


def test_misses_outside_the_validity_period_or_without_a_row_do_not_count(watch) -> None:  # type: ignore[no-untyped-def]
    # Certified 2024-01-01: the 2023 deadline is before it; 2025 has no row (not shown missed).
    rows = watch(annual_updates=updates((2023, None), (2024, "2024-05-02"), (2026, None)))
    assert list(rows["ground"]) == ["update_missed_once"]


def test_an_update_dated_after_as_of_is_not_known_yet(watch) -> None:  # type: ignore[no-untyped-def]
    rows = watch(annual_updates=updates((2026, "2026-05-20")), as_of=dt.date(2026, 5, 10))
    assert rows.empty  # deadline not reached; the later row is not read as missed either


def test_first_missed_update_of_a_little_giant_is_monitored(watch) -> None:  # type: ignore[no-untyped-def]
    rows = watch(certifications=giant(), annual_updates=updates((2025, None)))
    assert list(rows["action"]) == [MONITOR]


# --- 第十八条: major changes -------------------------------------------------------------------


def test_major_change_reported_three_months_to_the_day_is_in_time(watch) -> None:  # type: ignore[no-untyped-def]
    rows = watch(major_changes=change("2026-01-15", "2026-04-15"))
    assert list(rows["ground"]) == ["major_change_reported"]
    assert rows["action"].iloc[0] == MONITOR
    late = watch(major_changes=change("2026-01-15", "2026-04-16"))
    assert list(late["ground"]) == ["major_change_unreported"]
    assert late["action"].iloc[0] == REVOKE


def test_unreported_change_is_a_ground_only_after_three_months(watch) -> None:  # type: ignore[no-untyped-def]
    unreported = change("2026-03-30", None)
    assert watch(as_of=dt.date(2026, 6, 30), major_changes=unreported).empty
    rows = watch(as_of=dt.date(2026, 7, 1), major_changes=unreported)
    assert list(rows["ground"]) == ["major_change_unreported"]
    assert rows["since"].iloc[0] == pd.Timestamp("2026-03-30")


def test_three_months_from_a_month_end_is_the_shorter_months_end(watch) -> None:  # type: ignore[no-untyped-def]
    assert list(watch(major_changes=change("2025-11-30", "2026-02-28"))["ground"]) == [
        "major_change_reported"
    ]
    assert list(watch(major_changes=change("2025-11-30", "2026-03-01"))["ground"]) == [
        "major_change_unreported"
    ]


def test_changes_before_the_title_or_long_reported_are_not_listed(watch) -> None:  # type: ignore[no-untyped-def]
    assert watch(major_changes=change("2023-06-01", None)).empty  # before certified_on
    assert watch(major_changes=change("2024-03-01", "2024-04-01")).empty  # reported, > 12 months


# --- 第十一、二十条 via the criteria engine ------------------------------------------------------


def test_credit_listing_both_sides(watch) -> None:  # type: ignore[no-untyped-def]
    event = {"credit_code": CODE_A, "event_type": "serious_dishonesty", "occurred_on": "2026-03-02"}
    rows = watch(credit_events=[event])
    assert list(rows["ground"]) == ["credit_listing"]
    assert rows["since"].iloc[0] == pd.Timestamp("2026-03-02")
    assert "第二十条" in rows["article"].iloc[0]
    assert watch(credit_events=[{**event, "resolved_on": "2026-04-01"}]).empty


def test_incident_both_sides(watch) -> None:  # type: ignore[no-untyped-def]
    event = {
        "credit_code": CODE_A,
        "event_type": "major_safety_accident",
        "occurred_on": "2025-08-09",
    }
    assert list(watch(credit_events=[event])["ground"]) == ["incident"]
    assert watch(credit_events=[{**event, "occurred_on": f"{Y - 3}-12-31"}]).empty


def test_registration_both_sides(watch) -> None:  # type: ignore[no-untyped-def]
    firm = model_firm()["firms"][0]
    assert list(watch(firms=[{**firm, "status": "revoked"}])["ground"]) == ["registration"]
    assert watch(firms=[firm]).empty


def test_no_longer_sme_both_sides(watch) -> None:  # type: ignore[no-untyped-def]
    big = financial_year(Y, 500e6, employees=1500)
    rows = watch(financials=[financial_year(Y - 2, 60e6), financial_year(Y - 1, 70e6), big])
    assert "no_longer_sme" in grounds(rows)
    small = financial_year(Y, 500e6, employees=900)  # 工业: fewer than 1000 persons is enough
    assert "no_longer_sme" not in grounds(
        watch(financials=[financial_year(Y - 2, 60e6), financial_year(Y - 1, 70e6), small])
    )


def test_own_tier_annex_criterion_both_sides(watch) -> None:  # type: ignore[no-untyped-def]
    years = [financial_year(Y - 2, 60e6), financial_year(Y - 1, 70e6)]
    at_line = watch(financials=[*years, financial_year(Y, total_liabilities=80e6)])
    assert at_line.empty  # 附件1（二）: 不超过80% includes 80%
    over = watch(financials=[*years, financial_year(Y, total_liabilities=80.1e6)])
    assert list(over["basis"]) == ["a1_2_debt_ratio"]
    assert list(over["ground"]) == ["criterion_failed"]
    assert over["since"].iloc[0] == pd.Timestamp(Y, 12, 31)
    # issue 29: the evidence leads with the criterion's name and article, its id in brackets
    assert over["evidence"].iloc[0].startswith("资产负债率（附件1（二））［a1_2_debt_ratio］：")


def test_only_the_held_tiers_criteria_count(watch) -> None:  # type: ignore[no-untyped-def]
    # 78% debt fails Annex 2 (75%) but not Annex 1 (80%): a 专精特新中小企业 is not at risk.
    years = [financial_year(Y - 2, 60e6), financial_year(Y - 1, 70e6)]
    figures = [*years, financial_year(Y, total_liabilities=78e6)]
    assert watch(financials=figures).empty
    rows = watch(financials=figures, certifications=giant())
    assert list(rows["basis"]) == ["a2_2_debt_ratio"]
    assert list(rows["action"]) == [MINISTRY]
    assert rows["article"].iloc[0].endswith("第二十一条")


def test_growth_is_not_reexamined_for_a_held_title(watch) -> None:  # type: ignore[no-untyped-def]
    flat = [financial_year(Y - 2, 80e6), financial_year(Y - 1, 80e6), financial_year(Y, 80e6)]
    assert watch(financials=flat, certifications=giant()).empty


def test_firms_without_a_valid_title_are_not_watched(watch) -> None:  # type: ignore[no-untyped-def]
    event = {"credit_code": CODE_A, "event_type": "serious_dishonesty", "occurred_on": "2026-03-02"}
    expired = [{**model_firm()["certifications"][0], "expires_on": "2026-06-29"}]
    assert watch(credit_events=[event], certifications=expired).empty
    assert watch(credit_events=[event], certifications=None).empty


# --- 第十九条: moves ----------------------------------------------------------------------------


def test_move_goes_to_both_provinces_with_hand_over(watch) -> None:  # type: ignore[no-untyped-def]
    firm = {**model_firm()["firms"][0], "status": "moved_out", "moved_to_region_code": "440305"}
    rows = watch(firms=[firm])
    assert list(rows["ground"]) == ["moved_out", "moved_out"]  # no registration ground
    assert sorted(rows["province"]) == ["11", "44"]
    assert set(rows["action"]) == {HAND_OVER}
    assert "440305" in rows["evidence"].iloc[0]


def test_move_with_unknown_destination_stays_with_the_old_province(watch) -> None:  # type: ignore[no-untyped-def]
    firm = {**model_firm()["firms"][0], "status": "moved_out"}
    rows = watch(firms=[firm])
    assert list(rows["province"]) == ["11"]
    assert "迁入地未知" in rows["evidence"].iloc[0]
    assert watch(firms=[{**firm, "status": "operating"}]).empty


# --- new, order, coverage, config -------------------------------------------------------------


def test_new_marks_exactly_the_grounds_absent_from_the_previous_run(
    config: CriteriaConfig, watch_config: WatchlistConfig
) -> None:
    def run(as_of: dt.date, previous: pd.DataFrame | None, **tables: Any) -> pd.DataFrame:
        data = source(**model_firm(**tables))
        rows = watchlist_rows(evaluate_criteria(data, as_of, config), data, as_of, watch_config)
        return mark_new(rows, previous, as_of)

    missed = updates((2025, None))
    week1 = run(dt.date(2026, 6, 30), None, annual_updates=missed)
    assert list(week1["new"]) == [True]
    event = {"credit_code": CODE_A, "event_type": "serious_dishonesty", "occurred_on": "2026-07-01"}
    published = week1.astype({"since": "str"})  # as read back from the published CSV
    week2 = run(dt.date(2026, 7, 7), published, annual_updates=missed, credit_events=[event])
    assert dict(zip(week2["ground"], week2["new"], strict=True)) == {
        "update_missed_once": False,
        "credit_listing": True,
    }


def test_undated_grounds_keep_the_date_first_listed() -> None:
    row = {
        "province": "11",
        "credit_code": CODE_A,
        "ground": "registration",
        "basis": "art11_registered",
        "since": pd.NaT,
    }
    now = pd.DataFrame([row])
    first = mark_new(now, None, dt.date(2026, 6, 30))
    assert first["since"].iloc[0] == pd.Timestamp("2026-06-30")
    previous = first.assign(since="2026-06-30")
    again = mark_new(now, previous, dt.date(2026, 7, 7))
    assert not again["new"].iloc[0]
    assert again["since"].iloc[0] == pd.Timestamp("2026-06-30")


def test_order_is_severity_then_most_recent(watch_config: WatchlistConfig) -> None:
    rows = pd.DataFrame(
        {
            "province": ["11"] * 4,
            "credit_code": [CODE_A, CODE_B, CODE_A, CODE_B],
            "ground": ["update_missed_once", "credit_listing", "credit_listing", "moved_out"],
            "basis": ["", "x", "x", ""],
            "since": pd.to_datetime(["2026-06-01", "2026-01-01", "2026-05-01", "2026-06-30"]),
        }
    )
    ordered = order_watchlist(rows, watch_config)
    assert list(zip(ordered["ground"], ordered["since"].dt.month, strict=True)) == [
        ("credit_listing", 5),
        ("credit_listing", 1),
        ("moved_out", 6),
        ("update_missed_once", 6),
    ]


def test_missing_tables_make_their_grounds_unknown(watch) -> None:  # type: ignore[no-untyped-def]
    data = source(**model_firm())
    loaded = SourceData(
        data.tables,
        coverage=pd.DataFrame(
            {"table": ["annual_updates", "major_changes"], "status": ["missing", "ok"]}
        ),
    )
    coverage = watch_coverage(loaded.coverage)
    assert coverage["update_missed_once"].startswith("unknown")
    assert coverage["update_missed_twice"].startswith("unknown")
    assert coverage["major_change_unreported"] == "known"
    assert watch(annual_updates=None, major_changes=None).empty


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("annual_update", "deadline_day", 1),  # 6月1日 when month is 6
        ("annual_update", "misses_to_revoke", 3),
        ("major_change", "report_within_months", 4),
    ],
)
def test_looser_than_the_measures_is_refused(
    tmp_path: Any, section: str, field: str, value: int
) -> None:
    import yaml

    raw = yaml.safe_load((CONFIG_DIR / "watchlist.yaml").read_text(encoding="utf-8"))
    raw[section][field] = value
    if field == "deadline_day":
        raw[section]["deadline_month"] = 6
    path = tmp_path / "watchlist.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="looser"):
        load_watchlist_config(path)


def test_data_fraud_within_the_validity_period_both_sides(watch) -> None:  # type: ignore[no-untyped-def]
    fraud = {"credit_code": CODE_A, "event_type": "data_fraud", "occurred_on": "2025-09-01"}
    rows = watch(credit_events=[fraud])
    assert list(rows["ground"]) == ["data_fraud"]
    assert rows["article"].iloc[0] == "第二十条" and rows["action"].iloc[0] == REVOKE
    assert watch(credit_events=[{**fraud, "occurred_on": "2023-12-31"}]).empty  # before title


def test_abnormal_operation_alone_is_monitored_for_a_specialized_sme(watch) -> None:  # type: ignore[no-untyped-def]
    event = {"credit_code": CODE_A, "event_type": "abnormal_operation", "occurred_on": "2026-05-02"}
    rows = watch(credit_events=[event])
    assert list(rows["ground"]) == ["credit_listing"]
    assert (rows["article"].iloc[0], rows["action"].iloc[0]) == ("第十一条", MONITOR)
    giant_rows = watch(credit_events=[event], certifications=giant())
    assert giant_rows["action"].iloc[0] == MINISTRY
