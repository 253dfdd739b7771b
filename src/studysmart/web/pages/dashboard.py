"""/dashboard: today at a glance: the plan with predictions and its total time against the daily goal, today's
work, the streak, the last 7 days' accuracy, the next exam, and the training status as a quiet badge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from sqlalchemy.orm import Session

from studysmart.analytics import service as analytics
from studysmart.core.db import utcnow
from studysmart.learning import tracker as training
from studysmart.planning import service as planning
from studysmart.users.models import User
from studysmart.web import auth
from studysmart.web.actions import perform
from studysmart.web.components import exams
from studysmart.web.components import today as today_view
from studysmart.web.components.format import duration, percent
from studysmart.web.layout import empty_state, frame, placeholder_until_connected

PATH = "/dashboard"
SHOWN_PLANNED = 8


@dataclass(frozen=True)
class DashboardData:
    summary: analytics.DaySummary
    answers: int  # the student's own answers (done tasks)
    next_exam: exams.ExamView | None
    has_exams: bool  # any exam, past ones included
    steps: analytics.FirstSteps
    today: planning.TodayPlan  # the same list as the preparation page's today


def _load(zone: ZoneInfo) -> Callable[[Session, User], DashboardData]:
    def load(session: Session, user: User) -> DashboardData:
        now = utcnow()
        found = exams.load_exams(session=session, user=user, now=now)  # upcoming (soonest first), then past
        upcoming = [exam for exam in found if exams.is_upcoming(exam, now)]
        return DashboardData(summary=analytics.today_summary(session=session, user=user, now=now, zone=zone,
                                                             shown=SHOWN_PLANNED),
                             answers=training.own_answers(session=session, user=user),
                             next_exam=next(iter(upcoming), None), has_exams=bool(found),
                             steps=analytics.first_steps(session=session, user=user),
                             today=planning.today_plan(session=session, user=user, now=now, zone=zone))
    return load


def _stat(label: str, value: str, detail: str, marker: str) -> None:
    with ui.card().props("flat bordered").classes("gap-0 p-3").mark(marker):
        ui.label(label).classes("text-xs uppercase ss-muted")
        ui.label(value).classes("text-2xl font-semibold")
        ui.label(detail).classes("text-sm ss-muted")


def training_line(answers: int) -> str:
    """The quiet status line: what the student's predictions learn from. Only this student's own answers count
    here (the shared training counter is the operators' view, ``studysmart models`` and the API), so another
    account's answers never move it."""
    if answers == 0:
        return "Your predictions start from all students' answers; each of yours makes them more your own."
    return f"Your predictions learn from your {answers} answer{'s' if answers != 1 else ''}, the latest included."


def _training_badge(answers: int) -> None:
    with ui.row().classes("items-start gap-1 text-xs ss-muted no-wrap").mark("training-status"):
        ui.icon("model_training").classes("text-sm")
        ui.label(training_line(answers))


FIRST_STEPS = (
    ("added", "Add a task", "Give it a topic and a difficulty: you see how likely you are to get it right and how "
                            "long it should take."),
    ("timed", "Time it", "Press Start when you begin; the timer keeps running through a reload."),
    ("marked", "Mark it", "Press Complete and say whether you got it right: every answer makes your predictions "
                          "more your own."),
)


def _first_steps_card(steps: analytics.FirstSteps) -> None:
    """The three-step start for a newcomer; gone once the first task is marked."""
    taken = {"added": steps.added, "timed": steps.timed, "marked": steps.marked}
    with ui.card().classes("ss-card gap-2").mark("first-steps"):
        ui.label("Get started in three steps").classes("text-lg font-semibold").props('role=heading aria-level="2"')
        with ui.element("ol").classes("w-full flex flex-col gap-2"):
            for number, (step, title, text) in enumerate(FIRST_STEPS, start=1):
                done = taken[step]
                with ui.element("li").classes("flex items-start gap-3").mark(f"step-{step}"):
                    ui.icon("check_circle" if done else "radio_button_unchecked",
                            color="positive" if done else "grey-6").classes("text-2xl") \
                        .props(f'aria-label="{"done" if done else "to do"}"').mark("step-done" if done else "step-todo")
                    with ui.column().classes("gap-0"):
                        ui.link(f"{number}. {title}", "/dashboard/tasks").classes("font-medium")
                        ui.label(text).classes("text-sm ss-muted")


def _plan_card(summary: analytics.DaySummary, plan: planning.TodayPlan) -> None:
    goal_seconds = summary.daily_goal_minutes * 60.0
    with ui.card().classes("ss-card gap-2").mark("today-plan"):
        with ui.row().classes("w-full items-baseline gap-2"):
            ui.label("Today's plan").classes("text-lg font-semibold").props('role=heading aria-level="2"')
            ui.space()
            ui.label(f"~{duration(plan.seconds)} predicted · goal {summary.daily_goal_minutes} min") \
                .classes("text-sm").mark("plan-total")
        ratio = plan.seconds / goal_seconds if goal_seconds else 0.0
        ui.linear_progress(value=min(ratio, 1.0), show_value=False,
                           color="positive" if ratio <= 1 else "warning") \
            .props(f'rounded size=8px aria-label="Planned {ratio:.0%} of the daily goal"')
        if ratio > 1:
            ui.label("That is more than your daily goal; consider moving some tasks to another day.") \
                .classes("text-sm text-warning")
        if not plan.entries:
            empty_state("Nothing planned for today. Add a task to get its predicted time and chance.",
                        action="Add a task", target="/dashboard/tasks", icon="event_available")
            return
        if (line := today_view.to_add_line(plan)) is not None:
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(line).classes("text-sm ss-muted")
                ui.link("Add them on the preparation page", "/dashboard/preparation").classes("text-sm")
        today_view.today_list(plan, shown=SHOWN_PLANNED)


def _exam_card(exam: exams.ExamView | None, today: datetime, has_exams: bool) -> None:
    with ui.card().classes("ss-card gap-2").mark("next-exam"):
        ui.label("Next exam").classes("text-lg font-semibold").props('role=heading aria-level="2"')
        if exam is None:
            empty_state("No upcoming exams. Add your next one on the preparation page to see how ready you are."
                        if has_exams else "No exams yet. Add one on the preparation page to see how ready you are.",
                        action="Preparation", target="/dashboard/preparation", icon="event")
        else:
            exams.exam_card(exam, today=today.date(), plan_days=0)


def register() -> None:
    """Register the page."""

    @ui.page(PATH)
    async def dashboard_page(request: Request) -> RedirectResponse | None:
        checked = auth.require_user(request)
        if isinstance(checked, RedirectResponse):
            return checked
        user, who = checked
        with frame(f"Hello, {user.display_name}", user=user, path=PATH):
            placeholder = await placeholder_until_connected(blocks=3, height="7rem")
            outcome = await perform(who, _load(who.zone), path=PATH)
            placeholder.delete()
            if not outcome.ok or outcome.value is None:
                return None
            data = outcome.value
            summary = data.summary
            _training_badge(data.answers)
            if not data.steps.done:
                _first_steps_card(data.steps)
            with ui.element("div").classes("w-full grid grid-cols-2 md:grid-cols-4 gap-3"):
                _stat("Planned today", str(len(data.today.entries)), f"~{duration(data.today.seconds)}",
                      "stat-planned")
                _stat("Done today", str(summary.done_today), duration(summary.seconds_today) if
                      summary.done_today else "nothing yet", "stat-done")
                _stat("Streak", f"{summary.streak_days} day{'s' if summary.streak_days != 1 else ''}",
                      "days in a row with an answer", "stat-streak")
                _stat("Last 7 days", percent(summary.week_accuracy),
                      f"{summary.week_correct} of {summary.week_answered} correct" if summary.week_answered
                      else "no answers yet", "stat-week")
            _plan_card(summary, data.today)
            _exam_card(data.next_exam, utcnow().astimezone(who.zone), data.has_exams)
        return None
