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
    # The temporary local server migrates its database on first start: give a busy 2-core
    # machine more than Prefect's default 20 s before calling the start a failure.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
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
    # Prefect's embedded server keeps its SQLite database there and cannot create the folder.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
