"""The password policy: at least 12 characters and hard to guess (zxcvbn, counting the account's own email and
name), with a reason the person can act on; the API's 422 names the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from studysmart.demo import DEMO_EMAIL, DEMO_PASSWORD
from studysmart.users.passwords import password_problem
from tests.factories import PASSWORD, register

WEAK = ["password", "12345678", " " * 8, " " * 12, "password1234", "aaaaaaaaaaaaaaaa", "qwertyuiop12",
        "mia@example.com", "Mia Example 1", "1234567890123"]


def test_weak_passwords_are_refused_on_sign_up_with_a_reason(client: TestClient) -> None:
    refused = {}
    for password in WEAK:
        response = client.post("/api/v1/auth/register", json={"email": "mia@example.com", "password": password,
                                                               "display_name": "Mia Example"})
        detail = response.json()["detail"][0]
        refused[password] = (response.status_code, detail["loc"][-1])
        assert detail["msg"] and "input" not in detail  # says why, never echoes the password
    assert refused == dict.fromkeys(WEAK, (422, "password"))
    reasons = [client.post("/api/v1/auth/register", json={"email": "mia@example.com", "password": p,
                                                          "display_name": "Mia Example"}).json()["detail"][0]["msg"]
               for p in ("password", "mia@example.com", "password1234")]
    assert "at least 12 characters" in reasons[0]
    assert "your email or name" in reasons[1]
    assert "common password" in reasons[2]


def test_a_strong_password_is_accepted(client: TestClient) -> None:
    headers = register(client, "noa@example.com", password="plum orbit vivid 42")
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_the_demo_and_test_passwords_pass_the_policy() -> None:
    assert password_problem(DEMO_PASSWORD, user_inputs=[DEMO_EMAIL, "Demo student"]) is None
    assert password_problem(PASSWORD, user_inputs=["user1@example.com", "Student"]) is None


def test_a_password_change_to_the_own_email_is_refused(client: TestClient) -> None:
    headers = register(client, "ola.nordmann@example.com")
    response = client.post("/api/v1/auth/password", headers=headers,
                           json={"current_password": PASSWORD, "new_password": "ola.nordmann@example.com"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "new_password"]
    assert "your email or name" in response.json()["detail"][0]["msg"]
