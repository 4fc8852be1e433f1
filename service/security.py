"""Request-level protections that apply to every route, whatever module defines it.

- Cross-site request forgery: every state-changing request (POST, PUT, PATCH, DELETE) must come
  from this site, as the browser reports it in `Sec-Fetch-Site`, `Origin` or `Referer`; anything
  else, including a request that says nothing, is refused with 403 before any route runs. A
  router added in a new module is covered without doing anything.
- Failed logins are throttled per client address (limit in configs/service.yaml).
- Security headers on every response: no caching of firm data (Article 28), no framing or
  sniffing, no referrer to other sites; HSTS when served over HTTPS.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_SITE_FETCH = frozenset({"same-origin", "none"})  # "none": the user's own navigation
CROSS_SITE = "跨站请求被拒绝"
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # same-origin: no referrer ever leaves the site, and older browsers without fetch metadata
    # still send a real Origin with our own forms (no-referrer would make it "null")
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
]
MAX_TRACKED_CLIENTS = 100_000


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _same_host(url: str, host: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host.lower()


def same_site(scope: Scope) -> bool:
    """Whether the browser says this request comes from a page of this very site.

    Fetch metadata first (every current browser sends it), then Origin, then Referer; a
    state-changing request that carries none of them is not trusted.
    """
    headers = _headers(scope)
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:  # set by the browser itself; a page cannot forge it
        return fetch_site.strip().lower() in SAME_SITE_FETCH
    host = headers.get("host", "")
    origin = headers.get("origin")
    if origin is not None:
        return _same_host(origin, host)  # "null" (sandboxed, file:) is never this site
    referer = headers.get("referer")
    return referer is not None and _same_host(referer, host)


class CrossSiteGuard:
    """403 for a state-changing request not made from this site (login CSRF included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if same_site(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": CROSS_SITE}, ensure_ascii=False).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response, and HSTS when the service is served securely."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.headers = [*SECURITY_HEADERS, *([HSTS] if hsts else [])]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LoginThrottle:
    """At most `max_failures` failed logins per client address within `window_s` seconds."""

    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[client]
        return times

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, self.clock())) >= self.max_failures

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
            self._failures.move_to_end(client)
            while len(self._failures) > MAX_TRACKED_CLIENTS:
                self._failures.popitem(last=False)
