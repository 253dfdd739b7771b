"""Web sessions: a login and a logout give the browser a new session (a planted cookie gets nothing), login
tickets work once and only for their browser, a database restore ends every session, and session storage is
private (0600 files in a 0700 directory under var/)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from nicegui.testing import User
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart import backup as backups
from studysmart.core.config import Settings
from studysmart.core.db import transaction
from studysmart.users import service as users
from studysmart.users.models import LoginTicket
from studysmart.users.models import User as Account
from tests.web.conftest import log_in, see, stored

SETTINGS = "/dashboard/settings"


def _cookie(user: User) -> str:
    return str(user.http_client.cookies["session"])


def _plant(user: User, cookie: str) -> None:
    user.http_client.cookies.clear()
    user.http_client.cookies.set("session", cookie)


async def test_login_gives_the_browser_a_new_session_and_a_planted_cookie_gets_nothing(
        user: User, student: Account) -> None:
    await user.open("/")
    planted, planted_id = _cookie(user), user.client.request.session["id"]  # what an attacker set beforehand
    await log_in(user, student.email, path=f"/?next={SETTINGS}")
    await user.should_see(f"Email: {student.email}")
    assert _cookie(user) != planted
    assert user.client.request.session["id"] != planted_id
    assert stored(user)["account_key"] == student.account_key

    _plant(user, planted)  # the attacker comes back with the cookie planted before the login
    await user.open(SETTINGS)
    await user.should_see(marker="login-email")
    await user.should_not_see(f"Email: {student.email}")
    assert user.client.request.session["id"] == planted_id and "account_key" not in stored(user)


async def test_logout_gives_the_browser_a_new_session(user: User, student: Account) -> None:
    await log_in(user, student.email)
    logged_in = _cookie(user)
    user.find(marker="logout").click()
    await see(user, marker="login-email")
    assert _cookie(user) != logged_in
    _plant(user, logged_in)  # the logged-in cookie (say, copied from the machine) no longer works
    await user.open("/dashboard")
    await user.should_see(marker="login-email")


async def test_a_login_ticket_works_once_only_for_its_browser_and_not_after_a_minute(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    await user.open("/")
    browser = user.client.request.session["id"]

    def ticket(for_browser: str, at: datetime) -> str:
        with transaction(sessions) as session:
            return users.create_login_ticket(session=session, user=session.get(Account, student.id),
                                             browser=for_browser, tz="UTC", next_path="/dashboard", now=at)

    for wrong in (ticket("another-browser", now), ticket(browser, now - timedelta(minutes=2)), "forged"):
        await user.open(f"/auth/session?ticket={wrong}")
        await user.should_see(marker="login-email")
    good = ticket(browser, now)
    await user.open(f"/auth/session?ticket={good}")
    await see(user, f"Hello, {student.display_name}")
    user.find(marker="logout").click()
    await see(user, marker="login-email")
    await user.open(f"/auth/session?ticket={good}")  # used up
    await user.should_see(marker="login-email")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginTicket)) == 0


async def test_a_restore_ends_every_web_session(user: User, student: Account, settings: Settings,
                                               tmp_path: Path) -> None:
    await log_in(user, student.email)
    backup_file = tmp_path / "web.backup"
    backups.backup(database_url=settings.database_url, path=backup_file)
    await user.open("/dashboard")
    await user.should_see(marker="logout")
    backups.restore(database_url=settings.database_url, path=backup_file)
    await user.open("/dashboard")
    await user.should_see(marker="login-email")
    await log_in(user, student.email)  # logging in again works
    await user.should_see(f"Hello, {student.display_name}")


async def test_session_storage_is_private_under_var(user: User, student: Account, settings: Settings) -> None:
    await log_in(user, student.email)
    directory = settings.var_dir / "sessions"
    files = list(directory.glob("storage-user-*.json"))
    assert files and {oct(f.stat().st_mode & 0o777) for f in files} == {"0o600"}
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    assert student.account_key in "".join(f.read_text() for f in files)
