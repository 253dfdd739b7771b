"""GET /metrics: the request-latency histogram is filled, labelled by route template (never by raw path)."""

from __future__ import annotations

from fastapi.testclient import TestClient

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
