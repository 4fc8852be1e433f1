"""One way to read configuration: YAML files under `configs/` parsed into strict, frozen models.

A typo in a config (unknown key, wrong type) fails at load with the file and field named.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import InputError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class ConfigError(InputError):
    """A configuration file that cannot be used; the message names the file and field."""


class FrozenModel(BaseModel):
    """Base of every configuration model: unknown keys refused, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ModelT = TypeVar("ModelT", bound=FrozenModel)


def load_config(model: type[ModelT], path: Path | str) -> ModelT:
    """Parse the YAML file at `path` into `model`, raising ConfigError with a readable reason."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = CONFIG_DIR / path
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc
