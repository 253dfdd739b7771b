"""The task list by due date (today, upcoming, overdue, done) in the student's time zone, sorted by due date or
creation, searched by title, the running task first, in one SQL query; and one timer at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from studysmart.core.db import utcnow
from studysmart.tasks import listing
from studysmart.tasks import service as tasks
from studysmart.tasks.models import TaskStatus
from tests.factories import create_task, make_task, make_user, register


def _today(zone: str = "UTC") -> date:
    return utcnow().astimezone(ZoneInfo(zone)).date()


def _ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[int]:
    response = client.get("/api/v1/tasks", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()["items"]]


def test_views_sort_search_and_the_running_task_first(client: TestClient) -> None:
    headers = register(client)
    today = _today()
    overdue = create_task(client, headers, title="Past paper", due_date=str(today - timedelta(days=3)))["id"]
    due_today = create_task(client, headers, title="Today's set", due_date=str(today))["id"]
    tomorrow = create_task(client, headers, title="Tomorrow's set", due_date=str(today + timedelta(days=1)))["id"]
    undated = create_task(client, headers, title="Someday reading")["id"]
    done = create_task(client, headers, title="Finished set", due_date=str(today - timedelta(days=5)))["id"]
    assert client.post(f"/api/v1/tasks/{done}/complete", json={"correct": True, "seconds": 60},
                       headers=headers).status_code == 200

    assert _ids(client, headers, view="overdue") == [overdue]  # a done task is never overdue
    assert _ids(client, headers, view="today") == [due_today]
    assert _ids(client, headers, view="upcoming") == [undated, tomorrow]  # newest first by default
    assert _ids(client, headers, view="done") == [done]
    assert _ids(client, headers, sort="due") == [done, overdue, due_today, tomorrow, undated]  # no date last
    assert _ids(client, headers, sort="created") == [done, undated, tomorrow, due_today, overdue]
    assert _ids(client, headers, q="SET") == [done, tomorrow, due_today]  # case-insensitive, in the title
    assert _ids(client, headers, q="set", view="upcoming", sort="due") == [tomorrow]
    assert _ids(client, headers, q="100%_") == []  # LIKE wildcards are plain text

    assert client.post(f"/api/v1/tasks/{overdue}/start", headers=headers).status_code == 200
    assert _ids(client, headers, sort="due")[0] == overdue
    assert _ids(client, headers)[:2] == [overdue, done]  # pinned first, then newest first
    page = client.get("/api/v1/tasks", params={"view": "upcoming", "limit": 1}, headers=headers).json()
    assert page["total"] == 2 and [t["id"] for t in page["items"]] == [undated]


def test_today_is_the_date_in_the_time_zone_given(client: TestClient) -> None:
    # 25 hours apart: whatever the hour, the two zones are on different dates
    east, west = "Pacific/Kiritimati", "Pacific/Pago_Pago"
    headers = register(client)
    task = create_task(client, headers, due_date=str(_today(east)))["id"]
    assert _ids(client, headers, view="today", tz=east) == [task]
    assert _ids(client, headers, view="today", tz=west) == []
    assert _ids(client, headers, view="upcoming", tz=west) == [task]
    assert _ids(client, headers, view="overdue", tz=east) == []


@pytest.mark.parametrize(("param", "value"), [("view", "soon"), ("sort", "title"), ("tz", "Mars/Olympus"),
                                              ("tz", "../etc/passwd"), ("tz", "America"), ("q", "x" * 201)])
def test_bad_list_parameters_are_422_naming_the_field(client: TestClient, param: str, value: str) -> None:
    headers = register(client)
    response = client.get("/api/v1/tasks", params={param: value}, headers=headers)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["query", param]]


def test_one_timer_at_a_time(client: TestClient) -> None:
    headers = register(client)
    first = create_task(client, headers, title="Vectors")["id"]
    second = create_task(client, headers, title="Matrices")["id"]
    assert client.post(f"/api/v1/tasks/{first}/start", headers=headers).status_code == 200
    refused = client.post(f"/api/v1/tasks/{second}/start", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["detail"] == (f"another task's timer is running (“Vectors”, id {first}); "
                                        "complete it or stop its timer first")
    assert client.get(f"/api/v1/tasks/{second}", headers=headers).json()["status"] == "planned"
    assert client.post(f"/api/v1/tasks/{first}/start", headers=headers).status_code == 200  # a restart is fine

    stopped = client.post(f"/api/v1/tasks/{first}/stop", headers=headers)
    assert stopped.status_code == 200
    assert (stopped.json()["status"], stopped.json()["started_at"]) == ("planned", None)
    assert client.post(f"/api/v1/tasks/{second}/start", headers=headers).status_code == 200
    assert client.post(f"/api/v1/tasks/{second}/complete", json={"correct": True},
                       headers=headers).status_code == 200
    assert client.post(f"/api/v1/tasks/{first}/start", headers=headers).status_code == 200  # done: free again


def test_an_undone_completion_does_not_start_a_second_timer(session: Session) -> None:
    now = utcnow()
    student = make_user(session, now=now)
    first, second = make_task(session, student, now=now), make_task(session, student, now=now)
    tasks.start_task(session=session, user=student, task_id=first.id, now=now)
    tasks.complete_task(session=session, user=student, task_id=first.id, correct=True, seconds=None,
                        now=now + timedelta(seconds=30))
    tasks.start_task(session=session, user=student, task_id=second.id, now=now + timedelta(seconds=40))
    undone = tasks.undo_completion(session=session, user=student, task_id=first.id, now=now + timedelta(seconds=50))
    assert (undone.status, undone.started_at) == (TaskStatus.PLANNED, None)
    assert tasks.running_task(session=session, user=student) is second


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_page_of_the_list_is_two_queries_limited_in_sql(session: Session) -> None:
    now = utcnow()
    student = make_user(session, now=now)
    for k in range(30):
        task = make_task(session, student, now=now + timedelta(seconds=k), title=f"Set {k}")
        task.due_date = now.date() + timedelta(days=k - 10)
    session.flush()
    with _statements(session) as seen:
        rows, total = listing.list_tasks(session=session, user=student, today=now.date(),
                                         view=listing.TaskView.UPCOMING, sort=listing.TaskSort.DUE, query="set",
                                         limit=5)
    assert total == 19 and [task.title for task in rows] == [f"Set {k}" for k in range(11, 16)]
    assert len(seen) == 2  # the count and the page
    assert "LIMIT" in seen[1].upper()
