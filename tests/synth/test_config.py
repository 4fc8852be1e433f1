"""configs/synth.yaml is strict: a typo or an inconsistent rate fails at load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from core.config import CONFIG_DIR, ConfigError
from synth.config import WorldConfig, load_synth_config, with_world


def _write(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((CONFIG_DIR / "synth.yaml").read_text(encoding="utf-8"))
    change(raw)
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_default_config_loads() -> None:
    config = load_synth_config()
    assert len(config.provinces) == 3
    assert config.fiscal_years[0] <= 2019 and config.fiscal_years[-1] == 2025
    assert config.evaluation_date.isoformat() == "2026-06-30"


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["filings"].update({"mising_year": 0.1}))
    with pytest.raises(ConfigError, match="mising_year"):
        load_synth_config(path)


def test_variant_rates_must_sum_to_one(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["mentions"]["variant_rates"].update({"exact": 0.9}))
    with pytest.raises(ConfigError, match="sum to"):
        load_synth_config(path)


def test_world_section_is_strict(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda raw: raw["world"].update({"rounds": 3}))
    with pytest.raises(ConfigError, match="rounds"):
        load_synth_config(path)
    path = _write(tmp_path, lambda raw: raw["world"].update({"signal_strength": 1.5}))
    with pytest.raises(ConfigError, match=r"world\.signal_strength"):
        load_synth_config(path)


def test_world_parameters_are_overridden_and_checked() -> None:
    config = load_synth_config()
    # given overrides of some world parameters
    changed = with_world(config, {"application_rounds": 2, "apply_propensity": 0.5})
    # then only those change, and the rounds move the first application year
    assert changed.world == WorldConfig(application_rounds=2, apply_propensity=0.5)
    assert changed.application_years == [2024, 2025]
    assert with_world(config, WorldConfig(application_rounds=0)).application_years == []
    assert with_world(config, None) is config
    # and a value out of range, an unknown name or too many rounds is refused in one line
    for bad, field in (
        ({"no_products_share": -0.1}, "world.no_products_share"),
        ({"signal_strenght": 0.5}, "world.signal_strenght"),
        ({"application_rounds": 8}, "at most 7 rounds"),
    ):
        with pytest.raises(ConfigError, match=re.escape(field)) as refused:
            with_world(config, bad)
        assert "\n" not in str(refused.value)


def test_national_section_is_strict(tmp_path: Path) -> None:
    # the floor cannot go under the smallest world the generator builds
    path = _write(tmp_path, lambda raw: raw["national"].update({"min_firms_per_province": 50}))
    with pytest.raises(ConfigError, match="min_firms_per_province"):
        load_synth_config(path)
    path = _write(
        tmp_path, lambda raw: raw["national"]["cross_province"].update({"leader_customer": 1.5})
    )
    with pytest.raises(ConfigError, match="leader_customer"):
        load_synth_config(path)
