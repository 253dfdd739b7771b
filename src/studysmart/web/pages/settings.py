"""/dashboard/settings: profile, password, daily goal, preferred model, theme (applied at once), export of all
my data (JSON, CSV), log out everywhere, and account deletion with a typed confirmation and the password."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from sqlalchemy.orm import Session

from studysmart import export
from studysmart.core.db import utcnow
from studysmart.learning import registry
from studysmart.users import service as users
from studysmart.users.models import User
from studysmart.users.passwords import MAX_LENGTH, MIN_LENGTH
from studysmart.users.schemas import MAX_DAILY_GOAL, MIN_DAILY_GOAL
from studysmart.web import auth, context
from studysmart.web.actions import perform
from studysmart.web.components.format import THEME_LABELS
from studysmart.web.layout import Frame, frame, theme_value

PATH = "/dashboard/settings"
CONFIRM_DELETE = "delete my account"


def goal_problem(minutes: float | None) -> str | None:
    """What is wrong with a daily goal (None if nothing, or while the field is empty)."""
    if minutes is None:
        return None
    if minutes < MIN_DAILY_GOAL:
        return f"At least {MIN_DAILY_GOAL} minutes a day (you typed {minutes:g})."
    if minutes > MAX_DAILY_GOAL:
        return f"At most {MAX_DAILY_GOAL} minutes: a day has no more."
    if minutes != int(minutes):
        return "Use whole minutes."
    return None


def _heading(text: str) -> None:
    ui.label(text).classes("text-lg font-semibold").props('role=heading aria-level="2"')


class SettingsView:
    """The sections of the settings page."""

    def __init__(self, who: auth.Identity, user: User, page: Frame) -> None:
        self.who = who
        self.user = user
        self.page = page

    def build(self) -> None:
        """Build every section."""
        with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-4"):
            self._profile()
            self._preferences()
            self._password()
            self._data()
        self._danger()

    def _profile(self) -> None:
        with ui.card().classes("ss-card gap-3").mark("profile"):
            _heading("Profile")
            ui.label(f"Email: {self.user.email}").classes("text-sm")
            name = ui.input("Display name", value=self.user.display_name).props("maxlength=100") \
                .classes("w-full").mark("display-name")

            async def save() -> None:
                value = (name.value or "").strip()
                name.error = None if value else "Enter a name."
                if not value:
                    return
                await perform(self.who, lambda s, u: users.update_profile(
                    session=s, user=u, display_name=value[:100], preferences=None), path=PATH,
                    success="Profile saved.")

            name.on("keydown.enter", save)
            ui.button("Save profile", on_click=save).props("no-caps").mark("save-profile")

    def _preferences(self) -> None:
        with ui.card().classes("ss-card gap-3").mark("preferences"):
            _heading("Study preferences")
            # No min/max on the field: a number field clamps an out-of-range value when it loses focus, which
            # would save a different goal than the one typed without a word; the message says what is wrong.
            goal = ui.number("Daily goal (minutes)", value=int(self.user.preference("daily_goal_minutes")),
                             step=5, format="%.0f", validation=goal_problem).classes("w-full").mark("daily-goal")
            model = ui.select(registry.student_choices(), value=self.user.preference("preferred_model"),
                              label="How your predictions are made").classes("w-full").mark("preferred-model")
            ui.label("Automatic uses the best trained model; a model you choose is used once it is trained, the "
                     "built-in model until then.").classes("text-xs ss-muted")
            theme = ui.select(THEME_LABELS, value=self.user.preference("theme"), label="Theme",
                              on_change=lambda e: self.page.dark.set_value(theme_value(e.value))) \
                .classes("w-full").mark("theme")

            async def save() -> None:
                minutes = goal.value
                problem = goal_problem(minutes) or ("Enter your daily goal in minutes." if minutes is None else None)
                goal.error = problem
                if problem is not None or minutes is None:
                    return
                preferences = {"daily_goal_minutes": int(minutes), "preferred_model": model.value,
                               "theme": theme.value}
                await perform(self.who, lambda s, u: users.update_profile(
                    session=s, user=u, display_name=None, preferences=preferences), path=PATH,
                    success="Preferences saved.")

            goal.on("keydown.enter", save)
            ui.button("Save preferences", on_click=save).props("no-caps").mark("save-preferences")

    def _password(self) -> None:
        with ui.card().classes("ss-card gap-3").mark("password"):
            _heading("Password")
            current = ui.input("Current password", password=True).props("autocomplete=current-password") \
                .classes("w-full").mark("current-password")
            new = ui.input(f"New password (at least {MIN_LENGTH} characters, hard to guess)", password=True) \
                .props("autocomplete=new-password").classes("w-full").mark("new-password")
            again = ui.input("Repeat the new password", password=True).props("autocomplete=new-password") \
                .classes("w-full").mark("repeat-password")

            async def change() -> None:
                for field in (current, new, again):
                    field.error = None
                if not MIN_LENGTH <= len(new.value or "") <= MAX_LENGTH:
                    new.error = f"Use {MIN_LENGTH} to {MAX_LENGTH} characters."
                    return
                if new.value != again.value:
                    again.error = "The two new passwords differ."
                    return

                def work(session: Session, user: User) -> User:
                    users.change_password(session=session, user=user, current_password=current.value or "",
                                          new_password=new.value)
                    return user

                def attempt(session: Session, user: User) -> None:  # committed first: wrong guesses count
                    users.password_attempt(session=session, user=user, now=utcnow(),
                                           limit=context.settings().login_attempts_per_minute)

                try:
                    await auth.act(self.who, attempt)
                    changed = await auth.act(self.who, work)
                except users.TooManyAttempts as exc:
                    current.error = f"Too many attempts; try again in {exc.retry_after} s."
                    return
                except users.InvalidCredentials:
                    current.error = "The current password is wrong."
                    return
                except users.WeakPassword as exc:
                    new.error = exc.reason[0].upper() + exc.reason[1:]
                    return
                except auth.SessionExpired:
                    auth.expire_and_leave(PATH)
                    return
                auth.refresh_session(changed)  # this browser stays logged in; every other session ends
                self.who = auth.identity() or self.who
                for field in (current, new, again):
                    field.set_value("")
                ui.notify("Password changed; other devices are logged out.", type="positive")

            again.on("keydown.enter", change)
            ui.button("Change password", on_click=change).props("no-caps").mark("change-password")

    def _data(self) -> None:
        with ui.card().classes("ss-card gap-3").mark("export"):
            _heading("Your data")
            ui.label("Download everything StudySmart stores about you: your profile, tasks, and every "
                     "prediction made for them.").classes("text-sm")
            with ui.row().classes("gap-2"):
                ui.button("Download JSON", icon="download", on_click=self.export_json) \
                    .props("outline no-caps").mark("export-json")
                ui.button("Download CSV (zip)", icon="download", on_click=self.export_csv) \
                    .props("outline no-caps").mark("export-csv")
            ui.separator()
            ui.label("Log out on every device, including this one.").classes("text-sm")
            ui.button("Log out everywhere", icon="logout", on_click=self.logout_everywhere) \
                .props("outline no-caps").mark("logout-everywhere")

    async def export_json(self) -> None:
        """Download all of the user's data as JSON."""
        outcome = await perform(self.who, lambda s, u: export.export_json(session=s, user=u, now=utcnow()),
                                path=PATH)
        if outcome.ok and outcome.value is not None:
            ui.download.content(outcome.value, "studysmart-export.json", "application/json")

    async def export_csv(self) -> None:
        """Download all of the user's data as CSV files in a zip."""
        outcome = await perform(self.who, lambda s, u: export.export_csv_zip(session=s, user=u), path=PATH)
        if outcome.ok and outcome.value is not None:
            ui.download.content(outcome.value, "studysmart-export-csv.zip", "application/zip")

    async def logout_everywhere(self) -> None:
        """Revoke every session and token of the account."""
        outcome = await perform(self.who, lambda s, u: users.revoke_tokens(session=s, user=u), path=PATH)
        if outcome.ok:
            auth.log_out()

    def _danger(self) -> None:
        with ui.card().classes("ss-card gap-3 border border-red-300").mark("delete-account"):
            _heading("Delete account")
            ui.label("This deletes your account, every task and every prediction. It cannot be undone. "
                     "Download your data first if you want to keep it.").classes("text-sm")
            confirm = ui.input(f"Type “{CONFIRM_DELETE}” to confirm").classes("w-full max-w-md") \
                .mark("confirm-delete-text")
            password = ui.input("Your password", password=True).props("autocomplete=current-password") \
                .classes("w-full max-w-md").mark("delete-password")
            button = ui.button("Delete my account", icon="delete_forever", color="negative") \
                .props("no-caps").mark("delete-account-button")
            button.bind_enabled_from(confirm, "value",
                                     backward=lambda v: (v or "").strip().lower() == CONFIRM_DELETE)

            async def delete() -> None:
                confirm.error = password.error = None
                if (confirm.value or "").strip().lower() != CONFIRM_DELETE:
                    confirm.error = f"Type “{CONFIRM_DELETE}” exactly."
                    return
                if not password.value:
                    password.error = "Enter your password."
                    return
                given = password.value

                def attempt(session: Session, user: User) -> None:  # committed first: wrong guesses count
                    users.password_attempt(session=session, user=user, now=utcnow(),
                                           limit=context.settings().login_attempts_per_minute)

                def work(session: Session, user: User) -> None:
                    users.delete_account(session=session, user=user, current_password=given)

                try:
                    await auth.act(self.who, attempt)
                    await auth.act(self.who, work)
                except users.TooManyAttempts as exc:
                    password.error = f"Too many attempts; try again in {exc.retry_after} s."
                    return
                except users.InvalidCredentials:
                    password.error = "The password is wrong."
                    return
                except auth.SessionExpired:
                    auth.expire_and_leave(PATH)
                    return
                ui.notify("Your account and all its data are deleted.", type="info")
                auth.log_out()

            button.on_click(delete)
            for field in (confirm, password):
                field.on("keydown.enter", delete)


def register() -> None:
    """Register the page."""

    @ui.page(PATH)
    def settings_page(request: Request) -> RedirectResponse | None:
        checked = auth.require_user(request)
        if isinstance(checked, RedirectResponse):
            return checked
        user, who = checked
        with frame("Settings", user=user, path=PATH) as page:
            SettingsView(who, user, page).build()
        return None
