"""Accounts through the API: register, log in, me, password, log out, delete, rate limits."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from studysmart.core import security
from tests.factories import PASSWORD, create_task, login, register


def test_register_login_me(client: TestClient) -> None:
    headers = register(client, "Ada@Example.com")
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    assert "password_hash" not in me.json()


def test_email_is_unique_case_insensitively(client: TestClient) -> None:
    register(client, "bob@example.com")
    again = client.post("/api/v1/auth/register",
                        json={"email": " BOB@example.COM ", "password": PASSWORD, "display_name": "B"})
    assert again.status_code in (409, 422)
    again = client.post("/api/v1/auth/register",
                        json={"email": "BOB@example.COM", "password": PASSWORD, "display_name": "B"})
    assert again.status_code == 409


def test_register_rejects_short_password_and_bad_email(client: TestClient) -> None:
    short = client.post("/api/v1/auth/register", json={"email": "c@example.com", "password": "x", "display_name": "C"})
    assert short.status_code == 422
    assert short.json()["detail"][0]["loc"][-1] == "password"
    bad = client.post("/api/v1/auth/register", json={"email": "nope", "password": PASSWORD, "display_name": "C"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "email"


def test_wrong_password_and_missing_token(client: TestClient) -> None:
    register(client, "dan@example.com")
    wrong = client.post("/api/v1/auth/token", data={"username": "dan@example.com", "password": "wrong password"})
    assert wrong.status_code == 400
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me", headers={"Authorization": "Bearer forged"}).status_code == 401


def test_a_guessing_client_is_slowed_down(client: TestClient) -> None:
    client.post("/api/v1/auth/register", json={"email": "eve@example.com", "password": PASSWORD, "display_name": "E"})
    codes = [client.post("/api/v1/auth/token", data={"username": "eve@example.com", "password": "bad password"}
                         ).status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]  # three free failures, then this address waits (tests/users/test_lockout.py)
    limited = client.post("/api/v1/auth/token", data={"username": "eve@example.com", "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


def test_login_attempts_are_rate_limited_per_client(client: TestClient) -> None:
    for i in range(10):
        client.post("/api/v1/auth/token", data={"username": f"ghost{i}@example.com", "password": "whatever1"})
    limited = client.post("/api/v1/auth/token", data={"username": "someone@example.com", "password": "whatever1"})
    assert limited.status_code == 429


def test_password_change_revokes_old_tokens(client: TestClient) -> None:
    headers = register(client, "fay@example.com")
    wrong = client.post("/api/v1/auth/password", headers=headers,
                        json={"current_password": "not it at all", "new_password": "a new password"})
    assert wrong.status_code == 400
    weak = client.post("/api/v1/auth/password", headers=headers,
                       json={"current_password": PASSWORD, "new_password": "password1234"})
    assert weak.status_code == 422 and weak.json()["detail"][0]["loc"][-1] == "new_password"
    ok = client.post("/api/v1/auth/password", headers=headers,
                     json={"current_password": PASSWORD, "new_password": "a new password"})
    assert ok.status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    fresh = login(client, "fay@example.com", "a new password")
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 200


def test_logout_revokes_the_token(client: TestClient) -> None:
    headers = register(client)
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def _delete_me(client: TestClient, headers: dict[str, str], password: str = PASSWORD) -> httpx.Response:
    return client.request("DELETE", "/api/v1/auth/me", headers=headers, json={"current_password": password})


def test_deleting_the_account_needs_the_current_password_and_guesses_are_limited(client: TestClient) -> None:
    headers = register(client, "ian@example.com")
    without = client.delete("/api/v1/auth/me", headers=headers)
    assert without.status_code == 422
    codes = [_delete_me(client, headers, f"guess number {i}").status_code for i in range(11)]
    assert codes == [400] * 10 + [429]
    assert _delete_me(client, headers).status_code == 429  # the limit is on attempts
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_delete_account_removes_all_its_data(client: TestClient) -> None:
    headers = register(client, "gus@example.com")
    task = create_task(client, headers)
    other = register(client)
    create_task(client, other)
    assert _delete_me(client, headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    relogin = client.post("/api/v1/auth/token", data={"username": "gus@example.com", "password": PASSWORD})
    assert relogin.status_code == 400
    # The other student's data is untouched; the deleted task is gone for everyone.
    assert client.get("/api/v1/tasks", headers=other).json()["total"] == 1
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=other).status_code == 404


def test_preferences_update_and_validation(client: TestClient) -> None:
    headers = register(client)
    ok = client.patch("/api/v1/auth/me", headers=headers, json={"preferences": {"daily_goal_minutes": 90}})
    assert ok.status_code == 200
    assert ok.json()["preferences"]["daily_goal_minutes"] == 90
    bad = client.patch("/api/v1/auth/me", headers=headers, json={"preferences": {"theme": "purple"}})
    assert bad.status_code == 422


def test_sign_ups_are_rate_limited_per_client(client: TestClient) -> None:
    codes = [client.post("/api/v1/auth/register", json={"email": f"new{i}@example.com", "password": PASSWORD,
                                                         "display_name": "N"}).status_code for i in range(11)]
    assert codes[:10] == [201] * 10
    assert codes[10] == 429


def test_a_deleted_accounts_token_never_belongs_to_the_next_account(client: TestClient) -> None:
    old = register(client, "first@example.com")  # the newest account: SQLite used to hand its id out again
    assert _delete_me(client, old).status_code == 204
    new = register(client, "second@example.com")
    assert client.get("/api/v1/auth/me", headers=old).status_code == 401
    assert client.get("/api/v1/auth/me", headers=new).json()["email"] == "second@example.com"


def test_guesses_at_the_current_password_are_rate_limited(client: TestClient) -> None:
    headers = register(client, "hal@example.com")
    codes = [client.post("/api/v1/auth/password", headers=headers,
                         json={"current_password": f"guess number {i}", "new_password": "a new password"}
                         ).status_code for i in range(11)]
    assert codes == [400] * 10 + [429]
    right = client.post("/api/v1/auth/password", headers=headers,
                        json={"current_password": PASSWORD, "new_password": "a new password"})
    assert right.status_code == 429  # even the right password waits: the limit is on attempts


def test_a_refused_sign_up_costs_no_password_hash(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    original = security.hash_password
    monkeypatch.setattr(security, "hash_password", lambda password: hashed.append(password) or original(password))
    for i in range(11):
        client.post("/api/v1/auth/register", json={"email": f"n{i}@example.com", "password": PASSWORD,
                                                   "display_name": "N"})
    assert len(hashed) == 10


def test_responses_carry_security_headers_and_never_echo_a_password(client: TestClient) -> None:
    response = client.post("/api/v1/auth/register", json={"email": "i@example.com", "password": "xyzzy12",
                                                         "display_name": "I"})
    assert response.status_code == 422 and "xyzzy12" not in response.text
    for r in (response, client.get("/api/v1/health")):
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
