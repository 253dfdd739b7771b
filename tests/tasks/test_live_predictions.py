"""Open tasks show the current prediction (one batched model call, the preview's served path); the one shown at
creation stays stored for scoring; the dashboard's planned time is summed from the current values."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from studysmart.analytics import service as analytics
from studysmart.core.db import utcnow
from studysmart.learning.logs import PredictionLog
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, TaskStatus
from studysmart.users.models import User
from tests.factories import create_task, make_task, make_user, register


def _answer_algebra(session: Session, user: User, now: datetime, n: int) -> None:
    for _ in range(n):
        done = make_task(session, user, now=now, topic="Algebra")
        tasks.complete_task(session=session, user=user, task_id=done.id, correct=False, seconds=1800, now=now)


def test_an_open_tasks_current_prediction_is_a_fresh_previews_and_the_created_one_stays(session: Session) -> None:
    now = utcnow()
    student = make_user(session, now=now)
    planned = make_task(session, student, now=now, topic="Algebra")
    created = planned.prediction
    assert created is not None
    _answer_algebra(session, student, now + timedelta(minutes=1), 4)

    later = now + timedelta(minutes=5)
    session.flush()
    logged = session.scalar(select(func.count()).select_from(PredictionLog))
    current = tasks.current_predictions(session=session, user=student, tasks=[planned], now=later)
    fresh = tasks.preview(session=session, user=student, topic="Algebra", difficulty=Difficulty.MEDIUM, now=later)
    live = current[planned.id]
    assert live.p_correct == pytest.approx(fresh.prediction.p_correct)
    assert live.expected_seconds == pytest.approx(fresh.prediction.expected_seconds)
    assert live.source == fresh.prediction.source == "model"
    assert live.p_correct < created.p_correct - 0.02  # four wrong answers moved the model
    assert live.expected_seconds > created.expected_seconds
    assert planned.prediction == created  # the stored one is kept for scoring
    assert not session.new and not session.dirty  # computing it wrote nothing
    assert session.scalar(select(func.count()).select_from(PredictionLog)) == logged


def test_one_model_call_prices_every_open_task_and_done_tasks_keep_theirs(session: Session) -> None:
    now = utcnow()
    student = make_user(session, now=now)
    rows = [make_task(session, student, now=now, topic=topic, difficulty=difficulty)
            for topic, difficulty in (("Algebra", Difficulty.EASY), ("Biology", Difficulty.HARD),
                                      ("Algebra", Difficulty.HARD))]
    tasks.complete_task(session=session, user=student, task_id=rows[1].id, correct=True, seconds=60, now=now)
    _answer_algebra(session, student, now, 2)
    current = tasks.current_predictions(session=session, user=student, tasks=rows, now=now)
    assert set(current) == {rows[0].id, rows[2].id}  # the done one keeps the prediction it was scored on
    for task in (rows[0], rows[2]):
        fresh = tasks.preview(session=session, user=student, topic="Algebra", difficulty=task.difficulty, now=now)
        assert current[task.id].p_correct == pytest.approx(fresh.prediction.p_correct)


def test_the_dashboards_planned_time_is_summed_from_the_current_predictions(session: Session) -> None:
    now = utcnow()
    student = make_user(session, now=now)
    planned = [make_task(session, student, now=now, topic="Algebra") for _ in range(2)]
    _answer_algebra(session, student, now, 3)
    summary = analytics.today_summary(session=session, user=student, now=now)
    current = tasks.current_predictions(session=session, user=student, tasks=planned, now=now)
    assert summary.planned_seconds == pytest.approx(sum(p.expected_seconds for p in current.values()))
    stored = sum(t.prediction.expected_seconds for t in planned if t.prediction is not None)
    assert summary.planned_seconds > stored * 1.05  # the stale sum was what the dashboard showed before
    assert [p.prediction for p in summary.planned] == [current[t.id] for t in planned]


def test_the_api_gives_an_open_tasks_current_prediction_and_the_created_one(client: TestClient) -> None:
    headers = register(client)
    planned = create_task(client, headers, topic="Algebra")
    assert planned["prediction"] == planned["created_prediction"]  # just created: the same
    for _ in range(4):
        done = create_task(client, headers, topic="Algebra")
        response = client.post(f"/api/v1/tasks/{done['id']}/complete", headers=headers,
                               json={"correct": False, "seconds": 1800})
        assert response.status_code == 200
    finished = response.json()
    assert finished["prediction"] == finished["created_prediction"]  # a done task: the one it was scored on

    fresh = client.get("/api/v1/predictions/preview", params={"topic": "Algebra", "difficulty": "medium"},
                       headers=headers).json()
    for body in (client.get(f"/api/v1/tasks/{planned['id']}", headers=headers).json(),
                 next(item for item in client.get("/api/v1/tasks", headers=headers,
                                                  params={"status": "planned"}).json()["items"]
                      if item["id"] == planned["id"])):
        assert body["status"] == TaskStatus.PLANNED.value
        assert body["prediction"]["p_correct"] == pytest.approx(fresh["p_correct"])
        assert body["prediction"]["source"] == "model"
        assert body["created_prediction"] == planned["created_prediction"]
        assert body["prediction"]["p_correct"] < body["created_prediction"]["p_correct"] - 0.02
