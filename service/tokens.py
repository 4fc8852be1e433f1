"""Access tokens: who may read which province (Articles 7-8 属地原则; Article 28 商业秘密).

A token reads `<id>.<secret>`: the id is public (it names the token in lists, revocations and
the audit log), the secret is 256 random bits shown once when the token is issued. The file
keeps, per token, a random 16-byte salt and SHA-256(salt ‖ secret) — never the secret. A slow
KDF (scrypt, PBKDF2) protects guessable passwords; a 256-bit random secret cannot be guessed,
so salted SHA-256 gives the same protection without slowing every request.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from core.config import ConfigError, FrozenModel, load_config
from models.invitations import NO_PROVINCE

Role = Literal["ministry", "province"]
PROVINCE_PATTERN = r"^[0-9]{2}$"  # ASCII digits only: \d would also take ２ or ٤
TOKEN_ID_PATTERN = r"^[0-9a-f]{12}$"
SECRET_BYTES = 32
SALT_BYTES = 16
MAX_TOKEN_LENGTH = 200
_TOKEN_ID = re.compile(TOKEN_ID_PATTERN)
log = logging.getLogger("zjtx.service")


class TokenFileError(ConfigError):
    """The tokens file exists but cannot be used (malformed, unreadable): nobody is let in."""


class TokenRecord(FrozenModel):
    """One issued token as stored in the tokens file (no secret in it)."""

    id: str = Field(pattern=TOKEN_ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    role: Role
    province: str | None = Field(default=None, pattern=PROVINCE_PATTERN)
    created: dt.date
    expires: dt.date | None = Field(default=None, description="last day the token is valid")
    revoked: bool = False
    salt: str = Field(pattern=r"^[0-9a-f]{32}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _province_matches_role(self) -> TokenRecord:
        if self.role == "province" and self.province is None:
            raise ValueError("a province token needs its 2-digit province code")
        if self.province == NO_PROVINCE:
            raise ValueError(f"{NO_PROVINCE} is not a province (firms without a region code)")
        if self.role == "ministry" and self.province is not None:
            raise ValueError("a ministry token reads every province: no province code")
        if self.expires is not None and self.expires < self.created:
            raise ValueError("expires is before the day the token was issued")
        return self

    def valid_on(self, day: dt.date) -> bool:
        """Not revoked and not past its last day."""
        return not self.revoked and (self.expires is None or day <= self.expires)


class TokenFile(FrozenModel):
    tokens: list[TokenRecord] = Field(default_factory=list)


@dataclass(frozen=True)
class Principal:
    """The holder of a valid token, as the application sees it."""

    token_id: str
    name: str
    role: Role
    province: str | None

    def can_read(self, province: str | None) -> bool:
        """Ministry reads every province; a province token only its own (unknown: ministry only)."""
        if self.role == "ministry":
            return True
        return province is not None and province == self.province

    def audit(self) -> dict[str, str | None]:
        return {
            "id": self.token_id,
            "name": self.name,
            "role": self.role,
            "province": self.province,
        }


def _digest(salt_hex: str, secret: str) -> str:
    return hashlib.sha256(
        bytes.fromhex(salt_hex) + secret.encode("utf-8", "surrogatepass")
    ).hexdigest()


def _reason(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "token"
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


def presented_id(token: str | None) -> str | None:
    """The public id part of a presented token, for the audit log; None unless it looks like one
    (so that a secret pasted without its id is never written anywhere)."""
    if not token:
        return None
    token_id = token.strip().partition(".")[0]
    return token_id if _TOKEN_ID.match(token_id) else None


def read_tokens(path: Path) -> TokenFile:
    """The tokens file; a missing file means no tokens have been issued yet."""
    if not path.exists():
        return TokenFile()
    try:
        return load_config(TokenFile, path.resolve())
    except OSError as exc:
        raise TokenFileError(f"cannot read tokens file {path}: {exc.strerror or exc}") from None
    except ConfigError as exc:
        raise TokenFileError(str(exc)) from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock (fcntl) on a lock file beside the tokens file, held across a whole
    read-modify-write, so that concurrent `token add` / `token revoke` never lose an update."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot lock tokens file {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def write_tokens(path: Path, tokens: TokenFile) -> None:
    """Atomic and durable: temporary file, fsync, rename over the file, fsync of the directory.
    Readable by the owner only. Call it under `_locked` (see `update_tokens`)."""
    payload = {"tokens": [_stored(record) for record in tokens.tokens]}
    text = yaml.safe_dump(payload, allow_unicode=True, sort_keys=False)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"cannot write tokens file {path}: {exc.strerror or exc}") from None


def _stored(record: TokenRecord) -> dict[str, Any]:
    stored = record.model_dump(mode="json")
    if stored["expires"] is None:
        del stored["expires"]  # files written before expiry existed read the same
    return stored


def update_tokens(path: Path, change: Callable[[TokenFile], TokenFile]) -> TokenFile:
    """Read-modify-write under the lock, re-reading the file once the lock is held."""
    with _locked(path):
        updated = change(read_tokens(path))
        write_tokens(path, updated)
        return updated


def issue_token(
    path: Path,
    role: Role,
    province: str | None,
    name: str,
    today: dt.date | None = None,
    expires: dt.date | None = None,
) -> tuple[TokenRecord, str]:
    """Add a token to the file; returns its record and the token text (shown once, never kept)."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    salt = secrets.token_hex(SALT_BYTES)
    issued: list[TokenRecord] = []

    def add(existing: TokenFile) -> TokenFile:
        used = {record.id for record in existing.tokens}
        token_id = secrets.token_hex(6)
        while token_id in used:
            token_id = secrets.token_hex(6)
        try:
            record = TokenRecord(
                id=token_id,
                name=name,
                role=role,
                province=province,
                created=today or dt.date.today(),
                expires=expires,
                salt=salt,
                sha256=_digest(salt, secret),
            )
        except ValidationError as exc:
            reasons = "; ".join(_reason(error) for error in exc.errors())
            raise ConfigError(f"cannot issue token: {reasons}") from None
        issued.append(record)
        return TokenFile(tokens=[*existing.tokens, record])

    update_tokens(path, add)
    return issued[0], f"{issued[0].id}.{secret}"


