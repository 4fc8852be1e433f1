"""The ranking configuration (`configs/model.yaml`): dates, k, features, models, estimate bands.

Nothing here is a criterion: the hard filter lives in `configs/criteria/`. These values decide
how candidates are ordered and how orderings are measured.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from core.config import CONFIG_DIR, ConfigError, FrozenModel, load_config
from features.feature_config import FeatureConfig

DEFAULT_MODEL_CONFIG = CONFIG_DIR / "model.yaml"

Family = Literal["rule_baseline", "logistic", "hist_gbdt"]
Tier = Literal["specialized", "little_giant"]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class LabelConfig(FrozenModel):
    """Label = the tier's title certified within the horizon after the evaluation date."""

    horizon_months: PositiveInt
    # The day each year's round is decided (one round a year): the rounds found in the data,
    # labels without a certifications table, and the day from which this year's applications
    # without `submitted_on` are known (features/point_in_time.py).
    application_month: Annotated[int, Field(ge=1, le=12)]
    application_day: Annotated[int, Field(ge=1, le=31)]
    titles: dict[Tier, str]  # tier -> certification title


class LogisticConfig(FrozenModel):
    C: Annotated[float, Field(gt=0)]
    max_iter: PositiveInt
    class_weight: Literal["balanced"] | None = None


class HistGbdtConfig(FrozenModel):
    learning_rate: Annotated[float, Field(gt=0)]
    max_iter: PositiveInt
    max_leaf_nodes: PositiveInt
    min_samples_leaf: PositiveInt
    l2_regularization: NonNegative


class ModelsConfig(FrozenModel):
    families: tuple[Family, ...] = Field(min_length=1)
    baseline_feature: str  # what the rule ordering sorts by
    # Amounts that span orders of magnitude: the logistic model sees log1p of them.
    log_scale_features: tuple[str, ...]
    # Features whose increase must never lower (raise) a score: monotone constraints on the
    # criterion-tied features (behavioural direction tests).
    monotonic_increasing: tuple[str, ...]
    monotonic_decreasing: tuple[str, ...] = ()
    # Model Q's inputs: features tied to a criterion or to an Article 9 signal only (never
    # application history, the tier or whether a score exists). Reasons come from these.
    qualify_features: tuple[str, ...] = Field(min_length=1)
    # Ordering of the lists: Q × (1 − A) (expected additional qualified applications) or Q.
    priority: Literal["q_times_not_apply", "q_alone"] = "q_times_not_apply"
    # Applicants are not the candidate pool: weight each application by 1 / A(x), clipped below
    # at apply_weight_floor (inverse probability of applying), or not at all.
    selection_correction: Literal["inverse_apply_probability", "none"] = "inverse_apply_probability"
    apply_weight_floor: Annotated[float, Field(gt=0, le=1)] = 0.05
    logistic: LogisticConfig
    hist_gbdt: HistGbdtConfig
    # OpenMP threads for fitting and scoring. More threads than free cores make gradient
    # boosting spin-wait (10x slower on a shared machine); 1 is also reproducible.
    threads: PositiveInt = 1


class ExplanationConfig(FrozenModel):
    top_reasons: PositiveInt
    min_abs_contribution: NonNegative  # smaller contributions are not worth stating


class EvaluationConfig(FrozenModel):
    k: PositiveInt  # invitations per province and tier
    calibration_bins: PositiveInt
    province_digits: PositiveInt  # province = region_code[:province_digits]


class GateConfig(FrozenModel):
    """Champion gate: promote only when the paired-bootstrap lower bound of the gain in
    val_novel_precision_at_k is above 0 and Brier is not worse beyond the tolerance."""

    bootstrap: PositiveInt = 500
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    brier_tolerance: NonNegative = 0.005


class RoundsConfig(FrozenModel):
    """How many of the rounds found in the data validate, and the fewest that may train
    (models/ranking/rounds.py): never calendar dates."""

    validation: PositiveInt
    min_training: PositiveInt


class ModelConfig(FrozenModel):
    seed: int
    rounds: RoundsConfig
    # Filled by a training run from the rounds found in the data (RoundPlan.apply); a
    # configuration file may not set them (load_model_config refuses it).
    training_dates: tuple[date, ...] = ()
    validation_dates: tuple[date, ...] = ()
    discovery_date: date | None = None  # after the last round's label window (truth's date)
    labels: LabelConfig
    features: FeatureConfig
    models: ModelsConfig
    explanations: ExplanationConfig
    evaluation: EvaluationConfig
    gate: GateConfig = GateConfig()

    @model_validator(mode="after")
    def _temporal(self) -> ModelConfig:
        if (
            self.training_dates
            and self.validation_dates
            and min(self.validation_dates) <= max(self.training_dates)
        ):
            raise ValueError("validation_dates must all be later than every training date")
        return self


def load_model_config(path: Path | str | None = None) -> ModelConfig:
    """Load `configs/model.yaml` (or `path`) into the strict, frozen ModelConfig."""
    config = load_config(ModelConfig, path or DEFAULT_MODEL_CONFIG)
    written = [
        name
        for name in ("training_dates", "validation_dates", "discovery_date")
        if name in config.model_fields_set
    ]
    if written:
        raise ConfigError(
            f"{path or DEFAULT_MODEL_CONFIG}: {', '.join(written)} may not be configured: the "
            "rounds come from the data (set rounds.validation and rounds.min_training)"
        )
    return config
