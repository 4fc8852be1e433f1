"""Synthetic province data with history and ground truth (issue 4): `synth.generate`."""

from synth.config import SynthConfig, load_synth_config
from synth.generate import Summary, build_world, generate

__all__ = ["Summary", "SynthConfig", "build_world", "generate", "load_synth_config"]
