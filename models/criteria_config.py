"""The criteria configuration: every threshold, window and list of the 2026 measures, as data.

Two files under `configs/criteria/`:
- `regulation-<year>.yaml` holds the values the regulation itself sets (the reference);
- `<year>.yaml` is the operative configuration the engine runs on. It may be stricter than the
  regulation, never looser ("认定标准不降低", Article 9): loading refuses it otherwise.

Each regulatory field carries, in its type, which direction is stricter (`Floor`: higher is
stricter; `Ceiling`: lower is stricter; `NoWider`: a list that may lose members but not gain
them; `NoNarrower`: the reverse; `Fixed`: a definition that must equal the regulation) and the
article it comes from, which the refusal message cites.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from core.config import CONFIG_DIR, ConfigError, FrozenModel, load_config
from features.schemas import (
    AWARD_LEVELS,
    CATALOGUE_CLASSES,
    CREDIT_EVENT_TYPES,
    FIRM_STATUS,
    INSTITUTION_KINDS,
    IP_TYPES,
    NODE_CATEGORIES,
    REVOKE_REASONS,
    TITLES,
)

DEFAULT_CONFIG = CONFIG_DIR / "criteria" / "2026.yaml"
DEFAULT_REGULATION = CONFIG_DIR / "criteria" / "regulation-2026.yaml"

SPECIALIZED_CRITERIA = (
    "a1_1_title",
    "a1_1_niche_years",
    "a1_2_scale",
    "a1_2_main_business",
    "a1_2_debt_ratio",
    "a1_3_rd",
    "a1_4_ip",
    "a1_5_market",
    "a1_6_evaluation",
)
LITTLE_GIANT_CRITERIA = (
    "a2_1_title",
    "a2_1_niche_years",
    "a2_2_revenue",
    "a2_2_main_business",
    "a2_2_growth",
    "a2_2_debt_ratio",
    "a2_3_rd",
    "a2_4_ip",
    "a2_5_market",
    "a2_6_domain",
    "a2_7_evaluation",
)
SHARED_CRITERIA = (
    "art11_registered",
    "art11_sme_size",
    "art11_credit_lists",
    "art11_incidents",
    "art11_products_allowed",
    "art20_ban",
)
ALL_CRITERIA = SHARED_CRITERIA + SPECIALIZED_CRITERIA + LITTLE_GIANT_CRITERIA

Stricter = Literal["higher", "lower", "subset", "superset", "equal"]


@dataclass(frozen=True)
class Rule:
    """How a regulatory field compares with the regulation, and the article that sets it."""

    stricter: Stricter
    article: str
    none_strictest: bool = False  # for optional ceilings where "no such test" is strictest


def Floor(article: str) -> Rule:
    return Rule("higher", article)


def Ceiling(article: str, *, none_strictest: bool = False) -> Rule:
    return Rule("lower", article, none_strictest)


def NoWider(article: str) -> Rule:
    return Rule("subset", article)


def NoNarrower(article: str) -> Rule:
    return Rule("superset", article)


def Fixed(article: str) -> Rule:
    return Rule("equal", article)


@dataclass(frozen=True)
class Free:
    """A field that is not a regulatory value (a display label): never compared."""


# YAML gives lists; the models hold tuples (immutable).
Names = Annotated[tuple[str, ...], Field(strict=False, min_length=1)]
OptionalNames = Annotated[tuple[str, ...], Field(strict=False)]
PositiveInt = Annotated[int, Field(gt=0)]
Fraction01 = Annotated[float, Field(gt=0, le=1)]
Amount = Annotated[int, Field(gt=0)]  # yuan (元), integral


def _check_vocabulary(values: tuple[str, ...], vocabulary: list[str], field: str) -> None:
    unknown = [v for v in values if v not in vocabulary]
    if unknown:
        raise ValueError(f"{field}: unknown value(s) {unknown} (expected from {vocabulary})")
    if len(set(values)) != len(values):
        raise ValueError(f"{field}: duplicate values")


SME = "第十一条、《中小企业划型标准规定》（工信部联企业〔2011〕300号）"


class SmeClass(FrozenModel):
    """One industry class of the 2011 SME table: SME when ANY given figure is below its line."""

    label: Annotated[str, Free()]
    sections: Annotated[OptionalNames, Fixed(SME)] = ()  # GB/T 4754 sections (letter)
    divisions: Annotated[OptionalNames, Fixed(SME)] = ()  # GB/T 4754 digit prefixes
    # Lines in natural units: persons, and yuan for revenue and assets. A missing line means the
    # class has no such test; since any one test suffices (或), a missing test is the strictest.
    employees_below: Annotated[int | None, Ceiling(SME, none_strictest=True)] = None
    revenue_below: Annotated[int | None, Ceiling(SME, none_strictest=True)] = None
    assets_below: Annotated[int | None, Ceiling(SME, none_strictest=True)] = None

    @model_validator(mode="after")
    def _has_a_test(self) -> SmeClass:
        if (self.employees_below, self.revenue_below, self.assets_below) == (None, None, None):
            raise ValueError(f"{self.label}: at least one of employees/revenue/assets_below")
        return self


class SmeSize(FrozenModel):
    classes: Annotated[dict[str, SmeClass], Fixed(SME)]
    fallback_class: Annotated[str, Fixed(SME)]  # 其他未列明行业

    @model_validator(mode="after")
    def _fallback_known(self) -> SmeSize:
        if self.fallback_class not in self.classes:
            raise ValueError(f"fallback_class {self.fallback_class!r} is not among the classes")
        return self


class Eligibility(FrozenModel):
    """Article 11 and Article 20: conditions shared by both tiers."""

    registered_statuses: Annotated[Names, NoWider("第十一条")]
    # 第十一条「企业」: the first two characters of the credit code (GB 32100-2015, facts §2).
    enterprise_code_prefixes: Annotated[Names, NoWider("第十一条、GB 32100-2015")]
    credit_list_events: Annotated[Names, NoNarrower("第十一条、附件3（九）")]
    incident_events: Annotated[Names, NoNarrower("第十一条、附件3（二）")]
    incident_window_years: Annotated[PositiveInt, Floor("第十一条「近三年」")]
    blocked_catalogue_classes: Annotated[Names, NoNarrower("第十一条")]
    allowed_catalogue_classes: Annotated[Names, NoWider("第十一条")]
    ban_years: Annotated[PositiveInt, Floor("第二十条")]
    ban_reasons: Annotated[Names, NoNarrower("第二十条")]
    # 第二十条: credit repair (失信) or accepted rectification (事故事件) may end the ban early.
    ban_liftable_reasons: Annotated[OptionalNames, NoWider("第二十条")]
    ban_titles: Annotated[Names, NoNarrower("第二十条")]

    @model_validator(mode="after")
    def _vocabulary(self) -> Eligibility:
        _check_vocabulary(self.registered_statuses, FIRM_STATUS, "registered_statuses")
        _check_vocabulary(self.credit_list_events, CREDIT_EVENT_TYPES, "credit_list_events")
        _check_vocabulary(self.incident_events, CREDIT_EVENT_TYPES, "incident_events")
        _check_vocabulary(
            self.blocked_catalogue_classes, CATALOGUE_CLASSES, "blocked_catalogue_classes"
        )
        _check_vocabulary(
            self.allowed_catalogue_classes, CATALOGUE_CLASSES, "allowed_catalogue_classes"
        )
        if set(self.blocked_catalogue_classes) & set(self.allowed_catalogue_classes):
            raise ValueError("a catalogue class cannot be both blocked and allowed")
        _check_vocabulary(self.ban_reasons, REVOKE_REASONS, "ban_reasons")
        _check_vocabulary(self.ban_liftable_reasons, REVOKE_REASONS, "ban_liftable_reasons")
        for prefix in self.enterprise_code_prefixes:
            if len(prefix) != 2:
                raise ValueError(f"enterprise_code_prefixes: {prefix!r} is not two characters")
        _check_vocabulary(self.ban_titles, TITLES, "ban_titles")
        return self


class Definitions(FrozenModel):
    """Annex 3: terms both annexes use."""

    main_product_share_above: Annotated[Fraction01, Fixed("附件3（三）")]
    class1_ip_types: Annotated[Names, NoWider("附件3（七）")]
    ip_holder_rank_max: Annotated[PositiveInt, Ceiling("附件3（七）")]
    national_awards: Annotated[Names, NoWider("附件3（五）")]
    award_window_years: Annotated[PositiveInt, Ceiling("附件1（四）、附件2（四）「近三年」")]
    award_rank_max: Annotated[PositiveInt, Ceiling("附件1（四）、附件2（四）「排名前三」")]

    @model_validator(mode="after")
    def _vocabulary(self) -> Definitions:
        _check_vocabulary(self.class1_ip_types, IP_TYPES, "class1_ip_types")
        return self


class Annex1(FrozenModel):
    """专精特新中小企业认定标准."""

    titles: Annotated[Names, NoWider("附件1（一）、第三十条")]
    niche_years: Annotated[PositiveInt, Floor("附件1（一）")]
    revenue_min: Annotated[Amount, Floor("附件1（二）")]
    equity_min: Annotated[Amount, Floor("附件1（二）")]
    equity_window_years: Annotated[PositiveInt, Ceiling("附件1（二）「近两年」")]
    main_business_share_min: Annotated[Fraction01, Floor("附件1（二）")]
    debt_ratio_max: Annotated[Fraction01, Ceiling("附件1（二）")]
    rd_years: Annotated[PositiveInt, Fixed("附件1（三）「近两年」")]
    rd_each_year_min: Annotated[Amount, Floor("附件1（三）")]
    rd_intensity_min: Annotated[Fraction01, Floor("附件1（三）")]
    class1_ip_min: Annotated[PositiveInt, Floor("附件1（四）")]
    waiver_award_levels: Annotated[OptionalNames, NoWider("附件1（四）")]
    waiver_institution_levels: Annotated[OptionalNames, NoWider("附件1（四）、附件3（六）")]
    waiver_institution_kinds: Annotated[OptionalNames, NoWider("附件3（六）")]
    market_share_min: Annotated[Fraction01, Floor("附件1（五）")]
    market_rank_max: Annotated[PositiveInt, Ceiling("附件1（五）")]
    evaluation_score_min: Annotated[float, Floor("附件1（六）")]
    evaluation_renewal_years: Annotated[PositiveInt, Ceiling("附件1（六）")]

    @model_validator(mode="after")
    def _vocabulary(self) -> Annex1:
        _check_vocabulary(self.titles, TITLES, "titles")
        _check_vocabulary(self.waiver_award_levels, AWARD_LEVELS, "waiver_award_levels")
        _check_vocabulary(self.waiver_institution_levels, AWARD_LEVELS, "waiver_institution_levels")
        _check_vocabulary(
            self.waiver_institution_kinds, INSTITUTION_KINDS, "waiver_institution_kinds"
        )
        return self


class Annex2(FrozenModel):
    """专精特新"小巨人"企业认定标准."""

    titles: Annotated[Names, NoWider("附件2（一）")]
    niche_years: Annotated[PositiveInt, Floor("附件2（一）")]
    revenue_min: Annotated[Amount, Floor("附件2（二）")]
    main_business_share_min: Annotated[Fraction01, Floor("附件2（二）")]
    growth_min: Annotated[float, Field(ge=0), Floor("附件2（二）")]
    growth_years: Annotated[PositiveInt, Fixed("附件2（二）「近两年」")]
    debt_ratio_max: Annotated[Fraction01, Ceiling("附件2（二）")]
    rd_years: Annotated[PositiveInt, Fixed("附件2（三）「近两年」")]
    rd_total_min: Annotated[Amount, Floor("附件2（三）")]
    rd_intensity_min: Annotated[Fraction01, Floor("附件2（三）")]
    class1_ip_min: Annotated[PositiveInt, Floor("附件2（四）")]
    waiver_award_levels: Annotated[OptionalNames, NoWider("附件2（四）、附件3（五）")]
    market_share_min: Annotated[Fraction01, Floor("附件2（五）")]
    market_rank_max: Annotated[PositiveInt, Ceiling("附件2（五）")]
    domain_fields: Annotated[Names, NoWider("附件2（六）")]
    domain_supply_years: Annotated[PositiveInt, Ceiling("附件2（六）「位于产业链关键环节」")]
    evaluation_score_min: Annotated[float, Floor("附件2（七）")]
    evaluation_renewal_years: Annotated[PositiveInt, Ceiling("附件2（七）")]

    @model_validator(mode="after")
    def _vocabulary(self) -> Annex2:
        _check_vocabulary(self.titles, TITLES, "titles")
        _check_vocabulary(self.waiver_award_levels, AWARD_LEVELS, "waiver_award_levels")
        _check_vocabulary(self.domain_fields, NODE_CATEGORIES, "domain_fields")
        return self


class Regulation(FrozenModel):
    """The values the regulation sets: the reference file, and the base of the operative one."""

    measures: Annotated[str, Free()]
    in_force_from: Annotated[dt.date, Floor("第三十一条")]  # 本办法自2026年4月1日起实施
    sme_size: SmeSize
    eligibility: Eligibility
    definitions: Definitions
    a1: Annex1
    a2: Annex2


class Renewal(FrozenModel):
    """Operational (not regulatory): how long before expiry a title is due for 复核 (Article 16)."""

    window_days: Annotated[int, Field(ge=0)]


class Cultivation(FrozenModel):
    """Operational: which failing criteria a firm can work towards (Chapter 4 services)."""

    criteria: Names
    max_failing: PositiveInt

    @model_validator(mode="after")
    def _known_criteria(self) -> Cultivation:
        _check_vocabulary(self.criteria, list(ALL_CRITERIA), "cultivation.criteria")
        return self


class Review(FrozenModel):
    """Operational: project readings that only ever turn a pass into `unknown` (a person checks)."""

    incident_events: OptionalNames  # credit events in the incident window that need a look

    @model_validator(mode="after")
    def _vocabulary(self) -> Review:
        _check_vocabulary(self.incident_events, CREDIT_EVENT_TYPES, "review.incident_events")
        return self


class CriteriaConfig(Regulation):
    """The operative configuration: the regulation's fields (never looser) plus operations."""

    renewal: Renewal
    cultivation: Cultivation
    review: Review


