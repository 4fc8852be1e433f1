"""The generator's configuration (`configs/synth.yaml`): every rate and size lives there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from core.config import ConfigError, FrozenModel, load_config

DEFAULT_CONFIG = "synth.yaml"

Probability = float


class ProvinceConfig(FrozenModel):
    code: str = Field(pattern=r"^\d{2}$")
    weight: float = Field(gt=0)


class SegmentConfig(FrozenModel):
    """A kind of firm: its share of the register and the shape of its accounts."""

    share: float = Field(ge=0)
    files_financials: Probability = Field(ge=0, le=1)
    log_revenue_mean: float  # natural log of yuan, at the last fiscal year, for quality 0
    log_revenue_sd: float = Field(gt=0)
    revenue_per_quality: float  # log revenue added per unit of latent quality
    revenue_per_employee: float = Field(gt=0)  # yuan
    rd_ratio_median: float = Field(ge=0, le=1)
    rd_ratio_per_quality: float
    main_business_mean: float = Field(gt=0, lt=1)
    debt_ratio_mean: float = Field(gt=0, lt=1)
    growth_mean: float
    growth_per_quality: float
    audited: Probability = Field(ge=0, le=1)
    quality_shift: float  # mean of latent quality in this segment
    established_from: int
    innovative_title: Probability = Field(ge=0, le=1)  # ever holds a tech/innovative SME title


class StatusConfig(FrozenModel):
    cancelled: Probability = Field(ge=0, le=1)
    revoked: Probability = Field(ge=0, le=1)
    moved_out: Probability = Field(ge=0, le=1)
    filing_firm_factor: float = Field(ge=0, le=1)  # rates above are for tiny firms
    first_change_year: int


class FilingConfig(FrozenModel):
    """Mess in the annual accounts as published (the truth keeps every filing)."""

    missing_year: Probability = Field(ge=0, le=1)  # a fiscal year never filed
    late_last_year: Probability = Field(ge=0, le=1)  # last fiscal year not filed yet
    rd_staff_missing: Probability = Field(ge=0, le=1)
    net_profit_missing: Probability = Field(ge=0, le=1)
    audited_missing: Probability = Field(ge=0, le=1)


class RegistryMessConfig(FrozenModel):
    rename: Probability = Field(ge=0, le=1)  # firms renamed at least once in the history
    second_rename: Probability = Field(ge=0, le=1)  # of renamed firms, renamed twice
    relocation: Probability = Field(ge=0, le=1)  # firms whose registered region changed
    established_missing: Probability = Field(ge=0, le=1)
    industry_missing: Probability = Field(ge=0, le=1)
    region_missing: Probability = Field(ge=0, le=1)
    parenthesized_name: Probability = Field(ge=0, le=1)  # registered as 华芯（深圳）有限公司
    province_prefix_name: Probability = Field(ge=0, le=1)  # registered as 广东华芯…
    look_alike: Probability = Field(ge=0, le=1)  # trade name copied from another firm


class MentionConfig(FrozenModel):
    """How a name-bearing table writes a registry firm's name (rates sum to 1)."""

    variant_rates: dict[str, float]
    former_name_when_before_rename: Probability = Field(ge=0, le=1)
    credit_code_filled: dict[str, Probability]  # per table
    nil_share: dict[str, Probability]  # per table: mentions of no registry firm

    @model_validator(mode="after")
    def _rates_sum_to_one(self) -> MentionConfig:
        total = sum(self.variant_rates.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"variant_rates sum to {total}, not 1")
        return self


class InnovationConfig(FrozenModel):
    invention_log_rate: dict[str, float]  # per segment, expected invention patents, log
    invention_per_quality: float
    other_ip_log_rate: dict[str, float]  # utility models, designs, copyrights, trademarks
    co_holder: Probability = Field(ge=0, le=1)
    low_rank_holder: Probability = Field(ge=0, le=1)  # firm listed 4th or later
    transferred_in: Probability = Field(ge=0, le=1)
    invalid_ip: Probability = Field(ge=0, le=1)
    provincial_award_logit: float
    national_award_logit: float
    award_per_quality: float
    institution_logit: float
    institution_per_quality: float
    institution_per_propensity: float  # firms that engage with programmes (latent propensity)
    national_institution: Probability = Field(ge=0, le=1)
    institution_expired: Probability = Field(ge=0, le=1)
    talent_logit: float
    talent_per_quality: float
    talent_per_propensity: float
    investment_log_rate: float
    investment_per_quality: float
    investment_per_growth: float
    investment_per_propensity: float
    investor_qualified: Probability = Field(ge=0, le=1)
    investment_log_amount_mean: float
    products_declared: Probability = Field(ge=0, le=1)  # non-applicants declaring products
    products_declared_applicant: Probability = Field(ge=0, le=1)
    niche_year_only: Probability = Field(ge=0, le=1)
    market_share_declared: Probability = Field(ge=0, le=1)
    domestic_rank_declared: Probability = Field(ge=0, le=1)
    catalogue_restricted: Probability = Field(ge=0, le=1)
    catalogue_eliminated: Probability = Field(ge=0, le=1)
    catalogue_missing: Probability = Field(ge=0, le=1)
    # 科技型/创新型 SME titles: holding one, registering the yearly 科技型 title again and renewing
    # the three-year 创新型 title rise with propensity (logit shift per unit).
    tech_sme_yearly: Probability = Field(ge=0, le=1)  # a holder registers 科技型 in a given year
    innovative_renewal: Probability = Field(ge=0, le=1)  # a 创新型 holder renews after 3 years
    title_per_propensity: float


