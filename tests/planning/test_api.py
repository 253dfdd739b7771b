"""The exams API on SQLite and PostgreSQL: shapes, status codes, 404 isolation, bad input naming the field, the
plan within each day's minutes, replanning after a completion, materialize and the .ics download."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar

from tests.factories import register

EXAMS = "/api/v1/exams"


def today():
    return datetime.now(UTC).date()


def exam_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Maths finals",
        "date": (today() + timedelta(days=7)).isoformat(),
        "topics": [{"topic": "Algebra", "weight": 3}, {"topic": "Geometry", "weight": 1}],
        "minutes_per_weekday": [45, 30, 25, 60, 30, 90, 20],
        **overrides,
    }


@pytest.fixture
def headers(client: TestClient) -> dict[str, str]:
    return register(client)


@pytest.fixture
def exam(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(EXAMS, json=exam_body(days_off=[(today() + timedelta(days=2)).isoformat()],
                                                 target_score=0.8), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_list_get_patch_delete(client: TestClient, headers: dict[str, str], exam: dict[str, Any]) -> None:
    assert exam["name"] == "Maths finals" and exam["target_score"] == 0.8 and exam["timezone"] == "UTC"
    assert exam["topics"] == [{"topic": "Algebra", "weight": 3.0}, {"topic": "Geometry", "weight": 1.0}]
    assert exam["minutes_per_weekday"] == [45, 30, 25, 60, 30, 90, 20]
    assert client.get(EXAMS, headers=headers).json() == [exam]
    assert client.get(f"{EXAMS}/{exam['id']}", headers=headers).json() == exam
    patched = client.patch(f"{EXAMS}/{exam['id']}", headers=headers,
                           json={"name": "Finals", "topics": [{"topic": "algebra", "weight": 1}]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Finals" and patched.json()["topics"] == [{"topic": "Algebra", "weight": 1.0}]
    assert client.delete(f"{EXAMS}/{exam['id']}", headers=headers).status_code == 204
    assert client.get(f"{EXAMS}/{exam['id']}", headers=headers).status_code == 404
    assert client.get(EXAMS, headers=headers).json() == []


def test_another_students_exam_is_a_404(client: TestClient, exam: dict[str, Any]) -> None:
    other = register(client)
    base = f"{EXAMS}/{exam['id']}"
    day = today().isoformat()
    calls = [("get", base), ("patch", base), ("delete", base), ("get", f"{base}/readiness"),
             ("get", f"{base}/plan"), ("get", f"{base}/plan.ics"), ("post", f"{base}/plan/{day}/materialize"),
             ("post", f"{base}/plan/{day}/skip"), ("post", f"{base}/plan/{day}/move"),
             ("delete", f"{base}/plan/{day}/change")]
    for method, url in calls:
        kwargs: dict[str, Any] = {"json": {"name": "mine"}} if method == "patch" else {}
        if url.endswith("/move"):
            kwargs = {"json": {"to": (today() + timedelta(days=1)).isoformat()}}
        response = client.request(method.upper(), url, headers=other, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json() == {"detail": "exam not found"}
    assert client.get(EXAMS, headers=other).json() == []
    assert client.get(base).status_code == 401


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"date": "2000-01-01"}, "date"),
        ({"date": "9999-12-31"}, "date"),
        ({"topics": []}, "topics"),
        ({"minutes_per_weekday": [30, 30, -5, 30, 30, 30, 30]}, "minutes_per_weekday"),
        ({"minutes_per_weekday": [30] * 8}, "minutes_per_weekday"),
        ({"unknown": 1}, "unknown"),
        ({"topics": [{"topic": "Algebra", "weight": 0}]}, "topics"),
        ({"topics": [{"topic": "Algebra"}, {"topic": "ALGEBRA"}]}, "topics[1].topic"),
        ({"timezone": "Nowhere/City"}, "timezone"),
        ({"topics": [{"topic": "Algebra"}, {"topic": "ß" * 60}]}, "topics[1].topic"),  # 120 once case-folded
        ({"productive_band": [0.9, 0.5]}, "productive_band"),
        ({"productive_band": [0.5, 0.5]}, "productive_band"),
        ({"productive_band": [0.0, 0.5]}, "productive_band"),
        ({"productive_band": [0.5, 1.0]}, "productive_band"),
        ({"productive_band": [0.5]}, "productive_band"),
        ({"max_tasks_per_day": 0}, "max_tasks_per_day"),
        ({"max_tasks_per_day": 51}, "max_tasks_per_day"),
        ({"max_tasks_per_day": 2.5}, "max_tasks_per_day"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(client: TestClient, headers: dict[str, str],
                                             overrides: dict[str, Any], field: str) -> None:
    response = client.post(EXAMS, json=exam_body(**overrides), headers=headers)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"][:1]
    assert error["loc"][0] == "body" and str(error["loc"][1]) == field
    assert client.get(EXAMS, headers=headers).json() == []


def test_patch_refuses_bad_input_and_keeps_the_exam(client: TestClient, headers: dict[str, str],
                                                    exam: dict[str, Any]) -> None:
    url = f"{EXAMS}/{exam['id']}"
    for body, field in (({"date": "2001-02-03"}, "date"), ({"minutes_per_weekday": [1] * 6}, "minutes_per_weekday"),
                        ({"owner_id": 2}, "owner_id"), ({"productive_band": [0.7, 0.6]}, "productive_band"),
                        ({"max_tasks_per_day": None}, "max_tasks_per_day")):
        response = client.patch(url, json=body, headers=headers)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][1] == field
    assert client.get(url, headers=headers).json() == exam


def _check_days(plan: dict[str, Any], minutes: list[float], days_off: set[str]) -> None:
    for day in plan["days"]:
        weekday = datetime.fromisoformat(day["date"]).weekday()
        available = 0 if day["date"] in days_off else minutes[weekday]
        assert day["minutes_available"] == available
        assert day["minutes_planned"] <= day["minutes_available"]
        assert sum(item["expected_seconds"] for item in day["items"]) <= 60 * day["minutes_available"]
        if available == 0:
            assert day["items"] == []


def test_the_plan_fits_every_day_and_is_replanned_after_a_completion(
        client: TestClient, headers: dict[str, str], exam: dict[str, Any]) -> None:
    url = f"{EXAMS}/{exam['id']}/plan"
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    plan = response.json()
    assert len(plan["days"]) == 7 and plan["days"][0]["date"] == today().isoformat()
    item = next(i for d in plan["days"] for i in d["items"])
    assert set(item) == {"topic", "difficulty", "count", "expected_seconds", "p_correct"}
    assert item["topic"] in {"Algebra", "Geometry"} and item["count"] > 0 and 0 < item["p_correct"] < 1
    _check_days(plan, exam["minutes_per_weekday"], set(exam["days_off"]))
    assert client.get(url, headers=headers).json() == plan  # cached: the same plan

    task = client.post("/api/v1/tasks", headers=headers,
                       json={"title": "warm-up", "topic": "Geometry", "difficulty": "hard"}).json()
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers,
                       json={"correct": False, "seconds": 600})
    assert done.status_code == 200
    replanned = client.get(url, headers=headers).json()
    assert replanned != plan
    first = replanned["days"][0]
    assert any(i["topic"] == "Geometry" and i["difficulty"] == "hard" for i in first["items"])
    assert first["minutes_planned"] >= 10  # the 10 minutes done stay on today
    _check_days(replanned, exam["minutes_per_weekday"], set(exam["days_off"]))


def test_readiness(client: TestClient, headers: dict[str, str], exam: dict[str, Any]) -> None:
    response = client.get(f"{EXAMS}/{exam['id']}/readiness", headers=headers)
    assert response.status_code == 200, response.text
    ready = response.json()
    assert set(ready) == {"expected_score", "low", "high", "forecast_on_exam_day"}
    assert 0 <= ready["low"] <= ready["expected_score"] <= ready["high"] <= 1
    assert ready["expected_score"] <= ready["forecast_on_exam_day"] <= 1


def test_materialize_is_idempotent(client: TestClient, headers: dict[str, str], exam: dict[str, Any]) -> None:
    plan = client.get(f"{EXAMS}/{exam['id']}/plan", headers=headers).json()
    day = next(d for d in plan["days"] if d["items"])
    url = f"{EXAMS}/{exam['id']}/plan/{day['date']}/materialize"
    created = client.post(url, headers=headers)
    assert created.status_code == 201, created.text
    made = created.json()
    assert len(made) == sum(i["count"] for i in day["items"])
    assert all(t["prediction"] is not None and t["due_date"] == day["date"] and t["status"] == "planned"
               for t in made)
    again = client.post(url, headers=headers)
    assert again.status_code == 200 and [t["id"] for t in again.json()] == [t["id"] for t in made]
    listed = client.get("/api/v1/tasks", headers=headers, params={"limit": 500}).json()
    assert listed["total"] == len(made)
    for bad in ((today() - timedelta(days=1)).isoformat(), exam["date"]):
        response = client.post(f"{EXAMS}/{exam['id']}/plan/{bad}/materialize", headers=headers)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["path", "date"]
    assert client.post(f"{EXAMS}/{exam['id']}/plan/not-a-date/materialize", headers=headers).status_code == 422


def test_the_ics_download_parses(client: TestClient, headers: dict[str, str], exam: dict[str, Any]) -> None:
    plan = client.get(f"{EXAMS}/{exam['id']}/plan", headers=headers).json()
    response = client.get(f"{EXAMS}/{exam['id']}/plan.ics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert "attachment" in response.headers["content-disposition"]
    events = Calendar.from_ical(response.content).walk("VEVENT")
    blocks = [d for d in plan["days"] if d["items"]]
    assert len(events) == len(blocks) > 0
    assert sorted(e.decoded("dtstart").date().isoformat() for e in events) == [d["date"] for d in blocks]
    assert all("Maths finals" in str(e.get("summary")) for e in events)


NULL_PATCHES = [({field: None}, field) for field in ("name", "date", "topics", "minutes_per_weekday", "days_off",
                                                     "timezone")]
NULL_PATCHES.append(({"date": None, "topics": [{"topic": "Algebra"}]}, "date"))  # the fuzzer's case


@pytest.mark.parametrize(("body", "field"), NULL_PATCHES, ids=[" ".join(body) for body, _ in NULL_PATCHES])
def test_patch_with_an_explicit_null_is_a_422_naming_the_field(client: TestClient, body: dict[str, Any],
                                                               field: str) -> None:
    """The fuzzer's find: PATCH {"date": null, "topics": [...]} flushed NULL into a NOT NULL column
    (IntegrityError, a 500); {"days_off": null} was taken as no days off."""
    headers = register(client)
    exam = client.post(EXAMS, json=exam_body(target_score=0.5), headers=headers)
    assert exam.status_code == 201, exam.text
    response = client.patch(f"{EXAMS}/{exam.json()['id']}", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert client.get(f"{EXAMS}/{exam.json()['id']}", headers=headers).status_code == 200
    cleared = client.patch(f"{EXAMS}/{exam.json()['id']}", json={"target_score": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["target_score"] is None
