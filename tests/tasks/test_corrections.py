"""A completion can be corrected (PATCH correct / seconds on a done task) or undone within a short window; the
training data, analytics, the training counter and the prediction log's scores all follow (one transaction)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from studysmart.analytics import service as analytics
from studysmart.core.db import utcnow
from studysmart.learning import tracker as training
from studysmart.learning.columns import read_answers
from studysmart.learning.history import user_history
from studysmart.learning.logs import PredictionLog
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Task, TaskStatus
from studysmart.tasks.schemas import TaskUpdate
from studysmart.users.models import User
from tests.factories import create_task, make_task, make_user, register


def _logs(session: Session, task: Task) -> list[tuple[bool | None, float | None, datetime | None]]:
    session.flush()
    return [tuple(row) for row in session.execute(  # type: ignore[misc]
        select(PredictionLog.correct, PredictionLog.log_time, PredictionLog.scored_at)
        .where(PredictionLog.task_id == task.id))]


def _done(session: Session, now: datetime) -> tuple[User, Task]:
    student = make_user(session, now=now)
    task = make_task(session, student, now=now)
    tasks.complete_task(session=session, user=student, task_id=task.id, correct=True, seconds=60, now=now)
    return student, task


def test_a_corrected_completion_is_what_history_analytics_and_the_scores_use(session: Session) -> None:
    now = utcnow()
    student, task = _done(session, now)
    before = training.get_status(session=session)
    tasks.update_task(session=session, user=student, task_id=task.id,
                      update=TaskUpdate(correct=False, seconds=600), now=now + timedelta(hours=1))

    history = user_history(session, student)
    assert list(history.correct) == [0.0] and list(history.log_time) == pytest.approx([math.log(600)])
    assert list(read_answers(session).correct) == [0.0]  # what the trainer fits on
    assert {(c, round(t or 0, 6)) for c, t, _ in _logs(session, task)} == {(False, round(math.log(600), 6))}
    assert {scored for _, _, scored in _logs(session, task)} == {task.completed_at}  # scored when answered
    summary = analytics.today_summary(session=session, user=student, now=now)
    assert (summary.week_correct, summary.seconds_today) == (0, 600.0)
    after = training.get_status(session=session)
    assert (after.completed_since_training, after.samples) == (before.completed_since_training, before.samples) \
        == (1, 1)  # still one answer: no double count


def test_only_the_outcome_or_only_the_time_can_be_corrected(session: Session) -> None:
    now = utcnow()
    student, task = _done(session, now)
    tasks.update_task(session=session, user=student, task_id=task.id, update=TaskUpdate(seconds=90), now=now)
    assert (task.correct, task.seconds_taken) == (True, 90.0)
    tasks.update_task(session=session, user=student, task_id=task.id, update=TaskUpdate(correct=False), now=now)
    assert (task.correct, task.seconds_taken) == (False, 90.0)


def test_an_open_task_has_no_outcome_to_correct(session: Session) -> None:
    now = utcnow()
    student = make_user(session, now=now)
    task = make_task(session, student, now=now)
    with pytest.raises(tasks.InvalidTaskInput) as refused:
        tasks.update_task(session=session, user=student, task_id=task.id, update=TaskUpdate(correct=True), now=now)
    assert refused.value.field == "correct"
    with pytest.raises(tasks.InvalidTaskInput) as refused:
        tasks.update_task(session=session, user=student, task_id=task.id, update=TaskUpdate(seconds=60), now=now)
    assert refused.value.field == "seconds"


@pytest.mark.parametrize("started", [False, True])
def test_undo_reopens_the_task_and_restores_the_counter_and_the_logs(session: Session, started: bool) -> None:
    now = utcnow()
    student = make_user(session, now=now)
    task = make_task(session, student, now=now)
    if started:
        tasks.start_task(session=session, user=student, task_id=task.id, now=now)
    logs_before = _logs(session, task)
    tasks.complete_task(session=session, user=student, task_id=task.id, correct=False, seconds=120,
                        now=now + timedelta(minutes=2))
    assert training.get_status(session=session).completed_since_training == 1

    tasks.undo_completion(session=session, user=student, task_id=task.id, now=now + timedelta(minutes=2, seconds=5))
    assert task.status is (TaskStatus.IN_PROGRESS if started else TaskStatus.PLANNED)
    assert (task.correct, task.seconds_taken, task.completed_at) == (None, None, None)
    assert task.started_at == (now if started else None)
    assert _logs(session, task) == logs_before == [(None, None, None)]
    status = training.get_status(session=session)
    assert (status.completed_since_training, status.samples) == (0, 0)
    assert len(user_history(session, student)) == 0
    with pytest.raises(tasks.NotCompleted):
        tasks.undo_completion(session=session, user=student, task_id=task.id, now=now)


def test_undo_is_refused_after_the_window_and_never_counts_below_zero(session: Session) -> None:
    now = utcnow()
    student, task = _done(session, now)
    with pytest.raises(tasks.UndoExpired):
        tasks.undo_completion(session=session, user=student, task_id=task.id, now=now + tasks.UNDO_WINDOW
                              + timedelta(seconds=1))
    assert task.status is TaskStatus.DONE
    training.uncount_completion(session=session)  # e.g. a training reset the count in between
    training.uncount_completion(session=session)
    assert training.get_status(session=session).completed_since_training == 0


def test_another_students_task_cannot_be_undone_or_corrected(session: Session) -> None:
    now = utcnow()
    _, task = _done(session, now)
    other = make_user(session, now=now)
    with pytest.raises(tasks.TaskNotFound):
        tasks.undo_completion(session=session, user=other, task_id=task.id, now=now)
    with pytest.raises(tasks.TaskNotFound):
        tasks.update_task(session=session, user=other, task_id=task.id, update=TaskUpdate(correct=False), now=now)


# -- the API -------------------------------------------------------------------------------------------------
def _completed(client: TestClient, headers: dict[str, str]) -> dict[str, object]:
    task = create_task(client, headers)
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers,
                           json={"correct": True, "seconds": 60})
    assert response.status_code == 200
    return dict(response.json())


def test_patch_corrects_a_done_tasks_outcome_and_time(client: TestClient) -> None:
    headers = register(client)
    task = _completed(client, headers)
    response = client.patch(f"/api/v1/tasks/{task['id']}", headers=headers, json={"correct": False, "seconds": 600})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["correct"], body["seconds_taken"], body["status"]) == (False, 600.0, "done")
    assert body["prediction"] == task["prediction"]  # scored on the prediction it was shown
    status = client.get("/api/v1/training/status", headers=headers).json()
    assert (status["completed_since_training"], status["samples"]) == (1, 1)


def _field(response: object) -> str:
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    return str(detail[0]["loc"][-1])


@pytest.mark.parametrize(("body", "field"), [
    ({"seconds": 0}, "seconds"), ({"seconds": 0.5}, "seconds"), ({"seconds": 86_401}, "seconds"),
    ({"seconds": "soon"}, "seconds"), ({"seconds": None}, "seconds"), ({"correct": None}, "correct"),
    ({"correct": "maybe"}, "correct"), ({"correct": False, "seconds": -5}, "seconds"),
])
def test_a_bad_correction_is_a_422_naming_the_field_and_changes_nothing(client: TestClient, body: dict[str, object],
                                                                       field: str) -> None:
    headers = register(client)
    task = _completed(client, headers)
    response = client.patch(f"/api/v1/tasks/{task['id']}", headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert _field(response) == field
    again = client.get(f"/api/v1/tasks/{task['id']}", headers=headers).json()
    assert (again["correct"], again["seconds_taken"]) == (True, 60.0)


def test_correcting_an_open_task_is_a_422_naming_the_field(client: TestClient) -> None:
    headers = register(client)
    task = create_task(client, headers)
    response = client.patch(f"/api/v1/tasks/{task['id']}", headers=headers, json={"correct": True})
    assert response.status_code == 422 and _field(response) == "correct"
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=headers).json()["status"] == "planned"


def test_undo_through_the_api_reopens_the_task_once(client: TestClient) -> None:
    headers = register(client)
    task = _completed(client, headers)
    response = client.post(f"/api/v1/tasks/{task['id']}/undo", headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["correct"]) == ("planned", None)
    assert client.get("/api/v1/training/status", headers=headers).json()["completed_since_training"] == 0
    assert client.post(f"/api/v1/tasks/{task['id']}/undo", headers=headers).status_code == 409
    intruder = register(client)
    assert client.post(f"/api/v1/tasks/{task['id']}/undo", headers=intruder).status_code == 404
