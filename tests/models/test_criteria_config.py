"""The criteria config: every regulatory field refuses a looser value and accepts a stricter one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from core.config import ConfigError
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
from models.criteria_config import (
    DEFAULT_CONFIG,
    DEFAULT_REGULATION,
    Free,
    Regulation,
    Rule,
    load_criteria_config,
    load_regulation,
)

# Vocabulary a list field may draw new members from (to make it wider / narrower).
VOCABULARY = {
    "registered_statuses": FIRM_STATUS,
    "credit_list_events": CREDIT_EVENT_TYPES,
    "incident_events": CREDIT_EVENT_TYPES,
    "blocked_catalogue_classes": CATALOGUE_CLASSES[2:],  # the other two are allowed
    "allowed_catalogue_classes": ["encouraged", "allowed"],  # the other two are blocked
    "ban_reasons": REVOKE_REASONS,
    "ban_liftable_reasons": REVOKE_REASONS,
    "enterprise_code_prefixes": ["91", "92", "93"],
    "ban_titles": TITLES,
    "class1_ip_types": IP_TYPES,
    "national_awards": ["国家科学技术进步奖", "省科学技术奖"],
    "titles": TITLES,
    "waiver_award_levels": AWARD_LEVELS,
    "waiver_institution_levels": AWARD_LEVELS,
    "waiver_institution_kinds": INSTITUTION_KINDS,
    "domain_fields": NODE_CATEGORIES,
}


def _rule(model: type[BaseModel], name: str) -> Rule | Free | None:
    return next((m for m in model.model_fields[name].metadata if isinstance(m, Rule | Free)), None)


def _leaves(model: BaseModel, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Rule]]:
    """Every compared leaf of the regulation with its rule."""
    out: list[tuple[tuple[str, ...], Rule]] = []
    for name in type(model).model_fields:
        value, rule = getattr(model, name), _rule(type(model), name)
        if isinstance(rule, Free):
            continue
        if isinstance(value, BaseModel):
            out += _leaves(value, (*path, name))
        elif isinstance(value, dict):
            for key, item in value.items():
                out += _leaves(item, (*path, name, key))
        else:
            assert isinstance(rule, Rule), f"{'.'.join((*path, name))} has no direction"
            out.append(((*path, name), rule))
    return out


REGULATION = load_regulation()
LEAVES = _leaves(REGULATION)


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def _variant(value: Any, rule: Rule, field: str, looser: bool) -> Any:
    """A value one step looser (or stricter) than `value`; None when there is no such value."""
    direction = rule.stricter
    if direction == "equal":
        if not looser:
            return None
        if value is None or isinstance(value, list):  # GB/T 4754 mapping lists
            return [*(value or []), "99"] if field == "divisions" else [*(value or []), "T"]
        if isinstance(value, str):
            return "industrial"
        return value + 1 if isinstance(value, int) else value * 1.1
    if isinstance(value, list):
        vocabulary = VOCABULARY[field]
        extra = [v for v in vocabulary if v not in value]
        widen = (direction == "subset") == looser
        if widen:
            return [*value, extra[0]] if extra else None
        return value[:-1] if len(value) > 1 else None
    if isinstance(value, dt.date):  # the date the measures took effect (第三十一条)
        return value + dt.timedelta(days=-1 if looser else 1)
    if value is None:  # an optional SME test: adding one loosens (either test suffices)
        return 10**12 if looser else None
    up = (direction == "lower") == looser
    if isinstance(value, int):
        stepped = value + 1 if up else value - 1
        return stepped if stepped > 0 else None
    stepped = value * 1.1 if up else value * 0.9
    return stepped if stepped <= 1 or field.startswith("evaluation") else None


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "criteria.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _operative() -> dict[str, Any]:
    loaded = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _ids(leaf: tuple[tuple[str, ...], Rule]) -> str:
    return ".".join(leaf[0])


def test_every_regulatory_field_declares_a_direction() -> None:
    # given the regulation model / then every leaf field has a Rule (checked by _leaves)
    assert len(LEAVES) > 60
    assert {rule.stricter for _, rule in LEAVES} == {
        "higher",
        "lower",
        "subset",
        "superset",
        "equal",
    }


def test_default_config_loads_and_equals_the_regulation_on_regulatory_fields() -> None:
    # when
    config = load_criteria_config()
    # then
    assert config.a1.revenue_min == 15_000_000
    assert config.a2.rd_total_min == 12_000_000
    assert config.renewal.window_days == 180
    assert config.cultivation.max_failing == 1
    assert (
        Regulation.model_validate(config.model_dump(include=set(Regulation.model_fields)))
        == REGULATION
    )


@pytest.mark.parametrize("leaf", LEAVES, ids=_ids)
def test_looser_value_is_refused_naming_field_and_regulatory_value(
    leaf: tuple[tuple[str, ...], Rule], tmp_path: Path
) -> None:
    # given the operative config with one field one step looser than the regulation
    path, rule = leaf
    data = _operative()
    parent = _get(data, path[:-1])
    regulatory = parent.get(path[-1])
    looser = _variant(regulatory, rule, path[-1], looser=True)
    if looser is None:
        pytest.skip("no looser value exists")
    parent[path[-1]] = looser
    # when / then
    with pytest.raises(ConfigError) as refused:
        load_criteria_config(_write(tmp_path, data))
    message = str(refused.value)
    assert ".".join(path) in message
    assert rule.article in message
    if rule.stricter in ("higher", "lower", "equal") and regulatory is not None:
        assert repr(regulatory) in message


def _regulatory(path: tuple[str, ...]) -> Any:
    value: Any = REGULATION
    for key in path:
        value = value[key] if isinstance(value, dict) else getattr(value, key)
    return value


@pytest.mark.parametrize(
    "leaf",
    # an absent optional SME test is already the strictest value: nothing stricter to try
    [leaf for leaf in LEAVES if leaf[1].stricter != "equal" and _regulatory(leaf[0]) is not None],
    ids=_ids,
)
def test_stricter_value_is_accepted(leaf: tuple[tuple[str, ...], Rule], tmp_path: Path) -> None:
    # given the operative config with one field one step stricter than the regulation
    path, rule = leaf
    data = _operative()
    parent = _get(data, path[:-1])
    stricter = _variant(parent.get(path[-1]), rule, path[-1], looser=False)
    if stricter is None:
        pytest.skip("no stricter value exists (single-member list)")
    parent[path[-1]] = stricter
    # when
    config = load_criteria_config(_write(tmp_path, data))
    # then the stricter value is what the engine will use
    value: Any = config
    for key in path:
        value = value[key] if isinstance(value, dict) else getattr(value, key)
    assert list(value) == stricter if isinstance(stricter, list) else value == stricter


def test_example_message_for_a_lower_revenue_floor(tmp_path: Path) -> None:
    # given
    data = _operative()
    data["a1"]["revenue_min"] = 14_000_000
    # when / then
    with pytest.raises(
        ConfigError,
        match=r"a1\.revenue_min = 14000000 is below the regulatory "
        r"15000000 \(附件1（二）\)",
    ):
        load_criteria_config(_write(tmp_path, data))


def test_dropping_an_sme_test_is_stricter_and_accepted(tmp_path: Path) -> None:
    # given the industrial class without its revenue line (only the employee test remains)
    data = _operative()
    data["sme_size"]["classes"]["industrial"]["revenue_below"] = None
    # when
    config = load_criteria_config(_write(tmp_path, data))
    # then
    assert config.sme_size.classes["industrial"].revenue_below is None


def test_operational_settings_are_free(tmp_path: Path) -> None:
    # given a long renewal window and two cultivable failures (neither is regulatory)
    data = _operative()
    data["renewal"]["window_days"] = 400
    data["cultivation"]["max_failing"] = 2
    data["review"]["incident_events"] = []
    # when
    config = load_criteria_config(_write(tmp_path, data))
    # then
    assert config.renewal.window_days == 400
    assert config.cultivation.max_failing == 2


@pytest.mark.parametrize(
    ("section", "key", "value", "reason"),
    [
        ("a1", "unknown_key", 1, "Extra inputs"),
        ("a1", "titles", ["tech_sme", "gazelle"], "unknown value"),
        ("cultivation", "criteria", ["a1_9_nothing"], "unknown value"),
        ("a1", "debt_ratio_max", 80, "less than or equal to 1"),
    ],
)
def test_malformed_config_is_refused(
    tmp_path: Path, section: str, key: str, value: Any, reason: str
) -> None:
    # given
    data = _operative()
    data[section][key] = value
    # when / then
    with pytest.raises(ConfigError, match=reason):
        load_criteria_config(_write(tmp_path, data))


def test_regulation_file_is_the_reference() -> None:
    # the reference lives beside the operative config and loads on its own
    assert DEFAULT_REGULATION.exists()
    assert REGULATION.eligibility.ban_years == 3
    assert REGULATION.definitions.national_awards == (
        "国家科学技术进步奖",
        "国家自然科学奖",
        "国家技术发明奖",
        "国防科技奖",
    )


def test_dates_before_the_measures_are_named_for_mlflow() -> None:
    # 第三十一条: in force from 2026-04-01; replays on earlier dates apply it to the past
    from models.criteria_config import NotInForce, check_in_force, standard_tags

    config = load_criteria_config()
    check_in_force(dt.date(2026, 4, 1), config)
    with pytest.raises(NotInForce, match="第三十一条"):
        check_in_force(dt.date(2026, 3, 31), config)
    tags = standard_tags([dt.date(2024, 6, 30), dt.date(2026, 3, 31), dt.date(2026, 4, 1)], config)
    assert tags["criteria_applied_retroactively"] == "true"
    assert tags["criteria_retroactive_dates"] == "2024-06-30,2026-03-31"
    assert tags["criteria_in_force_from"] == "2026-04-01"
    assert (
        standard_tags([dt.date(2026, 6, 30)], config)["criteria_applied_retroactively"] == "false"
    )
