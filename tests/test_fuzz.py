"""The OpenAPI fuzzer (schemathesis) against the ASGI app, on SQLite and PostgreSQL.

Every operation of ``/openapi.json`` gets a bounded number of generated requests, as a logged-in student (with
their own task and exam to aim at) and anonymously. No answer may be a 5xx, and every answer must keep its own
schema: a documented status code and content type, and a body that matches the declared response model.
``STUDYSMART_FUZZ_EXAMPLES`` raises the number of examples per operation for a deeper run, and
``STUDYSMART_FUZZ_RANDOM=1`` draws new inputs each run (CI replays the same ones).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from studysmart.core.config import Settings, get_settings
from studysmart.core.db import utcnow
from tests.factories import create_task, register

EXAMPLES = int(os.environ.get("STUDYSMART_FUZZ_EXAMPLES", "15"))  # per operation, logged in (~40 s a backend)
ANONYMOUS_EXAMPLES = max(EXAMPLES // 5, 2)
NEGATIVE_EXAMPLES = max(EXAMPLES // 3, 2)  # inputs that break the schema: each must be a documented 4xx, never 5xx
RANDOM = os.environ.get("STUDYSMART_FUZZ_RANDOM") == "1"  # new inputs each run (default: the same, for CI)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAM = {"name": "Finals", "topics": [{"topic": "Algebra", "weight": 2}, {"topic": "Geometry"}],
        "minutes_per_weekday": [60, 60, 60, 60, 60, 30, 0]}


@pytest.fixture
def fuzz_app(settings: Settings, migrated: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    """The API app with sign-up and login limits out of the fuzzer's way (their 429 is tested elsewhere)."""
    from studysmart.app import create_app

    monkeypatch.setenv("STUDYSMART_LOGIN_ATTEMPTS_PER_MINUTE", "1000000")
    get_settings.cache_clear()
    app = create_app(get_settings(), with_ui=False)
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()


def _student(app: FastAPI, previous: tuple[dict[str, str], dict[str, int]] | None = None
             ) -> tuple[dict[str, str], dict[str, int]]:
    """A student with one task and one exam: their bearer header and the ids to aim at. The previous operation's
    student is kept while their token, task and exam still work (a new one costs two password hashes)."""
    # The app's lifespan runs once, started by schemathesis. The student logs in from an address of their own:
    # the fuzzer's failed logins slow down the address that made them (users.service.failure_delay).
    client = TestClient(app, client=("198.51.100.7", 50000))
    if previous is not None:
        headers, ids = previous
        if client.get("/api/v1/auth/me", headers=headers).status_code == 200:
            if client.get(f"/api/v1/tasks/{ids['task_id']}", headers=headers).status_code != 200:
                ids = {**ids, "task_id": create_task(client, headers)["id"]}
            if client.get(f"/api/v1/exams/{ids['exam_id']}", headers=headers).status_code != 200:
                ids = {**ids, "exam_id": _exam(client, headers)}
            return headers, ids
    headers = register(client)
    return headers, {"task_id": create_task(client, headers)["id"], "exam_id": _exam(client, headers)}


def _exam(client: TestClient, headers: dict[str, str]) -> int:
    exam_date = (utcnow().date() + timedelta(days=60)).isoformat()
    exam = client.post("/api/v1/exams", json={**EXAM, "date": exam_date}, headers=headers)
    assert exam.status_code == 201, exam.text
    return int(exam.json()["id"])


def _strategy(operation: Any, ids: dict[str, int]) -> st.SearchStrategy[Any]:
    """Cases for one operation: half aimed at the student's own task/exam, half with generated ids."""
    free = operation.as_strategy()
    names = {p.name for p in operation.path_parameters}
    own = {name: value for name, value in ids.items() if name in names}
    return st.one_of(operation.as_strategy(path_parameters=own), free) if own else free


