"""/: what StudySmart does, in one screen, with log in and sign up (errors inline, the login rate limit
shown).

A visitor who is logged in goes straight to the dashboard (or to ``?next=``, a dashboard path only).
"""

from __future__ import annotations

import contextlib

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from pydantic import ValidationError

from studysmart.core.db import utcnow
from studysmart.users import service as users
from studysmart.users.demo_account import DEMO_EMAIL, DEMO_PASSWORD, demo_account_exists
from studysmart.users.models import User
from studysmart.users.passwords import MIN_LENGTH
from studysmart.users.schemas import Register
from studysmart.web import auth, context
from studysmart.web.layout import BRAND, apply_style

POINTS = (
    ("psychology", "Before you start a task, see how likely you are to get it right and how long it will "
                   "take, with an honest range."),
    ("insights", "Every answer you log sharpens the predictions for you; the analytics show how well "
                 "they hold."),
    ("event", "Prepare for an exam with a readiness estimate and a plan that fits the minutes you have."),
)
TIMEZONE_JS = "return Intl.DateTimeFormat().resolvedOptions().timeZone"


def _authenticate(email: str, password: str, client: str) -> User:
    settings = context.settings()
    with context.sessions()() as session:  # authenticate commits the attempt itself (it counts either way)
        return users.authenticate(session=session, email=email, password=password, client=client,
                                  limit=settings.login_attempts_per_minute, now=utcnow())


def _register(email: str, password: str, display_name: str, client: str) -> User:
    with context.sessions()() as session:
        user = users.register(session=session, email=email, password=password, display_name=display_name,
                              now=utcnow(), client=client, limit=context.settings().login_attempts_per_minute)
        session.commit()
        return user


async def _browser_timezone() -> str:
    with contextlib.suppress(Exception):  # an old browser or a slow connection: fall back to UTC
        zone = await ui.run_javascript(TIMEZONE_JS, timeout=2.0)
        if isinstance(zone, str) and zone:
            return zone
    return "UTC"


async def _enter(user: User, next_path: str | None) -> None:
    await auth.start_session(user, tz=await _browser_timezone(), next_path=next_path)


def _login_form(next_path: str | None) -> None:
    email = ui.input("Email").props('type=email autocomplete=username').classes("w-full").mark("login-email")
    password = ui.input("Password", password=True, password_toggle_button=True) \
        .props("autocomplete=current-password").classes("w-full").mark("login-password")
    error = ui.label("").classes("text-negative text-sm min-h-[1.25rem]").props("role=alert") \
        .mark("login-error")

    async def submit() -> None:
        error.set_text("")
        if not email.value or not password.value:
            error.set_text("Enter your email and password.")
            return
        try:
            user = await context.in_thread(_authenticate, email.value, password.value, ui.context.client.ip)
        except users.TooManyAttempts as exc:
            error.set_text(f"Too many attempts. Try again in {exc.retry_after} s.")
            return
        except users.InvalidCredentials:
            error.set_text("Wrong email or password.")
            return
        await _enter(user, next_path)

    for field in (email, password):
        field.on("keydown.enter", submit)
    ui.button("Log in", on_click=submit).props("no-caps unelevated").classes("w-full").mark("login-submit")
    ui.link("Forgot your password?", "/forgot").classes("text-sm").mark("login-forgot")


def _signup_form(next_path: str | None) -> None:
    name = ui.input("Your name").props("autocomplete=name maxlength=100").classes("w-full") \
        .mark("signup-name")
    email = ui.input("Email").props("type=email autocomplete=email").classes("w-full").mark("signup-email")
    password = ui.input(f"Password (at least {MIN_LENGTH} characters, hard to guess)", password=True,
                        password_toggle_button=True) \
        .props("autocomplete=new-password").classes("w-full").mark("signup-password")
    fields = {"display_name": name, "email": email, "password": password}

    async def submit() -> None:
        for field in fields.values():
            field.error = None
        try:
            data = Register(email=email.value or "", password=password.value or "",
                            display_name=name.value or "")
        except ValidationError as exc:
            for problem in exc.errors():
                field_name = str(problem["loc"][0])
                if field_name in fields and fields[field_name].error is None:
                    fields[field_name].error = _readable(field_name, problem["msg"])
            return
        try:
            user = await context.in_thread(_register, str(data.email), data.password, data.display_name,
                                           ui.context.client.ip or "unknown")
        except users.EmailTaken:
            email.error = "An account with this email exists already; log in instead."
            return
        except users.TooManyAttempts as exc:
            email.error = f"Too many sign-ups from here; try again in {exc.retry_after} s."
            return
        except users.WeakPassword as exc:
            password.error = exc.reason[0].upper() + exc.reason[1:]
            return
        await _enter(user, next_path)

    for field in fields.values():
        field.on("keydown.enter", submit)
    ui.button("Create account", on_click=submit).props("no-caps unelevated").classes("w-full") \
        .mark("signup-submit")


def _readable(field: str, message: str) -> str:
    if field == "password":
        return f"Use at least {MIN_LENGTH} characters."
    if field == "email":
        return "Enter a valid email address."
    if field == "display_name":
        return "Enter your name."
    return message


def _has_demo_account() -> bool:
    with context.sessions()() as session:
        return demo_account_exists(session=session)


def register() -> None:
    """Register the page."""

    @ui.page("/")
    async def home_page(request: Request, next: str | None = None) -> RedirectResponse | None:
        if auth.identity() is not None:
            checked = auth.require_user(request)
            if not isinstance(checked, RedirectResponse):
                return RedirectResponse(auth.safe_next(next), status_code=303)
        ui.page_title(f"{BRAND} · study with honest predictions")
        apply_style()
        ui.dark_mode(None)
        with ui.column().classes("w-full max-w-5xl mx-auto p-4 sm:p-8 gap-6"):
            with ui.row().classes("items-center gap-2"):
                ui.icon("school", color="primary").classes("text-4xl")
                ui.label(BRAND).classes("text-3xl font-bold")
            with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-6 items-start"):
                with ui.column().classes("gap-4"):
                    ui.label("Know how a study task will go before you start it.") \
                        .classes("text-2xl sm:text-3xl font-semibold leading-tight") \
                        .props('role=heading aria-level="1"')
                    for icon, text in POINTS:
                        with ui.row().classes("items-start gap-3 no-wrap"):
                            ui.icon(icon, color="primary").classes("text-2xl")
                            ui.label(text).classes("text-base")
                with ui.card().classes("w-full gap-3"):
                    with ui.tabs().classes("w-full").props("align=justify no-caps") as tabs:
                        login_tab = ui.tab("Log in")
                        signup_tab = ui.tab("Sign up")
                    with ui.tab_panels(tabs, value=login_tab).classes("w-full").props("animated=false"):
                        with ui.tab_panel(login_tab).classes("gap-3 p-1"):
                            _login_form(next)
                        with ui.tab_panel(signup_tab).classes("gap-3 p-1"):
                            _signup_form(next)
                    if await context.in_thread(_has_demo_account):
                        with ui.row().classes("items-start gap-2 no-wrap text-sm").mark("demo-hint"):
                            ui.icon("visibility", color="primary").classes("text-lg")
                            ui.label(f"Just looking? Log in as the demo student: {DEMO_EMAIL}, password "
                                     f"{DEMO_PASSWORD}.").classes("break-all")
        return None
