"""Browser sessions held by the server (Article 28: firm data only to a present, valid holder).

The cookie carries a random session id (256 bits), never the token. The server keeps, per
session, the token id, when it was issued and when it ends; a session ends at its expiry
(configs/service.yaml, at most 8 hours, whatever the browser keeps), at logout, and whenever
its token is revoked or expires (checked on every request by the app).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

SESSION_ID_BYTES = 32


@dataclass(frozen=True)
class Session:
    token_id: str
    issued: float  # seconds since the epoch
    expires: float


def _key(session_id: str) -> str:
    """Sessions are kept under a hash of their id: a memory dump gives no usable cookie."""
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


class SessionStore:
    """Sessions in memory, oldest first; thread-safe. A restart ends every session."""

    def __init__(
        self,
        lifetime_s: float,
        max_sessions: int,
        clock: Callable[[], float] = time.time,
        max_per_token: int | None = None,
    ) -> None:
        self.lifetime_s = lifetime_s
        self.max_sessions = max_sessions
        # A token's own oldest session ends beyond this many: one token's logins never push
        # every other holder out.
        self.max_per_token = max_per_token or max_sessions
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def start(self, token_id: str) -> tuple[str, Session]:
        """A new session for a token: its id (for the cookie, shown nowhere else) and record."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        now = self.clock()
        session = Session(token_id, now, now + self.lifetime_s)
        with self._lock:
            self._drop_expired(now)
            own = [key for key, s in self._sessions.items() if s.token_id == token_id]
            for key in own[: max(0, len(own) - self.max_per_token + 1)]:
                del self._sessions[key]
            while len(self._sessions) >= self.max_sessions:
                self._sessions.popitem(last=False)
            self._sessions[_key(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this id; None when unknown, ended or past its expiry."""
        if not session_id or len(session_id) > 100:
            return None
        key = _key(session_id)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self.clock() >= session.expires:
                del self._sessions[key]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(_key(session_id), None)

    def _drop_expired(self, now: float) -> None:
        expired = [key for key, s in self._sessions.items() if now >= s.expires]
        for key in expired:
            del self._sessions[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
