"""Tasks through the API: the student's flow, predictions with their source, filters, and every bad input."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from studysmart.core.db import utcnow
from studysmart.tasks import service as tasks
from studysmart.users.models import User
from tests.factories import create_task, register


def test_flow_create_start_complete_counts_toward_training(client: TestClient) -> None:
    headers = register(client)
    task = create_task(client, headers)
    prediction = task["prediction"]
    assert prediction["source"] == "population-prior"  # nobody has answered anything yet
    assert 0 < prediction["p_correct"] < 1
    assert prediction["seconds_low"] < prediction["expected_seconds"] < prediction["seconds_high"]
    assert prediction["model"] == "shrinkage"
    assert task["status"] == "planned"

    started = client.post(f"/api/v1/tasks/{task['id']}/start", headers=headers)
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    done = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers, json={"correct": True})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "done" and body["correct"] is True
    assert body["seconds_taken"] >= 1  # from started_at

    status = client.get("/api/v1/training/status", headers=headers).json()
    assert status["completed_since_training"] == 1
    assert status["threshold"] == 5
    assert status["samples"] == 1
    assert status["running"] is False


def test_history_moves_the_prediction(client: TestClient) -> None:
    headers = register(client)
    before = client.get("/api/v1/predictions/preview", params={"topic": "Algebra", "difficulty": "easy"},
                        headers=headers).json()
    for _ in range(6):
        task = create_task(client, headers, difficulty="easy")
        client.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers, json={"correct": False, "seconds": 900})
    after = client.get("/api/v1/predictions/preview", params={"topic": "algebra", "difficulty": "easy"},
                       headers=headers).json()
    assert after["p_correct"] < before["p_correct"]
    assert after["expected_seconds"] > before["expected_seconds"]
    assert after["source"] == "model"
    assert "6" in after["explanation"]


def test_list_filters_and_paging(client: TestClient) -> None:
    headers = register(client)
    a = create_task(client, headers, topic="Algebra")
    create_task(client, headers, topic="Geometry")
    create_task(client, headers, topic="geometry ")
    client.post(f"/api/v1/tasks/{a['id']}/complete", headers=headers, json={"correct": True, "seconds": 30})
    listing = client.get("/api/v1/tasks", params={"topic": "GEOMETRY"}, headers=headers).json()
    assert listing["total"] == 2
    done = client.get("/api/v1/tasks", params={"status": "done"}, headers=headers).json()
    assert [t["id"] for t in done["items"]] == [a["id"]]
    page = client.get("/api/v1/tasks", params={"limit": 1, "offset": 1}, headers=headers).json()
    assert page["total"] == 3 and len(page["items"]) == 1
    topics = {t["name"] for t in client.get("/api/v1/topics", headers=headers).json()}
    assert {"Algebra", "Geometry"} <= topics


def test_patch_repredicts_and_delete(client: TestClient) -> None:
    headers = register(client)
    task = create_task(client, headers, difficulty="easy")
    patched = client.patch(f"/api/v1/tasks/{task['id']}", headers=headers, json={"title": "New", "difficulty": "hard"})
    assert patched.status_code == 200
    assert patched.json()["title"] == "New" and patched.json()["difficulty"] == "hard"
    assert client.delete(f"/api/v1/tasks/{task['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=headers).status_code == 404


def test_an_edit_of_difficulty_or_topic_repredicts_and_other_edits_keep_the_prediction(client: TestClient) -> None:
    headers = register(client)
    for _ in range(6):  # the student's own answers make topic and difficulty matter to the prediction
        done = create_task(client, headers, topic="Algebra", difficulty="easy")
        client.post(f"/api/v1/tasks/{done['id']}/complete", headers=headers, json={"correct": False, "seconds": 900})
    task = create_task(client, headers, topic="Algebra", difficulty="easy")

    def preview(topic: str, difficulty: str) -> dict[str, object]:
        answer = client.get("/api/v1/predictions/preview", headers=headers,
                            params={"topic": topic, "difficulty": difficulty})
        assert answer.status_code == 200
        return dict(answer.json())

    assert preview("Algebra", "hard")["p_correct"] != task["prediction"]["p_correct"]  # a change can be seen
    url = f"/api/v1/tasks/{task['id']}"
    kept = client.patch(url, headers=headers, json={"title": "Renamed", "notes": "n", "due_date": "2030-01-01"})
    assert kept.status_code == 200 and kept.json()["prediction"] == task["prediction"]
    hard = client.patch(url, headers=headers, json={"difficulty": "hard"}).json()["prediction"]
    assert {k: hard[k] for k in ("p_correct", "expected_seconds")} == {
        k: preview("Algebra", "hard")[k] for k in ("p_correct", "expected_seconds")}
    moved = client.patch(url, headers=headers, json={"topic": "Number theory"}).json()
    assert moved["topic"] == "Number theory"
    assert moved["prediction"]["p_correct"] == preview("Number theory", "hard")["p_correct"]
    assert client.get(url, headers=headers).json()["prediction"] == moved["prediction"]


def test_an_edit_cannot_clear_the_title_topic_or_difficulty_and_names_the_field(client: TestClient) -> None:
    headers = register(client)
    task = create_task(client, headers)
    url = f"/api/v1/tasks/{task['id']}"
    for field in ("title", "topic", "difficulty"):
        answer = client.patch(url, headers=headers, json={field: None})
        assert answer.status_code == 422 and _field(answer) == field
    assert client.patch(url, headers=headers, json={"notes": None, "due_date": None}).status_code == 200
    client.post(f"{url}/complete", headers=headers, json={"correct": True, "seconds": 60})
    refused = client.patch(url, headers=headers, json={"difficulty": "hard"})
    assert refused.status_code == 422 and _field(refused) == "difficulty"
    assert _field(client.patch(url, headers=headers, json={"topic": "Biology"})) == "topic"


def test_another_users_task_is_a_404(client: TestClient) -> None:
    owner = register(client)
    intruder = register(client)
    task = create_task(client, owner)
    missing = client.get("/api/v1/tasks/999999", headers=intruder)
    for method, suffix, body in [("GET", "", None), ("PATCH", "", {"title": "x"}), ("DELETE", "", None),
                                 ("POST", "/start", None), ("POST", "/complete", {"correct": True, "seconds": 5})]:
        response = client.request(method, f"/api/v1/tasks/{task['id']}{suffix}", headers=intruder, json=body)
        assert response.status_code == 404
        assert response.json() == missing.json()
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=owner).json()["status"] == "planned"


def _field(response: object) -> str:
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    return str(detail[0]["loc"][-1])


@pytest.mark.parametrize(("body", "field"), [
    ({"title": "T", "topic": "Algebra", "difficulty": "impossible"}, "difficulty"),
    ({"title": "", "topic": "Algebra", "difficulty": "easy"}, "title"),
    ({"title": "   ", "topic": "Algebra", "difficulty": "easy"}, "title"),
    ({"title": "x" * 201, "topic": "Algebra", "difficulty": "easy"}, "title"),
    ({"title": "T", "topic": "", "difficulty": "easy"}, "topic"),
    ({"topic": "Algebra", "difficulty": "easy"}, "title"),
])
def test_bad_task_input_is_422_naming_the_field_and_writes_nothing(client: TestClient, body: dict, field: str) -> None:
    headers = register(client)
    response = client.post("/api/v1/tasks", json=body, headers=headers)
    assert response.status_code == 422
    assert _field(response) == field
    assert client.get("/api/v1/tasks", headers=headers).json()["total"] == 0


@pytest.mark.parametrize("seconds", [0, -5, 5e-324, 0.2, 0.999, 86_400.5, 86_401, 1e300, "abc", "NaN", None])
def test_bad_seconds_are_422(client: TestClient, seconds: object) -> None:
    headers = register(client)
    task = create_task(client, headers)  # never started: seconds are required
    body = {"correct": True} if seconds is None else {"correct": True, "seconds": seconds}
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert _field(response) == "seconds"
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=headers).json()["status"] == "planned"
    assert client.get("/api/v1/training/status", headers=headers).json()["completed_since_training"] == 0


@pytest.mark.parametrize("seconds", [1, 1.0, 86_400])
def test_completion_times_from_one_second_to_one_day_are_accepted(client: TestClient, seconds: float) -> None:
    headers = register(client)
    task = create_task(client, headers)
    response = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"correct": True, "seconds": seconds},
                           headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["seconds_taken"] == seconds


def test_the_service_refuses_times_below_one_second_and_counts_a_quick_elapsed_time_as_one(
        client: TestClient) -> None:
    headers = register(client)
    first, second = create_task(client, headers), create_task(client, headers)
    assert client.post(f"/api/v1/tasks/{second['id']}/start", headers=headers).status_code == 200
    with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
        user = session.scalars(select(User)).one()
        for bad in (5e-324, 0.5, float("nan")):
            with pytest.raises(tasks.InvalidTaskInput) as refused:
                tasks.complete_task(session=session, user=user, task_id=first["id"], correct=False, seconds=bad,
                                    now=utcnow())
            assert refused.value.field == "seconds"
        done = tasks.complete_task(session=session, user=user, task_id=second["id"], correct=True, seconds=None,
                                   now=utcnow() + timedelta(milliseconds=1))
        assert done.task.seconds_taken >= 1.0


def test_completing_twice_is_409_and_counts_once(client: TestClient) -> None:
    headers = register(client)
    task = create_task(client, headers)
    first = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"correct": True, "seconds": 40}, headers=headers)
    assert first.status_code == 200
    second = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"correct": False, "seconds": 9},
                         headers=headers)
    assert second.status_code == 409
    again = client.get(f"/api/v1/tasks/{task['id']}", headers=headers).json()
    assert again["correct"] is True and again["seconds_taken"] == 40
    assert client.get("/api/v1/training/status", headers=headers).json()["completed_since_training"] == 1
    assert client.post(f"/api/v1/tasks/{task['id']}/start", headers=headers).status_code == 409


def test_malformed_json_is_422(client: TestClient) -> None:
    headers = {**register(client), "Content-Type": "application/json"}
    response = client.post("/api/v1/tasks", content=b'{"title": "T", "topic": ', headers=headers)
    assert response.status_code == 422


def test_body_over_64_kib_is_413(client: TestClient) -> None:
    headers = {**register(client), "Content-Type": "application/json"}
    body = json.dumps({"title": "T", "topic": "Algebra", "difficulty": "easy", "notes": "x" * 70_000})
    response = client.post("/api/v1/tasks", content=body, headers=headers)
    assert response.status_code == 413
    assert client.get("/api/v1/tasks", headers=headers).json()["total"] == 0


def test_body_over_limit_without_content_length_is_413(client: TestClient) -> None:
    headers = {**register(client), "Content-Type": "application/json"}

    def chunks():  # streamed: no Content-Length header
        yield b'{"title": "T", "topic": "Algebra", "difficulty": "easy", "notes": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/api/v1/tasks", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_health(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["model"] == "ok"


def test_huge_ids_and_long_folded_topics_are_4xx(client: TestClient) -> None:
    headers = register(client)
    assert client.get(f"/api/v1/tasks/{2**63}", headers=headers).status_code == 422
    for too_big in (2**31, 2**63 - 1):  # the id columns are 32-bit: PostgreSQL answered these with a 500
        for url in (f"/api/v1/tasks/{too_big}", f"/api/v1/exams/{too_big}", f"/api/v1/exams/{too_big}/plan"):
            response = client.get(url, headers=headers)
            assert response.status_code == 422, (url, response.text)
            assert response.json()["detail"][0]["loc"][:2] == ["path", "task_id" if "tasks" in url else "exam_id"]
    assert client.get(f"/api/v1/tasks/{2**31 - 1}", headers=headers).status_code == 404
    response = client.post("/api/v1/tasks", headers=headers,
                           json={"title": "T", "topic": "ß" * 100, "difficulty": "easy"})  # folds to 200 chars
    assert response.status_code == 422 and _field(response) == "topic"
    response = client.post("/api/v1/topics", headers=headers, json={"name": "ß" * 60})
    assert response.status_code == 422 and _field(response) == "name"  # this route's field
    assert "at most" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("complete", '{"correct": true, "seconds": NaN}', "seconds"),
    ("complete", '{"correct": true, "seconds": Infinity}', "seconds"),
    ("complete", '{"correct": true, "seconds": -Infinity}', "seconds"),
    ("create", '{"title": 1e999, "topic": "Algebra", "difficulty": "easy"}', "title"),
    ("create", '{"title": "T", "topic": "\\ud800", "difficulty": "easy"}', "topic"),
])
def test_values_json_cannot_echo_are_still_a_422_naming_the_field(client: TestClient, path: str, body: str,
                                                                   field: str) -> None:
    """The 422 echoes the rejected input; NaN, Infinity and lone surrogates must not turn it into a 500."""
    headers = register(client)
    task = create_task(client, headers)
    url = f"/api/v1/tasks/{task['id']}/complete" if path == "complete" else "/api/v1/tasks"
    response = client.post(url, content=body, headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert _field(response) == field
    json.loads(response.text)  # strict JSON
    assert client.get("/api/v1/tasks", headers=headers).json()["total"] == 1


def test_paging_beyond_any_database_integer_is_422(client: TestClient) -> None:
    headers = register(client)
    response = client.get("/api/v1/tasks", params={"offset": 2**63}, headers=headers)
    assert response.status_code == 422 and _field(response) == "offset"
