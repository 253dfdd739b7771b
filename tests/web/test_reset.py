"""Password reset in the browser: ask for a link from the log-in form, open it, set a new password, log in."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
from nicegui.testing import User

from studysmart.users.models import User as Account
from tests.web.conftest import log_in, see

NEW_PASSWORD = "a fresh purple staircase"


async def test_a_forgotten_password_is_reset_through_the_emailed_link(
        user: User, student: Account, caplog: pytest.LogCaptureFixture) -> None:
    await user.open("/")
    user.find(marker="login-forgot").click()
    await see(user, "Reset your password")
    user.find(marker="forgot-email").type("not an email")
    user.find(marker="forgot-submit").click()
    await see(user, "Enter a valid email address.")
    with caplog.at_level(logging.WARNING, logger="studysmart.mail"):
        user.find(marker="forgot-email").clear().type(student.email.upper()).trigger("keydown.enter")
        await see(user, "a link to reset its password is on its way")
    links = [r.getMessage().rsplit(" ", 1)[-1] for r in caplog.records if "reset link" in r.getMessage()]
    assert len(links) == 1
    parts = urlsplit(links[0])
    await user.open(f"{parts.path}?{parts.query}")
    await see(user, "Choose a new password")
    user.find(marker="reset-password").type(NEW_PASSWORD).trigger("keydown.enter")
    await see(user, "Know how a study task will go before you start it.")  # back on the log-in page
    await log_in(user, student.email, NEW_PASSWORD)
    await user.open(f"{parts.path}?{parts.query}")  # the link is used up
    user.find(marker="reset-password").type("another long passphrase").trigger("keydown.enter")
    await see(user, "This link is used up or has expired. Ask for a new one.")