def revoke_token(path: Path, token_id: str) -> TokenRecord:
    """Mark a token revoked (kept in the file so the audit log's ids stay explained)."""
    revoked: list[TokenRecord] = []

    def revoke(existing: TokenFile) -> TokenFile:
        match = [record for record in existing.tokens if record.id == token_id]
        if not match:
            raise ConfigError(f"no token with id {token_id!r} in {path}")
        revoked.append(match[0].model_copy(update={"revoked": True}))
        return TokenFile(
            tokens=[revoked[0] if record.id == token_id else record for record in existing.tokens]
        )

    update_tokens(path, revoke)
    return revoked[0]


class TokenStore:
    """Checks presented tokens against the file, re-reading it when it changes (revocations
    take effect on the next request, without a restart).

    A file that exists but cannot be used raises TokenFileError on every check (the service
    answers 503 and says why in its log) until it is repaired; nobody is let in meanwhile.
    """

    def __init__(self, path: Path, today: Callable[[], dt.date] = dt.date.today) -> None:
        self.path = path
        self._today = today
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._by_id: dict[str, TokenRecord] = {}
        self._error: str | None = None

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
            stamp: tuple[int, int, int] | None = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp or (stamp is None and self._by_id):
                try:
                    records = read_tokens(self.path).tokens if stamp is not None else []
                except TokenFileError as exc:
                    if self._error != str(exc):
                        log.error("tokens file unusable, refusing every request: %s", exc)
                    self._by_id, self._error = {}, str(exc)
                else:
                    if self._error is not None:
                        log.warning("tokens file usable again: %s", self.path)
                    self._by_id, self._error = {r.id: r for r in records}, None
                self._stamp = stamp
            if self._error is not None:
                raise TokenFileError(self._error)

    def problem(self) -> str | None:
        """Why the tokens file cannot be used, or None when it can (for /healthz)."""
        try:
            self._refresh()
        except TokenFileError as exc:
            return str(exc)
        return None

    def principal(self, token_id: str) -> Principal | None:
        """The holder of a token id that is still valid today (re-checked for every session)."""
        self._refresh()
        record = self._by_id.get(token_id)
        if record is None or not record.valid_on(self._today()):
            return None
        return Principal(record.id, record.name, record.role, record.province)

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal of a valid, unrevoked, unexpired token; None for anything else."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        token_id, _, secret = token.strip().partition(".")
        if not secret:
            return None
        self._refresh()
        record = self._by_id.get(token_id)
        if record is None or not record.valid_on(self._today()):
            return None
        if not hmac.compare_digest(_digest(record.salt, secret), record.sha256):
            return None
        return Principal(record.id, record.name, record.role, record.province)
