"""Accounts: registration, authentication with rate limiting and guessing throttles, password changes, tokens,
the auth epoch, login tickets, deletion."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studysmart.core import security
from studysmart.core.db import on_commit, utcnow
from studysmart.core.exceptions import DomainError
from studysmart.learning import history as stored_answers
from studysmart.learning import tracker as training
from studysmart.learning.context import context_of
from studysmart.users.models import DEFAULT_PREFERENCES, AuthState, LoginAttempt, LoginTicket, User, new_key
from studysmart.users.passwords import password_problem

RATE_WINDOW = timedelta(minutes=1)
#: Failed logins are remembered this long for the guessing throttle.
FAILURE_WINDOW = timedelta(minutes=15)
#: Failures an address may make before it waits (none once the account is under attack).
FREE_FAILURES = 3
FIRST_FAILURE_DELAY = timedelta(seconds=5)
MAX_FAILURE_DELAY = timedelta(minutes=15)
TICKET_TTL = timedelta(seconds=60)
_NO_EPOCH = "unset"  # the epoch of a database without an auth_state row (never the case after migration 0004)


class EmailTaken(DomainError, ValueError):
    """An account with this email exists already."""

    status = 409

    def __init__(self, email: str) -> None:
        super().__init__("an account with this email already exists")
        self.email = email


class InvalidCredentials(DomainError, PermissionError):
    """Wrong email or password (deliberately not saying which)."""

    status = 400


class NotAuthenticated(DomainError, PermissionError):
    """No valid session or token."""

    status = 401

    def __init__(self, message: str = "not authenticated") -> None:
        super().__init__("not authenticated", headers={"WWW-Authenticate": "Bearer"})
        self.reason = message


class WeakPassword(DomainError, ValueError):
    """A new password is too short or too easy to guess; ``field`` names it, ``reason`` says why."""

    status = 422

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason, field=field)
        self.reason = reason


class TooManyAttempts(DomainError, RuntimeError):
    """Too many login attempts for this client, or too many failures: wait ``retry_after`` seconds."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many login attempts; try again in {retry_after} s",
                         headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


def normalize_email(email: str) -> str:
    """The stored form of an email: trimmed and lower-cased."""
    return email.strip().lower()


def require_strong(password: str, *, field: str, email: str, display_name: str) -> None:
    """Raise WeakPassword (naming ``field``) unless ``password`` meets the password policy."""
    problem = password_problem(password, user_inputs=[email, display_name])
    if problem is not None:
        raise WeakPassword(field, problem)


def register(*, session: Session, email: str, password: str, display_name: str, now: datetime,
             client: str | None = None, limit: int | None = None) -> User:
    """Create an account; raises EmailTaken or WeakPassword. With ``client`` and ``limit``, sign-ups are
    rate-limited per client address (TooManyAttempts); the attempt is then committed first, so it counts even if
    the sign-up fails."""
    if client is not None and limit is not None:  # first: a refused sign-up must not cost a hash
        check_rate_limit(session=session, keys=[f"register:{client}"], limit=limit, now=now)
        session.commit()
    email = normalize_email(email)
    require_strong(password, field="password", email=email, display_name=display_name)
    password_hash = security.hash_password(password)  # slow (~0.5 s): while no database lock is held
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise EmailTaken(email)
    user = User(email=email, display_name=display_name.strip(), password_hash=password_hash,
                created_at=now, preferences=dict(DEFAULT_PREFERENCES), account_key=new_key())
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise EmailTaken(email) from exc
    return user


def _lock_keys(session: Session, keys: list[str]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # Serialise attempts per key so that parallel guesses cannot all pass the count before any is recorded
        # (SQLite already serialises writers with BEGIN IMMEDIATE).
        for key in sorted(keys):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


def check_rate_limit(*, session: Session, keys: list[str], limit: int, now: datetime) -> None:
    """Record one attempt under each key; raises TooManyAttempts when any key is over ``limit`` a minute."""
    since = now - RATE_WINDOW
    _lock_keys(session, keys)
    session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - FAILURE_WINDOW))
    for key in keys:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginAttempt.created_at))
            .where(LoginAttempt.key == key, LoginAttempt.created_at >= since)
        ).one()
        if count >= limit:
            retry_after = max(1, int((oldest + RATE_WINDOW - now).total_seconds()) + 1)
            raise TooManyAttempts(retry_after)
    session.add_all([LoginAttempt(key=key, created_at=now) for key in keys])


