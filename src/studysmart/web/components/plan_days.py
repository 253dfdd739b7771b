"""One day of an exam's plan on the preparation page: its date, minutes, work (or why it has none) and the
buttons to skip it, move it to the next study day, or undo either."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from nicegui import ui

from studysmart.web.components.exams import ExamPlanDay, day_minutes

#: on_change(day, to, undo): skip (to None), move to ``to``, or undo the change of ``day``.
OnChange = Callable[[date, date | None, bool], Awaitable[None]]


def day_text(day: ExamPlanDay) -> str:
    """What a day of the plan says: its work, or why it has none."""
    if day.skipped:
        return "Skipped: its work moved to other days."
    if day.moved_to is not None:
        return f"Moved to {day.moved_to:%a %d %b}."
    work = "; ".join(day.items)
    if day.moved_in:
        moved = ", ".join(f"{d:%a}" for d in day.moved_in)
        work = f"{work or 'rest'} (with {moved}'s minutes)"
    if day.added and work:
        work += " · on your task list"
    return work or ("Day off." if not day.minutes_available else "Rest.")


def day_row(day: ExamPlanDay, *, is_today: bool, on_change: OnChange) -> None:
    """The row of one day with its buttons (markers carry the ISO date: ``skip-day-2025-03-04``)."""
    key = day.day.isoformat()
    with ui.row().classes("w-full gap-x-2 gap-y-0 items-center py-1 ss-rule").mark("plan-day", f"plan-day-{key}"):
        ui.label(f"{day.day:%a %d %b}" + (" (today)" if is_today else "")).classes("w-32 font-medium")
        minutes = day_minutes(day.minutes_planned, day.minutes_available) if day.minutes_available else ""
        ui.label(minutes).classes("text-sm ss-muted w-28")
        ui.label(day_text(day)).classes("text-sm flex-1 min-w-[12rem]").mark("day-work")
        if day.skipped or day.moved_to is not None:
            ui.button("Undo", on_click=lambda: on_change(day.day, None, True)) \
                .props("flat dense no-caps").mark("undo-day", f"undo-day-{key}")
        elif day.changeable:
            ui.button("Skip", on_click=lambda: on_change(day.day, None, False)) \
                .props("flat dense no-caps").mark("skip-day", f"skip-day-{key}")
            if (to := day.move_to) is not None:
                ui.button(f"Move to {to:%a}", on_click=lambda: on_change(day.day, to, False)) \
                    .props("flat dense no-caps").mark("move-day", f"move-day-{key}")
