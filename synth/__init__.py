"""Synthetic province data with history and ground truth (issue 4): `synth.generate`;
world parameters (issue 24): `WorldConfig`, `generate(..., world=...)`; national data sets
written province by province (issue 26): `generate(..., provinces="all")`."""

from synth.config import SynthConfig, WorldConfig, load_synth_config, with_world
from synth.generate import Summary, build_world, generate

__all__ = [
    "Summary",
    "SynthConfig",
    "WorldConfig",
    "build_world",
    "generate",
    "load_synth_config",
    "with_world",
]
