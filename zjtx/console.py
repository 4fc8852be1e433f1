"""What every `zjtx` command shares: consoles, one-line failures, error reporting."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

EXIT_BAD_INPUT = 2

console = Console(stderr=True)
stdout = Console()


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print a one-line reason to stderr and return the Exit to raise."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Known input/config errors → one line, exit 2; unexpected ones → one line, exit 1.

    ZJTX_DEBUG=1 shows the traceback of an unexpected failure.
    """
    from features.sources import SourceError
    from zjtx.config import ConfigError

    try:
        yield
    except (SourceError, ConfigError, LookupError) as exc:
        message = exc.args[0] if isinstance(exc, LookupError) and exc.args else str(exc)
        raise fail(str(message)) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if os.environ.get("ZJTX_DEBUG"):
            raise
        raise fail(f"unexpected failure: {type(exc).__name__}: {exc}", code=1) from None
