"""configs/synth.yaml is strict: a typo or an inconsistent rate fails at load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from synth.config import load_synth_config
from zjtx.config import CONFIG_DIR, ConfigError


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
