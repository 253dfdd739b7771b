"""The analytics API: the logged-in student's numbers only, with a time-zone parameter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from studysmart.analytics import api as analytics_api
from studysmart.core.config import Settings
from tests.factories import create_task, register


@pytest.fixture
def api(settings: Settings, migrated: str) -> Iterator[TestClient]:
    """An API client with the analytics router under /api/v1 (added here until app.py includes it)."""
    from studysmart.app import create_app

    app = create_app(settings, with_ui=False)
    if not any(getattr(route, "path", "").startswith("/api/v1/analytics") for route in app.routes):
        app.include_router(analytics_api.router, prefix="/api/v1")
    with TestClient(app) as client:
        yield client


def test_every_endpoint_answers_for_the_student_only(api: TestClient) -> None:
    me = register(api)
    other = register(api)
    for _ in range(3):
        task = create_task(api, me, topic="Algebra")
        assert api.post(f"/api/v1/tasks/{task['id']}/complete", headers=me,
                        json={"correct": True, "seconds": 120}).status_code == 200
    create_task(api, me, topic="Geometry", title="Planned")
    create_task(api, other, topic="Geometry", title="Someone else's")

    summary = api.get("/api/v1/analytics/summary", headers=me, params={"tz": "Europe/Berlin"}).json()
    assert [t["title"] for t in summary["planned"]] == ["Planned"]
    assert (summary["week_answered"], summary["week_correct"], summary["streak_days"]) == (3, 3, 1)
    progress = api.get("/api/v1/analytics/progress", headers=me).json()
    assert progress["accuracy"] == {"Algebra": [1.0]}
    bins = api.get("/api/v1/analytics/calibration", headers=me, params={"bins": 5}).json()
    assert len(bins) == 5 and sum(b["count"] for b in bins) == 3
    assert [t["actual_seconds"] for t in api.get("/api/v1/analytics/times", headers=me).json()] == [120] * 3
    abilities = api.get("/api/v1/analytics/abilities", headers=me).json()
    assert [(a["topic"], a["answered"]) for a in abilities] == [("Algebra", 3)]
    assert api.get("/api/v1/analytics/weekly-time", headers=me).json()["minutes"] == {"Algebra": [6.0]}
    board = api.get("/api/v1/analytics/leaderboard", headers=me).json()
    assert board and all(row["n"] == 3 for row in board)

    others = api.get("/api/v1/analytics/summary", headers=other).json()
    assert [t["title"] for t in others["planned"]] == ["Someone else's"] and others["week_answered"] == 0
    assert api.get("/api/v1/analytics/leaderboard", headers=other).json() == []


def test_needs_a_token_and_a_known_time_zone(api: TestClient) -> None:
    assert api.get("/api/v1/analytics/summary").status_code == 401
    me = register(api)
    response = api.get("/api/v1/analytics/summary", headers=me, params={"tz": "Mars/Olympus"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "tz"]
    assert api.get("/api/v1/analytics/calibration", headers=me, params={"bins": 1}).status_code == 422
