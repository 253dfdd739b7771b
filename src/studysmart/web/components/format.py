"""How numbers read on the pages: percentages, durations, dates (in the student's time zone)."""

from __future__ import annotations

import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

DIFFICULTY_LABELS = {"easy": "Easy", "medium": "Medium", "hard": "Hard"}
STATUS_LABELS = {"planned": "Planned", "in_progress": "In progress", "done": "Done"}
THEME_LABELS = {"auto": "Follow the system", "light": "Light", "dark": "Dark"}


def percent(p: float | None) -> str:
    """``0.723`` -> ``"72%"`` (an em dash when unknown)."""
    if p is None or not math.isfinite(p):
        return "—"
    return f"{100 * p:.0f}%"


def duration(seconds: float | None) -> str:
    """A short human duration: ``"45 s"``, ``"7 min"``, ``"1 h 05 min"``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min".replace(".0 min", " min")
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min"


def clock(seconds: float) -> str:
    """A running timer: ``"04:07"`` or ``"1:02:03"``."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def local_datetime(moment: datetime | None, zone: ZoneInfo) -> str:
    """A timestamp in the student's zone: ``"12 Mar 14:05"``."""
    if moment is None:
        return "—"
    return moment.astimezone(zone).strftime("%d %b %H:%M")


def interval(low: float, high: float) -> str:
    """An 80% time range: ``"3–9 min"``."""
    low_text, high_text = duration(low), duration(high)
    low_unit, high_unit = low_text.rsplit(" ", 1)[-1], high_text.rsplit(" ", 1)[-1]
    if low_unit == high_unit and " h " not in low_text and " h " not in high_text:
        return f"{low_text.rsplit(' ', 1)[0]}–{high_text}"
    return f"{low_text} – {high_text}"


def short_date(day: date, today: date) -> str:
    """``"14 Mar"`` (with the year when it is not this year's): ``"14 Mar 2027"``."""
    return f"{day.day} {day:%b}" + (f" {day.year}" if day.year != today.year else "")


def due_label(due: date, today: date, *, done: bool = False) -> str:
    """A due date as a student reads it: ``"Due tomorrow, 2 Dec"``, ``"Overdue: due 28 Nov (3 days ago)"``; a
    done task's ``"Was due 28 Nov"``."""
    when = short_date(due, today)
    if done:
        return f"Was due {when}"
    days = (due - today).days
    if days < 0:
        ago = "yesterday" if days == -1 else f"{-days} days ago"
        return f"Overdue: due {when} ({ago})"
    if days <= 1:
        return f"Due {'today' if days == 0 else 'tomorrow'}, {when}"
    return f"Due {when}"
