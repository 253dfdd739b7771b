"""The tasks page's list: due dates with an overdue mark (in the browser's time zone), notes, the Today /
Upcoming / Overdue / Done views, sort by due date, title search, the running task on top, one timer at a time,
and Delete kept away from Edit (in the card's "more" menu)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.tasks import listing
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Task, TaskStatus
from studysmart.users.models import User as Account
from studysmart.web.auth import zone_of
from studysmart.web.pages import tasks as tasks_page
from tests.factories import make_task
from tests.web.conftest import BROWSER_ZONE, WAIT, log_in, see

PATH = "/dashboard/tasks"


def short_date(day: date, today: date) -> str:
    return f"{day.day} {day:%b}" + (f" {day.year}" if day.year != today.year else "")


def _browser_today(now: datetime) -> date:
    return now.astimezone(ZoneInfo(BROWSER_ZONE)).date()


def _planned(sessions: sessionmaker[Session], student: Account, now: datetime,
             *specs: tuple[str, date | None, str | None]) -> list[int]:
    """Tasks (title, due date, notes) created a minute apart, oldest first; their ids."""
    ids = []
    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        for k, (title, due, notes) in enumerate(specs):
            task = make_task(session, owner, now=now + timedelta(minutes=k), title=title)
            task.due_date, task.notes = due, notes
            session.flush()
            ids.append(task.id)
    return ids


def _shown(user: User) -> list[int]:
    """The ids of the task cards, top to bottom."""
    [listing] = user.find(marker="task-list").elements
    return [int(marker[5:]) for card in listing.default_slot.children for marker in card._markers
            if marker.startswith("task-") and marker[5:].isdigit()]


async def _shows(user: User, expected: list[int]) -> None:
    """Wait (up to 6 s) until the list shows exactly these tasks in this order."""
    for _ in range(WAIT):
        with contextlib.suppress(AssertionError):  # no list (yet)
            if _shown(user) == expected:
                return
        await asyncio.sleep(0.1)
    assert _shown(user) == expected


async def test_due_dates_overdue_marks_and_notes(user: User, student: Account, now: datetime,
                                                 sessions: sessionmaker[Session]) -> None:
    today = _browser_today(now)
    past, tomorrow, done_late = today - timedelta(days=3), today + timedelta(days=1), today - timedelta(days=2)
    late, soon, finished = _planned(sessions, student, now, ("Past paper", past, None),
                                    ("Vectors", tomorrow, "Chapter 4, odd exercises\nbring the formula sheet"),
                                    ("Handed in", done_late, None))
    with transaction(sessions) as session:
        tasks.complete_task(session=session, user=session.get(Account, student.id), task_id=finished,
                            correct=True, seconds=60, now=now)
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker=f"task-{late}")
    with user.scope(marker=f"task-{late}"):
        await user.should_see(f"Overdue: due {short_date(past, today)} (3 days ago)")
    with user.scope(marker=f"task-{soon}"):
        await user.should_see(f"Due tomorrow, {short_date(tomorrow, today)}")
        await user.should_not_see("Overdue", retries=1)
        await user.should_see("Chapter 4, odd exercises\nbring the formula sheet")
    with user.scope(marker=f"task-{finished}"):
        await user.should_see(f"Was due {short_date(done_late, today)}")  # done: a date, no overdue mark
        await user.should_not_see("Overdue", retries=1)


async def test_views_sort_and_search(user: User, student: Account, now: datetime,
                                     sessions: sessionmaker[Session]) -> None:
    today = _browser_today(now)
    late, due_today, later, undated = _planned(
        sessions, student, now, ("Past paper", today - timedelta(days=3), None), ("Quadratics", today, None),
        ("Quadratic proofs", today + timedelta(days=5), None), ("Reading", None, None))
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "4 tasks")
    assert _shown(user) == [undated, later, due_today, late]  # newest first

    for view, expected in (("Overdue", [late]), ("Today", [due_today]), ("Upcoming", [undated, later])):
        user.find(marker="filter-view").click()
        user.find(view).click()
        await _shows(user, expected)
    user.find(marker="filter-view").click()
    user.find("All").click()
    user.find(marker="sort").click()
    user.find("By due date").click()
    await _shows(user, [late, due_today, later, undated])  # soonest first, no date last

    user.find(marker="search").type("quadratic")
    await _shows(user, [due_today, later])
    user.find(marker="search").clear().type("nothing like it")
    await see(user, "No tasks match these filters.")


async def test_one_timer_at_a_time_and_the_running_task_on_top(user: User, student: Account, now: datetime,
                                                               sessions: sessionmaker[Session]) -> None:
    older, newer = _planned(sessions, student, now, ("Vectors", None, None), ("Matrices", None, None))
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker=f"task-{older}")
    assert _shown(user) == [newer, older]
    with user.scope(marker=f"task-{older}"):
        user.find(marker="start").click()
    await see(user, marker="timer")
    await _shows(user, [older, newer])  # the running task is pinned on top

    with user.scope(marker=f"task-{newer}"):
        user.find(marker="start").click()
    await see(user, "“Vectors” is running: complete it or stop its timer before starting another.")
    with sessions() as session:
        assert session.get(Task, newer).status is TaskStatus.PLANNED

    with user.scope(marker=f"task-{older}"):
        user.find(marker="stop").click()
    await see(user, "Timer stopped.")
    with user.scope(marker=f"task-{newer}"):
        user.find(marker="start").click()
    await see(user, marker="timer")
    with sessions() as session:
        assert (session.get(Task, older).status, session.get(Task, newer).status) == (
            TaskStatus.PLANNED, TaskStatus.IN_PROGRESS)


async def test_delete_is_in_the_more_menu_away_from_edit(user: User, student: Account, now: datetime,
                                                         sessions: sessionmaker[Session]) -> None:
    [task_id] = _planned(sessions, student, now, ("Vectors", None, None))
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker=f"task-{task_id}")
    with user.scope(marker=f"task-{task_id}"):
        [edit] = user.find(marker="edit").elements
        [delete] = user.find(marker="delete").elements
    actions = edit.parent_slot.children  # the card's row of action buttons
    assert delete not in actions and not any(isinstance(e, ui.button) and "delete" in e._markers for e in actions)
    assert isinstance(delete, ui.menu_item)
    menu = delete.parent_slot.parent
    assert isinstance(menu, ui.menu) and menu.parent_slot.parent in actions  # behind the "more" button
    more = menu.parent_slot.parent
    assert more.props["aria-label"] == "More actions" and actions.index(more) == actions.index(edit) + 1


def test_the_browsers_zone_falls_back_to_utc_for_any_name_that_is_not_a_zone() -> None:
    """The zone comes from the browser at login; "today" on this page is computed in it."""
    assert str(zone_of("Europe/Berlin")) == "Europe/Berlin"
    for name in ("America", "Mars/Olympus", "../etc/passwd", "", None):
        assert str(zone_of(name)) == "UTC", name


async def test_the_list_shows_a_loading_state_not_no_tasks_yet_until_it_has_loaded(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    [planned] = _planned(sessions, student, now, ("Slow to load", None, None))
    release = threading.Event()
    list_tasks = listing.list_tasks

    def slow_list_tasks(**kwargs: Any) -> Any:
        release.wait(timeout=10)  # the database is slow today
        return list_tasks(**kwargs)

    monkeypatch.setattr(tasks_page, "FIRST_LOAD_WAIT", 0.2, raising=False)
    await log_in(user, student.email)
    monkeypatch.setattr(listing, "list_tasks", slow_list_tasks)
    await user.open(PATH)
    await see(user, "Loading your tasks…")
    await user.should_not_see("No tasks yet", retries=3)
    release.set()
    await see(user, marker=f"task-{planned}")
    await user.should_not_see("Loading your tasks…", retries=WAIT)
