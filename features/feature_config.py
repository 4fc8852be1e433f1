"""Configuration of the point-in-time firm features (the `features` section of model.yaml)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from core.config import FrozenModel
from features.schemas import IP_TYPES, NODE_CATEGORIES

PositiveInt = Annotated[int, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class Band(FrozenModel):
    """One way to earn an indicator's points: the best step the feature's value reaches.

    `steps` are (threshold, points). Higher is better: a value at or above a threshold earns its
    points. Lower is better: a value strictly below the threshold earns them (2022 table:
    debt ratio "<50% 5"). A missing value earns nothing.
    """

    feature: str
    higher_is_better: bool = True
    steps: tuple[tuple[float, float], ...] = Field(min_length=1)


class Indicator(FrozenModel):
    """One line of the 2022 scoring table; several bands mean "either ... or" (the best counts)."""

    label: str
    max_points: NonNegative
    bands: tuple[Band, ...] = Field(min_length=1)


class EvaluationEstimate(FrozenModel):
    """The public 2022 table (facts.md §4), as far as data can fill it. Ranking only."""

    constant_points: NonNegative = 0.0  # indicators no data can show (特色化, 数字化, 质量管理)
    # The most those unobserved indicators could add (the upper bound of the estimate).
    unobserved_max_points: NonNegative = 0.0
    indicators: dict[str, Indicator]


class FeatureConfig(FrozenModel):
    """Windows, vocabularies and switches of the point-in-time features."""

    # IP classes. Class I follows 附件3（七）: counted when the firm is among the first
    # `ip_holder_rank_max` holders and the right was not transferred in.
    class1_ip_types: tuple[str, ...]
    class2_ip_types: tuple[str, ...]
    ip_holder_rank_max: PositiveInt
    new_ip_window_years: PositiveInt
    award_window_years: PositiveInt
    award_rank_max: PositiveInt
    talent_window_years: PositiveInt
    equity_window_years: PositiveInt
    credit_event_window_years: PositiveInt
    supply_window_years: PositiveInt
    # GB/T 4754 sections given their own one-hot column; every other section is `industry_other`.
    industry_sections: tuple[str, ...]
    # Chain leaders: customers bought from by many suppliers, or large firms (revenue in yuan).
    chain_leader_min_suppliers: PositiveInt
    chain_leader_min_revenue: NonNegative
    six_foundation_categories: tuple[str, ...]  # 工业"六基" chain-node categories
    pagerank_alpha: Annotated[float, Field(gt=0, lt=1)]
    pagerank_max_iterations: PositiveInt
    pagerank_tolerance: Annotated[float, Field(gt=0)]
    # Region is not a feature by default: every province is judged by the same standard.
    include_region: bool = False
    # products are self-declared, mostly when a firm applies, without a declaration date: on a
    # past date their presence reveals later applications. Off: no product features (the
    # criteria read products the same way on every date: features/point_in_time.py).
    use_declared_products: bool = False
    days_per_year: Annotated[float, Field(gt=0)] = 365.25
    evaluation_estimate: EvaluationEstimate

    @model_validator(mode="after")
    def _vocabulary(self) -> FeatureConfig:
        for field in ("class1_ip_types", "class2_ip_types"):
            unknown = [v for v in getattr(self, field) if v not in IP_TYPES]
            if unknown:
                raise ValueError(f"{field}: unknown IP type(s) {unknown}")
        unknown = [v for v in self.six_foundation_categories if v not in NODE_CATEGORIES]
        if unknown:
            raise ValueError(f"six_foundation_categories: unknown categories {unknown}")
        return self
