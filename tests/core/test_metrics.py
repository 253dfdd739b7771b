"""GET /metrics: the request-latency histogram is filled, labelled by route template (never by raw path)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import BackgroundTasks, FastAPI
from fastapi.testclient import TestClient

from studysmart.core import metrics
from tests.factories import register


def _samples(client: TestClient, name: str) -> list[str]:
    return [line for line in client.get("/metrics").text.splitlines() if line.startswith(name)]


def test_a_request_appears_in_the_latency_histogram_under_its_route_template(client: TestClient) -> None:
    headers = register(client)
    assert client.get("/api/v1/tasks/987654", headers=headers).status_code == 404
    assert client.get("/api/v1/health").status_code == 200
    counts = _samples(client, "studysmart_request_seconds_count")
    assert 'studysmart_request_seconds_count{method="GET",route="/api/v1/tasks/{task_id}",status="404"} 1.0' \
        in counts
    assert 'studysmart_request_seconds_count{method="GET",route="/api/v1/health",status="200"} 1.0' in counts
    assert not any("987654" in line for line in counts)  # the raw path never becomes a label


def test_requests_outside_the_api_are_not_labelled(client: TestClient) -> None:
    client.get("/metrics")
    client.get("/no/such/page")
    assert not any('route="/metrics"' in line or "/no/such" in line
                   for line in _samples(client, "studysmart_request_seconds"))


def _app_with(route: str, endpoint: Any) -> TestClient:
    app = FastAPI()
    app.add_api_route(route, endpoint)
    metrics.install(app)
    return TestClient(app, raise_server_exceptions=False)


def test_the_latency_ends_with_the_response_and_a_failure_is_a_500() -> None:
    """A background task run after the response is not the request's latency; an unhandled error is counted."""
    def slow_after(tasks: BackgroundTasks) -> dict[str, bool]:
        tasks.add_task(time.sleep, 0.3)
        return {"ok": True}

    def broken() -> None:
        raise RuntimeError("boom")

    client = _app_with("/api/v1/slow-after", slow_after)
    client.app.add_api_route("/api/v1/broken", broken)  # type: ignore[attr-defined]
    assert client.get("/api/v1/slow-after").status_code == 200
    assert client.get("/api/v1/broken").status_code == 500
    text = client.get("/metrics").text
    total = next(float(line.split()[-1]) for line in text.splitlines()
                 if line.startswith('studysmart_request_seconds_sum{method="GET",route="/api/v1/slow-after"'))
    assert total < 0.25
    assert 'studysmart_request_seconds_count{method="GET",route="/api/v1/broken",status="500"} 1.0' in text
