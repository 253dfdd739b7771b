"""Web sessions: who is logged in, until when, and the way back after logging in.

A login stores ``{account_key, token_version, epoch, login_at, tz}`` in ``app.storage.user``: server-side
storage keyed by the browser id in NiceGUI's session cookie (Starlette's SessionMiddleware, signed with
``settings.resolved_secret_key()``). Every page load and every action checks it against the database again, so
a session ends when it is older than ``settings.session_ttl_hours``, when the account is gone, when
``User.token_version`` moved (log out everywhere, password change), or when a database restore started a new
auth epoch. The account is named by its never-reused ``account_key``, not by its row id. Pages only ever load the
logged-in user's own rows through the services, which filter by owner.

Session fixation: a login never writes into the storage of the browser id it was made from (someone may have
planted that cookie). The login, checked over the page's websocket, issues a single-use ticket bound to that
browser id; the browser redeems it over HTTP (``TICKET_PATH``), which gives it a new browser id (a new cookie)
and then (``ENTER_PATH``, the first request with the new cookie) writes the identity into the new id's storage.
Logging out clears the identity and sends the browser to ``FRESH_PATH`` for a new browser id too.

CSRF: the UI has no cookie-authenticated form posts. Pages are plain GETs that change nothing; every state
change (log in, create, complete, delete, settings) is an event sent over the page's NiceGUI websocket, which
is bound to the unguessable client id embedded in the page the browser loaded from this origin. Another site
can make the browser send the cookie, but it cannot read that page, so it cannot name a client to act through.
The three session routes are GETs that only ever replace the browser id: a ticket works only for the browser
id it was issued to, and ``FRESH_PATH`` does nothing while the browser is logged in.
"""

from __future__ import annotations

import contextlib
import uuid
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
from studysmart.users import service as users
from studysmart.users.models import User
from studysmart.web import context

R = TypeVar("R")
HOME = "/dashboard"
TICKET_PATH = "/auth/session"
ENTER_PATH = "/auth/session/enter"
FRESH_PATH = "/auth/session/new"
_KEYS = ("account_key", "token_version", "epoch", "login_at", "tz")
_PENDING = "pending_login"  # in the signed session cookie between TICKET_PATH and ENTER_PATH


class SessionExpired(PermissionError):  # a state, like NotAuthenticated
    """The web session is missing, too old, or revoked."""


@dataclass(frozen=True)
class Identity:
    """The logged-in user of this browser, as stored in ``app.storage.user``."""

    account_key: str
    token_version: int
    epoch: str
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
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory of zones, like "America"
        return ZoneInfo("UTC")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path of this site, never another site."""
    if target and target.startswith(HOME) and "//" not in target and "\\" not in target and len(target) <= 512:
        return target
    return HOME


def login_url(next_path: str) -> str:
    """The log-in page that comes back to ``next_path`` afterwards."""
    return f"/?next={quote(safe_next(next_path), safe='/')}"


def _issue_ticket(user_id: int, browser: str, tz: str, next_path: str) -> str:
    with transaction(context.sessions()) as session:
        user = session.get(User, user_id)
        if user is None:
            raise SessionExpired("the account is gone")
        return users.create_login_ticket(session=session, user=user, browser=browser, tz=tz,
                                         next_path=next_path, now=utcnow())


async def start_session(user: User, *, tz: str, next_path: str | None) -> None:
    """Log ``user`` in for this browser (needs the UI context): a ticket for this browser id, redeemed by the
    browser over HTTP for a new browser id that holds the identity."""
    browser = str(ui.context.client.request.session.get("id", ""))
    ticket = await context.in_thread(_issue_ticket, user.id, browser, str(zone_of(tz)), safe_next(next_path))
    ui.navigate.to(f"{TICKET_PATH}?ticket={ticket}")


def refresh_session(user: User) -> None:
    """Keep this browser logged in after its own password change moved ``token_version``."""
    app.storage.user["token_version"] = user.token_version


def end_session() -> None:
    """Forget this browser's login (needs the UI or request context)."""
    for key in (*_KEYS, "user_id"):  # user_id: sessions stored before account keys
        app.storage.user.pop(key, None)


