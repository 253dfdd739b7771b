"""The tasks page keeps its promises after a completion: the open cards show the current prediction (the
preview's), the preview refreshes without retyping, the note fits the outcome, and the completion can be undone
or corrected."""

from __future__ import annotations

from datetime import datetime

from nicegui import ui
from nicegui.testing import User
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.learning import tracker as training
from studysmart.tasks.models import Task, TaskStatus
from studysmart.users.models import User as Account
from tests.factories import make_task
from tests.web.conftest import log_in, see, see_inside

PATH = "/dashboard/tasks"


def _text(user: User, marker: str) -> str:
    label = user.find(marker=marker).elements.pop()
    assert isinstance(label, ui.label)
    return label.text


def _card_percent(user: User, task_id: int) -> str:
    with user.scope(marker=f"task-{task_id}"):
        return _text(user, "task-prediction-p").split("%")[0]


async def _complete(user: User, task_id: int, *, outcome: str, minutes: str) -> None:
    await see(user, marker=f"task-{task_id}")
    with user.scope(marker=f"task-{task_id}"):
        user.find(marker="complete").click()
    await see(user, marker="minutes")
    user.find(outcome).click()
    user.find(marker="minutes").clear().type(minutes)
    user.find(marker="save-complete").click()
    await see(user, marker="task-outcome")


async def test_the_open_cards_percentage_becomes_the_previews_after_a_completion(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        planned = make_task(session, owner, now=now, topic="Algebra", title="Planned algebra").id
        answered = make_task(session, owner, now=now, topic="Algebra", title="Answered algebra").id
    await log_in(user, student.email, path=f"/?next={PATH}")
    user.find(marker="new-topic").type("Algebra")
    await see(user, "Why: No history yet: estimate from all students.")
    before = _card_percent(user, planned)
    assert _text(user, "preview-p") == f"≈{before}%"  # no answers yet: the card and a preview agree

    await _complete(user, answered, outcome="Incorrect", minutes="40")
    await see(user, "From your 1 Algebra answer.")  # the preview refreshed without retyping the topic
    preview = _text(user, "preview-p")
    assert preview.startswith(f"{_card_percent(user, planned)}%"), (preview, _card_percent(user, planned))
    assert _card_percent(user, planned) != before


async def test_an_incorrect_completion_is_not_well_done_and_can_be_undone(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        task_id = make_task(session, session.get(Account, student.id), now=now, title="Mis-clicked").id
    await log_in(user, student.email, path=f"/?next={PATH}")
    await _complete(user, task_id, outcome="Incorrect", minutes="3")
    assert user.notify.contains("Recorded as incorrect, 3 min")
    assert not user.notify.contains("Well done")
    with transaction(sessions) as session:
        assert training.get_status(session=session).completed_since_training == 1

    await see(user, marker="undo")
    user.find(marker="undo").click()
    await see(user, "Undone: the task is open again.")
    with transaction(sessions) as session:
        task = session.get(Task, task_id)
        assert task is not None and (task.status, task.correct, task.completed_at) == (TaskStatus.PLANNED, None, None)
        assert training.get_status(session=session).completed_since_training == 0
    await see_inside(user, f"task-{task_id}", marker="complete")


async def test_a_done_tasks_outcome_and_minutes_can_be_corrected_in_the_edit_dialog(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        task_id = make_task(session, session.get(Account, student.id), now=now, title="Wrong minutes").id
    await log_in(user, student.email, path=f"/?next={PATH}")
    await _complete(user, task_id, outcome="Correct", minutes="3")
    with user.scope(marker=f"task-{task_id}"):
        user.find(marker="edit").click()
    await see(user, marker="edit-minutes")
    user.find(marker="edit-outcome").elements.pop().set_value("incorrect")
    user.find(marker="edit-minutes").clear().type("12")
    user.find(marker="save-edit").click()
    await see(user, "✗ Incorrect · took 12 min")
    with transaction(sessions) as session:
        task = session.get(Task, task_id)
        assert task is not None and (task.correct, task.seconds_taken) == (False, 720.0)
        assert training.get_status(session=session).completed_since_training == 1