def ratio(value: float) -> Fraction:
    """The exact decimal a configured ratio was written as (0.03 → 3/100), for exact comparison."""
    return Fraction(repr(value))


class NotInForce(ValueError):
    """An evaluation date before the measures took effect (第三十一条)."""


def check_in_force(as_of: dt.date, config: Regulation) -> None:
    """Refuse an evaluation date on which the configured measures were not yet in force."""
    if as_of < config.in_force_from:
        raise NotInForce(
            f"--as-of {as_of.isoformat()} is before {config.in_force_from.isoformat()}, when "
            f"{config.measures} took effect (第三十一条); its standard cannot decide that date"
        )


def before_in_force(dates: Iterable[dt.date], config: Regulation) -> list[dt.date]:
    """The dates on which the configured standard was not yet in force (replayed on the past)."""
    return sorted(d for d in dates if d < config.in_force_from)


def standard_tags(dates: Iterable[dt.date], config: Regulation) -> dict[str, str]:
    """MLflow tags for criteria replayed on `dates`: which standard, and whether it is applied
    to dates before it took effect (第三十一条) — the labels then read the past by 2026 rules."""
    past = before_in_force(dates, config)
    return {
        "criteria_standard": config.measures,
        "criteria_in_force_from": config.in_force_from.isoformat(),
        "criteria_applied_retroactively": "true" if past else "false",
        "criteria_retroactive_dates": ",".join(d.isoformat() for d in past),
    }


