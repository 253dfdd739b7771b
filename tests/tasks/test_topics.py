"""Topic privacy: a student sees the shared list and their own topics, never another student's; the models still
pool answers on one topic across students. Names with zero-width or bidirectional-control characters are refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from studysmart.core.db import utcnow
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty
from tests.factories import create_task, make_user, register

PRIVATE = ("Project Nightingale", "Divorce papers", "Quantum gossip")


def _names(client: TestClient, headers: dict[str, str], **params: Any) -> set[str]:
    response = client.get("/api/v1/topics", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return {topic["name"] for topic in response.json()}


def test_another_students_topics_are_never_listed(client: TestClient) -> None:
    alice, bob = register(client), register(client)
    create_task(client, alice, topic=PRIVATE[0])
    assert client.post("/api/v1/topics", headers=alice, json={"name": PRIVATE[1]}).status_code == 201
    exam = {"name": "Finals", "date": (utcnow().date() + timedelta(days=30)).isoformat(),
            "topics": [{"topic": PRIVATE[2]}], "minutes_per_weekday": [30] * 7}
    assert client.post("/api/v1/exams", headers=alice, json=exam).status_code == 201

    assert set(PRIVATE) <= _names(client, alice)  # her task's, the one she added, her exam's
    bobs = _names(client, bob)
    assert not set(PRIVATE) & bobs
    assert set(tasks.SHARED_TOPICS) <= bobs  # the shared list is everyone's
    for query in ("night", "divorce", "gossip", "o"):
        assert not set(PRIVATE) & _names(client, bob, q=query)
    assert _names(client, alice, q="night") == {PRIVATE[0]}


def test_a_topic_used_by_two_students_is_one_topic_for_the_models(client: TestClient) -> None:
    alice, bob = register(client), register(client)
    mine = client.post("/api/v1/topics", headers=alice, json={"name": "Organic synthesis"}).json()
    for _ in range(4):
        task = create_task(client, alice, topic="organic synthesis", difficulty="easy")
        client.post(f"/api/v1/tasks/{task['id']}/complete", headers=alice, json={"correct": True, "seconds": 60})
    assert "Organic synthesis" not in _names(client, bob)
    theirs = client.post("/api/v1/topics", headers=bob, json={"name": "ORGANIC SYNTHESIS"}).json()
    assert theirs["id"] == mine["id"]  # one Topic row: answers on it are pooled
    assert "Organic synthesis" in _names(client, bob)
    preview = client.get("/api/v1/predictions/preview", headers=bob,
                         params={"topic": "Organic synthesis", "difficulty": "easy"}).json()
    assert preview["source"] != "population-prior"  # Alice's answers inform Bob's prediction


def test_the_web_autocomplete_reads_only_the_students_topics(session: Session) -> None:
    """The task page fills its topic autocomplete from ``list_topics(user=...)``."""
    now = utcnow()
    alice, bob = make_user(session, now=now), make_user(session, now=now)
    tasks.create_task(session=session, user=alice, title="T", topic=PRIVATE[0], difficulty=Difficulty.EASY, now=now)
    session.commit()
    assert PRIVATE[0] in {t.name for t in tasks.list_topics(session=session, user=alice, limit=500)}
    assert PRIVATE[0] not in {t.name for t in tasks.list_topics(session=session, user=bob, limit=500)}


HIDDEN = ["\u202e", "\u200b", "\u200d", "\u2066", "\ufeff", "\u200f"]


def _field(response: Any) -> list[Any]:
    return list(response.json()["detail"][0]["loc"])


@pytest.mark.parametrize("char", HIDDEN, ids=[f"U+{ord(c):04X}" for c in HIDDEN])
def test_names_with_hidden_or_reordering_characters_are_refused(client: TestClient, char: str) -> None:
    headers = register(client)
    task = create_task(client, headers)
    name = f"Alg{char}ebra"
    exam = {"name": "Finals", "date": (utcnow().date() + timedelta(days=30)).isoformat(),
            "topics": [{"topic": "Algebra"}], "minutes_per_weekday": [30] * 7}
    cases = [
        ("POST", "/api/v1/tasks", {"title": "T", "topic": name, "difficulty": "easy"}, ["body", "topic"]),
        ("POST", "/api/v1/tasks", {"title": name, "topic": "Algebra", "difficulty": "easy"}, ["body", "title"]),
        ("PATCH", f"/api/v1/tasks/{task['id']}", {"title": name}, ["body", "title"]),
        ("POST", "/api/v1/topics", {"name": name}, ["body", "name"]),
        ("POST", "/api/v1/exams", {**exam, "name": name}, ["body", "name"]),
        ("POST", "/api/v1/exams", {**exam, "topics": [{"topic": name}]}, ["body", "topics", 0, "topic"]),
        ("PATCH", "/api/v1/auth/me", {"display_name": name}, ["body", "display_name"]),
        ("POST", "/api/v1/auth/register", {"email": "new@example.com", "password": "correct horse battery",
                                           "display_name": name}, ["body", "display_name"]),
    ]
    for method, url, body, loc in cases:
        response = client.request(method, url, headers=headers, json=body)
        assert response.status_code == 422, (url, body, response.text)
        assert _field(response) == loc
        assert f"U+{ord(char):04X}" in response.json()["detail"][0]["msg"]
    assert not {t["name"] for t in client.get("/api/v1/topics", headers=headers).json()} & {name}


def test_services_refuse_hidden_characters_too(session: Session) -> None:
    """The web pages call the services directly: they refuse such names as well (InvalidTaskInput names the field)."""
    now = utcnow()
    student = make_user(session, now=now)
    with pytest.raises(tasks.InvalidTaskInput) as topic_error:
        tasks.create_task(session=session, user=student, title="T", topic="A\u202eB", difficulty=Difficulty.EASY,
                          now=now)
    assert topic_error.value.field == "topic"
    with pytest.raises(tasks.InvalidTaskInput) as title_error:
        tasks.create_task(session=session, user=student, title="T\u200b", topic="Algebra",
                          difficulty=Difficulty.EASY, now=now)
    assert title_error.value.field == "title"
