"""The tasks page: create with a live preview, start and complete with the timer, filters, edit, delete, and
nobody sees another student's tasks."""

from __future__ import annotations

from datetime import datetime, timedelta

from nicegui import ui
from nicegui.testing import User
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users.models import User as Account
from tests.factories import make_task, make_user
from tests.web.conftest import log_in, see

PATH = "/dashboard/tasks"


def _tasks(sessions: sessionmaker[Session], owner: Account) -> list[Task]:
    with sessions() as session:
        return list(session.scalars(select(Task).where(Task.owner_id == owner.id).order_by(Task.id)))


async def test_create_a_task_with_the_live_preview(user: User, student: Account,
                                                   sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "No tasks yet")
    await user.should_see("Type a topic to see the prediction.")
    user.find(marker="new-title").type("Quadratic equations")
    user.find(marker="new-topic").type("Algebra")
    await see(user, "Why: No history yet: estimate from all students.")
    preview = user.find(marker="preview-p").elements.pop()
    assert isinstance(preview, ui.label) and preview.text.startswith("≈") and preview.text.endswith("%")
    await user.should_see("80% range")

    user.find(marker="new-difficulty").click()
    user.find("Hard").click()
    user.find(marker="new-title").trigger("keydown.enter")  # Enter submits
    await see(user, marker="task-list")
    await user.should_see("Quadratic equations")
    [task] = _tasks(sessions, student)
    assert (task.title, task.topic.name, task.difficulty, task.status) == (
        "Quadratic equations", "Algebra", Difficulty.HARD, TaskStatus.PLANNED)
    assert task.p_correct is not None and task.expected_seconds is not None
    await user.should_see("likely correct")


async def test_the_preview_uses_the_students_own_answers(user: User, student: Account, now: datetime,
                                                         sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        for _ in range(3):
            task = make_task(session, owner, now=now, topic="Geometry")
            tasks.complete_task(session=session, user=owner, task_id=task.id, correct=True, seconds=300,
                                now=now)
    await log_in(user, student.email, path=f"/?next={PATH}")
    user.find(marker="new-topic").type("geometry")
    await see(user, "From your 3 Geometry answers.")
    preview = user.find(marker="preview-p").elements.pop()
    assert isinstance(preview, ui.label) and "(±" in preview.text


async def test_missing_fields_are_inline_errors(user: User, student: Account,
                                                sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    user.find(marker="add-task").click()
    await user.should_see("A title is needed.")
    await user.should_see("A topic is needed.")
    assert _tasks(sessions, student) == []


async def test_start_then_complete_with_the_timer(user: User, student: Account, now: datetime,
                                                  sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        task_id = make_task(session, session.get(Account, student.id), now=now, title="Timed task").id
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker=f"task-{task_id}")  # the list renders after the page: wait, then scope
    with user.scope(marker=f"task-{task_id}"):
        user.find(marker="start").click()
    await see(user, marker="timer")
    [started] = _tasks(sessions, student)
    assert started.status is TaskStatus.IN_PROGRESS and started.started_at is not None

    with transaction(sessions) as session:  # as if the student had started two minutes ago
        session.get(Task, task_id).started_at = started.started_at - timedelta(seconds=125)
    await user.open(PATH)  # a reload: the timer counts from the stored start
    await see(user, marker="timer")
    timer = user.find(marker="timer").elements.pop()
    assert isinstance(timer, ui.label) and timer.text >= "02:05", timer.text

    await see(user, marker=f"task-{task_id}")
    with user.scope(marker=f"task-{task_id}"):
        user.find(marker="complete").click()
    await see(user, marker="minutes")
    minutes = user.find(marker="minutes").elements.pop()
    assert isinstance(minutes, ui.number) and 2.0 <= minutes.value <= 2.5  # prefilled from the timer
    user.find("Incorrect").click()
    user.find(marker="minutes").clear().type("3")
    user.find(marker="minutes").trigger("keydown.enter")  # Enter saves
    await see(user, marker="task-outcome")
    await user.should_see("✗ Incorrect · took 3 min")
    [done] = _tasks(sessions, student)
    assert done.status is TaskStatus.DONE and done.correct is False and done.seconds_taken == 180.0


async def test_completing_refuses_a_missing_time(user: User, student: Account, now: datetime,
                                                 sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        task_id = make_task(session, session.get(Account, student.id), now=now).id
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker=f"task-{task_id}")
    with user.scope(marker=f"task-{task_id}"):
        user.find(marker="complete").click()
    await see(user, marker="save-complete")
    user.find(marker="save-complete").click()
    await user.should_see("Enter the minutes taken")
    assert _tasks(sessions, student)[0].status is TaskStatus.PLANNED


async def test_filters_by_status_and_topic(user: User, student: Account, now: datetime,
                                           sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        algebra = make_task(session, owner, now=now, topic="Algebra", title="Algebra one")
        make_task(session, owner, now=now, topic="Geometry", title="Geometry one")
        make_task(session, owner, now=now, topic="Geometry", title="Geometry two")
        tasks.complete_task(session=session, user=owner, task_id=algebra.id, correct=True, seconds=60,
                            now=now)
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "3 tasks")
    user.find(marker="filter-view").click()
    user.find("Done").click()
    await see(user, "1 task")
    await user.should_see("Algebra one")
    await user.should_not_see("Geometry one")

    user.find(marker="filter-view").click()
    user.find("All").click()
    user.find(marker="filter-topic").click()
    user.find("Geometry").click()
    await see(user, "2 tasks")
    await user.should_not_see("Algebra one")
    user.find(marker="filter-view").click()
    user.find("Done").click()
    await see(user, "No tasks match these filters.")


async def test_edit_and_delete_with_confirmation(user: User, student: Account, now: datetime,
                                                 sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        task_id = make_task(session, session.get(Account, student.id), now=now, title="Old title",
                            difficulty=Difficulty.EASY).id
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker=f"task-{task_id}")
    with user.scope(marker=f"task-{task_id}"):
        user.find(marker="edit").click()
    await see(user, marker="edit-title")
    user.find(marker="edit-title").clear().type("New title")
    user.find(marker="edit-difficulty").click()
    user.find("Hard").click()
    user.find(marker="save-edit").click()
    await see(user, "Saved.")
    [edited] = _tasks(sessions, student)
    assert edited.title == "New title" and edited.difficulty is Difficulty.HARD

    await see(user, marker=f"task-{task_id}")
    with user.scope(marker=f"task-{task_id}"):
        user.find(marker="delete").click()
    await see(user, "Delete task?")
    user.find(marker="cancel").click()
    assert len(_tasks(sessions, student)) == 1
    await see(user, marker=f"task-{task_id}")
    with user.scope(marker=f"task-{task_id}"):
        user.find(marker="delete").click()
    await see(user, marker="confirm-delete")
    user.find(marker="confirm-delete").click()
    await see(user, "No tasks yet")
    assert _tasks(sessions, student) == []


async def test_nobody_sees_another_students_tasks(user: User, student: Account, now: datetime,
                                                  sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        other = make_user(session, now=now)
        make_task(session, other, now=now, title="Someone else's secret task")
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "No tasks yet")
    await user.should_not_see("Someone else's secret task")
    await user.open("/dashboard")
    await see(user, "Nothing planned for today")
    await user.should_not_see("Someone else's secret task")
