"""Guessing passwords: failed logins slow down the addresses that make them (more with every failure, and at once
while the account is under attack), never the account, so the owner logs in from a clean address while guesses
from rotating addresses go on; the per-client limit stays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.users import service as users
from studysmart.users.models import User
from tests.factories import PASSWORD, make_user

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def owner(sessions: sessionmaker[Session]) -> User:
    with transaction(sessions) as session:
        return make_user(session, now=T0, email="owner@example.com")


def _login(sessions: sessionmaker[Session], *, password: str, client: str, now: datetime,
           limit: int = 10) -> str:
    """'ok', 'wrong' or 'wait N' for one login attempt."""
    with sessions() as session:
        try:
            users.authenticate(session=session, email="owner@example.com", password=password, client=client,
                               limit=limit, now=now)
        except users.InvalidCredentials:
            return "wrong"
        except users.TooManyAttempts as exc:
            return f"wait {exc.retry_after}"
    return "ok"


def test_the_owner_gets_in_from_a_clean_address_while_rotating_addresses_guess(
        sessions: sessionmaker[Session], owner: User) -> None:
    outcomes = []
    for minute in range(5):  # an attacker guesses once a second, each time from a new address: whenever the
        start = T0 + timedelta(minutes=minute)  # limit lets a guess in, one is made
        for second in range(60):
            _login(sessions, password=f"guess {minute}-{second}", client=f"10.0.{minute}.{second}",
                   now=start + timedelta(seconds=second))
        outcomes.append(_login(sessions, password=PASSWORD, client="198.51.100.7",
                               now=start + timedelta(seconds=59.5)))
    assert outcomes == ["ok"] * 5


def test_a_guessing_address_waits_longer_after_every_failure(sessions: sessionmaker[Session], owner: User) -> None:
    now, seen = T0, []
    for _ in range(9):
        outcome = _login(sessions, password="not the password", client="203.0.113.9", now=now, limit=100)
        if outcome.startswith("wait"):
            seen.append(outcome)
            now += timedelta(seconds=int(outcome.split()[1]))
            assert _login(sessions, password="not the password", client="203.0.113.9", now=now,
                          limit=100) == "wrong"
        else:
            seen.append(outcome)
    # three free failures (a person mistyping), then 5, 10, 20, ... s
    assert seen == ["wrong"] * 3 + ["wait 5", "wait 10", "wait 20", "wait 40", "wait 80", "wait 160"]
    # even the right password waits at this address (it is not checked), while a clean address gets in
    assert _login(sessions, password=PASSWORD, client="203.0.113.9", now=now, limit=100) == "wait 320"
    assert _login(sessions, password=PASSWORD, client="198.51.100.7", now=now, limit=100) == "ok"


def test_under_attack_a_new_address_gets_one_guess_before_it_waits(sessions: sessionmaker[Session],
                                                                    owner: User) -> None:
    for guess in range(10):  # the account has had `limit` failures: it is under attack
        assert _login(sessions, password="guess", client=f"10.1.0.{guess}", now=T0) == "wrong"
    assert _login(sessions, password="guess", client="10.2.0.1", now=T0) == "wrong"
    assert _login(sessions, password="guess", client="10.2.0.1", now=T0) == "wait 5"
    assert _login(sessions, password=PASSWORD, client="10.3.0.1", now=T0) == "ok"


def test_failures_are_forgotten_after_the_window(sessions: sessionmaker[Session], owner: User) -> None:
    for second in range(8):
        _login(sessions, password="guess", client="203.0.113.9", now=T0 + timedelta(seconds=second * 30))
    later = T0 + timedelta(seconds=210) + users.FAILURE_WINDOW
    assert _login(sessions, password=PASSWORD, client="203.0.113.9", now=later) == "ok"


def test_the_per_client_limit_stays(sessions: sessionmaker[Session], owner: User) -> None:
    with transaction(sessions) as session:
        make_user(session, now=T0, email="other@example.com")
    outcomes = []
    for i in range(11):  # correct logins of two accounts, from one address, in one minute
        with sessions() as session:
            try:
                users.authenticate(session=session, email=("owner", "other")[i % 2] + "@example.com",
                                   password=PASSWORD, client="192.0.2.1", limit=10, now=T0 + timedelta(seconds=i))
                outcomes.append("ok")
            except users.TooManyAttempts:
                outcomes.append("429")
    assert outcomes == ["ok"] * 10 + ["429"]


def test_through_the_api_rotating_guessers_are_slowed_and_the_owner_gets_in(client: TestClient) -> None:
    app = client.app
    client.post("/api/v1/auth/register", json={"email": "eve@example.com", "password": PASSWORD,
                                               "display_name": "E"})
    at: Callable[[str], TestClient] = lambda address: TestClient(app, client=(address, 50000))  # noqa: E731
    guesses = [at(f"10.9.0.{i}").post("/api/v1/auth/token", data={"username": "eve@example.com",
                                                                  "password": "wrong guess"}).status_code
               for i in range(12)]
    assert guesses == [400] * 12  # each new address is checked (its guess is wrong) ...
    again = at("10.9.0.11").post("/api/v1/auth/token", data={"username": "eve@example.com", "password": PASSWORD})
    assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1  # ... and then waits
    owner = at("192.0.2.55").post("/api/v1/auth/token", data={"username": "eve@example.com", "password": PASSWORD})
    assert owner.status_code == 200


def test_a_very_long_username_is_a_failed_login_not_a_500(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "a" * 5000 + "@example.com", "password": "x"})
    assert response.status_code == 400
