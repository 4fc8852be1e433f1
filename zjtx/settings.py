"""Where state lives (ZJTX_HOME) and the offline switches every entry point applies."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Telemetry off for every library that would phone home (DEVELOPERS.md: offline).
OFFLINE_ENV = {
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


@dataclass(frozen=True)
class Settings:
    """Paths under the one data root; nothing is written outside it."""

    home: Path

    @classmethod
    def from_env(cls) -> Settings:
        return cls(home=Path(os.environ.get("ZJTX_HOME", "var")).resolve())

    @property
    def demo_data(self) -> Path:
        return self.home / "data" / "demo"

    @property
    def runs(self) -> Path:
        return self.home / "runs"

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow" / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home / "mlflow" / "artifacts"

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"


def apply_offline_env() -> None:
    """Set the telemetry switches and Prefect's home under ZJTX_HOME, unless already chosen.

    Must run before prefect is imported: Prefect reads its settings at import.
    """
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_HOME", str(Settings.from_env().prefect_home))
