"""Today's work, drawn the same way on the dashboard and the preparation page from the one list the planning
service gives (``planning.service.today_plan``): tasks on the list, then the exams' planned problems not added
yet (marked "to add")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nicegui import ui

from studysmart.planning.service import TodayEntry, TodayPlan
from studysmart.web.components.format import duration, interval, percent
from studysmart.web.components.timer import running_timer

_NUMBERED = re.compile(r" \(\d+ of \d+\)$")


@dataclass(frozen=True)
class Row:
    """One row of today's list: an entry, or ``count`` alike entries shown once ("Algebra: 3 medium problems",
    the planned problems of one exam cell, or the tasks made from them); ``seconds`` is their predicted total."""

    entry: TodayEntry
    title: str
    count: int
    seconds: float | None


def rows(plan: TodayPlan) -> list[Row]:
    """The entries with the numbered problems of one cell ("(1 of 3)", "(2 of 3)" ...) merged into one row, in
    the order of their first entry; a task in progress keeps its own row (its timer)."""
    out: list[Row] = []
    index: dict[tuple[str, bool, str], int] = {}
    for entry in plan.entries:
        started = entry.task is not None and entry.task.status.value == "in_progress"
        title = _NUMBERED.sub("", entry.title)
        key = (title, entry.task is None, entry.topic)
        if started or title == entry.title or key not in index:
            if not started and title != entry.title:
                index[key] = len(out)
            out.append(Row(entry, title, 1, entry.expected_seconds))
            continue
        row = out[index[key]]
        out[index[key]] = Row(row.entry, title, row.count + 1, (row.seconds or 0.0) + (entry.expected_seconds or 0.0))
    return out


def _row(row: Row) -> None:
    entry = row.entry
    with ui.row().classes("w-full items-center gap-x-3 gap-y-0 py-1 ss-rule").mark("today-item"):
        ui.label(row.title).classes("font-medium ss-today-title").mark("today-title")
        ui.badge(entry.topic).props("outline color=primary")
        if entry.task is None:
            ui.badge(f"to add · {entry.exam_name}").props("outline color=grey-7").mark("to-add")
        ui.space()
        task = entry.task
        if task is not None and task.status.value == "in_progress" and task.started_at is not None:
            running_timer(task.started_at)
        if entry.p_correct is not None:
            each = " each" if row.count > 1 else ""
            ui.label(f"{percent(entry.p_correct)} chance{each} · ~{duration(row.seconds)}").classes("text-sm")
        shown = entry.prediction
        if row.count == 1 and shown is not None and shown.seconds_low and shown.seconds_high:
            ui.label(f"({interval(shown.seconds_low, shown.seconds_high)})").classes("text-sm ss-muted")


def today_list(plan: TodayPlan, *, shown: int | None = None) -> None:
    """Today's rows (the first ``shown`` of them, with a link to the rest)."""
    found = rows(plan)
    with ui.column().classes("w-full gap-0").mark("today-list"):
        for row in found[:shown]:
            _row(row)
    if shown is not None and len(found) > shown:
        ui.link(f"and {len(found) - shown} more", "/dashboard/tasks").classes("text-sm")


def total_line(plan: TodayPlan) -> str:
    """``"9 tasks · ~38 min"`` (``"No tasks"`` for an empty day, not "0 tasks · ~0 s")."""
    n = len(plan.entries)
    if not n:
        return "No tasks"
    return f"{n} task{'s' if n != 1 else ''} · ~{duration(plan.seconds)}"


def to_add_line(plan: TodayPlan) -> str | None:
    """``"5 planned problems are not on your task list yet."`` (None when all are)."""
    if not plan.to_add:
        return None
    n = plan.to_add
    return f"{n} planned problem{'s are' if n != 1 else ' is'} not on your task list yet."
