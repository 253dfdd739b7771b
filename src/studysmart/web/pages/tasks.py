"""/dashboard/tasks: create a task with a live prediction preview; the list by view (today, upcoming, overdue,
done; "today" in the browser's time zone), topic and title search, sorted by due date or creation, the running
task first, with due dates, overdue marks and notes; start and stop (one timer at a time, counting from the stored
start), complete, edit, and delete (in the card's "more" menu, away from Edit)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from sqlalchemy.orm import Session

from studysmart.analytics import service as analytics
from studysmart.core.db import utcnow
from studysmart.learning.prediction import ShownPrediction
from studysmart.tasks import listing
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users.models import User
from studysmart.web import auth
from studysmart.web.actions import perform
from studysmart.web.components import task_dialogs
from studysmart.web.components.format import (
    DIFFICULTY_LABELS,
    STATUS_LABELS,
    due_label,
    duration,
    local_datetime,
)
from studysmart.web.components.prediction import PreviewPanel, prediction_badge
from studysmart.web.components.task_import import import_controls
from studysmart.web.components.timer import running_timer
from studysmart.web.layout import empty_state, frame

PATH = "/dashboard/tasks"
PAGE_SIZE = 10  # cards built per page: NiceGUI costs about 25 ms a card (benchmarks.pages)
PREVIEW_DELAY = 0.3  # seconds of quiet typing before a new preview is computed
UNDO_SHOWN = 10.0  # seconds the undo of a completion is offered (the service allows tasks.UNDO_WINDOW)
VIEW_FILTER = {"all": "All", "today": "Today", "upcoming": "Upcoming", "overdue": "Overdue", "done": "Done"}
SORT_LABELS = {"created": "Newest first", "due": "By due date"}
NOTES_SHOWN = 280  # characters of a task's notes on its card (the edit dialog has them all)
#: Seconds the page waits for its first list before it is sent without it (a loading state, filled in later):
#: a quick load goes out in the first response, which saves the browser a round trip for the cards.
FIRST_LOAD_WAIT = 1.5


Loaded = tuple[list[Task], int, dict[int, ShownPrediction], list[str], list[str]]


def completion_message(correct: bool, seconds: float) -> str:
    """The note after a completion: what was recorded, in words that fit the outcome."""
    if correct:
        return f"Well done: recorded as correct, {duration(seconds)}."
    return f"Recorded as incorrect, {duration(seconds)}. It counts toward your next predictions."


def _action(label: str, icon: str, handler: Callable[[], Any], color: str) -> None:
    """A task action: icon and word on wide screens, the icon alone (with its name for screen readers and as
    the browser's tooltip) on phones, so a card's actions fit one line. One element (no label or tooltip
    children): a page builds some twenty cards, and every NiceGUI element costs server time."""
    ui.button(label, icon=icon, on_click=handler).classes("ss-action") \
        .props(f'flat dense no-caps color={color} aria-label="{label}" title="{label}"').mark(label.lower())


class TasksView:
    """The state and widgets of one tasks page."""

    def __init__(self, who: auth.Identity, user: User) -> None:
        self.who = who
        self.zone = who.zone
        self.today = utcnow().astimezone(self.zone).date()  # the browser's date: due dates are calendar days
        self.rows: list[Task] = []
        self.current: dict[int, ShownPrediction] = {}  # open tasks' current predictions, by id
        self.total = 0
        self.limit = PAGE_SIZE
        self.catalog: list[str] = []
        self.own_topics: list[str] = []
        self.preview_changed_at: float | None = None
        self.preview_seq = 0
        self.reload_seq = 0
        self.undo_task: int | None = None
        self.loaded = False  # until the first load, the list shows a loading state (not "No tasks yet")
        self.host = ui.element("div")  # dialogs live here, outside the refreshed list

    # -- building --------------------------------------------------------------------------------------------
    def build(self) -> None:
        """Build the form, the filters and the list."""
        with ui.card().classes("ss-card gap-3").mark("create-card"):
            ui.label("New task").classes("text-lg font-semibold").props('role=heading aria-level="2"')
            with ui.grid().classes("w-full gap-3 grid-cols-1 sm:grid-cols-2"):
                self.title = ui.input("Title", placeholder="e.g. Quadratic equations, set 3") \
                    .props("maxlength=200").mark("new-title")
                self.topic = ui.input("Topic", placeholder="e.g. Algebra", autocomplete=self.catalog,
                                      on_change=self._preview_soon).props("maxlength=100").mark("new-topic")
                self.difficulty = ui.select(DIFFICULTY_LABELS, value=Difficulty.MEDIUM.value,
                                            label="Difficulty", on_change=self._preview_soon) \
                    .mark("new-difficulty")
                self.due = ui.input("Due date (optional)").props("type=date stack-label").mark("new-due")
            self.preview = PreviewPanel()
            self.undo_bar = ui.row().classes("w-full items-center gap-2").mark("undo-bar")
            self.undo_bar.set_visibility(False)
            with ui.row().classes("w-full justify-end"):
                ui.button("Add task", icon="add", on_click=self.create).props("no-caps").mark("add-task")
        for field in (self.title, self.topic, self.due):
            field.on("keydown.enter", self.create)
        import_controls(self.who, path=PATH, on_imported=self.reload)

        half = "w-[calc(50%-0.375rem)] min-w-0"  # phones: two filters a line
        with ui.row().classes("w-full items-end gap-3"):
            self.view_filter = ui.select(VIEW_FILTER, value="all", label="Show",
                                         on_change=self.reload).classes(f"{half} sm:w-36").mark("filter-view")
            self.sort = ui.select(SORT_LABELS, value="created", label="Sort",
                                  on_change=self.reload).classes(f"{half} sm:w-36").mark("sort")
            self.topic_filter = ui.select({"": "All topics"}, value="", label="Topic",
                                          on_change=self.reload).classes(f"{half} sm:w-44").mark("filter-topic")
            self.search = ui.input("Search titles", on_change=self.reload) \
                .props("clearable debounce=300 maxlength=200").classes(f"{half} sm:w-56").mark("search")
            ui.space()
            self.count_label = ui.label("").classes("text-sm ss-muted whitespace-nowrap").mark("task-count")
        self.render_list()

    @ui.refreshable_method
    def render_list(self) -> None:
        """The task cards (rebuilt after every change); a loading state until the first load."""
        if not self.loaded:
            with ui.column().classes("w-full gap-2").props('aria-busy=true').mark("tasks-loading"):
                ui.label("Loading your tasks…").classes("text-sm ss-muted")
                for _ in range(3):
                    ui.skeleton(height="5.5rem").classes("w-full rounded")
            return
        if not self.rows:
            empty_state(self.empty_message(), icon="checklist")
            return
        with ui.column().classes("w-full gap-2").mark("task-list"):
            for task in self.rows:
                self._task_card(task)
        if self.total > len(self.rows):
            ui.button(f"Show more ({self.total - len(self.rows)} left)", on_click=self.show_more) \
                .props("flat no-caps").classes("self-center")

    def empty_message(self) -> str:
        """What an empty list says."""
        filtered = self.view_filter.value != "all" or bool(self.topic_filter.value) or bool(self.query())
        return ("No tasks match these filters." if filtered else
                "No tasks yet: add your first one above to get a prediction of how it will go.")

    def _task_card(self, task: Task) -> None:
        with ui.card().props("flat bordered").classes("w-full gap-1 py-2").mark(f"task-{task.id}"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.link(task.title, f"{PATH}/{task.id}").classes("font-semibold text-base break-words") \
                    .style("color: inherit; text-decoration: none").mark("task-title")
                ui.badge(task.topic.name).props("outline color=primary")
                ui.badge(DIFFICULTY_LABELS[task.difficulty.value]).props("outline color=grey-7")
                ui.space()
                ui.badge(STATUS_LABELS[task.status.value], color={
                    "planned": "grey-8", "in_progress": "positive", "done": "primary"}[task.status.value])
            with ui.row().classes("w-full items-center gap-x-4 gap-y-1"):
                is_open = task.status is not TaskStatus.DONE
                prediction_badge(self.current.get(task.id, task.prediction) if is_open else task.prediction,
                                 current=is_open and task.id in self.current)
                if task.due_date is not None:
                    self._due(task)
                if task.status is TaskStatus.IN_PROGRESS and task.started_at is not None:
                    running_timer(task.started_at)
                if task.status is TaskStatus.DONE:
                    mark = "✓ Correct" if task.correct else "✗ Incorrect"
                    ui.label(f"{mark} · took {duration(task.seconds_taken)} · "
                             f"{local_datetime(task.completed_at, self.zone)}") \
                        .classes("text-sm").mark("task-outcome")
                ui.space()
                with ui.row().classes("gap-0 items-center"):
                    self._actions(task)
            if task.notes:
                notes = task.notes if len(task.notes) <= NOTES_SHOWN else task.notes[:NOTES_SHOWN].rstrip() + "…"
                ui.label(notes).classes("text-sm ss-muted whitespace-pre-line break-words").mark("task-notes")

    def _due(self, task: Task) -> None:
        assert task.due_date is not None
        overdue = listing.is_overdue(task, self.today)
        with ui.row().classes("items-center gap-1 text-sm" + (" text-negative font-semibold" if overdue else "")) \
                .mark("task-due"):
            ui.icon("event_busy" if overdue else "event")
            ui.label(due_label(task.due_date, self.today, done=task.status is TaskStatus.DONE))

    def _actions(self, task: Task) -> None:
        if task.status is TaskStatus.PLANNED:
            _action("Start", "play_arrow", lambda: self.start(task), "positive")
        if task.status is TaskStatus.IN_PROGRESS:
            _action("Stop", "stop", lambda: self.stop(task), "grey-7")
        if task.status is not TaskStatus.DONE:
            _action("Complete", "check", lambda: self.ask_complete(task), "primary")
        _action("Edit", "edit", lambda: self.ask_edit(task), "primary")
        # Delete sits in a menu, away from Edit: a slip of the thumb on a phone cannot reach it.
        with ui.button(icon="more_vert").props('flat dense color=grey-7 aria-label="More actions" '
                                               'title="More actions"').mark("more"):
            with ui.menu().props("auto-close anchor='bottom right' self='top right'"):
                with ui.menu_item(on_click=lambda: self.ask_delete(task)).classes("text-negative").mark("delete"):
                    with ui.row().classes("items-center gap-2 no-wrap"):
                        ui.icon("delete")
                        ui.label("Delete…")

    def query(self) -> str:
        """The title search, trimmed."""
        return " ".join((self.search.value or "").split())

    # -- loading ---------------------------------------------------------------------------------------------
    async def reload(self) -> None:
        """Load the list, topics and catalog for the current filters, then redraw."""
        view = None if self.view_filter.value == "all" else listing.TaskView(self.view_filter.value)
        topic = self.topic_filter.value or None
        sort, query, limit = listing.TaskSort(self.sort.value), self.query(), self.limit
        self.today = today = utcnow().astimezone(self.zone).date()

        def load(session: Session, user: User) -> Loaded:
            rows, total = listing.list_tasks(session=session, user=user, today=today, view=view, topic=topic,
                                             sort=sort, query=query, limit=limit)
            current = tasks.current_predictions(session=session, user=user, tasks=rows, now=utcnow())
            catalog = [t.name for t in tasks.list_topics(session=session, user=user, limit=500)]
            return rows, total, current, analytics.user_topics(session=session, user=user), catalog

        self.reload_seq += 1
        seq = self.reload_seq
        outcome = await perform(self.who, load, path=PATH)
        if not outcome.ok or outcome.value is None or seq != self.reload_seq:  # a newer load overtook this one
            return
        self.rows, self.total, self.current, self.own_topics, catalog = outcome.value
        self.loaded = True
        self.catalog[:] = catalog
        self.topic.set_autocomplete(catalog)
        options = {"": "All topics", **{name: name for name in self.own_topics}}
        if self.topic_filter.value not in options:
            options[self.topic_filter.value] = self.topic_filter.value
        self.topic_filter.set_options(options, value=self.topic_filter.value)
        shown = f"{len(self.rows)} of {self.total}" if self.total > len(self.rows) else f"{self.total}"
        self.count_label.set_text(f"{shown} task{'s' if self.total != 1 else ''}")
        self.render_list.refresh()

    async def show_more(self) -> None:
        """Load the next page of tasks."""
        self.limit += PAGE_SIZE
        await self.reload()

    async def open(self) -> None:
        """The first load: waited for up to ``FIRST_LOAD_WAIT`` so that the page goes out with its cards, else
        the page goes out with the loading state and the cards follow; then the preview's timer starts (a timer
        waits for the browser, which sends the page)."""
        slot = ui.context.slot

        async def first() -> None:
            with slot:  # the load's notifications and redraw belong to this page
                await self.reload()

        load = asyncio.ensure_future(first())
        await asyncio.wait([load], timeout=FIRST_LOAD_WAIT)
        ui.timer(0.1, self._preview_if_quiet)
        await load

    # -- preview ---------------------------------------------------------------------------------------------
    def _preview_soon(self) -> None:
        self.preview_changed_at = time.monotonic()
        if (self.topic.value or "").strip():
            self.preview.loading()

    async def _preview_if_quiet(self) -> None:
        if self.preview_changed_at is None or time.monotonic() - self.preview_changed_at < PREVIEW_DELAY:
            return
        self.preview_changed_at = None
        await self.update_preview()

    async def update_preview(self) -> None:
        """Compute the prediction for the topic and difficulty in the form."""
        topic, difficulty = (self.topic.value or "").strip(), self.difficulty.value
        if not topic:
            self.preview.show(None)
            return
        self.preview_seq += 1
        seq = self.preview_seq
        outcome = await perform(self.who, lambda s, u: tasks.preview(
            session=s, user=u, topic=topic[:100], difficulty=difficulty, now=utcnow()), path=PATH)
        if seq == self.preview_seq and outcome.ok:  # a newer request may have overtaken this one
            self.preview.show(outcome.value)

    # -- actions ---------------------------------------------------------------------------------------------
    async def create(self) -> None:
        """Create the task in the form (inline errors for missing fields)."""
        title, topic = (self.title.value or "").strip(), (self.topic.value or "").strip()
        self.title.error = None if title else "A title is needed."
        self.topic.error = None if topic else "A topic is needed."
        try:
            due = date.fromisoformat(self.due.value) if self.due.value else None
            self.due.error = None
        except ValueError:
            self.due.error = "Use a date like 2025-03-14."
            return
        if not title or not topic:
            return
        difficulty = Difficulty(self.difficulty.value)
        outcome = await perform(self.who, lambda s, u: tasks.create_task(
            session=s, user=u, title=title[:200], topic=topic[:100], difficulty=difficulty, due_date=due,
            now=utcnow()), path=PATH, success=f"Added “{title[:60]}”")
        if outcome.ok:
            self.title.set_value("")
            self.due.set_value("")
            await self.reload()

    async def start(self, task: Task) -> None:
        """Start the timer of a task."""
        outcome = await perform(self.who, lambda s, u: tasks.start_task(
            session=s, user=u, task_id=task.id, now=utcnow()), path=PATH)
        if outcome.ok:
            await self.reload()

    async def stop(self, task: Task) -> None:
        """Stop the timer of a task without completing it."""
        outcome = await perform(self.who, lambda s, u: tasks.stop_task(session=s, user=u, task_id=task.id),
                                path=PATH, success="Timer stopped.")
        if outcome.ok:
            await self.reload()

    def ask_complete(self, task: Task) -> None:
        """Open the complete dialog."""
        async def save(correct: bool, seconds: float) -> bool:
            outcome = await perform(self.who, lambda s, u: tasks.complete_task(
                session=s, user=u, task_id=task.id, correct=correct, seconds=seconds, now=utcnow()),
                path=PATH, success=completion_message(correct, seconds))
            await self.reload()
            if outcome.ok:
                self.offer_undo(task)
                await self.update_preview()  # the form's preview now counts this answer too
            return outcome.ok

        task_dialogs.open_complete(self.host, task, save)

    def offer_undo(self, task: Task) -> None:
        """Offer to undo the completion just made, for ``UNDO_SHOWN`` seconds."""
        self.undo_bar.clear()
        with self.undo_bar:
            ui.label(f"Completed “{task.title[:60]}”.").classes("text-sm")
            ui.button("Undo", icon="undo", on_click=lambda: self.undo(task)).props("flat dense no-caps") \
                .mark("undo")
        self.undo_bar.set_visibility(True)
        shown_for = task.id

        def hide() -> None:
            if self.undo_bar.visible and self.undo_task == shown_for:
                self.undo_bar.set_visibility(False)

        self.undo_task = shown_for
        ui.timer(UNDO_SHOWN, hide, once=True)

    async def undo(self, task: Task) -> None:
        """Undo the completion: the task is open again and the answer taken out of everything that learns."""
        self.undo_bar.set_visibility(False)
        outcome = await perform(self.who, lambda s, u: tasks.undo_completion(
            session=s, user=u, task_id=task.id, now=utcnow()), path=PATH, success="Undone: the task is open again.")
        await self.reload()
        if outcome.ok:
            await self.update_preview()

    def ask_edit(self, task: Task) -> None:
        """Open the edit dialog."""
        async def save(changes: dict[str, Any]) -> bool:
            outcome = await perform(self.who, lambda s, u: tasks.update_task(
                session=s, user=u, task_id=task.id, update=tasks.task_update(changes), now=utcnow()), path=PATH,
                success="Saved.")
            await self.reload()
            return outcome.ok

        task_dialogs.open_edit(self.host, task, self.catalog, save)

    def ask_delete(self, task: Task) -> None:
        """Open the delete confirmation."""
        async def confirm() -> bool:
            outcome = await perform(self.who,
                                    lambda s, u: tasks.delete_task(session=s, user=u, task_id=task.id),
                                    path=PATH, success="Deleted.")
            await self.reload()
            return outcome.ok

        task_dialogs.open_delete(self.host, task, confirm)


def register() -> None:
    """Register the page."""

    @ui.page(PATH)
    async def tasks_page(request: Request) -> RedirectResponse | None:
        checked = auth.require_user(request)
        if isinstance(checked, RedirectResponse):
            return checked
        user, who = checked
        with frame("Tasks", user=user, path=PATH):
            view = TasksView(who, user)
            view.build()
            await view.open()
        return None
