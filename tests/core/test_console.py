"""The console helpers (core.console): the temporary Prefect server started while a command
loads (issue 25)."""

from __future__ import annotations

import pytest
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL, temporary_settings

from core.console import temporary_server_in_background


class Refused(RuntimeError):
    pass


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Calls to the temporary server's start, which fails instead of starting anything."""
    calls: list[object] = []

    def start(self: SubprocessASGIServer, timeout: int | None = None) -> None:
        calls.append(self)
        raise Refused("no port")

    monkeypatch.setattr(SubprocessASGIServer, "start", start)
    return calls


def test_without_a_server_named_the_temporary_one_starts_and_its_failure_reaches_the_command(
    starts: list[object],
) -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        ready = temporary_server_in_background()
        with pytest.raises(Refused, match="no port"):
            ready()
    assert starts == [SubprocessASGIServer()]  # the instance Prefect's client would start


def test_with_a_server_named_nothing_starts(starts: list[object]) -> None:
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        temporary_server_in_background()()
    assert starts == []