def _fuzz(operation: Any, strategy: st.SearchStrategy[Any], headers: dict[str, str], examples: int,
          failures: dict[str, str]) -> None:
    @hypothesis.given(case=strategy)
    @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=not RANDOM,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except FailureGroup as group:  # collected: one run reports every failing operation
            for failure in group.exceptions:
                status = getattr(failure, "status_code", "")
                failures.setdefault(f"{operation.label}: {failure.code} {failure.title} {status}", str(group))
        except Exception as exc:  # an exception the app did not handle: a 500 in production
            first = str(exc).splitlines()[0] if str(exc) else ""
            failures.setdefault(f"{operation.label}: unhandled {type(exc).__name__}: {first[:200]}", repr(exc)[:2000])

    try:
        run()
    except Unsatisfiable:  # nothing to break in this operation's schema (negative mode only)
        pass


# About a minute a backend; not marked slow: `make test` and CI run it (issue 11).
@pytest.mark.timeout(900)
def test_openapi_fuzz_no_server_error_and_every_answer_keeps_its_schema(fuzz_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    student = None
    for operation in operations:
        student = _student(fuzz_app, student)
        headers, ids = student
        _fuzz(operation, _strategy(operation, ids), headers, EXAMPLES, failures)
        _fuzz(operation, operation.as_strategy(), {}, ANONYMOUS_EXAMPLES, failures)
        negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        _fuzz(operation, negative, headers, NEGATIVE_EXAMPLES, failures)
    assert not failures, "\n".join(failures) + "\n\n" + "\n\n".join(failures.values())


NUL_CASES = [  # (method, url, keyword arguments of the request, the field the 422 names)
    ("POST", "/api/v1/auth/token", {"data": {"username": "a\x00b", "password": "x"}}, ["body", "username"]),
    ("POST", "/api/v1/auth/register", {"json": {"email": "a\x00b@example.com", "password": "correct horse battery",
                                                "display_name": "A"}}, ["body", "email"]),
    ("POST", "/api/v1/auth/register", {"json": {"email": "nul@example.com", "password": "correct horse battery",
                                                "display_name": "A\x00"}}, ["body", "display_name"]),
    ("PATCH", "/api/v1/auth/me", {"json": {"display_name": "A\x00B"}}, ["body", "display_name"]),
    ("POST", "/api/v1/auth/password", {"json": {"current_password": "\x00", "new_password": "another horse battery"}},
     ["body", "current_password"]),
    ("POST", "/api/v1/tasks", {"json": {"title": "T\x00", "topic": "Algebra", "difficulty": "easy"}},
     ["body", "title"]),
    ("POST", "/api/v1/tasks", {"json": {"title": "T", "topic": "Algebra", "difficulty": "easy", "notes": "\x00"}},
     ["body", "notes"]),
    ("PATCH", "/api/v1/tasks/{task_id}", {"json": {"topic": "Alg\x00ebra"}}, ["body", "topic"]),
    ("GET", "/api/v1/tasks", {"params": {"topic": "a\x00b"}}, ["query", "topic"]),
    ("GET", "/api/v1/topics", {"params": {"q": "\x00"}}, ["query", "q"]),
    ("POST", "/api/v1/topics", {"json": {"name": "a\x00b"}}, ["body", "name"]),
    ("GET", "/api/v1/predictions/preview", {"params": {"topic": "a\x00b", "difficulty": "easy"}}, ["query", "topic"]),
    ("GET", "/api/v1/analytics/summary", {"params": {"tz": "Europe/Ber\x00lin"}}, ["query", "tz"]),
    ("POST", "/api/v1/exams", {"json": {"name": "Finals", "date": "2030-01-01", "minutes_per_weekday": [60] * 7,
                                        "topics": [{"topic": "Alg\x00ebra"}]}}, ["body", "topics", 0, "topic"]),
]


@pytest.mark.parametrize(("method", "url", "request_args", "loc"), NUL_CASES,
                         ids=[f"{m} {u} {'.'.join(map(str, loc[1:]))}" for m, u, _, loc in NUL_CASES])
def test_nul_characters_are_a_422_naming_the_field(client: TestClient, method: str, url: str,
                                                   request_args: dict[str, Any], loc: list[Any]) -> None:
    """PostgreSQL cannot store U+0000 in text: every such input answered 500 there (SQLite stored it)."""
    headers = register(client)
    task = create_task(client, headers)
    response = client.request(method, url.format(task_id=task["id"]), headers=headers, **request_args)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [loc]
    assert detail[0]["msg"] == "NUL characters are not allowed"
    assert "a\x00b" not in response.text and "\x00" not in json.dumps(detail[0].get("input", ""))
