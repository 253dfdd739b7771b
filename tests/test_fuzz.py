"""The OpenAPI fuzzer (schemathesis) against the ASGI app, on SQLite and PostgreSQL.

Every operation of ``/openapi.json`` gets a bounded number of generated requests, as a logged-in student (with
their own task and exam to aim at) and anonymously. No answer may be a 5xx, and every answer must keep its own
schema: a documented status code and content type, and a body that matches the declared response model.
``STUDYSMART_FUZZ_EXAMPLES`` raises the number of examples per operation for a deeper run.
"""

from __future__ import annotations

import os
from datetime import timedelta
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
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

EXAMPLES = int(os.environ.get("STUDYSMART_FUZZ_EXAMPLES", "12"))
ANONYMOUS_EXAMPLES = 4
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


def _student(app: FastAPI) -> tuple[dict[str, str], dict[str, int]]:
    """A fresh student with one task and one exam; their bearer header and the ids to aim at."""
    client = TestClient(app)  # the app's lifespan runs once, started by schemathesis
    headers = register(client)
    task = create_task(client, headers)
    exam_date = (utcnow().date() + timedelta(days=60)).isoformat()
    exam = client.post("/api/v1/exams", json={**EXAM, "date": exam_date}, headers=headers)
    assert exam.status_code == 201, exam.text
    return headers, {"task_id": task["id"], "exam_id": exam.json()["id"]}


def _strategy(operation: Any, ids: dict[str, int]) -> st.SearchStrategy[Any]:
    """Cases for one operation: half aimed at the student's own task/exam, half with generated ids."""
    free = operation.as_strategy()
    names = {p.name for p in operation.path_parameters}
    own = {name: value for name, value in ids.items() if name in names}
    return st.one_of(operation.as_strategy(path_parameters=own), free) if own else free


def _fuzz(operation: Any, strategy: st.SearchStrategy[Any], headers: dict[str, str], examples: int,
          failures: dict[str, str]) -> None:
    @hypothesis.given(case=strategy)
    @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except FailureGroup as group:  # collected: one run reports every failing operation
            for failure in group.exceptions:
                failures.setdefault(f"{operation.label}: {failure.code} {failure.title} {getattr(failure, 'status_code', '')}",
                                  str(group))
        except Exception as exc:  # an exception the app did not handle: a 500 in production
            first = str(exc).splitlines()[0] if str(exc) else ""
            failures.setdefault(f"{operation.label}: unhandled {type(exc).__name__}: {first[:200]}", repr(exc)[:2000])

    run()


def test_openapi_fuzz_no_server_error_and_every_answer_keeps_its_schema(fuzz_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        headers, ids = _student(fuzz_app)
        _fuzz(operation, _strategy(operation, ids), headers, EXAMPLES, failures)
        _fuzz(operation, operation.as_strategy(), {}, ANONYMOUS_EXAMPLES, failures)
    assert not failures, "\n".join(failures) + "\n\n" + "\n\n".join(failures.values())