def _rule_of(model: type[BaseModel], name: str) -> Rule | Free | None:
    for item in model.model_fields[name].metadata:
        if isinstance(item, Rule | Free):
            return item
    return None


def _show(value: Any) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def _compare_value(path: str, rule: Rule, value: Any, reference: Any) -> str | None:
    where = f"({rule.article})"
    if value == reference:
        return None
    shown, regulatory = _show(value), _show(reference)
    if rule.stricter == "equal":
        return f"{path} = {shown} differs from the regulatory {regulatory} {where}"
    if rule.stricter == "subset":
        extra = [v for v in value if v not in reference]
        if extra:
            return f"{path} adds {extra} beyond the regulatory {regulatory} {where}"
        return None
    if rule.stricter == "superset":
        dropped = [v for v in reference if v not in value]
        if dropped:
            return f"{path} drops {dropped} from the regulatory {regulatory} {where}"
        return None
    if value is None or reference is None:
        if rule.none_strictest and value is None:
            return None
        return f"{path} = {shown} is looser than the regulatory {regulatory} {where}"
    if rule.stricter == "higher" and value < reference:
        return f"{path} = {shown} is below the regulatory {regulatory} {where}"
    if rule.stricter == "lower" and value > reference:
        return f"{path} = {shown} is above the regulatory {regulatory} {where}"
    return None


