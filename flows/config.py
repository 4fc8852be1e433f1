"""Configuration of the flows (configs/flows.yaml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from core.config import FrozenModel, load_config


class Schedule(FrozenModel):
    cron: str
    timezone: str
    deployment_name: str


class Publication(FrozenModel):
    max_invitations_per_list: int | None = Field(default=None, ge=1)


class Retries(FrozenModel):
    io_task_retries: int = Field(ge=0, le=10)
    retry_delay_seconds: float = Field(ge=0)


class Dask(FrozenModel):
    n_workers: int = Field(ge=1)
    threads_per_worker: int = Field(ge=1)
    match_part_firms: int = Field(ge=1)
    match_chunk_names: int = Field(ge=1)


class DefaultRunner(FrozenModel):
    provinces_at_once: int = Field(ge=1)


class FlowsConfig(FrozenModel):
    schedule: Schedule
    publication: Publication
    retries: Retries
    default_runner: DefaultRunner
    dask: Dask


def load_flows_config(path: Path | str = "flows.yaml") -> FlowsConfig:
    return load_config(FlowsConfig, path)