def _failures(session: Session, key: str, now: datetime) -> tuple[int, datetime | None]:
    count, latest = session.execute(
        select(func.count(), func.max(LoginAttempt.created_at))
        .where(LoginAttempt.key == key, LoginAttempt.created_at >= now - FAILURE_WINDOW)
    ).one()
    return int(count), latest


def failure_delay(*, client_failures: int, account_failures: int, limit: int) -> timedelta:
    """How long an address with ``client_failures`` recent failed logins waits after its latest one before its
    next password is checked. An address without failures never waits (so the owner logs in from a clean
    address while someone guesses elsewhere); after a few free failures (none once the account has had
    ``limit`` failures: it is under attack) the wait doubles with every further failure."""
    free = 0 if account_failures >= limit else FREE_FAILURES
    if client_failures == 0 or client_failures < free:
        return timedelta(0)
    result: timedelta = min(MAX_FAILURE_DELAY, FIRST_FAILURE_DELAY * 2 ** min(client_failures - max(free, 1), 20))
    return result


def _failure_keys(email: str, client: str) -> tuple[str, str]:
    # The email is whatever the form said (any length): its digest keeps the key short.
    return f"failed-client:{client[:300]}", f"failed-account:{security.digest(email)}"


def _throttle_guessing(session: Session, *, email: str, client: str, limit: int, now: datetime) -> None:
    client_key, account_key = _failure_keys(email, client)
    client_failures, latest = _failures(session, client_key, now)
    account_failures, _ = _failures(session, account_key, now)
    delay = failure_delay(client_failures=client_failures, account_failures=account_failures, limit=limit)
    if latest is not None and delay > timedelta(0) and latest + delay > now:
        raise TooManyAttempts(max(1, math.ceil((latest + delay - now).total_seconds())))


def authenticate(*, session: Session, email: str, password: str, client: str, limit: int, now: datetime) -> User:
    """The user with these credentials.

    Attempts are limited per client address (``limit`` a minute). Failed logins slow down the address that made
    them (``failure_delay``), never the account itself, so guesses from many addresses cannot lock the owner
    out. Raises TooManyAttempts or InvalidCredentials; the attempt and any failure are committed.
    """
    email = normalize_email(email)
    check_rate_limit(session=session, keys=[f"client:{client}"], limit=limit, now=now)
    session.commit()  # the attempt counts whatever happens next
    _throttle_guessing(session, email=email, client=client, limit=limit, now=now)
    user = session.scalar(select(User).where(User.email == email))
    session.commit()  # the slow hash check (~0.5 s) must not hold the database's write lock
    if not security.verify_password(password, user.password_hash if user else None) or user is None:
        session.add_all([LoginAttempt(key=key, created_at=now) for key in _failure_keys(email, client)])
        session.commit()
        raise InvalidCredentials("wrong email or password")
    return user


def auth_epoch(session: Session) -> str:
    """The current auth epoch (tokens and web sessions issued in another epoch are refused)."""
    return session.scalar(select(AuthState.epoch).where(AuthState.id == 1)) or _NO_EPOCH


def renew_auth_epoch(*, session: Session, now: datetime) -> str:
    """Start a new auth epoch: every token and web session issued so far stops working (after a restore)."""
    epoch = new_key()
    state = session.get(AuthState, 1)
    if state is None:
        session.add(AuthState(id=1, epoch=epoch, changed_at=now))
    else:
        state.epoch, state.changed_at = epoch, now
    session.flush()
    return epoch


def issue_token(*, session: Session, user: User, secret: str, ttl: timedelta, now: datetime) -> str:
    """A bearer token for ``user`` in the current auth epoch."""
    return security.create_token(account_key=user.account_key, version=user.token_version,
                                 epoch=auth_epoch(session), secret=secret, ttl=ttl, now=now)


def current_user(*, session: Session, account_key: str, version: int, epoch: str) -> User:
    """The account a token or web session names, if it is still valid; raises NotAuthenticated."""
    if not security.is_key(account_key) or not security.is_key(epoch):
        raise NotAuthenticated("invalid or expired session")
    current_epoch = select(AuthState.epoch).where(AuthState.id == 1).scalar_subquery()
    row = session.execute(select(User, current_epoch).where(User.account_key == account_key)).first()
    if row is None or row[0].token_version != version or epoch != (row[1] or _NO_EPOCH):  # one query per request
        raise NotAuthenticated("invalid or expired session")
    user: User = row[0]
    return user


