"""The home page: sign up, log in (errors inline, rate limit), the way back after logging in, session
expiry."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from nicegui.testing import User
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.users import service as users
from studysmart.users.models import LoginAttempt
from studysmart.users.models import User as Account
from tests.factories import PASSWORD
from tests.web.conftest import BROWSER_ZONE, log_in, see, stored, web_settings


async def test_sign_up_lands_on_the_dashboard(user: User, migrated: str,
                                              sessions: sessionmaker[Session]) -> None:
    await user.open("/")
    await user.should_see("Know how a study task will go before you start it.")
    user.find("Sign up").click()
    user.find(marker="signup-name").type("Ada")
    user.find(marker="signup-email").type("Ada@Example.com")
    user.find(marker="signup-password").type("short")
    user.find(marker="signup-submit").click()
    await user.should_see("Use at least 12 characters.")
    user.find(marker="signup-password").clear().type("password1234").trigger("keydown.enter")
    await see(user, "Too easy to guess: this is a very common password.")
    user.find(marker="signup-password").clear().type("ada@example.com").trigger("keydown.enter")
    await see(user, "Too easy to guess: it contains your email or name.")
    user.find(marker="signup-password").clear().type("long enough password").trigger("keydown.enter")
    await see(user, "Hello, Ada")
    await user.should_see("Nothing planned for today")
    with sessions() as session:
        account = session.scalars(select(Account).where(Account.email == "ada@example.com")).one()
    assert stored(user)["account_key"] == account.account_key
    assert stored(user)["tz"] == BROWSER_ZONE


async def test_sign_up_with_a_taken_email_says_so(user: User, student: Account) -> None:
    await user.open("/")
    user.find("Sign up").click()
    user.find(marker="signup-name").type("Someone")
    user.find(marker="signup-email").type(student.email.upper())
    user.find(marker="signup-password").type("long enough password")
    user.find(marker="signup-submit").click()
    await see(user, "An account with this email exists already; log in instead.")


async def test_wrong_password_is_an_inline_error_and_the_rate_limit_applies(
        user: User, student: Account, sessions: sessionmaker[Session]) -> None:
    web_settings().login_attempts_per_minute = 2
    await user.open("/")
    user.find(marker="login-email").type(student.email)
    for attempt in range(1, 3):
        user.find(marker="login-password").clear().type("wrong password").trigger("keydown.enter")
        # the attempt of the client address, the failure of the address and the failure of the account
        await _attempts_recorded(sessions, 3 * attempt)
        await see(user, "Wrong email or password.")
    user.find(marker="login-password").clear().type(PASSWORD).trigger("keydown.enter")
    await see(user, "Too many attempts. Try again in")
    await user.should_not_see(marker="logout")


async def _attempts_recorded(sessions: sessionmaker[Session], count: int) -> None:
    for _ in range(60):
        with sessions() as session:
            if session.scalar(select(func.count()).select_from(LoginAttempt)) == count:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} login attempts")


async def test_dashboard_pages_need_a_login_and_come_back_after_it(user: User, student: Account) -> None:
    for path in ("/dashboard", "/dashboard/tasks", "/dashboard/analytics", "/dashboard/preparation",
                 "/dashboard/settings"):
        await user.open(path)
        await user.should_see(marker="login-email")
    await log_in(user, student.email, path="/?next=/dashboard/analytics")
    await user.should_see("Analytics")
    await user.should_see("No completed tasks yet")


async def test_next_never_leaves_the_site(user: User, student: Account) -> None:
    await log_in(user, student.email, path="/?next=//evil.example/dashboard")
    await user.should_see(f"Hello, {student.display_name}")


async def test_a_logged_in_visitor_skips_the_home_page_and_can_log_out(user: User, student: Account) -> None:
    await log_in(user, student.email)
    await user.open("/")
    await user.should_see(f"Hello, {student.display_name}")
    user.find(marker="logout").click()
    await user.should_see(marker="login-email")
    await user.open("/dashboard")
    await user.should_see(marker="login-email")


async def test_revoked_or_old_sessions_end(user: User, student: Account,
                                           sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email)
    with transaction(sessions) as session:  # "log out everywhere" from another device
        users.revoke_tokens(session=session, user=session.get(Account, student.id))
    await user.open("/dashboard/tasks")
    await user.should_see(marker="login-email")
    assert "account_key" not in stored(user)

    await log_in(user, student.email)
    too_old = web_settings().session_ttl_hours + 1
    login_at = stored(user)["login_at"]
    stored(user)["login_at"] = (datetime.fromisoformat(login_at) - timedelta(hours=too_old)).isoformat()
    await user.open("/dashboard")
    await user.should_see(marker="login-email")
