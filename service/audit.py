"""The audit log (Article 28): who read which firm data, when, from where, and with what answer.

One JSON object per line, in a file only the service's user can read (0600). Logged: every
request whose route names a province or a firm (lists, downloads, firm pages — JSON and HTML
alike, in any router), every state-changing request (login, logout, and any POST a router
adds), and every refusal (401, 403, 429), whatever the route. An entry names the run actually
served (not `latest`), the client address, and the token by its id and name — for a refused
token, the id it presented — never a token or a secret.

The line is written before the answer leaves: if it cannot be written, the data is not served
and the client gets 503.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

AUDIT_STATE_KEY = "audit"  # request.state.audit: who, presented, run_id, province, event
FIRM_DATA_PARAMS = ("province", "credit_code")
REFUSALS = frozenset({401, 403, 429})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNAVAILABLE = "审计日志无法写入，暂停提供数据"
log = logging.getLogger("zjtx.service")


class AuditLogError(OSError):
    """An audit line could not be written."""


class AuditLog:
    """Append-only JSON lines file, mode 0600; one lock so concurrent lines never interleave.

    The file stays open between lines. It is opened again when it was removed (so a line never
    goes to a deleted file) and after any failed write; rotate it by renaming it away (lines
    then go on to the renamed file until the service restarts) or with copytruncate."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._descriptor: int | None = None

    def append(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            try:
                descriptor = self._open()
                if os.write(descriptor, line) != len(line):
                    raise AuditLogError(f"short write to {self.path}")
            except OSError as exc:
                self._close()
                raise AuditLogError(f"cannot write audit log {self.path}: {exc}") from exc

    def _open(self) -> int:
        if self._descriptor is not None and os.fstat(self._descriptor).st_nlink > 0:
            return self._descriptor
        self._close()
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            self._descriptor = os.open(self.path, flags, 0o600)
        except FileNotFoundError:  # its folder is made on the first line only
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._descriptor = os.open(self.path, flags, 0o600)
        return self._descriptor

    def _close(self) -> None:
        if self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            os.close(descriptor)


def state_of(scope: Scope) -> dict[str, Any]:
    """The audit notes the routes leave for this request (created on first use)."""
    state = scope.setdefault("state", {})
    notes: dict[str, Any] = state.setdefault(AUDIT_STATE_KEY, {})
    return notes


def should_audit(scope: Scope, status: int) -> bool:
    params = scope.get("path_params") or {}
    return (
        any(name in params for name in FIRM_DATA_PARAMS)
        or status in REFUSALS
        or scope.get("method", "GET") not in SAFE_METHODS
        or bool(state_of(scope).get("event"))
    )


def entry_of(scope: Scope, status: int) -> dict[str, Any]:
    params = scope.get("path_params") or {}
    noted = state_of(scope)
    client = scope.get("client")
    return {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "client": client[0] if client else None,
        "who": noted.get("who"),
        "presented": noted.get("presented"),
        "event": noted.get("event"),
        "method": scope.get("method"),
        "path": scope.get("path"),
        "query": scope.get("query_string", b"").decode("latin-1"),
        "run_id": noted.get("run_id", params.get("run_id")),
        "province": noted.get("province", params.get("province")),
        "firm": params.get("credit_code"),
        "status": status,
    }


class AuditMiddleware:
    """Writes the audit line when the answer starts; 503 instead of the answer if it cannot."""

    def __init__(self, app: ASGIApp, log: AuditLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        withheld = False

        async def send_audited(message: Message) -> None:
            nonlocal started, withheld
            if withheld:
                return  # the answer was replaced by 503: nothing of it leaves
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                if should_audit(scope, status):
                    try:
                        self.log.append(entry_of(scope, status))
                    except AuditLogError as exc:
                        log.error("%s; answering 503 to %s", exc, scope.get("path"))
                        withheld = True
                        await _unavailable(send)
                        return
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            if not started:
                try:
                    self.log.append(entry_of(scope, 500))
                except AuditLogError as exc:
                    log.error("%s", exc)
            raise


async def _unavailable(send: Send) -> None:
    body = json.dumps({"detail": UNAVAILABLE}, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"60"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
