"""50 parallel completions of one student's 50 tasks: the tracker loses no update (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction, utcnow
from studysmart.learning import tracker as training
from studysmart.learning.logs import PredictionLog
from studysmart.tasks import listing
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Task
from tests.factories import create_task, make_task, make_user, register

N = 50


def test_parallel_completions_lose_no_count(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    with transaction(sessions) as session:
        user = make_user(session, now=now)
        task_ids = [make_task(session, user, now=now, title=f"Task {i}").id for i in range(N)]
        user_id = user.id

    def complete(task_id: int) -> bool:
        with transaction(sessions) as session:
            owner = session.get(type(user), user_id)
            assert owner is not None
            result = tasks.complete_task(session=session, user=owner, task_id=task_id, correct=task_id % 2 == 0,
                                         seconds=30.0, now=now + timedelta(seconds=1))
            return result.training_due

    with ThreadPoolExecutor(max_workers=16) as pool:
        due = list(pool.map(complete, task_ids))

    with sessions() as session:
        status = training.get_status(session=session)
        assert status.completed_since_training == N
        assert status.samples == N
        done, total = listing.list_tasks(session=session, user=session.get(type(user), user_id), today=utcnow().date(),
                                         limit=100)
        assert total == N and all(t.status.value == "done" for t in done)
    # Exactly the completions from the threshold on report a due training.
    assert sum(due) == N - status.threshold + 1


def test_a_task_creation_predicts_without_holding_the_write_lock(client: TestClient,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """While ``POST /tasks`` is predicting, another write of the same process commits (on SQLite the write lock is
    taken for the insert only); the task is then stored with that prediction and its log."""
    headers = register(client)
    context = client.app.state.context  # type: ignore[attr-defined]
    other_write: list[bool] = []
    preview = tasks.preview

    def predicting(**kwargs: Any) -> tasks.Preview:
        def write() -> None:
            with transaction(context.sessions) as session:
                tasks.get_or_create_topic(session=session, name="Written meanwhile")
            other_write.append(True)

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(10)
        return preview(**kwargs)

    monkeypatch.setattr(tasks, "preview", predicting)
    created = create_task(client, headers, topic="Geometry")
    assert other_write == [True]
    with context.sessions() as session:
        logs = session.scalars(select(PredictionLog).where(PredictionLog.task_id == created["id"])).all()
        assert [(log.served, log.p_correct) for log in logs] == [(True, created["prediction"]["p_correct"])]


def test_a_creation_whose_account_is_deleted_while_it_predicts_is_a_401_and_stores_nothing(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The account goes between the creation's read (authentication, prediction) and its write: the task's foreign
    key refuses the insert, and the answer is the 401 of a gone account, not a 500."""
    from studysmart.users.models import User

    headers = register(client)
    me = client.get("/api/v1/auth/me", headers=headers).json()
    context = client.app.state.context  # type: ignore[attr-defined]
    preview = tasks.preview
    gone: list[int] = []

    def predicting(**kwargs: Any) -> tasks.Preview:
        shown = preview(**kwargs)
        with transaction(context.sessions) as session:  # the student has no tasks yet: the row alone goes
            session.delete(session.get(User, kwargs["user"].id))
        gone.append(kwargs["user"].id)
        return shown

    monkeypatch.setattr(tasks, "preview", predicting)
    response = client.post("/api/v1/tasks", json={"title": "Gone", "topic": "Algebra", "difficulty": "easy"},
                           headers=headers)
    assert response.status_code == 401, response.text
    with context.sessions() as session:
        assert session.scalar(select(User).where(User.email == me["email"])) is None
        assert session.scalars(select(PredictionLog).where(PredictionLog.user_id == gone[0])).all() == []
        assert session.scalars(select(Task).where(Task.owner_id == gone[0])).all() == []
