"""The console helpers: Rich consoles, one-line failures and error reporting, and the checks
of the Prefect server a flow command runs on."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from core.errors import InputError

EXIT_BAD_INPUT = 2

# Tables printed into logs and pipes keep their columns instead of folding to 80 characters.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(stderr=True, width=_WIDTH)
stdout = Console(width=_WIDTH)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print a one-line reason to stderr and return the Exit to raise."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def check_prefect_server() -> None:
    """A flow command runs on the Prefect server PREFECT_API_URL names (the scheduled
    deployment's), which must answer; without one, Prefect starts a temporary local server."""
    import urllib.error
    import urllib.request

    url = os.environ.get("PREFECT_API_URL", "").strip()
    if not url:
        return
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=10) as response:
            answered = response.status == 200
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        answered, detail = False, f" ({reason})"
    else:
        detail = ""
    if not answered:
        raise fail(
            f"the Prefect server in PREFECT_API_URL ({url}) does not answer{detail}: start it "
            "(`prefect server start`) or unset PREFECT_API_URL to run on a temporary local server"
        )


def temporary_server_in_background() -> Callable[[], None]:
    """Without a server in PREFECT_API_URL, start the temporary local server Prefect would start
    at the flow's first call, now, while the command loads (issue 25: its 3-4 s overlap the
    imports). Returns a function to call before the flow: it waits until the server answers
    and raises what starting it raised. With a server named, or the temporary one switched
    off, nothing starts and Prefect decides as before."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return lambda: None
    failure: list[BaseException] = []

    def start() -> None:
        try:
            from prefect.server.api.server import SubprocessASGIServer

            SubprocessASGIServer().start()  # the instance Prefect's client finds running
        except BaseException as exc:  # handed to the main thread by the waiter
            failure.append(exc)

    thread = threading.Thread(target=start, name="prefect-temporary-server", daemon=True)
    thread.start()

    def ready() -> None:
        thread.join()
        if failure:
            raise failure[0]

    return ready


@contextmanager
def reported_errors() -> Iterator[None]:
    """Known input/config errors → one line, exit 2; unexpected ones → one line, exit 1.

    ZJTX_DEBUG=1 shows the traceback of an unexpected failure.
    """
    try:
        yield
    except (InputError, LookupError) as exc:
        message = exc.args[0] if isinstance(exc, LookupError) and exc.args else str(exc)
        raise fail(str(message)) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if os.environ.get("ZJTX_DEBUG"):
            raise
        raise fail(f"unexpected failure: {type(exc).__name__}: {exc}", code=1) from None
