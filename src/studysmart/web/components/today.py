"""Today's work, drawn the same way on the dashboard and the preparation page from the one list the planning
service gives (``planning.service.today_plan``): tasks on the list, then the exams' planned problems not added
yet (marked "to add")."""

from __future__ import annotations

from nicegui import ui

from studysmart.planning.service import TodayEntry, TodayPlan
from studysmart.web.components.format import duration, interval, percent
from studysmart.web.components.timer import running_timer


def _entry(entry: TodayEntry) -> None:
    with ui.row().classes("w-full items-center gap-x-3 gap-y-0 py-1 ss-rule").mark("today-item"):
        ui.label(entry.title).classes("font-medium ss-today-title").mark("today-title")
        ui.badge(entry.topic).props("outline color=primary")
        if entry.task is None:
            ui.badge(f"to add · {entry.exam_name}").props("outline color=grey-7").mark("to-add")
        ui.space()
        task = entry.task
        if task is not None and task.status.value == "in_progress" and task.started_at is not None:
            running_timer(task.started_at)
        if entry.p_correct is not None:
            ui.label(f"{percent(entry.p_correct)} chance · ~{duration(entry.expected_seconds)}").classes("text-sm")
        shown = entry.prediction
        if shown is not None and shown.seconds_low and shown.seconds_high:
            ui.label(f"({interval(shown.seconds_low, shown.seconds_high)})").classes("text-sm ss-muted")


def today_list(plan: TodayPlan, *, shown: int | None = None) -> None:
    """The entries of today's plan (the first ``shown`` of them, with a link to the rest)."""
    with ui.column().classes("w-full gap-0").mark("today-list"):
        for entry in plan.entries[:shown]:
            _entry(entry)
    if shown is not None and len(plan.entries) > shown:
        ui.link(f"and {len(plan.entries) - shown} more", "/dashboard/tasks").classes("text-sm")


def to_add_line(plan: TodayPlan) -> str | None:
    """``"5 planned problems are not on your task list yet."`` (None when all are)."""
    if not plan.to_add:
        return None
    n = plan.to_add
    return f"{n} planned problem{'s are' if n != 1 else ' is'} not on your task list yet."
