"""/forgot and /reset: ask for a password reset link, and set a new password with one.

Asking answers the same whether or not the email has an account; the link (valid 30 minutes, single use) comes by
email, or, without SMTP, from the operator (the server log, ``studysmart users reset-link EMAIL``). Setting the
new password ends every session of the account; the student then logs in with it.
"""

from __future__ import annotations

from nicegui import ui
from pydantic import EmailStr, TypeAdapter, ValidationError

from studysmart.core.db import transaction, utcnow
from studysmart.users import reset
from studysmart.users.mail import deliver_reset
from studysmart.users.passwords import MIN_LENGTH
from studysmart.users.service import TooManyAttempts, WeakPassword
from studysmart.web import context
from studysmart.web.layout import BRAND, apply_style

EMAIL = TypeAdapter(EmailStr)
SENT = "If an account has this email, a link to reset its password is on its way. It works once, for 30 minutes."


def _ask(email: str, client: str) -> None:
    settings = context.settings()
    with transaction(context.sessions()) as session:
        link = reset.request_reset(session=session, email=email, client=client,
                                   limit=settings.login_attempts_per_minute, public_url=settings.public_url,
                                   now=utcnow())
    if link is not None:
        deliver_reset(link, settings)


def _set(token: str, password: str) -> None:
    with transaction(context.sessions()) as session:
        reset.reset_password(session=session, token=token, new_password=password, now=utcnow())


def _frame(title: str) -> ui.card:
    ui.page_title(f"{BRAND} · {title}")
    apply_style()
    ui.dark_mode(None)
    with ui.column().classes("w-full max-w-md mx-auto p-4 sm:p-8 gap-4"):
        ui.link(BRAND, "/").classes("text-2xl font-bold no-underline")
        ui.label(title).classes("text-xl font-semibold").props('role=heading aria-level="1"')
        return ui.card().classes("w-full gap-3")


def register() -> None:
    """Register the pages."""

    @ui.page("/forgot")
    def forgot_page() -> None:
        with _frame("Reset your password"):
            ui.label("Enter the email of your account; we send it a link to choose a new password.") \
                .classes("text-sm")
            email = ui.input("Email").props("type=email autocomplete=email").classes("w-full").mark("forgot-email")
            answer = ui.label("").classes("text-sm min-h-[1.25rem]").props("role=status").mark("forgot-answer")

            async def submit() -> None:
                email.error = None
                try:
                    address = str(EMAIL.validate_python((email.value or "").strip()))
                except ValidationError:
                    email.error = "Enter a valid email address."
                    return
                try:
                    await context.in_thread(_ask, address, ui.context.client.ip or "unknown")
                except TooManyAttempts as exc:
                    answer.set_text(f"Too many requests. Try again in {exc.retry_after} s.")
                    return
                answer.set_text(SENT)

            email.on("keydown.enter", submit)
            ui.button("Send the link", on_click=submit).props("no-caps unelevated").classes("w-full") \
                .mark("forgot-submit")
            ui.link("Back to log in", "/").classes("text-sm")

    @ui.page("/reset")
    def reset_page(token: str = "") -> None:
        with _frame("Choose a new password"):
            password = ui.input(f"New password (at least {MIN_LENGTH} characters, hard to guess)", password=True,
                                password_toggle_button=True).props("autocomplete=new-password") \
                .classes("w-full").mark("reset-password")
            answer = ui.label("").classes("text-sm min-h-[1.25rem]").props("role=status").mark("reset-answer")

            async def submit() -> None:
                password.error = None
                value = password.value or ""
                if len(value) < MIN_LENGTH:
                    password.error = f"Use at least {MIN_LENGTH} characters."
                    return
                try:
                    await context.in_thread(_set, token[:128], value)
                except WeakPassword as exc:
                    password.error = exc.reason[0].upper() + exc.reason[1:]
                    return
                except reset.InvalidResetLink:
                    answer.set_text("This link is used up or has expired. Ask for a new one.")
                    return
                answer.set_text("Your password is changed, and every other session is signed out. Log in with it.")
                ui.navigate.to("/")

            password.on("keydown.enter", submit)
            ui.button("Set the password", on_click=submit).props("no-caps unelevated").classes("w-full") \
                .mark("reset-submit")
            ui.link("Ask for a new link", "/forgot").classes("text-sm")