class ChainNodeConfig(FrozenModel):
    node: str
    category: str  # Annex 2 (六) field, chain_nodes.category vocabulary
    key_link: bool


class ChainConfig(FrozenModel):
    name: str
    industries: list[str]  # GB/T 4754 codes whose firms take part in the chain
    nodes: list[ChainNodeConfig]


class SupplyConfig(FrozenModel):
    participation: Probability = Field(ge=0, le=1)  # chain-industry SMEs that supply a chain
    customers_pareto_shape: float = Field(gt=0)  # heavy tail of customers per supplier
    max_customers: int = Field(ge=1)
    customer_is_leader: Probability = Field(ge=0, le=1)
    customer_is_sme: Probability = Field(ge=0, le=1)  # rest: outside or foreign (nil)
    substitutable_presence: Probability = Field(ge=0, le=1)  # yearly presence of a relation
    supply_share_of_revenue: float = Field(gt=0, le=1)
    outside_suppliers_per_leader: int = Field(ge=0)


class ScoreConfig(FrozenModel):
    """Official development-evaluation score (发展评价得分), hidden unless published: the public
    2022 bands on the true records plus indicators no data shows (synth/scores.py)."""

    local_logit: float  # 特色化 (15 points, provincial indicators): 15·sigmoid(logit + b·q + ε)
    local_per_quality: float
    digital_logit: float  # 数字化 level 3+ (5 points); else level 2 (3) half the time
    digital_per_quality: float
    quality_logit: float  # 质量管理: two items of 3 points (max 5)
    quality_per_quality: float
    high_value_ip_share: float = Field(ge=0, le=1)  # self-developed class I that is high-value
    firm_noise: float  # sd of a firm effect (richer official indicators)
    year_noise: float  # sd of yearly noise


class ApplicationConfig(FrozenModel):
    specialized_logit: float
    little_giant_logit: float
    per_propensity: float
    per_quality: float
    after_rejection: float  # logit added for a firm rejected in an earlier round (it re-applies)
    yearly_increase: float  # logit added per round after the first (the programme expands)
    # A firm that raised qualified equity in the two years before a round (often preparing a
    # listing, where the title helps) applies more in that round.
    after_funding: float
    without_title_factor: float = Field(ge=0, le=1)  # odds multiplier for firms lacking the title
    # The platform's self-assessment (自评): a firm whose own last accounts miss the tier's
    # revenue or R&D line rarely submits. Lines per tier, yuan / fraction of revenue.
    self_check_factor: float = Field(ge=0, le=1)
    self_check_revenue_min: dict[str, float]
    self_check_rd_min: dict[str, float]
    self_check_rd_intensity_min: float
    withdrawn: Probability = Field(ge=0, le=1)
    # applications.submitted_on: applications reach the province over the weeks before the
    # round date (uniform, at least one day before it).
    submission_weeks: int = Field(ge=1, le=26)
    reviewer_logit: float
    reviewer_per_quality: float
    specialized_rank_max: int  # hidden market test, 附件1（五）“较为靠前”
    specialized_share_min: float
    little_giant_rank_max: int  # 附件2（五）: ≥10% or top three
    little_giant_share_min: float
    renewal_reviewer_pass: Probability = Field(ge=0, le=1)
    not_updated_revocation: Probability = Field(ge=0, le=1)  # Article 17
    unreported_change_revocation: Probability = Field(ge=0, le=1)  # Article 18
    ban_lifted: Probability = Field(ge=0, le=1)  # credit repair after an Article 20 revocation


class WorldConfig(FrozenModel):
    """The shape of the generated world (issue 24): each default is the world the ranking model
    was developed on, so a world with every default writes the same bytes. None of them makes
    the world easier to win: no parameter lowers a standard or ties outcomes to the data."""

    # Yearly application rounds before the evaluation date; the programme starts with the
    # first (no 专精特新/小巨人 title before it). 0 = no round: an applications table without rows.
    application_rounds: int = Field(default=6, ge=0)
    # Odds multiplier on every firm's own probability of applying in a round (0 = none apply).
    apply_propensity: float = Field(default=1.0, ge=0, le=10)
    # Logit units taken off the reviewers' pass (new applications and 复核): 0 = today's.
    approval_strictness: float = Field(default=0.0, ge=0, le=5)
    # Share of firms whose product declarations are withheld on top of the self-declaration
    # rates of `innovation.products_declared*` (1 = a products table without rows).
    no_products_share: float = Field(default=0.0, ge=0, le=1)
    # How strongly the Article 9 signals (chain-leader customers, qualified equity, awards,
    # talent programmes) follow the firm's own hidden quality, growth and market position:
    # 1 = today's; below 1, the signals of a share 1 - s of firms follow the hidden factors of
    # another firm of the same segment (0 = unrelated to what decides approval).
    signal_strength: float = Field(default=1.0, ge=0, le=1)
    # Write applications.submitted_on (the day the application reached the province).
    submitted_on: bool = True


