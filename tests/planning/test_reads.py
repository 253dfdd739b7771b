"""Reading a plan never writes: GET plan, readiness and .ics, and the service call the pages use, issue no INSERT,
UPDATE or DELETE on SQLite and PostgreSQL, whether the plan is computed, cached or recomputed after a change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from studysmart.planning import service
from studysmart.planning.cache import PlanCache
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty
from tests.factories import make_user, register

EXAMS = "/api/v1/exams"
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "CREATE", "ALTER", "DROP", "TRUNCATE")


@contextmanager
def writes(engine: Engine) -> Iterator[list[str]]:
    """The statements that change data or schema which ``engine`` executes inside the block (a transaction's
    BEGIN, SQLite's BEGIN IMMEDIATE included, is not a write)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(WRITES):
            seen.append(statement.split("\n", maxsplit=1)[0][:80])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _exam(client: TestClient, headers: dict[str, str]) -> int:
    body = {"name": "Finals", "date": (datetime.now(UTC).date() + timedelta(days=6)).isoformat(),
            "topics": [{"topic": "Algebra", "weight": 2}, {"topic": "Geometry"}], "minutes_per_weekday": [30] * 7}
    response = client.post(EXAMS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_get_plan_readiness_and_ics_write_nothing(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    headers = register(client)
    exam_id = _exam(client, headers)
    urls = [f"{EXAMS}/{exam_id}/plan", f"{EXAMS}/{exam_id}/readiness", f"{EXAMS}/{exam_id}/plan.ics"]
    for _ in range(2):  # computed, then cached
        for url in urls:
            with writes(engine) as seen:
                assert client.get(url, headers=headers).status_code == 200
            assert seen == [], (url, seen)
    task = client.post("/api/v1/tasks", headers=headers,
                       json={"title": "warm-up", "topic": "Geometry", "difficulty": "easy"}).json()
    with writes(engine) as seen:  # the listener sees writes: a completion is one
        assert client.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers,
                           json={"correct": True, "seconds": 60}).status_code == 200
    assert any(s.upper().startswith("UPDATE") for s in seen)
    before = client.get(urls[0], headers=headers).json()
    day = datetime.now(UTC).date().isoformat()
    assert client.post(f"{EXAMS}/{exam_id}/plan/{day}/materialize", headers=headers).status_code == 201
    for url in urls:  # recomputed around the completion and today's tasks: still no writes
        with writes(engine) as seen:
            response = client.get(url, headers=headers)
        assert response.status_code == 200 and seen == [], (url, seen)
    assert client.get(urls[0], headers=headers).json() != before


def test_the_pages_read_of_every_exam_writes_nothing(session: Session) -> None:
    now = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    user = make_user(session, now=now)
    exam = service.create_exam(session=session, user=user, name="Finals", date=now.date() + timedelta(days=5),
                               topics=[{"topic": "Algebra"}], minutes_per_weekday=[30] * 7, now=now)
    session.commit()
    cache = PlanCache()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    for at in (now, now + timedelta(hours=1), now + timedelta(days=1)):  # computed, cached, a new day
        with writes(engine) as seen:
            state = service.exam_state(session=session, user=user, exam_id=exam.id, now=at, cache=cache)
            session.flush()
        assert seen == [] and not session.dirty and not session.new, at
        assert state.plan.days
    task = tasks.create_task(session=session, user=user, title="t", topic="Algebra", difficulty=Difficulty.EASY,
                             now=now)
    tasks.complete_task(session=session, user=user, task_id=task.id, correct=False, seconds=30.0, now=now)
    session.commit()
    with writes(engine) as seen:
        service.exam_state(session=session, user=user, exam_id=exam.id, now=now, cache=cache)
        session.flush()
    assert seen == []
    assert len(cache) == 1  # one exam: one entry, the newest
