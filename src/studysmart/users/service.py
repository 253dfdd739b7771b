"""Accounts: registration, authentication with rate limiting, password changes, tokens, deletion."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studysmart.core import security
from studysmart.core.db import on_commit, utcnow
from studysmart.predictions import service as predictions
from studysmart.training import service as training
from studysmart.users.models import DEFAULT_PREFERENCES, LoginAttempt, User

RATE_WINDOW = timedelta(minutes=1)


class EmailTaken(ValueError):
    """An account with this email exists already."""


class InvalidCredentials(PermissionError):
    """Wrong email or password (deliberately not saying which)."""


class NotAuthenticated(PermissionError):
    """No valid session or token."""


class TooManyAttempts(RuntimeError):
    """Too many login attempts for this account or client in the last minute."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many login attempts; try again in {retry_after} s")
        self.retry_after = retry_after


def normalize_email(email: str) -> str:
    """The stored form of an email: trimmed and lower-cased."""
    return email.strip().lower()


def register(*, session: Session, email: str, password: str, display_name: str, now: datetime,
             client: str | None = None, limit: int | None = None) -> User:
    """Create an account; raises EmailTaken. With ``client`` and ``limit``, sign-ups are rate-limited per client
    address (TooManyAttempts); the attempt is then committed first, so it counts even if the sign-up fails."""
    if client is not None and limit is not None:  # first: a refused sign-up must not cost a hash
        check_rate_limit(session=session, keys=[f"register:{client}"], limit=limit, now=now)
        session.commit()
    password_hash = security.hash_password(password)  # slow (~0.5 s): while no database lock is held
    email = normalize_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken(email)
    user = User(email=email, display_name=display_name.strip(), password_hash=password_hash,
                created_at=now, preferences=dict(DEFAULT_PREFERENCES))
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise EmailTaken(email) from exc
    return user


def check_rate_limit(*, session: Session, keys: list[str], limit: int, now: datetime) -> None:
    """Record one attempt under each key; raises TooManyAttempts when any key is over ``limit`` a minute."""
    since = now - RATE_WINDOW
    if session.get_bind().dialect.name == "postgresql":
        # Serialise attempts per key so that parallel guesses cannot all pass the count before any is recorded
        # (SQLite already serialises writers with BEGIN IMMEDIATE).
        for key in sorted(keys):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
    session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < since))
    for key in keys:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginAttempt.created_at))
            .where(LoginAttempt.key == key, LoginAttempt.created_at >= since)
        ).one()
        if count >= limit:
            retry_after = max(1, int((oldest + RATE_WINDOW - now).total_seconds()) + 1)
            raise TooManyAttempts(retry_after)
    session.add_all([LoginAttempt(key=key, created_at=now) for key in keys])


def authenticate(*, session: Session, email: str, password: str, client: str, limit: int, now: datetime) -> User:
    """The user with these credentials. Attempts count per account and per client address (TooManyAttempts);
    the attempt is committed before the password is checked, so it counts even when the credentials are wrong."""
    email = normalize_email(email)
    check_rate_limit(session=session, keys=[f"account:{email}", f"client:{client}"], limit=limit, now=now)
    user = session.scalar(select(User).where(User.email == email))
    # Commit the attempt now: it must count whatever happens next, and the slow hash check (~0.5 s) must not
    # hold the database's write lock.
    session.commit()
    if not security.verify_password(password, user.password_hash if user else None) or user is None:
        raise InvalidCredentials("wrong email or password")
    return user


def issue_token(*, user: User, secret: str, ttl: timedelta, now: datetime) -> str:
    """A bearer token for ``user``."""
    return security.create_token(subject=str(user.id), version=user.token_version, secret=secret, ttl=ttl, now=now)


def user_from_token(*, session: Session, token: str, secret: str) -> User:
    """The user a valid, unrevoked token belongs to; raises NotAuthenticated."""
    try:
        subject, version = security.read_token(token, secret=secret)
        user = session.get(User, int(subject))
    except (security.InvalidToken, ValueError) as exc:
        raise NotAuthenticated("invalid or expired token") from exc
    if user is None or user.token_version != version:
        raise NotAuthenticated("invalid or expired token")
    return user


def revoke_tokens(*, session: Session, user: User) -> None:
    """Log out everywhere: every token and session issued so far stops working."""
    user.token_version += 1


def password_attempt(*, session: Session, user: User, limit: int, now: datetime) -> None:
    """Count one attempt at confirming ``user``'s current password; raises TooManyAttempts over ``limit`` a
    minute. Commit it before ``change_password``, so that wrong guesses count (a stolen token must not be a way to
    guess the password)."""
    check_rate_limit(session=session, keys=[f"password:{user.id}"], limit=limit, now=now)


def change_password(*, session: Session, user: User, current_password: str, new_password: str) -> None:
    """Set a new password after checking the current one; revokes existing tokens."""
    if not security.verify_password(current_password, user.password_hash):
        raise InvalidCredentials("current password is wrong")
    user.password_hash = security.hash_password(new_password)
    revoke_tokens(session=session, user=user)


def update_profile(*, session: Session, user: User, display_name: str | None,
                   preferences: dict[str, Any] | None) -> User:
    """Change the display name and/or merge preferences."""
    if display_name is not None:
        user.display_name = display_name
    if preferences:
        user.preferences = {**DEFAULT_PREFERENCES, **(user.preferences or {}), **preferences}
    return user


def delete_account(*, session: Session, user: User) -> None:
    """Delete the account and, through cascades, every task, prediction and exam of it. Its answers leave the
    sample count, and its fitted parameters leave serving (this process at once, the others at their next model
    refresh) and the stored models (at the next training): see training.service.forget_student."""
    person = predictions.person_label(user.id)
    training.forget_student(session=session, user_id=user.id, person=person, now=utcnow())
    session.delete(user)
    session.flush()
    on_commit(session, lambda: predictions.forget_persons([person]))
