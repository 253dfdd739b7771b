"""A running timer that counts from the task's stored ``started_at``, so it survives a page reload."""

from __future__ import annotations

from datetime import datetime

from nicegui import ui

from studysmart.core.db import utcnow
from studysmart.web.components.format import clock


def elapsed_seconds(started_at: datetime, now: datetime | None = None) -> float:
    """Seconds since ``started_at`` (never negative)."""
    return max(((now or utcnow()) - started_at).total_seconds(), 0.0)


def running_timer(started_at: datetime) -> ui.label:
    """A label showing the time since ``started_at``, updated every second.

    Args:
        started_at: when the task was started (timezone-aware).

    Returns:
        The label (marked ``timer``).
    """
    with ui.row().classes("items-center gap-1 text-positive font-mono").props('role=timer aria-live="off"'):
        ui.icon("timer")
        label = ui.label(clock(elapsed_seconds(started_at))).mark("timer")
    ui.timer(1.0, lambda: label.set_text(clock(elapsed_seconds(started_at))))
    return label
