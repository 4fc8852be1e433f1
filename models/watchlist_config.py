"""The watch-list configuration (`configs/watchlist.yaml`): windows of 第十七、十八条, as data.

A value may be stricter than the measures (an earlier update deadline, a shorter reporting
window, fewer misses before cancellation), never looser: loading refuses it with the article.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, model_validator

from core.config import FrozenModel, load_config
from models.criteria_config import LITTLE_GIANT_CRITERIA, SHARED_CRITERIA, SPECIALIZED_CRITERIA

DEFAULT_CONFIG = "watchlist.yaml"
GROUNDS = (
    "registration",
    "credit_listing",
    "incident",
    "data_fraud",
    "update_missed_twice",
    "major_change_unreported",
    "no_longer_sme",
    "criterion_failed",
    "moved_out",
    "update_missed_once",
    "major_change_reported",
)
WATCHED_TITLES = ("specialized_sme", "little_giant")
# The measures' own values: the loosest a configuration may be.
REGULATION_DEADLINE = (5, 31)  # 第十七条: 每年5月31日前
REGULATION_MISSES_TO_REVOKE = 2  # 第十七条: 累计达两次未更新的，取消认定
REGULATION_REPORT_MONTHS = 3  # 第十八条: 发生变化后的3个月内


class AnnualUpdate(FrozenModel):
    deadline_month: int = Field(ge=1, le=12)
    deadline_day: int = Field(ge=1, le=31)
    misses_to_revoke: int = Field(ge=1)

    @model_validator(mode="after")
    def _not_looser(self) -> AnnualUpdate:
        dt.date(2001, self.deadline_month, self.deadline_day)  # a real day of the year
        if (self.deadline_month, self.deadline_day) > REGULATION_DEADLINE:
            raise ValueError("update deadline later than 5月31日 is looser than 第十七条")
        if self.misses_to_revoke > REGULATION_MISSES_TO_REVOKE:
            raise ValueError(
                "more than two missed updates before cancellation is looser than 第十七条"
            )
        return self

    def deadline(self, year: int) -> dt.date:
        return dt.date(year, self.deadline_month, self.deadline_day)


class MajorChange(FrozenModel):
    report_within_months: int = Field(ge=1)
    reported_lookback_months: int = Field(ge=0)

    @model_validator(mode="after")
    def _not_looser(self) -> MajorChange:
        if self.report_within_months > REGULATION_REPORT_MONTHS:
            raise ValueError("a reporting window over 3 months is looser than 第十八条")
        return self


class WatchlistConfig(FrozenModel):
    titles: tuple[str, ...]
    annual_update: AnnualUpdate
    major_change: MajorChange
    not_examined: tuple[str, ...]
    severity: tuple[str, ...]

    @model_validator(mode="after")
    def _vocabulary(self) -> WatchlistConfig:
        if set(self.titles) != set(WATCHED_TITLES):
            raise ValueError(f"titles must be exactly {list(WATCHED_TITLES)} (第十七条)")
        criteria = {*SHARED_CRITERIA, *SPECIALIZED_CRITERIA, *LITTLE_GIANT_CRITERIA}
        unknown = sorted(set(self.not_examined) - criteria)
        if unknown:
            raise ValueError(f"not_examined: unknown criteria {unknown}")
        if sorted(self.severity) != sorted(GROUNDS):
            raise ValueError(f"severity must order exactly the grounds {list(GROUNDS)}")
        return self


def load_watchlist_config(path: Path | str = DEFAULT_CONFIG) -> WatchlistConfig:
    return load_config(WatchlistConfig, path)
