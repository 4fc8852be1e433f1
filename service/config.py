"""Operational settings of the officials' service (`configs/service.yaml`), strict and frozen."""

from __future__ import annotations

from pydantic import Field

from core.config import FrozenModel, load_config

MAX_SESSION_HOURS = 8  # a browser session never lasts longer than a working day


class SessionSettings(FrozenModel):
    lifetime_hours: float = Field(gt=0, le=MAX_SESSION_HOURS)
    max_sessions: int = Field(ge=1, le=1_000_000)
    max_per_token: int = Field(ge=1, le=1000)


class LoginSettings(FrozenModel):
    max_failures: int = Field(ge=1, le=1000)
    window_seconds: int = Field(ge=1, le=86_400)


class CacheSettings(FrozenModel):
    max_bytes: int = Field(ge=1 << 20)
    responses_max_bytes: int = Field(ge=1 << 20)


class ServerSettings(FrozenModel):
    threads: int = Field(ge=1, le=256)
    # Proxies whose X-Forwarded-For / -Proto the server believes (uvicorn's
    # forwarded_allow_ips): behind a TLS proxy the login throttle then keys on the real client,
    # not on the proxy's one address. Only the loopback address by default.
    forwarded_allow_ips: tuple[str, ...] = ("127.0.0.1",)


class ServiceConfig(FrozenModel):
    sessions: SessionSettings
    login: LoginSettings
    cache: CacheSettings
    server: ServerSettings


def load_service_config(path: str = "service.yaml") -> ServiceConfig:
    return load_config(ServiceConfig, path)
