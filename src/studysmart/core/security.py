"""Password hashing (argon2 via pwdlib) and signed, expiring access tokens (JWT, HS256)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))
ALGORITHM = "HS256"
# A real hash of a random string, verified against when the account does not exist so that response time does
# not reveal which emails are registered.
_DUMMY_HASH = _hasher.hash("studysmart-no-such-user")
#: Account keys and auth epochs are URL-safe random strings (``secrets.token_urlsafe``).
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_VERSION = 2**31 - 1  # ``users.token_version`` is a 32-bit column


class InvalidToken(ValueError):
    """The token is malformed, tampered with, expired, or its claims are not what this app issues."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: the account (its never-reused key), its token version and the auth epoch."""

    account_key: str
    version: int
    epoch: str


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether ``password`` matches; with no hash, spends the same time and returns False."""
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # an unreadable stored hash is a failed login, not a crash
        return False


def create_token(*, account_key: str, version: int, epoch: str, secret: str, ttl: timedelta, now: datetime) -> str:
    """A signed token for the account ``account_key``; ``version`` lets log-out and password changes revoke old
    tokens, ``epoch`` lets a database restore revoke every token issued before it."""
    payload: dict[str, Any] = {"sub": account_key, "ver": version, "ep": epoch, "iat": now, "exp": now + ttl}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def is_key(value: object) -> bool:
    """Whether ``value`` has the form of an account key or an auth epoch."""
    return isinstance(value, str) and _KEY.fullmatch(value) is not None


def read_token(token: str, *, secret: str) -> TokenClaims:
    """The claims of a valid token; raises InvalidToken otherwise (also for a validly signed token whose claims
    have the wrong type or range, so that no odd claim reaches the database)."""
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM],
                             options={"require": ["sub", "exp", "iat", "ver", "ep"]})
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as exc:
        raise InvalidToken(str(exc)) from exc
    subject, version, epoch = payload["sub"], payload["ver"], payload["ep"]
    if not is_key(subject) or not is_key(epoch):
        raise InvalidToken("malformed subject or epoch")
    if type(version) is not int or not 0 <= version <= _MAX_VERSION:  # bool is an int subclass: excluded
        raise InvalidToken("malformed version")
    return TokenClaims(account_key=subject, version=version, epoch=epoch)


def digest(value: str) -> str:
    """The SHA-256 (hex) of a secret that is stored only as its digest (login tickets, reset links)."""
    return hashlib.sha256(value.encode()).hexdigest()
