"""Forwarded headers are trusted only from STUDYSMART_FORWARDED_ALLOW_IPS (default: no one)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from studysmart.core.config import Settings, get_settings
from tests.factories import PASSWORD

PROXY = "10.0.0.7"


def _sign_ups(settings: Settings, peer: str, n: int = 11) -> list[int]:
    """``n`` sign-ups from ``peer``, each claiming another client address in X-Forwarded-For."""
    from studysmart.app import create_app

    with TestClient(create_app(settings, with_ui=False), client=(peer, 40000)) as client:
        return [client.post("/api/v1/auth/register", headers={"X-Forwarded-For": f"198.51.100.{i}"},
                            json={"email": f"p{i}-{peer}@example.com", "password": PASSWORD,
                                  "display_name": "Student"}).status_code for i in range(n)]


def _allow(monkeypatch: pytest.MonkeyPatch, value: str) -> Settings:
    monkeypatch.setenv("STUDYSMART_FORWARDED_ALLOW_IPS", value)
    get_settings.cache_clear()
    return get_settings()


def test_by_default_a_forwarded_for_header_does_not_change_the_client(settings: Settings, migrated: str) -> None:
    codes = _sign_ups(settings, "127.0.0.1")  # a local caller spoofing its address
    assert codes[:10] == [201] * 10 and codes[10] == 429


def test_a_forwarded_for_from_an_untrusted_peer_does_not_change_the_client(
        monkeypatch: pytest.MonkeyPatch, migrated: str) -> None:
    codes = _sign_ups(_allow(monkeypatch, PROXY), "127.0.0.1")
    assert codes[:10] == [201] * 10 and codes[10] == 429


@pytest.mark.parametrize("allowed", [PROXY, "10.0.0.0/24", f"192.0.2.1, {PROXY}"])
def test_a_forwarded_for_from_a_trusted_proxy_names_the_client(
        monkeypatch: pytest.MonkeyPatch, migrated: str, allowed: str) -> None:
    codes = _sign_ups(_allow(monkeypatch, allowed), PROXY)  # 11 users behind one load balancer
    assert codes == [201] * 11


def test_serve_leaves_forwarded_headers_to_the_app(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """uvicorn's own proxy_headers would trust 127.0.0.1 whatever the setting says."""
    import uvicorn

    from studysmart.cli import app

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(app, ["serve", "--port", "8201"])
    assert result.exit_code == 0, result.output
    assert seen["proxy_headers"] is False
