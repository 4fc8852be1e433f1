"""Access tokens: who may read which province (Articles 7-8 属地原则; Article 28 商业秘密).

A token reads `<id>.<secret>`: the id is public (it names the token in lists, revocations and
the audit log), the secret is 256 random bits shown once when the token is issued. The file
keeps, per token, a random 16-byte salt and SHA-256(salt ‖ secret) — never the secret. A slow
KDF (scrypt, PBKDF2) protects guessable passwords; a 256-bit random secret cannot be guessed,
so salted SHA-256 gives the same protection without slowing every request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from models.invitations import NO_PROVINCE
from zjtx.config import ConfigError, FrozenModel, load_config

Role = Literal["ministry", "province"]
PROVINCE_PATTERN = r"^\d{2}$"
TOKEN_ID_PATTERN = r"^[0-9a-f]{12}$"
SECRET_BYTES = 32
SALT_BYTES = 16


class TokenRecord(FrozenModel):
    """One issued token as stored in the tokens file (no secret in it)."""

    id: str = Field(pattern=TOKEN_ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    role: Role
    province: str | None = Field(default=None, pattern=PROVINCE_PATTERN)
    created: dt.date
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
        return self


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


def read_tokens(path: Path) -> TokenFile:
    """The tokens file; a missing file means no tokens have been issued yet."""
    if not path.exists():
        return TokenFile()
    try:
        return load_config(TokenFile, path.resolve())
    except OSError as exc:
        raise ConfigError(f"cannot read tokens file {path}: {exc.strerror or exc}") from None


def write_tokens(path: Path, tokens: TokenFile) -> None:
    """Atomic replace, readable by the owner only."""
    payload = {"tokens": [record.model_dump(mode="json") for record in tokens.tokens]}
    text = yaml.safe_dump(payload, allow_unicode=True, sort_keys=False)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        raise ConfigError(f"cannot write tokens file {path}: {exc.strerror or exc}") from None


def issue_token(
    path: Path, role: Role, province: str | None, name: str, today: dt.date | None = None
) -> tuple[TokenRecord, str]:
    """Add a token to the file; returns its record and the token text (shown once, never kept)."""
    existing = read_tokens(path)
    used = {record.id for record in existing.tokens}
    token_id = secrets.token_hex(6)
    while token_id in used:
        token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    salt = secrets.token_hex(SALT_BYTES)
    try:
        record = TokenRecord(
            id=token_id,
            name=name,
            role=role,
            province=province,
            created=today or dt.date.today(),
            salt=salt,
            sha256=_digest(salt, secret),
        )
    except ValidationError as exc:
        reasons = "; ".join(_reason(error) for error in exc.errors())
        raise ConfigError(f"cannot issue token: {reasons}") from None
    write_tokens(path, TokenFile(tokens=[*existing.tokens, record]))
    return record, f"{token_id}.{secret}"


def revoke_token(path: Path, token_id: str) -> TokenRecord:
    """Mark a token revoked (kept in the file so the audit log's ids stay explained)."""
    existing = read_tokens(path)
    match = [record for record in existing.tokens if record.id == token_id]
    if not match:
        raise ConfigError(f"no token with id {token_id!r} in {path}")
    revoked = match[0].model_copy(update={"revoked": True})
    tokens = [revoked if record.id == token_id else record for record in existing.tokens]
    write_tokens(path, TokenFile(tokens=tokens))
    return revoked


class TokenStore:
    """Checks presented tokens against the file, re-reading it when it changes (revocations
    take effect on the next request, without a restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._by_id: dict[str, TokenRecord] = {}

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp == self._stamp and (stamp is not None or not self._by_id):
                return
            records = read_tokens(self.path).tokens if stamp is not None else []
            self._by_id = {record.id: record for record in records}
            self._stamp = stamp

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal of a valid, unrevoked token; None for anything else."""
        if not token or len(token) > 200:
            return None
        token_id, _, secret = token.strip().partition(".")
        if not secret:
            return None
        self._refresh()
        record = self._by_id.get(token_id)
        if record is None or record.revoked:
            return None
        if not hmac.compare_digest(_digest(record.salt, secret), record.sha256):
            return None
        return Principal(record.id, record.name, record.role, record.province)
