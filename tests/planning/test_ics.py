"""The .ics export parses back with icalendar: one event per study block, tasks in the description."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from studysmart.planning.engine import ExamSpec, plan_exam
from studysmart.planning.ics import plan_to_ics
from tests.planning import cells

TODAY = date(2025, 3, 3)


@pytest.fixture(scope="module")
def plan():
    spec = ExamSpec(
        date=TODAY + timedelta(days=7),
        topics=(("algebra", 2), ("geometry", 1)),
        minutes_per_weekday=(30, 0, 45, 30, 20, 60, 0),
        days_off=frozenset({TODAY + timedelta(days=3)}),
    )
    return plan_exam(spec, cells({"algebra": (0.85, 0.7, 0.5), "geometry": (0.8, 0.65, 0.45)}), today=TODAY)


def test_one_event_per_study_block_with_its_tasks(plan):
    blob = plan_to_ics(plan, exam_name="Maths finals", start_hour=18.5,
                       generated_at=datetime(2025, 3, 1, tzinfo=UTC))  # fmt: skip
    calendar = Calendar.from_ical(blob)
    events = calendar.walk("VEVENT")
    blocks = [day for day in plan.days if day.items]
    assert len(blocks) == 4  # Tuesday, Sunday (0 minutes) and the Thursday off have no block
    assert len(events) == len(blocks)
    for event, day in zip(sorted(events, key=lambda e: e.decoded("dtstart")), blocks, strict=True):
        start = event.decoded("dtstart")
        assert start.date() == day.date and (start.hour, start.minute) == (18, 30)
        assert event.decoded("duration") == timedelta(minutes=math.ceil(day.minutes_planned))
        description = str(event.get("description"))
        for item in day.items:
            assert f"{item.count} x {item.topic} ({item.difficulty})" in description
        assert "Maths finals" in str(event.get("summary"))
    assert len({str(e.get("uid")) for e in events}) == len(events)


def test_time_zone_and_invalid_start(plan):
    calendar = Calendar.from_ical(plan_to_ics(plan, timezone="Europe/Berlin", start_hour=7))
    start = calendar.walk("VEVENT")[0].decoded("dtstart")
    assert start.utcoffset() == timedelta(hours=1) and start.hour == 7
    with pytest.raises(ValueError, match="start_hour"):
        plan_to_ics(plan, start_hour=25)
