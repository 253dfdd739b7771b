"""Export a plan as an iCalendar (.ics) file with the ``icalendar`` library.

One event per study block (a day with planned items): it starts at a configurable hour on that day and lasts
the day's planned minutes; its description lists the day's tasks. UIDs are stable per (exam, day), so
re-importing an updated plan replaces the old events in calendar apps that honour UIDs.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from studysmart.planning.engine.plan import Plan, PlanDay

__all__ = ["plan_to_ics"]

_DAY_MINUTES = 24 * 60  # a study block never lasts longer than its day


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "exam"


def _description(day: PlanDay) -> str:
    lines = []
    for item in day.items:
        minutes = item.expected_seconds / 60.0
        status = f" ({item.done} done)" if item.done else ""
        p = "" if item.p_correct is None else f", P(correct) {item.p_correct:.0%}"
        lines.append(f"- {item.count} x {item.topic} ({item.difficulty}), ~{minutes:.0f} min{p}{status}")
    return "\n".join(lines)


def plan_to_ics(
    plan: Plan,
    *,
    exam_name: str = "exam",
    start_hour: float = 18.0,
    timezone: str | None = None,
    uid_domain: str = "studysmart",
    generated_at: datetime | None = None,
) -> bytes:
    """Render the plan's study blocks as an .ics calendar.

    Args:
        plan: the plan.
        exam_name: shown in event titles and used in UIDs.
        start_hour: local start time of each block (e.g. 18.5 = 18:30).
        timezone: IANA zone name for the start times (None = floating local time).
        uid_domain: right-hand part of the event UIDs.
        generated_at: DTSTAMP of the events (default: now, UTC).

    Returns:
        The calendar as bytes (text/calendar).
    """
    if not 0 <= start_hour < 24:
        raise ValueError(f"start_hour must be in [0, 24), got {start_hour}")
    zone = ZoneInfo(timezone) if timezone else None
    stamp = generated_at or datetime.now(UTC)
    hours = int(start_hour)
    minutes = round((start_hour - hours) * 60)
    calendar = Calendar()
    calendar.add("prodid", "-//StudySmart//exam plan//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Study plan: {exam_name}")
    slug = _slug(exam_name)
    for day in plan.days:
        if not day.items or not 0 < day.minutes_planned < math.inf:
            continue
        event = Event()
        start = datetime.combine(day.date, time(hours, min(minutes, 59)), tzinfo=zone)
        event.add("uid", f"{slug}-{day.date.isoformat()}@{uid_domain}")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("duration", timedelta(minutes=min(math.ceil(day.minutes_planned), _DAY_MINUTES)))
        count = sum(item.count for item in day.items)
        event.add("summary", f"Study for {exam_name}: {count} tasks, {day.minutes_planned:.0f} min")
        event.add("description", _description(day))
        calendar.add_component(event)
    result: bytes = calendar.to_ical()
    return result
