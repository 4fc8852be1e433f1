"""The audit log (Article 28): who read which firm data, when, and with what answer.

One JSON object per line. A request is logged when its route names a province or a firm (lists,
downloads, firm pages — JSON and HTML alike), whatever its status, including refusals. The log
names the token by its id and name, never the token itself.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

AUDIT_STATE_KEY = "audit"  # request.state.audit: {"who": …, "province": …} set by the routes
FIRM_DATA_PARAMS = ("province", "credit_code")


class AuditLog:
    """Append-only JSON lines file; one lock so concurrent requests never interleave lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)


class AuditMiddleware:
    """Logs every firm-data request after it is answered (the router fills the path params)."""

    def __init__(self, app: ASGIApp, log: AuditLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            params = scope.get("path_params") or {}
            if any(name in params for name in FIRM_DATA_PARAMS):
                noted = (scope.get("state") or {}).get(AUDIT_STATE_KEY) or {}
                self.log.append(
                    {
                        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                        "who": noted.get("who"),
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "query": scope.get("query_string", b"").decode("latin-1"),
                        "run_id": params.get("run_id"),
                        "province": noted.get("province", params.get("province")),
                        "firm": params.get("credit_code"),
                        "status": status,
                    }
                )
