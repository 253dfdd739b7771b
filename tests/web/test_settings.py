"""The settings page: profile, preferences with the theme applied at once, password change, export of all my
data (JSON and CSV), log out everywhere, and deleting the account with a typed confirmation."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime

from nicegui import ui
from nicegui.testing import User
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.learning import registry
from studysmart.learning.logs import PredictionLog
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Task
from studysmart.users.models import User as Account
from tests.factories import PASSWORD, make_task, make_user
from tests.web.conftest import log_in, see, stored

PATH = "/dashboard/settings"


def _account(sessions: sessionmaker[Session], account_id: int) -> Account | None:
    with sessions() as session:
        return session.get(Account, account_id)


async def test_profile_and_preferences_are_saved_and_the_theme_applies_at_once(
        user: User, student: Account, sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    user.find(marker="display-name").clear().type("Grace")
    user.find(marker="save-profile").click()
    await see(user, "Profile saved.")

    user.find(marker="daily-goal").clear().type("90")
    user.find(marker="preferred-model").click()
    user.find(registry.student_choices()["lnirt"]).click()  # the plain name and meaning a student reads
    user.find(marker="theme").click()
    user.find("Dark").click()
    dark = user.find(kind=ui.dark_mode).elements.pop()
    assert dark.value is True  # applied before saving
    user.find(marker="save-preferences").click()
    await see(user, "Preferences saved.")
    saved = _account(sessions, student.id)
    assert saved is not None and saved.display_name == "Grace"
    assert saved.preferences == {"daily_goal_minutes": 90, "preferred_model": "lnirt", "theme": "dark"}

    await user.open("/dashboard")  # every page follows the saved theme and goal
    await see(user, "goal 90 min")
    assert user.find(kind=ui.dark_mode).elements.pop().value is True


async def test_a_daily_goal_below_the_minimum_gets_an_inline_message_not_a_silent_change(
        user: User, student: Account, sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    goal = user.find(marker="daily-goal")
    goal.clear().type("2").trigger("blur")  # the field loses focus, as when the student goes on to Save
    [field] = goal.elements
    assert isinstance(field, ui.number) and field.value == 2  # kept as typed, not clamped to the minimum
    assert field.error == "At least 5 minutes a day (you typed 2)."  # next to the field, before saving
    user.find(marker="save-preferences").click()
    await user.should_see("At least 5 minutes a day (you typed 2).")
    saved = _account(sessions, student.id)
    assert saved is not None and saved.preference("daily_goal_minutes") == 60

    goal.clear().type("1441").trigger("blur")
    assert field.value == 1441 and field.error == "At most 1440 minutes: a day has no more."
    goal.clear().type("5").trigger("blur")
    assert field.error is None
    user.find(marker="save-preferences").click()
    await see(user, "Preferences saved.")
    saved = _account(sessions, student.id)
    assert saved is not None and saved.preference("daily_goal_minutes") == 5


async def test_password_change_keeps_this_browser_and_checks_the_current_one(
        user: User, student: Account, sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    user.find(marker="current-password").type("not my password")
    user.find(marker="new-password").type("a brand new password")
    user.find(marker="repeat-password").type("a brand new password")
    user.find(marker="change-password").click()
    await see(user, "The current password is wrong.")

    user.find(marker="current-password").clear().type(PASSWORD)
    user.find(marker="repeat-password").clear().type("a different one!")
    user.find(marker="change-password").click()
    await user.should_see("The two new passwords differ.")

    user.find(marker="repeat-password").clear().type("a brand new password")
    user.find(marker="change-password").click()
    await see(user, "Password changed; other devices are logged out.")
    saved = _account(sessions, student.id)
    assert saved is not None and saved.token_version == student.token_version + 1
    await user.open("/dashboard")  # still logged in here
    await user.should_see(marker="logout")


async def test_export_all_my_data_as_json_and_csv(user: User, student: Account, now: datetime,
                                                  sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        task = make_task(session, owner, now=now, topic="Algebra", title="Mine")
        tasks.complete_task(session=session, user=owner, task_id=task.id, correct=True, seconds=42, now=now)
        make_task(session, make_user(session, now=now), now=now, title="Not mine")
        n_logs = session.scalar(select(func.count()).select_from(PredictionLog)
                                .where(PredictionLog.user_id == student.id))
    await log_in(user, student.email, path=f"/?next={PATH}")

    user.find(marker="export-json").click()
    response = await user.download.next(timeout=5)
    document = json.loads(response.content)
    tables = document["tables"]
    assert [row["email"] for row in tables["users"]] == [student.email]
    assert not {"password_hash", "token_version", "account_key"} & set(tables["users"][0])
    assert "login_tickets" not in tables
    assert [row["title"] for row in tables["tasks"]] == ["Mine"]
    assert tables["tasks"][0]["seconds_taken"] == 42 and tables["tasks"][0]["correct"] is True
    assert len(tables["prediction_logs"]) == n_logs > 0
    assert {row["user_id"] for row in tables["prediction_logs"]} == {student.id}
    assert [row["name"] for row in tables["topics"]] == ["Algebra"]

    user.find(marker="export-csv").click()
    response = await user.download.next(timeout=5)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert set(archive.namelist()) == {"users.csv", "tasks.csv", "prediction_logs.csv", "topics.csv"}
        rows = list(csv.DictReader(io.StringIO(archive.read("tasks.csv").decode())))
    assert [row["title"] for row in rows] == ["Mine"]


async def test_log_out_everywhere(user: User, student: Account, sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    user.find(marker="logout-everywhere").click()
    await see(user, marker="login-email")
    saved = _account(sessions, student.id)
    assert saved is not None and saved.token_version == student.token_version + 1
    assert "account_key" not in stored(user)


async def test_delete_my_account_needs_the_typed_confirmation_and_the_password(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        make_task(session, session.get(Account, student.id), now=now)
    await log_in(user, student.email, path=f"/?next={PATH}")
    button = user.find(marker="delete-account-button").elements.pop()
    assert not button.enabled
    user.find(marker="confirm-delete-text").type("delete my acount")
    user.find(marker="confirm-delete-text").trigger("keydown.enter")
    await user.should_see("exactly")
    assert _account(sessions, student.id) is not None

    user.find(marker="confirm-delete-text").clear().type("Delete my account")
    await user.should_see(marker="delete-account-button")
    assert button.enabled
    user.find(marker="delete-account-button").click()
    await user.should_see("Enter your password.")
    user.find(marker="delete-password").type("not my password")
    user.find(marker="delete-account-button").click()
    await see(user, "The password is wrong.")
    assert _account(sessions, student.id) is not None

    user.find(marker="delete-password").clear().type(PASSWORD)
    user.find(marker="delete-account-button").click()
    await see(user, marker="login-email")
    assert _account(sessions, student.id) is None
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 0
    await user.open("/dashboard")
    await user.should_see(marker="login-email")


async def test_a_weak_new_password_is_refused_with_the_reason(user: User, student: Account,
                                                             sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    user.find(marker="current-password").type(PASSWORD)
    for field in ("new-password", "repeat-password"):
        user.find(marker=field).type("password1234")
    user.find(marker="change-password").click()
    await see(user, "Too easy to guess: this is a very common password.")
    saved = _account(sessions, student.id)
    assert saved is not None and saved.token_version == student.token_version  # nothing changed


async def test_a_tab_left_open_cannot_act_after_this_browser_logged_out(user: User, student: Account) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    settings_tab = user.client
    await user.open("/dashboard")  # another tab of the same browser
    user.find(marker="logout").click()
    await see(user, marker="login-email")
    user.client = settings_tab  # back to the settings tab, still open
    user.find(marker="export-json").click()
    await see(user, "Your session has ended; please log in again.")
    assert not user.download.http_responses  # nothing was exported


async def test_password_guesses_are_limited_here_too(user: User, student: Account) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    user.find(marker="new-password").type("a brand new password")
    user.find(marker="repeat-password").type("a brand new password")
    for i in range(10):
        user.find(marker="current-password").clear().type(f"wrong guess {i}")
        user.find(marker="change-password").click()
        await see(user, "The current password is wrong.")
    user.find(marker="current-password").clear().type(PASSWORD)
    user.find(marker="change-password").click()
    await see(user, "Too many attempts; try again in")
