"""/dashboard/preparation: today's work (the same list as the dashboard's), the student's exams with their
readiness (expected score now, with a range), every day of the plan until the exam a week at a time (skip a day
or move it to the next study day, and undo) and its calendar export; add, edit and delete exams, and add today's
planned tasks to the task list. Every action calls the planning service (``studysmart.planning.service``), never
the HTTP API."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from sqlalchemy.orm import Session

from studysmart.core.db import utcnow
from studysmart.planning import service as planning
from studysmart.planning.engine import PlanningError
from studysmart.planning.schemas import exam_update
from studysmart.users.models import User
from studysmart.web import auth, context
from studysmart.web.actions import Outcome, perform
from studysmart.web.components import exams, plan_days
from studysmart.web.components import today as today_view
from studysmart.web.layout import empty_state, frame, placeholder_until_connected

PATH = "/dashboard/preparation"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
FIELD_LABELS = {"name": "Name", "date": "Exam date", "topics": "Topics", "minutes_per_weekday": "Minutes",
                "days_off": "Days off", "target_score": "Target score", "timezone": "Time zone"}
R = TypeVar("R")


async def _download_ics(exam: exams.ExamView) -> None:
    if exam.ics is None:
        return
    calendar = await context.in_thread(exam.ics)
    slug = re.sub(r"[^a-z0-9]+", "-", exam.name.lower()).strip("-") or "exam"
    ui.download.content(calendar, f"{slug}.ics", "text/calendar")


def planning_message(error: Exception) -> str:
    """The sentence a student reads for a planning error."""
    if isinstance(error, planning.ExamNotFound):
        return "That exam no longer exists."
    if isinstance(error, PlanningError):
        label = FIELD_LABELS.get(error.field.split("[")[0], error.field)
        return f"{label}: {error.message}."
    return "Something went wrong; please try again."


def parse_topics(text: str) -> list[dict[str, Any]]:
    """``"Algebra: 2, Geometry"`` -> ``[{topic: Algebra, weight: 2}, {topic: Geometry, weight: 1}]``.

    Raises:
        ValueError: for a weight that is not a number.
    """
    out = []
    for part in (p.strip() for p in re.split(r"[,;\n]", text or "")):
        if not part:
            continue
        name, _, weight = part.rpartition(":") if ":" in part else (part, "", "1")
        out.append({"topic": name.strip(), "weight": float(weight)})
    return out


def parse_dates(text: str) -> list[date]:
    """``"2025-03-05, 2025-03-07"`` -> dates (raises ValueError for anything else)."""
    return [date.fromisoformat(p.strip()) for p in re.split(r"[,;\s]+", text or "") if p.strip()]


class PreparationView:
    """The state and widgets of one preparation page."""

    def __init__(self, who: auth.Identity, user: User) -> None:
        self.who = who
        self.default_minutes = float(user.preference("daily_goal_minutes") or 60)
        self.upcoming: list[exams.ExamView] = []
        self.today: planning.TodayPlan | None = None
        self.weeks: dict[int, int] = {}  # exam id -> the week of its plan shown (0: this week)
        self.host = ui.element("div")  # dialogs live here, outside the refreshed list

    async def act(self, work: Callable[[Session, User], R], success: str | None = None) -> Outcome[R]:
        """Run a planning action; its domain errors become a notification (and roll the transaction back)."""
        try:
            return await perform(self.who, work, path=PATH, success=success)
        except (PlanningError, planning.ExamNotFound) as error:
            ui.notify(planning_message(error), type="negative")
            return Outcome(False)

    async def load(self) -> bool:
        """Load the exams (plans recomputed only when out of date)."""
        zone = self.who.zone

        def load(session: Session, user: User) -> tuple[list[exams.ExamView], planning.TodayPlan]:
            now = utcnow()
            return (exams.load_exams(session=session, user=user, now=now),
                    planning.today_plan(session=session, user=user, now=now, zone=zone))

        outcome = await perform(self.who, load, path=PATH)
        if outcome.ok and outcome.value is not None:
            self.upcoming, self.today = outcome.value
        return outcome.ok

    async def reload(self) -> None:
        """Load the exams and redraw them."""
        if await self.load():
            self.render_list.refresh()

    def build(self) -> None:
        """The introduction, the add button and the exams."""
        with ui.row().classes("w-full items-center gap-2"):
            ui.label("Your exams, how ready you are for each (expected score now, with its range), and a "
                     "plan that fits the minutes you have.").classes("text-sm ss-muted flex-1")
            ui.button("Add exam", icon="add", on_click=lambda: self.open_form(None)).props("no-caps") \
                .mark("add-exam")
        self.render_list()

    @ui.refreshable_method
    def render_list(self) -> None:
        """The exam cards."""
        with ui.column().classes("w-full gap-3").mark("exams"):
            if not self.upcoming:
                empty_state("No exams yet. Once you add an exam with its date and topics, its readiness "
                            "and a day-by-day plan appear here.", icon="event")
            today = utcnow().astimezone(self.who.zone).date()
            if self.today is not None and (self.upcoming or self.today.entries):
                self._today_card(self.today)
            for exam in self.upcoming:
                exams.exam_card(exam, today=exam.today or today, on_ics=_download_ics, actions=self._actions,
                                plan_section=self._week)

    def _today_card(self, plan: planning.TodayPlan) -> None:
        """Today's work: the same list as the dashboard's "Today's plan"."""
        with ui.card().props("flat bordered").classes("w-full gap-2").mark("prep-today"):
            with ui.row().classes("w-full items-baseline gap-2"):
                ui.label(f"Today, {plan.day:%a %d %b}").classes("text-lg font-semibold") \
                    .props('role=heading aria-level="2"')
                ui.space()
                ui.label(today_view.total_line(plan)).classes("text-sm ss-today-total").mark("prep-today-total")
            if not plan.entries:
                ui.label("Nothing left for today.").classes("text-sm ss-muted")
                return
            if (line := today_view.to_add_line(plan)) is not None:
                ui.label(f"{line} Add them with the button on the exam below.").classes("text-sm ss-muted")
            today_view.today_list(plan)

    def _week(self, exam: exams.ExamView) -> None:
        """The plan a week at a time, every day until the exam, with skip / move / undo per day."""
        if not exam.plan or exam.id is None:
            return
        exam_id = exam.id
        weeks = math.ceil(len(exam.plan) / 7)
        week = min(self.weeks.get(exam_id, 0), weeks - 1)
        shown = exam.plan[7 * week: 7 * week + 7]

        async def turn(step: int) -> None:
            self.weeks[exam_id] = week + step
            self.render_list.refresh()

        with ui.column().classes("w-full gap-1").mark("plan-week"):
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(f"Plan, {shown[0].day:%a %d %b} – {shown[-1].day:%a %d %b}") \
                    .classes("font-medium").mark("week-range")
                ui.label(f"week {week + 1} of {weeks}").classes("text-sm ss-muted")
                ui.space()
                ui.button(icon="chevron_left", on_click=lambda: turn(-1)) \
                    .props('flat dense aria-label="Previous week"').mark("prev-week").set_enabled(week > 0)
                ui.button(icon="chevron_right", on_click=lambda: turn(1)) \
                    .props('flat dense aria-label="Next week"').mark("next-week").set_enabled(week < weeks - 1)
            for day in shown:
                plan_days.day_row(day, is_today=day.day == exam.today,
                                  on_change=lambda d, to, undo: self.change_day(exam_id, d, to, undo=undo))

    def _actions(self, exam: exams.ExamView) -> None:
        if exam.id is None:
            return
        if exam.planned_today and not exam.materialized_today:
            new = sum(1 for e in self.today.entries if e.exam_id == exam.id) if self.today is not None else 0
            label = f"Add today's {new} new task{'s' if new != 1 else ''}" if new else "Add today's tasks"
            ui.button(label, icon="playlist_add",
                      on_click=lambda: self.materialize(exam)).props("flat no-caps").mark("materialize")
        elif exam.materialized_today:
            ui.label("Today's tasks are in your task list.").classes("text-sm ss-muted").mark("materialized")
        ui.space()
        ui.button(icon="edit", on_click=lambda: self.open_form(exam)).props('flat dense aria-label="Edit exam"') \
            .mark("edit-exam")
        ui.button(icon="delete", on_click=lambda: self.ask_delete(exam), color="negative") \
            .props('flat dense aria-label="Delete exam"').mark("delete-exam")

    # -- actions ---------------------------------------------------------------------------------------------
    async def materialize(self, exam: exams.ExamView) -> None:
        """Add today's planned tasks of the exam to the task list."""
        exam_id, day = exam.id, exam.today
        assert exam_id is not None and day is not None
        if not await self.load():
            return
        current = next((e for e in self.upcoming if e.id == exam_id), None)
        if current is None or current.today != day:  # deleted elsewhere, or the page stayed open past midnight
            self.render_list.refresh()
            ui.notify("Your plan has moved on to a new day: check today's tasks, then add them.", type="info")
            return
        outcome = await self.act(lambda s, u: planning.materialize_day(session=s, user=u, exam_id=exam_id,
                                                                       day=day, now=utcnow()))
        if outcome.ok and outcome.value is not None:
            new = len(outcome.value.tasks) - outcome.value.reused
            message = f"Added {new} task{'s' if new != 1 else ''} for today to your task list."
            if (reused := outcome.value.reused):
                message += f" {reused} of your open tasks {'are' if reused != 1 else 'is'} part of it, now due today."
            ui.notify(message, type="positive")
            await self.reload()

    async def change_day(self, exam_id: int, day: date, to: date | None, *, undo: bool = False) -> None:
        """Skip ``day``, move it to ``to``, or undo either; the plan re-flows."""
        def work(session: Session, user: User) -> object:
            if undo:
                return planning.restore_day(session=session, user=user, exam_id=exam_id, day=day, now=utcnow())
            if to is None:
                return planning.skip_day(session=session, user=user, exam_id=exam_id, day=day, now=utcnow())
            return planning.move_day(session=session, user=user, exam_id=exam_id, day=day, to=to, now=utcnow())

        done = (f"{day:%a %d %b} is back in the plan." if undo else
                f"Skipped {day:%a %d %b}; its work moved to other days." if to is None else
                f"Moved {day:%a %d %b} to {to:%a %d %b}.")
        if (await self.act(work, success=done)).ok:
            await self.reload()

    def ask_delete(self, exam: exams.ExamView) -> None:
        """Confirm, then delete the exam (tasks already added stay)."""
        exam_id = exam.id
        assert exam_id is not None
        with self.host:
            dialog = ui.dialog()
        dialog.on("hide", dialog.delete)

        async def confirm() -> None:
            outcome = await self.act(lambda s, u: planning.delete_exam(session=s, user=u, exam_id=exam_id),
                                     success="Exam deleted.")
            dialog.close()
            if outcome.ok:
                await self.reload()

        with dialog, ui.card().classes("w-[min(92vw,26rem)] gap-3"):
            ui.label(f"Delete “{exam.name}”?").classes("text-lg font-semibold")
            ui.label("Its plan goes; tasks already added to your list stay.").classes("text-sm")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps").mark("cancel")
                ui.button("Delete", on_click=confirm, color="negative").props("no-caps").mark("confirm-delete")
        dialog.open()

    async def open_form(self, exam: exams.ExamView | None) -> None:
        """The add / edit dialog (an edit loads the stored exam first)."""
        values: dict[str, Any] = {
            "name": "", "date": (utcnow().astimezone(self.who.zone).date() + timedelta(days=14)).isoformat(),
            "topics": "", "minutes": [self.default_minutes] * 7, "days_off": "", "target": None,
        }
        exam_id = exam.id if exam is not None else None
        if exam_id is not None:
            outcome = await self.act(lambda s, u: planning.get_exam(session=s, user=u, exam_id=exam_id))
            if not outcome.ok or outcome.value is None:
                return
            stored = outcome.value
            values = {
                "name": stored.name, "date": stored.exam_date.isoformat(),
                "topics": ", ".join(f"{et.topic.name}: {et.weight:g}" for et in stored.topics),
                "minutes": list(stored.minutes_per_weekday), "days_off": ", ".join(stored.days_off),
                "target": None if stored.target_score is None else round(stored.target_score * 100),
            }
        ExamForm(self, values, exam_id).open()


