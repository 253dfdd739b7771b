"""The app's surface: security headers (CSP, HSTS in production, no-store on the API), the API docs and /metrics
off in production unless enabled, docs assets served by the app, and a health check that tells anonymous callers
no model versions."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from studysmart.core.config import get_settings
from tests.factories import create_task, register

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # nothing here depends on the backend

DOCS_PATHS = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/metrics")


@pytest.fixture
def make_client(migrated: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Build a client of an API app with these extra STUDYSMART_* environment variables."""
    from studysmart.app import create_app

    clients: list[TestClient] = []

    def build(**env: str) -> TestClient:
        for name, value in env.items():
            monkeypatch.setenv(f"STUDYSMART_{name.upper()}", value)
        get_settings.cache_clear()
        client = TestClient(create_app(get_settings(), with_ui=False))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)
    get_settings.cache_clear()


def test_token_and_account_answers_are_never_stored(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    headers = register(client)
    create_task(client, headers)
    answers = [
        client.post("/api/v1/auth/register", json={"email": "x@example.com", "password": "correct horse battery",
                                                   "display_name": "X"}),
        client.post("/api/v1/auth/token", data={"username": "x@example.com", "password": "correct horse battery"}),
        client.post("/api/v1/auth/token", data={"username": "x@example.com", "password": "wrong horse battery"}),
        client.get("/api/v1/auth/me", headers=headers),
        client.patch("/api/v1/auth/me", headers=headers, json={"display_name": "Y"}),
        client.get("/api/v1/tasks", headers=headers),
    ]
    for response in answers:
        assert response.headers.get("cache-control") == "no-store", (response.request.url, response.headers)


def test_content_security_policy_allows_only_this_site(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    for response in (client.get("/api/v1/health"), client.get("/docs")):
        policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
        assert policy["default-src"] == "'self'"
        assert policy["connect-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'self'"
        for sources in policy.values():  # no other host, scheme-wide source or wildcard anywhere
            assert not re.search(r"\*|https?:|wss?:|//", sources), sources


def test_hsts_only_in_production(make_client) -> None:  # type: ignore[no-untyped-def]
    assert "strict-transport-security" not in make_client().get("/api/v1/health").headers
    production = make_client(env="production")
    hsts = production.get("/api/v1/health").headers["strict-transport-security"]
    assert hsts.startswith("max-age=31536000")
    assert production.get("/nope").headers["strict-transport-security"] == hsts  # every answer, 404s too


def test_production_serves_no_docs_schema_or_metrics_unless_enabled(make_client) -> None:  # type: ignore[no-untyped-def]
    development = make_client()
    for path in DOCS_PATHS:
        assert development.get(path).status_code == 200, path
    production = make_client(env="production")
    for path in DOCS_PATHS:
        assert production.get(path).status_code == 404, path
    assert production.get("/docs-assets/swagger-ui-bundle.js").status_code == 404
    enabled = make_client(env="production", api_docs="true", metrics="true")
    for path in DOCS_PATHS:
        assert enabled.get(path).status_code == 200, path


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_assets_come_from_the_app(make_client, page: str) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    html = client.get(page).text
    assert "cdn" not in html.lower() and "https://" not in html and "http://" not in html
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert asset.startswith("/docs-assets/"), asset
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset
        assert b"cdn.redoc.ly" not in response.content and b"cdn.jsdelivr" not in response.content


def test_health_lists_model_versions_only_to_a_signed_in_caller(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    anonymous = client.get("/api/v1/health")
    assert anonymous.status_code == 200 and anonymous.json()["database"] == "ok"
    assert "models" not in anonymous.json()
    forged = client.get("/api/v1/health", headers={"Authorization": "Bearer not-a-token"})
    assert "models" not in forged.json()
    signed_in = client.get("/api/v1/health", headers=register(client))
    assert "shrinkage" in signed_in.json()["models"]
