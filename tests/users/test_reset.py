"""Password reset: a single-use link valid 30 minutes, the same answer for unknown emails, rate-limited, and a
reset ends every session and token of the account."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from studysmart.cli import app as cli
from studysmart.core.config import Settings
from studysmart.core.db import transaction, utcnow
from studysmart.users import reset
from studysmart.users.mail import reset_message
from studysmart.users.models import PasswordReset, User
from studysmart.users.service import WeakPassword
from tests.factories import PASSWORD, login, make_user, register

NEW_PASSWORD = "a fresh purple staircase"


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def _link(sessions: sessionmaker[Session], email: str = "ada@example.com") -> tuple[int, str]:
    with transaction(sessions) as session:
        user = session.scalar(select(User).where(User.email == email)) or make_user(session, now=utcnow(),
                                                                                  email=email)
        link = reset.create_reset_link(session=session, user=user, public_url="https://study.example", now=utcnow())
        assert link.url.startswith("https://study.example/reset?token=")
        return user.id, _token(link.url)


def test_a_link_sets_the_password_once_and_ends_every_session(sessions: sessionmaker[Session]) -> None:
    user_id, token = _link(sessions)
    with transaction(sessions) as session:
        version = session.get(User, user_id).token_version  # type: ignore[union-attr]
        user = reset.reset_password(session=session, token=token, new_password=NEW_PASSWORD, now=utcnow())
        assert user.token_version == version + 1  # every token and web session issued before is refused
    with transaction(sessions) as session, pytest.raises(reset.InvalidResetLink):
        reset.reset_password(session=session, token=token, new_password="another long passphrase", now=utcnow())
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_an_expired_superseded_or_made_up_link_is_refused(sessions: sessionmaker[Session]) -> None:
    _, first = _link(sessions)
    _, second = _link(sessions)  # a new link: the first stops working
    for token, now in ((first, utcnow()), (second, utcnow() + reset.RESET_TTL + timedelta(seconds=1)),
                       ("not-a-token", utcnow()), ("x" * 200, utcnow())):
        with transaction(sessions) as session, pytest.raises(reset.InvalidResetLink) as refused:
            reset.reset_password(session=session, token=token, new_password=NEW_PASSWORD, now=now)
        assert refused.value.field == "token"


def test_a_weak_password_keeps_the_link_usable(sessions: sessionmaker[Session]) -> None:
    _, token = _link(sessions)
    with transaction(sessions) as session, pytest.raises(WeakPassword):
        reset.reset_password(session=session, token=token, new_password="password1234", now=utcnow())
    with transaction(sessions) as session:
        reset.reset_password(session=session, token=token, new_password=NEW_PASSWORD, now=utcnow())


def test_the_api_answers_the_same_for_unknown_emails_and_the_link_works(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    old = register(client, email="grace@example.com")
    with caplog.at_level(logging.WARNING, logger="studysmart.mail"):
        known = client.post("/api/v1/auth/password-reset", json={"email": "Grace@example.com "})
        unknown = client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    logged = [r.getMessage() for r in caplog.records if "reset link" in r.getMessage()]
    assert len(logged) == 1 and "grace@example.com" in logged[0]  # no SMTP configured: the operator's log
    token = _token(logged[0].rsplit(" ", 1)[-1])
    bad = client.post("/api/v1/auth/password-reset/confirm", json={"token": "made-up", "new_password": NEW_PASSWORD})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "token"]
    done = client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 204
    assert client.get("/api/v1/auth/me", headers=old).status_code == 401  # the old session ended
    assert client.post("/api/v1/auth/token", data={"username": "grace@example.com",
                                                   "password": PASSWORD}).status_code == 400
    assert client.get("/api/v1/auth/me", headers=login(client, "grace@example.com", NEW_PASSWORD)).status_code == 200


def test_asking_for_links_is_rate_limited(client: TestClient, settings: Settings) -> None:
    answers = [client.post("/api/v1/auth/password-reset", json={"email": "flood@example.com"}).status_code
               for _ in range(settings.login_attempts_per_minute + 1)]
    assert answers[:-1] == [202] * settings.login_attempts_per_minute and answers[-1] == 429


def test_the_cli_prints_a_link_and_refuses_an_unknown_email_with_one_line(
        settings: Settings, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        make_user(session, now=utcnow(), email="lin@example.com")
    runner = CliRunner()
    made = runner.invoke(cli, ["users", "reset-link", "lin@example.com"])
    assert made.exit_code == 0 and made.output.startswith(settings.public_url.rstrip("/") + "/reset?token=")
    with transaction(sessions) as session:
        reset.reset_password(session=session, token=_token(made.output.strip()), new_password=NEW_PASSWORD,
                             now=utcnow())
    missing = runner.invoke(cli, ["users", "reset-link", "nobody@example.com"])
    assert missing.exit_code == 2 and missing.output.count("\n") == 1


def test_the_email_carries_the_link_to_the_account_only() -> None:
    link = reset.ResetLink(email="ada@example.com", display_name="Ada", url="https://s.example/reset?token=abc",
                           expires_at=utcnow())
    message = reset_message(link, sender="StudySmart <no-reply@s.example>")
    assert message["To"] == "ada@example.com" and link.url in message.get_content()
