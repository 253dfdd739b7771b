"""Exams, readiness and the day-by-day plan on the preparation page and the dashboard: the one place the UI
reads planning.

``planning_exams`` reads them from the planning service (each exam with its plan and readiness, cached until
something they depend on changes); everything else here only renders the ``ExamView`` values it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from nicegui import ui
from sqlalchemy.orm import Session

from studysmart.planning import service as planning
from studysmart.planning.engine import Plan, PlanDay
from studysmart.planning.ics import plan_to_ics
from studysmart.planning.models import Exam
from studysmart.users.models import User
from studysmart.web.components.format import percent


@dataclass(frozen=True)
class ExamReadiness:
    """Expected exam score now with its 10%-90% range, and the forecast on exam day with the plan."""

    expected_score: float
    low: float
    high: float
    forecast_on_exam_day: float | None = None
    target: float | None = None  # the student's target score, when they set one
    visible_gain: bool = True  # whether the plan's practice adds at least VISIBLE_GAIN to the forecast


#: The planned practice's forecast gain of exam score below which the page says the forecast shows no gain from
#: it (half a point: less rounds away in the percentages it shows).
VISIBLE_GAIN = 0.005


def day_minutes(planned: float, available: float) -> str:
    """A plan day's minutes: "23 of 30 min"; past the day's minutes (work done or already on the task list: the
    planner adds none beyond them) "81 min (day: 30)", not a load that reads as an overbooked plan."""
    if round(planned) > round(available):
        return f"{planned:.0f} min (day: {available:.0f})"
    return f"{planned:.0f} of {available:.0f} min"


@dataclass(frozen=True)
class ExamPlanDay:
    """One day of the plan: minutes available and planned, one line per planned item, and what the student
    changed: ``skipped``, ``moved_to`` (the day its minutes went to), ``moved_in`` (days moved to this one);
    ``added`` when its tasks are on the list, ``move_to`` the day a "move" would send it to (None: it cannot
    be skipped or moved)."""

    day: date
    minutes_available: float
    minutes_planned: float
    items: tuple[str, ...] = ()
    skipped: bool = False
    moved_to: date | None = None
    moved_in: tuple[date, ...] = ()
    added: bool = False
    move_to: date | None = None
    changeable: bool = False


@dataclass(frozen=True)
class ExamView:
    """One exam as the pages show it."""

    name: str
    day: date
    topics: tuple[tuple[str, float], ...]  # (topic, weight)
    minutes_per_day: float | None = None
    readiness: ExamReadiness | None = None
    plan: tuple[ExamPlanDay, ...] = ()
    ics: Callable[[], bytes] | None = field(default=None, compare=False)  # the plan as an .ics calendar
    id: int | None = None  # the stored exam (None: not editable here)
    today: date | None = None  # today in the exam's time zone
    planned_today: int = 0  # tasks still planned for today
    materialized_today: bool = False  # today's planned tasks were added to the task list


def is_upcoming(exam: ExamView, now: datetime) -> bool:
    """Whether the exam's day has not passed (in the exam's time zone when the view knows it)."""
    return exam.day >= (exam.today or now.date())


def load_exams(*, session: Session, user: User, now: datetime) -> list[ExamView]:
    """The student's exams: upcoming ones soonest first, then past ones, latest first.

    Args:
        session: a database session.
        user: the student.
        now: the current time.

    Returns:
        The exams.
    """
    found = planning_exams(session=session, user=user, now=now)
    upcoming = sorted((exam for exam in found if is_upcoming(exam, now)), key=lambda exam: exam.day)
    past = sorted((exam for exam in found if not is_upcoming(exam, now)), key=lambda exam: exam.day, reverse=True)
    return upcoming + past


def when_label(day: date, today: date) -> str:
    """``"in 3 days"``, ``"tomorrow"``, ``"today"``, ``"yesterday"`` or ``"5 days ago"``."""
    days = (day - today).days
    if -1 <= days <= 1:
        return {-1: "yesterday", 0: "today", 1: "tomorrow"}[days]
    return f"in {days} days" if days > 0 else f"{-days} days ago"


def _item_lines(day: PlanDay) -> tuple[str, ...]:
    """One line per topic, its difficulties easy to hard: ``"Probability: 3 medium (1 done), 1 hard"``."""
    order = {"easy": 0, "medium": 1, "hard": 2}
    by_topic: dict[str, list[str]] = {}
    for item in sorted(day.items, key=lambda i: order.get(i.difficulty, 3)):
        by_topic.setdefault(item.topic, []).append(
            f"{item.count} {item.difficulty}" + (f" ({item.done} done)" if item.done else ""))
    return tuple(f"{topic}: {', '.join(parts)}" for topic, parts in sorted(
        by_topic.items(), key=lambda kv: next(k for k, i in enumerate(day.items) if i.topic == kv[0])))


def _plan_days(exam: Exam, plan: Plan, today: date) -> tuple[ExamPlanDay, ...]:
    """Every day of the plan from today to the day before the exam, with the student's changes."""
    changes = exam.day_changes or {}
    moves = exam.moves()
    off = set(exam.days_off or ())
    added = exam.materialized or {}

    def free(day: date) -> bool:  # a study day that can be changed or take a moved day
        key = day.isoformat()
        return (today <= day < exam.exam_date and key not in changes and key not in off and key not in added
                and bool(exam.minutes_per_weekday[day.weekday()]))

    out = []
    for d in plan.days:
        if d.date < today:
            continue
        moved_in = tuple(sorted(src for src, to in moves.items() if to == d.date))
        changeable = free(d.date) and not moved_in
        target = next((d.date + timedelta(days=k) for k in range(1, (exam.exam_date - d.date).days)
                       if free(d.date + timedelta(days=k))), None) if changeable else None
        out.append(ExamPlanDay(d.date, d.minutes_available, d.minutes_planned, _item_lines(d),
                               skipped=changes.get(d.date.isoformat(), "") is None, moved_to=moves.get(d.date),
                               moved_in=moved_in, added=d.date.isoformat() in added, move_to=target,
                               changeable=changeable))
    return tuple(out)


