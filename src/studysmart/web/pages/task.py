"""/dashboard/tasks/{id}: one task's card with its actions (a link to it stays valid while the task exists); a
task that is not the student's, or no task at all, gets the "not found" page in the app frame (HTTP 404)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from sqlalchemy.orm import Session

from studysmart.core.db import utcnow
from studysmart.tasks import service as tasks
from studysmart.tasks.schemas import MAX_ROW_ID
from studysmart.users.models import User
from studysmart.web import auth, context
from studysmart.web.actions import perform
from studysmart.web.layout import frame
from studysmart.web.pages.not_found import not_found_page
from studysmart.web.pages.tasks import PATH, Loaded, TasksView

TASK_PATH = PATH + "/{task_id}"
MISSING = "There is no such task among yours. It may have been deleted, or the link is wrong."


def _task_id(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ROW_ID else None


def _exists(user: User, task_id: int) -> bool:
    with context.sessions()() as session:
        try:
            tasks.get_task(session=session, user=user, task_id=task_id)
        except tasks.TaskNotFound:
            return False
    return True


class OneTaskView(TasksView):
    """The tasks page's card, actions and dialogs for one task."""

    def __init__(self, who: auth.Identity, user: User, task_id: int) -> None:
        super().__init__(who, user)
        self.task_id = task_id

    def build(self) -> None:
        """The way back to the list, the undo bar, and the card."""
        ui.link("← All tasks", PATH).classes("text-sm")
        self.undo_bar = ui.row().classes("w-full items-center gap-2").mark("undo-bar")
        self.undo_bar.set_visibility(False)
        self.render_list()

    def empty_message(self) -> str:
        """What the page says once the task is deleted."""
        return "This task no longer exists."

    async def reload(self) -> None:
        """Load the task (with its current prediction) and the topic catalog for the edit dialog."""
        task_id = self.task_id
        self.today = utcnow().astimezone(self.zone).date()

        def load(session: Session, user: User) -> Loaded:
            try:
                rows = [tasks.get_task(session=session, user=user, task_id=task_id)]
            except tasks.TaskNotFound:
                rows = []
            current = tasks.current_predictions(session=session, user=user, tasks=rows, now=utcnow())
            catalog = [t.name for t in tasks.list_topics(session=session, user=user, limit=500)]
            return rows, len(rows), current, [], catalog

        outcome = await perform(self.who, load, path=f"{PATH}/{task_id}")
        if outcome.ok and outcome.value is not None:
            self.rows, self.total, self.current, _own, catalog = outcome.value
            self.catalog[:] = catalog
            self.loaded = True
            self.render_list.refresh()

    async def update_preview(self) -> None:
        """No create form here: nothing to preview."""


def register() -> None:
    """Register the page (before the catch-all "not found" page)."""

    @ui.page(TASK_PATH)
    async def task_page(request: Request, task_id: str) -> RedirectResponse | None:
        checked = auth.require_user(request)
        if isinstance(checked, RedirectResponse):
            return checked
        user, who = checked
        wanted = _task_id(task_id)
        if wanted is None or not await context.in_thread(_exists, user, wanted):
            not_found_page(user, request.url.path, MISSING)
            return None
        with frame("Task", user=user, path=PATH):
            view = OneTaskView(who, user, wanted)
            view.build()
            await view.reload()
        return None
