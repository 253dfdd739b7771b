"""Web sessions: who is logged in, until when, and the way back after logging in.

Logging in stores ``{user_id, token_version, login_at, tz}`` in ``app.storage.user``: server-side storage
keyed by NiceGUI's session cookie, which is signed with ``settings.resolved_secret_key()``. Every page load
and every action checks it against the database again, so a session ends when it is older than
``settings.session_ttl_hours``, when the account is gone, or when ``User.token_version`` moved (log out
everywhere, password change). Pages only ever load the logged-in user's own rows through the services, which
filter by owner.

CSRF: the UI has no cookie-authenticated form posts. Pages are plain GETs that change nothing; every state
change (log in, create, complete, delete, settings) is an event sent over the page's NiceGUI websocket, which
is bound to the unguessable client id embedded in the page the browser loaded from this origin. Another site
can make the browser send the cookie, but it cannot read that page, so it cannot name a client to act through.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui
from sqlalchemy.orm import Session

from studysmart.core.db import transaction, utcnow
from studysmart.users.models import User
from studysmart.web import context

R = TypeVar("R")
HOME = "/dashboard"
_KEYS = ("user_id", "token_version", "login_at", "tz")


class SessionExpired(PermissionError):  # noqa: N818 - a state, like NotAuthenticated
    """The web session is missing, too old, or revoked."""


@dataclass(frozen=True)
class Identity:
    """The logged-in user of this browser, as stored in ``app.storage.user``."""

    user_id: int
    token_version: int
    login_at: datetime
    tz: str

    @property
    def zone(self) -> ZoneInfo:
        """The browser's time zone (UTC if unknown)."""
        return zone_of(self.tz)


def zone_of(name: str | None) -> ZoneInfo:
    """The time zone called ``name``, or UTC when it is unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path of this site, never another site."""
    if target and target.startswith(HOME) and "//" not in target and "\\" not in target:
        return target
    return HOME


def login_url(next_path: str) -> str:
    """The log-in page that comes back to ``next_path`` afterwards."""
    return f"/?next={quote(safe_next(next_path), safe='/')}"


def start_session(user: User, *, tz: str, now: datetime) -> None:
    """Log ``user`` in for this browser (needs the UI context)."""
    app.storage.user.update({"user_id": user.id, "token_version": user.token_version,
                             "login_at": now.isoformat(), "tz": str(zone_of(tz))})


def refresh_session(user: User) -> None:
    """Keep this browser logged in after its own password change moved ``token_version``."""
    app.storage.user["token_version"] = user.token_version


def end_session() -> None:
    """Log this browser out (needs the UI context)."""
    for key in _KEYS:
        app.storage.user.pop(key, None)


def identity() -> Identity | None:
    """The stored identity of this browser, unchecked (None when nobody is logged in)."""
    stored: dict[str, Any] = dict(app.storage.user)
    try:
        return Identity(user_id=int(stored["user_id"]), token_version=int(stored["token_version"]),
                        login_at=datetime.fromisoformat(stored["login_at"]),
                        tz=str(stored.get("tz") or "UTC"))
    except (KeyError, TypeError, ValueError):
        return None


def load_user(session: Session, who: Identity | None, now: datetime) -> User:
    """The user of a valid session; raises SessionExpired.

    Args:
        session: a database session.
        who: the stored identity.
        now: the current time.

    Returns:
        The logged-in user, loaded in ``session``.
    """
    if who is None:
        raise SessionExpired("not logged in")
    if now - who.login_at > timedelta(hours=context.settings().session_ttl_hours):
        raise SessionExpired("session expired")
    user = session.get(User, who.user_id)
    if user is None or user.token_version != who.token_version:
        raise SessionExpired("session revoked")
    return user


def require_user(request: Request) -> tuple[User, Identity] | RedirectResponse:
    """For a page: the logged-in user, or a redirect to the log-in page that comes back here."""
    who = identity()
    try:
        with context.sessions()() as session:
            user = load_user(session, who, utcnow())
    except SessionExpired:
        end_session()
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(login_url(target), status_code=303)
    assert who is not None
    return user, who


async def act(who: Identity, work: Callable[[Session, User], R]) -> R:
    """Run ``work(session, user)`` for the logged-in user in one transaction, off the event loop.

    Raises SessionExpired (checked again for every action, so a revoked session cannot keep acting, and a page
    whose browser has logged out since, in another tab, or in as someone else, cannot act either).
    """
    if identity() != who:
        raise SessionExpired("this browser logged out")

    def run_in_transaction() -> R:
        with transaction(context.sessions()) as session:
            return work(session, load_user(session, who, utcnow()))

    return await context.in_thread(run_in_transaction)


def expire_and_leave(path: str) -> None:
    """Log this browser out and go to the log-in page (after an action found the session expired)."""
    with contextlib.suppress(RuntimeError):
        end_session()
    ui.notify("Your session has ended; please log in again.", type="warning")
    ui.navigate.to(login_url(path))
