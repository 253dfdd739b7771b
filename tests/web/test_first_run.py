"""First run: an empty dashboard gives a three-step start (add a task, time it, mark it) that disappears once the
first task is marked, and its planned tasks show their current prediction."""

from __future__ import annotations

from datetime import datetime

from nicegui.testing import User
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.tasks import service as tasks
from studysmart.users.demo_account import DEMO_EMAIL, DEMO_PASSWORD
from studysmart.users.models import User as Account
from tests.factories import make_task, make_user
from tests.web.conftest import log_in, see


def _steps_done(user: User) -> int:
    with user.scope(marker="first-steps"):
        return len(user.find(marker="step-done").elements) if _has(user, "step-done") else 0


def _has(user: User, marker: str) -> bool:
    try:
        user.find(marker=marker)
    except AssertionError:
        return False
    return True


async def test_the_three_step_start_follows_the_student_and_disappears_once_done(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path="/?next=/dashboard")
    await see(user, "Get started in three steps")
    assert _steps_done(user) == 0
    await user.should_see("1. Add a task")

    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        task = make_task(session, owner, now=now)
    await user.open("/dashboard")
    await see(user, marker="first-steps")
    assert _steps_done(user) == 1

    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        tasks.start_task(session=session, user=owner, task_id=task.id, now=now)
    await user.open("/dashboard")
    await see(user, marker="first-steps")
    assert _steps_done(user) == 2

    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        tasks.complete_task(session=session, user=owner, task_id=task.id, correct=True, seconds=60, now=now)
    await user.open("/dashboard")
    await see(user, marker="today-plan")
    await user.should_not_see("Get started in three steps")


async def test_the_home_page_offers_the_demo_login_only_where_the_demo_is_loaded(
        user: User, now: datetime, sessions: sessionmaker[Session]) -> None:
    await user.open("/")
    await see(user, marker="login-email")
    await user.should_not_see(marker="demo-hint")

    with transaction(sessions) as session:
        make_user(session, now=now, email=DEMO_EMAIL)
    await user.open("/")
    await see(user, marker="demo-hint")
    await user.should_see(f"Just looking? Log in as the demo student: {DEMO_EMAIL}, password {DEMO_PASSWORD}.")
