"""Deliver a password reset link: by email through the configured SMTP server (the standard library's ``smtplib``
and ``email``), or, without SMTP outside production (the embedded default), into the server log for the operator
to pass on; in production without SMTP the log says only that a link was asked for."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from studysmart.core.config import Environment, Settings
from studysmart.users.reset import ResetLink

log = logging.getLogger("studysmart.mail")
SMTP_TIMEOUT_SECONDS = 10.0


def reset_message(link: ResetLink, *, sender: str) -> EmailMessage:
    """The email that carries ``link`` (plain text)."""
    message = EmailMessage()
    message["Subject"] = "Reset your StudySmart password"
    message["From"] = sender
    message["To"] = link.email
    message.set_content(
        f"Hello {link.display_name},\n\n"
        f"someone (hopefully you) asked to reset the password of your StudySmart account. Open this link within "
        f"30 minutes to choose a new one:\n\n{link.url}\n\n"
        "The link works once. Setting a new password signs you out everywhere. If you did not ask for this, "
        "ignore this email: your password stays as it is.\n")
    return message


def deliver_reset(link: ResetLink, settings: Settings) -> None:
    """Send ``link`` to its account's email, or log it when no SMTP host is configured. A failed send is logged
    (the student sees the same answer either way and can ask again)."""
    if not settings.smtp_host:
        if settings.env is Environment.PRODUCTION:  # a production log is no place for a working link
            log.warning("password reset asked for %s but no SMTP is configured; make a link with "
                        "`studysmart users reset-link EMAIL`", link.email)
        else:  # the embedded default, without a mail server: the operator reads the link here
            log.warning("password reset link for %s (no SMTP configured): %s", link.email, link.url)
        return
    message = reset_message(link, sender=settings.smtp_from)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("password reset email to %s not sent: %s", link.email, type(exc).__name__)
        return
    log.info("password reset email sent to %s", link.email)