def log_out(next_path: str | None = None) -> None:
    """Log this browser out and give it a new browser id (needs the UI context)."""
    end_session()
    ui.navigate.to(FRESH_PATH + (f"?next={quote(safe_next(next_path), safe='/')}" if next_path else ""))


def identity() -> Identity | None:
    """The stored identity of this browser, unchecked (None when nobody is logged in)."""
    stored: dict[str, Any] = dict(app.storage.user)
    try:
        return Identity(account_key=str(stored["account_key"]), token_version=int(stored["token_version"]),
                        epoch=str(stored["epoch"]), login_at=datetime.fromisoformat(stored["login_at"]),
                        tz=str(stored.get("tz") or "UTC"))
    except (KeyError, TypeError, ValueError, OverflowError):
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
    try:
        return users.current_user(session=session, account_key=who.account_key, version=who.token_version,
                                  epoch=who.epoch)
    except users.NotAuthenticated as exc:
        raise SessionExpired("session revoked") from exc
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
    ui.notify("Your session has ended; please log in again.", type="warning")
    with contextlib.suppress(RuntimeError):
        log_out(path)


def _redeem(ticket: str, browser: str) -> dict[str, Any] | None:
    now = utcnow()
    with transaction(context.sessions()) as session:
        grant = users.redeem_login_ticket(session=session, ticket=ticket, browser=browser, now=now)
        if grant is None:
            return None
        return {"account_key": grant.user.account_key, "token_version": grant.token_version,
                "epoch": grant.epoch, "login_at": now.isoformat(), "tz": grant.tz, "next": grant.next_path}


async def _redeem_ticket(request: Request, ticket: str = "") -> RedirectResponse:
    """Step 1: use up the ticket and give the browser a new browser id, with the login pending in its cookie."""
    pending = await context.in_thread(_redeem, ticket[:100], str(request.session.get("id", "")))
    if pending is None:
        return RedirectResponse("/", status_code=303)
    end_session()  # nothing of a login stays with the old browser id
    request.session.clear()
    request.session.update({"id": str(uuid.uuid4()), _PENDING: pending})
    return RedirectResponse(ENTER_PATH, status_code=303)


async def _enter(request: Request) -> RedirectResponse:
    """Step 2 (the first request with the new browser id): the pending login becomes this id's identity."""
    pending = request.session.pop(_PENDING, None)
    try:
        login_at = datetime.fromisoformat(pending["login_at"])
        fresh = utcnow() - login_at <= users.TICKET_TTL
    except (TypeError, KeyError, ValueError):
        fresh = False
    if not fresh or not isinstance(pending, dict):
        return RedirectResponse("/", status_code=303)
    end_session()
    app.storage.user.update({key: pending[key] for key in _KEYS})
    return RedirectResponse(safe_next(pending.get("next")), status_code=303)


async def _fresh_session(request: Request, next: str | None = None) -> RedirectResponse:
    """After logging out: a new browser id (only while nobody is logged in here, so that another site cannot
    log the browser out by linking to this)."""
    if identity() is None:
        request.session.clear()
        request.session["id"] = str(uuid.uuid4())
    return RedirectResponse(login_url(next) if next else "/", status_code=303)


def register_routes() -> None:
    """Add the session routes to NiceGUI's app (behind its session middleware)."""
    app.add_api_route(TICKET_PATH, _redeem_ticket, methods=["GET"], include_in_schema=False)
    app.add_api_route(ENTER_PATH, _enter, methods=["GET"], include_in_schema=False)
    app.add_api_route(FRESH_PATH, _fresh_session, methods=["GET"], include_in_schema=False)