class CrossProvinceConfig(FrozenModel):
    """Records of one province that name a firm of another (national runs): always a large
    firm (a chain leader, never an SME candidate), so no firm's criteria change with them."""

    leader_customer: Probability = Field(ge=0, le=1)  # supply relations to a chain leader
    ip_co_holder: Probability = Field(ge=0, le=1)  # co-holders that are no firm of the province
    award_co_winner: Probability = Field(ge=0, le=1)  # national/provincial award rows


class NationalConfig(FrozenModel):
    """`zjtx generate --provinces` (issue 26): firms spread over provinces by enterprise counts,
    built and written one province at a time."""

    enterprise_counts: str  # file under synth/data/ (docs/national-provinces.md)
    min_firms_per_province: int = Field(ge=100)  # the smallest world the generator builds
    guests_per_province: int = Field(ge=1)  # large firms each province lends the others' records
    cross_province: CrossProvinceConfig


class CreditEventConfig(FrozenModel):
    yearly_rate: dict[str, float]  # per event type, per firm and year (filing firms)
    micro_abnormal_rate: float  # abnormal_operation per tiny firm and year
    resolved: dict[str, Probability]  # per event type: later removed / repaired


class SynthConfig(FrozenModel):
    evaluation_date: dt.date
    first_fiscal_year: int
    last_fiscal_year: int
    application_month: int = Field(ge=1, le=12)
    application_day: int = Field(ge=1, le=31)
    title_validity_years: int = Field(ge=1)  # Article 16
    provinces: list[ProvinceConfig]
    segments: dict[str, SegmentConfig]
    status: StatusConfig
    filings: FilingConfig
    registry: RegistryMessConfig
    mentions: MentionConfig
    innovation: InnovationConfig
    chains: list[ChainConfig]
    supply: SupplyConfig
    scores: ScoreConfig
    applications: ApplicationConfig
    credit_events: CreditEventConfig
    missing_tables_by_province: dict[str, list[str]]  # province code -> tables it never shares
    national: NationalConfig
    world: WorldConfig = WorldConfig()

    @model_validator(mode="after")
    def _consistent(self) -> SynthConfig:
        if set(self.segments) != {"micro", "sme", "tech", "large"}:
            raise ValueError("segments must be exactly micro, sme, tech, large")
        if self.evaluation_date.year != self.last_fiscal_year + 1:
            raise ValueError("evaluation_date must fall in the year after last_fiscal_year")
        most = self.evaluation_date.year - self.first_fiscal_year - 1
        if self.world.application_rounds > most:
            # A round reads the accounts of the year before: the first needs one fiscal year.
            raise ValueError(
                f"world.application_rounds: at most {most} rounds fit between the first fiscal "
                f"year {self.first_fiscal_year} and the evaluation date {self.evaluation_date}"
            )
        return self

    @property
    def first_application_year(self) -> int:
        """The year of the first round (the evaluation year itself when there is none)."""
        return self.evaluation_date.year - self.world.application_rounds

    @property
    def fiscal_years(self) -> list[int]:
        return list(range(self.first_fiscal_year, self.last_fiscal_year + 1))

    @property
    def application_years(self) -> list[int]:
        return list(range(self.first_application_year, self.evaluation_date.year))

    def application_date(self, year: int) -> dt.date:
        return dt.date(year, self.application_month, self.application_day)


def load_synth_config(path: Path | str = DEFAULT_CONFIG) -> SynthConfig:
    """Read `configs/synth.yaml` (or `path`) into a frozen SynthConfig."""
    return load_config(SynthConfig, path)


def with_world(
    config: SynthConfig, world: WorldConfig | Mapping[str, Any] | None = None
) -> SynthConfig:
    """`config` with other world parameters: a whole WorldConfig, or a mapping of the ones to
    change (`{"application_rounds": 2}`). Refused with a one-line ConfigError naming the field."""
    if world is None:
        return config
    values = world.model_dump() if isinstance(world, WorldConfig) else dict(world)
    try:
        return SynthConfig.model_validate(
            {**config.model_dump(), "world": {**config.world.model_dump(), **values}}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            if err["loc"]
            else str(err["msg"]).removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigError(f"world parameters refused: {problems}") from None