class ExamForm:
    """The fields of the add / edit dialog and saving them through the planning service."""

    def __init__(self, view: PreparationView, values: dict[str, Any], exam_id: int | None) -> None:
        self.view = view
        self.exam_id = exam_id
        with view.host:
            self.dialog = ui.dialog()
        self.dialog.on("hide", self.dialog.delete)
        with self.dialog, ui.card().classes("w-[min(94vw,34rem)] gap-2"):
            ui.label("Edit exam" if exam_id else "New exam").classes("text-lg font-semibold") \
                .props('role=heading aria-level="2"')
            self.name = ui.input("Name", value=values["name"], placeholder="e.g. Maths finals") \
                .props("autofocus maxlength=200").classes("w-full").mark("exam-name")
            self.date = ui.input("Exam date", value=values["date"]).props("type=date stack-label") \
                .classes("w-full").mark("exam-date")
            self.topics = ui.input("Topics (name: weight, ...)", value=values["topics"],
                                   placeholder="e.g. Algebra: 2, Geometry: 1").classes("w-full").mark("exam-topics")
            ui.label("Minutes you can study on each weekday").classes("text-sm")
            with ui.grid(columns=7).classes("w-full gap-1"):
                self.minutes = [ui.number(day, value=m, min=0, max=1440, step=5, format="%.0f").mark(f"min-{day}")
                                for day, m in zip(WEEKDAYS, values["minutes"], strict=True)]
            self.days_off = ui.input("Days off (optional: 2025-03-05, ...)", value=values["days_off"]) \
                .classes("w-full").mark("exam-days-off")
            self.target = ui.number("Target score % (optional)", value=values["target"], min=0, max=100, step=5) \
                .classes("w-full").mark("exam-target")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps").mark("cancel")
                ui.button("Save", on_click=self.save).props("no-caps").mark("save-exam")

    def open(self) -> None:
        """Show the dialog."""
        self.dialog.open()

    def _fields(self) -> dict[str, Any] | None:
        """The form's values for the service, or None (with inline errors) when one cannot be read."""
        name = (self.name.value or "").strip()
        self.name.error = None if name else "A name is needed."
        try:
            topics = parse_topics(self.topics.value)
            self.topics.error = None if topics else "Add at least one topic."
        except ValueError:
            topics, self.topics.error = [], "Write topics as “Algebra: 2, Geometry: 1” (weights are numbers)."
        try:
            exam_date: date | None = date.fromisoformat(self.date.value)
            self.date.error = None
        except (TypeError, ValueError):
            exam_date, self.date.error = None, "Pick the exam date."
        try:
            days_off = parse_dates(self.days_off.value)
            self.days_off.error = None
        except ValueError:
            days_off, self.days_off.error = [], "Use dates like 2025-03-05, separated by commas."
        if not name or not topics or exam_date is None or self.days_off.error:
            return None
        target = self.target.value
        return {"name": name, "date": exam_date, "topics": topics, "days_off": days_off,
                "minutes_per_weekday": [float(m.value) if m.value is not None else 0.0 for m in self.minutes],
                "target_score": None if target is None else float(target) / 100.0}

    async def save(self) -> None:
        """Create or update the exam; errors from the service are shown and the dialog stays open."""
        fields = self._fields()
        if fields is None:
            return
        exam_id, zone = self.exam_id, str(self.view.who.zone)
        if exam_id is None:
            outcome = await self.view.act(lambda s, u: planning.create_exam(
                session=s, user=u, timezone=zone, now=utcnow(), **fields), success=f"Added “{fields['name']}”.")
        else:
            outcome = await self.view.act(lambda s, u: planning.update_exam(
                session=s, user=u, exam_id=exam_id, update=exam_update(fields), now=utcnow()), success="Saved.")
        if outcome.ok:
            self.dialog.close()
            await self.view.reload()


def register() -> None:
    """Register the page."""

    @ui.page(PATH)
    async def preparation_page(request: Request) -> RedirectResponse | None:
        checked = auth.require_user(request)
        if isinstance(checked, RedirectResponse):
            return checked
        user, who = checked
        with frame("Preparation", user=user, path=PATH):
            placeholder = await placeholder_until_connected(blocks=1, height="8rem")
            view = PreparationView(who, user)
            loaded = await view.load()
            placeholder.delete()
            if loaded:
                view.build()
        return None
