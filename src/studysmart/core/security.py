"""Password hashing (argon2 via pwdlib) and signed, expiring access tokens (JWT, HS256)."""

from __future__ import annotations

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


class InvalidToken(ValueError):
    """The token is malformed, tampered with, or expired."""


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


def create_token(*, subject: str, version: int, secret: str, ttl: timedelta, now: datetime) -> str:
    """A signed token for user ``subject``; ``version`` lets log-out and password changes revoke old tokens."""
    payload: dict[str, Any] = {"sub": subject, "ver": version, "iat": now, "exp": now + ttl}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> tuple[str, int]:
    """The (subject, version) of a valid token; raises InvalidToken otherwise."""
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "ver"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    return str(payload["sub"]), int(payload["ver"])