def exam_view(state: planning.ExamState, now: datetime) -> ExamView:
    """The view of an exam with its plan (from today on) and readiness.

    Args:
        state: the exam with its current plan and readiness (``planning.exam_state``).
        now: the current time.

    Returns:
        The exam as the pages show it; ``ics`` renders the plan as a calendar without the database.
    """
    exam, plan, ready = state.exam, state.plan, state.readiness
    today = planning.local_today(exam, now)
    total = sum(et.weight for et in exam.topics) or 1.0
    planned = plan.day(today)
    name, zone = exam.name, exam.timezone
    return ExamView(
        name=exam.name, day=exam.exam_date,
        topics=tuple((et.topic.name, et.weight / total) for et in exam.topics),
        minutes_per_day=sum(exam.minutes_per_weekday) / 7.0,
        readiness=ExamReadiness(ready.expected_score, ready.low, ready.high,
                                ready.forecast_on_exam_day if exam.exam_date > today else None,
                                exam.target_score, visible_gain=plan.expected_gain >= VISIBLE_GAIN),
        plan=_plan_days(exam, plan, today),
        ics=lambda: plan_to_ics(plan, exam_name=name, timezone=zone, generated_at=now),
        id=exam.id, today=today,
        planned_today=sum(i.count - i.done for i in planned.items) if planned is not None else 0,
        materialized_today=today.isoformat() in (exam.materialized or {}),
    )


def planning_exams(*, session: Session, user: User, now: datetime) -> list[ExamView]:
    """The exam source backed by the planning service: every exam of the student with its plan."""
    return [exam_view(planning.exam_state(session=session, user=user, exam_id=exam.id, now=now), now)
            for exam in planning.list_exams(session=session, user=user)]


def readiness_line(readiness: ExamReadiness | None) -> str:
    """``"Expected score now 64% (52–75%) · on exam day 78%"``."""
    if readiness is None:
        return "Readiness appears after your first answers in the exam's topics."
    text = (f"Expected score now {percent(readiness.expected_score)} "
            f"({percent(readiness.low)}–{percent(readiness.high)})")
    if readiness.forecast_on_exam_day is not None:
        text += f" · on exam day {percent(readiness.forecast_on_exam_day)} if you follow the plan"
        if not readiness.visible_gain:
            text += " (your predictions show no gain from this practice yet)"
    if readiness.target is not None:
        outlook = readiness.expected_score if readiness.forecast_on_exam_day is None \
            else readiness.forecast_on_exam_day
        text += f" · target {percent(readiness.target)}: {'on track' if outlook >= readiness.target else 'behind'}"
    return text


def exam_card(exam: ExamView, *, today: date, on_ics: Callable[[ExamView], object] | None = None,
              plan_days: int = 7, actions: Callable[[ExamView], None] | None = None,
              plan_section: Callable[[ExamView], None] | None = None) -> None:
    """One exam: date, topics with weights, readiness, and (when given) the next days of its plan, or the page's
    ``plan_section``; ``actions`` adds the page's buttons for the exam (beside the calendar export)."""
    with ui.card().props("flat bordered").classes("w-full gap-2").mark("exam"):
        with ui.row().classes("w-full items-baseline gap-2"):
            ui.label(exam.name).classes("text-lg font-semibold")
            ui.label(f"{exam.day:%a %d %b %Y} · {when_label(exam.day, exam.today or today)}") \
                .classes("text-sm ss-muted")
        with ui.row().classes("gap-1"):
            for topic, weight in exam.topics:
                ui.badge(f"{topic} {weight:.0%}" if weight <= 1 else f"{topic} ×{weight:g}") \
                    .props("outline color=primary")
        ui.label(readiness_line(exam.readiness)).classes("text-sm").mark("readiness")
        if exam.readiness is not None:
            ui.linear_progress(value=exam.readiness.expected_score, show_value=False) \
                .props("rounded size=8px") \
                .props(f'aria-label="Expected score {percent(exam.readiness.expected_score)}"')
        if plan_section is not None:
            plan_section(exam)
        elif exam.plan and plan_days > 0:
            with ui.expansion("Day-by-day plan", icon="calendar_month").classes("w-full"):
                for day in exam.plan[:plan_days]:
                    with ui.row().classes("w-full gap-2 items-baseline"):
                        ui.label(f"{day.day:%a %d %b}").classes("w-24 font-medium")
                        ui.label(day_minutes(day.minutes_planned, day.minutes_available)) \
                            .classes("text-sm ss-muted w-28")
                        ui.label("; ".join(day.items) or "rest").classes("text-sm flex-1")
        with ui.row().classes("w-full gap-1 items-center"):
            if exam.ics is not None and on_ics is not None:
                ui.button("Export to calendar (.ics)", icon="download", on_click=lambda: on_ics(exam)) \
                    .props("flat no-caps").mark("export-ics")
            if actions is not None:
                actions(exam)