def account(*, session: Session, user_id: int) -> User:
    """The account with this id in ``session`` (NotAuthenticated if it was deleted meanwhile)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotAuthenticated("invalid or expired session")
    return user


def user_from_token(*, session: Session, token: str, secret: str) -> User:
    """The user a valid, unrevoked token belongs to; raises NotAuthenticated."""
    try:
        claims = security.read_token(token, secret=secret)
    except security.InvalidToken as exc:
        raise NotAuthenticated("invalid or expired token") from exc
    return current_user(session=session, account_key=claims.account_key, version=claims.version,
                        epoch=claims.epoch)


def revoke_tokens(*, session: Session, user: User) -> None:
    """Log out everywhere: every token and session issued so far stops working."""
    user.token_version += 1


def password_attempt(*, session: Session, user: User, limit: int, now: datetime) -> None:
    """Count one attempt at confirming ``user``'s current password; raises TooManyAttempts over ``limit`` a
    minute. Commit it before ``change_password`` or ``delete_account``, so that wrong guesses count (a stolen
    token must not be a way to guess the password)."""
    check_rate_limit(session=session, keys=[f"password:{user.id}"], limit=limit, now=now)


def change_password(*, session: Session, user: User, current_password: str, new_password: str) -> None:
    """Set a new password after checking it against the policy (WeakPassword, naming ``new_password``) and the
    current one (InvalidCredentials); revokes existing tokens."""
    require_strong(new_password, field="new_password", email=user.email, display_name=user.display_name)
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


@dataclass(frozen=True)
class TicketGrant:
    """What a redeemed login ticket grants: a web session for ``user`` as it was when the ticket was issued."""

    user: User
    token_version: int
    epoch: str
    tz: str
    next_path: str


def create_login_ticket(*, session: Session, user: User, browser: str, tz: str, next_path: str,
                        now: datetime) -> str:
    """A single-use ticket, valid for ``TICKET_TTL``, that the browser session ``browser`` redeems for a fresh
    web session of ``user``. Only its digest is stored."""
    session.execute(delete(LoginTicket).where(LoginTicket.expires_at < now))
    ticket = secrets.token_urlsafe(32)
    session.add(LoginTicket(digest=security.digest(ticket), user_id=user.id, browser=security.digest(browser),
                            token_version=user.token_version, epoch=auth_epoch(session), tz=tz[:64],
                            next_path=next_path[:512], expires_at=now + TICKET_TTL))
    session.flush()
    return ticket


def redeem_login_ticket(*, session: Session, ticket: str, browser: str, now: datetime) -> TicketGrant | None:
    """Use up ``ticket``; what it grants if it is unexpired and was issued to the browser session ``browser``
    (None otherwise). A ticket is gone after one try, whatever the outcome."""
    if not security.is_key(ticket):
        return None
    row = session.execute(
        delete(LoginTicket).where(LoginTicket.digest == security.digest(ticket))
        .returning(LoginTicket.user_id, LoginTicket.browser, LoginTicket.token_version, LoginTicket.epoch,
                   LoginTicket.tz, LoginTicket.next_path, LoginTicket.expires_at)
    ).one_or_none()
    if row is None or row.expires_at <= now or not secrets.compare_digest(row.browser,
                                                                          security.digest(browser)):
        return None
    user = session.get(User, row.user_id)
    if user is None:
        return None
    return TicketGrant(user=user, token_version=row.token_version, epoch=row.epoch, tz=row.tz,
                       next_path=row.next_path)


def delete_account(*, session: Session, user: User, current_password: str) -> None:
    """Delete the account after checking its current password (InvalidCredentials), and, through cascades,
    every task, prediction and exam of it. Its answers leave the sample count, and its fitted parameters leave
    serving (this process at once, the others at their next model refresh) and the stored models (at the next
    training): see training.service.forget_student."""
    if not security.verify_password(current_password, user.password_hash):
        raise InvalidCredentials("current password is wrong")
    person = stored_answers.person_label(user.id)
    training.forget_student(session=session, user_id=user.id, person=person, now=utcnow())
    session.delete(user)
    session.flush()
    context, user_id = context_of(session), user.id

    def _forget() -> None:
        context.models.forget([person])
        context.histories.forget(user_id)

    on_commit(session, _forget)
