"""The one base of the errors a person can act on (a bad input file, a bad config)."""

from __future__ import annotations


class InputError(ValueError):
    """Input that cannot be used: the message is one line, naming the file and the reason, for
    the person who sent it. A command prints it and exits 2 (core.console.reported_errors)."""
