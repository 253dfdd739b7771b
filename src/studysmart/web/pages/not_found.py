"""The "not found" page inside the app frame, in the student's theme: any unknown /dashboard/... path, and pages
asked for a task that is not the student's (another student's task reads exactly like a missing one)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from studysmart.users.models import User
from studysmart.web import auth
from studysmart.web.layout import NAV, frame

TITLE = "Page not found"
CATCH_ALL = "/dashboard/{rest:path}"


def not_found_content(message: str) -> None:
    """What a missing page says, and the ways on; the answer's HTTP status becomes 404."""
    ui.context.client.status_code = 404
    with ui.card().classes("ss-card items-start gap-3").mark("not-found"):
        with ui.row().classes("items-center gap-3"):
            ui.icon("travel_explore").classes("text-4xl text-primary")
            ui.label(message).classes("text-base")
        with ui.row().classes("gap-2"):
            ui.button("Go to the dashboard", icon="today", on_click=lambda: ui.navigate.to("/dashboard")) \
                .props("no-caps").mark("to-dashboard")
            ui.button("Your tasks", icon="checklist", on_click=lambda: ui.navigate.to("/dashboard/tasks")) \
                .props("outline no-caps")


def not_found_page(user: User, path: str, message: str) -> None:
    """A whole 404 page in the frame (for a page that found out it has nothing to show)."""
    with frame(TITLE, user=user, path=path):
        not_found_content(message)


def register() -> None:
    """Register the catch-all under /dashboard (after every other page, so that theirs match first)."""

    @ui.page(CATCH_ALL)
    def unknown_page(request: Request, rest: str) -> RedirectResponse | None:
        known = {target for target, _label, _icon in NAV}
        trimmed = "/dashboard/" + rest.rstrip("/") if rest.rstrip("/") else "/dashboard"
        if trimmed in known:  # a trailing slash on a real page
            return RedirectResponse(trimmed, status_code=307)
        checked = auth.require_user(request)
        if isinstance(checked, RedirectResponse):
            return checked
        user, _who = checked
        not_found_page(user, request.url.path, "There is no such page here. It may have moved, or the link "
                                               "has a typo.")
        return None
