"""Where the service keeps its state: under ZJTX_HOME like everything else (outputs.md)."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings


def service_home() -> Path:
    return Settings.from_env().home / "service"


def default_tokens_file() -> Path:
    return service_home() / "tokens.yaml"


def default_audit_log() -> Path:
    return service_home() / "audit.jsonl"


def default_runs_dir() -> Path:
    return Settings.from_env().runs