def looser_than_regulation(config: BaseModel, regulation: BaseModel, prefix: str = "") -> list[str]:
    """Every field where `config` is looser than `regulation`, as readable messages."""
    problems: list[str] = []
    for name in type(regulation).model_fields:
        path = f"{prefix}{name}"
        value, reference = getattr(config, name), getattr(regulation, name)
        rule = _rule_of(type(regulation), name)
        if isinstance(rule, Free):
            continue
        if isinstance(reference, BaseModel):
            problems += looser_than_regulation(value, reference, f"{path}.")
            continue
        if isinstance(reference, dict):
            if set(value) != set(reference):
                problems.append(
                    f"{path} has classes {sorted(value)}, the regulation {sorted(reference)}"
                    f" ({rule.article if isinstance(rule, Rule) else 'regulation'})"
                )
                continue
            for key in reference:
                problems += looser_than_regulation(value[key], reference[key], f"{path}.{key}.")
            continue
        if rule is None:  # a regulatory field without a declared direction must match exactly
            rule = Fixed("regulation")
        problem = _compare_value(path, rule, value, reference)
        if problem:
            problems.append(problem)
    return problems


def load_regulation(path: Path | str | None = None) -> Regulation:
    """The regulation's own values (the reference the operative config is checked against)."""
    return load_config(Regulation, path or DEFAULT_REGULATION)


def load_criteria_config(
    path: Path | str | None = None, regulation: Path | str | None = None
) -> CriteriaConfig:
    """Load the operative criteria config; refuse it when it is looser than the regulation."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    config = load_config(CriteriaConfig, path)
    problems = looser_than_regulation(config, load_regulation(regulation))
    if problems:
        raise ConfigError(f"{path}: looser than the regulation: " + "; ".join(problems))
    return config
