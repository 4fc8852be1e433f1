"""Application rounds found in the data, and which of them train and validate (issue 24).

No calendar is written into configuration: the rounds are the years of `applications` (or,
without applications, of the titles certified: the title transitions), each decided on the
configured round day, found before the run date and rolling forward with it. An example date
is a round whose label window (the round, plus the label horizon) the history covers; the last
`rounds.validate` of them validate, the rest train. With fewer than `rounds.min_training`
training rounds no model is trained and the rule ordering orders the lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from features.sources import SourceData
from models.ranking_config import ModelConfig


@dataclass(frozen=True)
class RoundPlan:
    """The rounds a training run found and how it uses them."""

    found: tuple[date, ...]  # every round decided by the run date
    basis: str  # "applications" or "title_transitions" (or "none")
    training: tuple[date, ...]
    validation: tuple[date, ...]
    discovery: date | None  # the date after the last round's label window (truth's date)
    too_little: str | None  # why no model can be trained (None: enough history)

    def apply(self, config: ModelConfig) -> ModelConfig:
        """The configuration with this plan's dates (what the training tasks read)."""
        return config.model_copy(
            update={
                "training_dates": self.training,
                "validation_dates": self.validation,
                "discovery_date": self.discovery,
            }
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "found": [d.isoformat() for d in self.found],
            "basis": self.basis,
            "training": [d.isoformat() for d in self.training],
            "validation": [d.isoformat() for d in self.validation],
            "discovery": self.discovery.isoformat() if self.discovery else None,
            "too_little": self.too_little,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> RoundPlan:
        def dates(key: str) -> tuple[date, ...]:
            return tuple(date.fromisoformat(str(d)) for d in raw[key])  # type: ignore[attr-defined]

        discovery = raw.get("discovery")
        return cls(
            found=dates("found"),
            basis=str(raw["basis"]),
            training=dates("training"),
            validation=dates("validation"),
            discovery=date.fromisoformat(str(discovery)) if discovery else None,
            too_little=str(raw["too_little"]) if raw.get("too_little") else None,
        )


def round_day(year: int, config: ModelConfig) -> date:
    """The day a year's round is decided (configuration: one round a year)."""
    labels = config.labels
    return date(year, labels.application_month, labels.application_day)


def found_rounds(data: SourceData, config: ModelConfig, run_date: date) -> tuple[list[date], str]:
    """(round dates decided by `run_date`, basis). A round counts when it decided at least one
    application (approved or rejected: a round of withdrawals only teaches nothing); without
    applications, a year in which a title of a tier was certified."""
    applications = data.get("applications")
    if applications is not None and len(applications):
        decided = applications[applications["outcome"].isin(["approved", "rejected"])]
        years = decided["year"].dropna().astype("int64").unique()
        basis = "applications"
    else:
        certifications = data.get("certifications")
        titles = list(config.labels.titles.values())
        if certifications is None or certifications.empty:
            return [], "none"
        granted = certifications[certifications["title"].isin(titles)]
        years = granted["certified_on"].dropna().dt.year.astype("int64").unique()
        basis = "title_transitions"
    rounds = sorted(round_day(int(y), config) for y in years)
    return [d for d in rounds if d <= run_date], basis


def plan_rounds(data: SourceData, config: ModelConfig, run_date: date) -> RoundPlan:
    """Which found rounds train and which validate (see the module docstring)."""
    rounds, basis = found_rounds(data, config, run_date)
    horizon = pd.DateOffset(months=config.labels.horizon_months)
    last = max(rounds) if rounds else None
    examples = [
        d for d in rounds if last is not None and pd.Timestamp(d) + horizon <= pd.Timestamp(last)
    ]
    wanted = config.rounds.validation
    validation = tuple(examples[-wanted:]) if len(examples) >= wanted else ()
    training = tuple(examples[: len(examples) - len(validation)]) if validation else ()
    needed = config.rounds.min_training + wanted + 1
    too_little = None
    if len(training) < config.rounds.min_training:
        too_little = (
            f"{len(rounds)} round(s) of history found ({basis}); training needs "
            f"{needed}: {config.rounds.min_training} to train, {wanted} to validate and one "
            "more whose decisions label the last"
        )
        training = validation = ()
    discovery = (pd.Timestamp(last) + horizon).date() if last is not None else None
    return RoundPlan(tuple(rounds), basis, training, validation, discovery, too_little)
