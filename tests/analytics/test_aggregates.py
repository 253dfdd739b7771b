"""The progress lines and the weekly time computed by the database (analytics.aggregates) equal the Python
computation over every answer (the one the analytics had before, written out here) on random histories around
the zones' offset changes, on both databases: local days and weeks, each topic's trailing window, the periods'
ends, ties in completion time, missing outcomes and times, and zones whose clocks go back across midnight."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert
from sqlalchemy.orm import Session

from studysmart.analytics import service as analytics
from studysmart.analytics import today
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users.models import User
from tests.factories import make_user

NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
TOPICS = ("Algebra", "Geometry", "Probability")
#: zones with their own ways of changing offset, each with a moment near one of its changes
AROUND = [
    ("UTC", datetime(2026, 3, 1, 0, 0, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ("America/Santiago", datetime(2026, 4, 5, 3, 0, tzinfo=UTC)),  # 00:00 Sunday becomes 23:00 Saturday
    ("America/Sao_Paulo", datetime(2018, 2, 18, 2, 0, tzinfo=UTC)),  # the same, when Brazil still had DST
    ("Asia/Kathmandu", datetime(2026, 6, 1, 18, 15, tzinfo=UTC)),  # +05:45: midnight at 18:15 UTC
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, 0, tzinfo=UTC)),  # a half-hour change
    ("Pacific/Apia", datetime(2011, 12, 30, 10, 0, tzinfo=UTC)),  # skipped 30 December 2011
    ("America/St_Johns", datetime(2026, 11, 1, 4, 30, tzinfo=UTC)),
    ("America/Goose_Bay", datetime(2010, 11, 7, 3, 1, tzinfo=UTC)),  # 00:01 Sunday became 23:01 Saturday
]

Answer = tuple[datetime, str, bool | None, float | None]


def _store(session: Session, user: User, answers: list[Answer]) -> None:
    topic_ids = {name: tasks.get_or_create_topic(session=session, name=name) for name in TOPICS}
    session.flush()
    if answers:
        session.execute(insert(Task), [{
            "owner_id": user.id, "topic_id": topic_ids[topic].id, "title": f"Done {k}",
            "difficulty": Difficulty.MEDIUM, "status": TaskStatus.DONE, "created_at": at - timedelta(hours=1),
            "completed_at": at, "correct": correct, "seconds_taken": seconds,
        } for k, (at, topic, correct, seconds) in enumerate(answers)])  # ids in list order: ties keep it
    session.flush()


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _reference_progress(answers: list[Answer], zone: ZoneInfo, window: int) -> analytics.Progress:
    """The progress lines as the analytics computed them before: a loop over every answer in completion order."""
    ordered = sorted(enumerate(answers), key=lambda item: (item[1][0], item[0]))
    rows = [(at.astimezone(zone).date(), correct, seconds, topic) for _, (at, topic, correct, seconds) in ordered]
    if not rows:
        return analytics.Progress("day", [], {}, {}, {}, window)
    days = [day for day, *_ in rows]
    bucket = "day" if (max(days) - min(days)).days <= 35 else "week"
    start = _week if bucket == "week" else (lambda day: day)
    periods = sorted({start(day) for day in days})
    index = {period: i for i, period in enumerate(periods)}
    topics = sorted({topic for *_, topic in rows})
    accuracy: dict[str, list[float | None]] = {t: [None] * len(periods) for t in topics}
    median: dict[str, list[float | None]] = {t: [None] * len(periods) for t in topics}
    answered: dict[str, list[int]] = {t: [0] * len(periods) for t in topics}
    recent: dict[str, list[tuple[bool, float | None]]] = defaultdict(list)
    ends: dict[tuple[str, int], int] = {}
    for day, correct, seconds, topic in rows:
        i = index[start(day)]
        recent[topic].append((bool(correct), seconds))
        answered[topic][i] += 1
        ends[(topic, i)] = len(recent[topic])
    for (topic, i), end in ends.items():
        latest = recent[topic][max(0, end - window):end]
        accuracy[topic][i] = sum(correct for correct, _ in latest) / len(latest)
        median[topic][i] = _median([seconds for _, seconds in latest if seconds])
    return analytics.Progress(bucket=bucket, periods=[p.isoformat() for p in periods], accuracy=accuracy,
                              median_seconds=median, answered=answered, window=window)


def _reference_weekly(answers: list[Answer], zone: ZoneInfo) -> analytics.WeeklyTime:
    """Minutes per topic per local week: each week's seconds, in minutes rounded to 0.1."""
    seconds: dict[tuple[date, str], float] = defaultdict(float)
    for at, topic, _, taken in answers:
        if taken:
            seconds[(_week(at.astimezone(zone).date()), topic)] += taken
    weeks = sorted({week for week, _ in seconds})
    names = sorted({topic for _, topic in seconds})
    return analytics.WeeklyTime(weeks=[w.isoformat() for w in weeks],
                                minutes={t: [round(seconds.get((w, t), 0.0) / 60, 1) for w in weeks] for t in names})


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, list[Answer]]:
    """A zone and answers around one of its offset changes: within hours of it, or spread over days or a year
    (some at the same moment; times of a quarter second so every sum is exact in any order)."""
    zone, center = draw(st.sampled_from(AROUND))
    spread = draw(st.sampled_from([3 * 3600, 20 * 86400, 36 * 86400, 200 * 86400]))
    n = draw(st.integers(0, 40))
    offsets = draw(st.lists(st.integers(-spread, spread), min_size=n, max_size=n))
    repeats = draw(st.lists(st.integers(0, max(0, n - 1)), max_size=3))  # ties in completion time
    moments = [center + timedelta(seconds=s) for s in offsets]
    moments += [moments[k] for k in repeats if k < len(moments)]
    answers = [(at, draw(st.sampled_from(TOPICS)), draw(st.sampled_from([True, False, None])),
                draw(st.sampled_from([None, 0.0, 0.25 * draw(st.integers(1, 14_400))])))
               for at in moments]
    return zone, answers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories(), window=st.integers(1, 6))
def test_the_database_computes_progress_and_weekly_time_as_python_does(
        session: Session, history: tuple[str, list[Answer]], window: int) -> None:
    from studysmart.analytics import aggregates

    name, answers = history
    zone = ZoneInfo(name)
    user = make_user(session, now=NOW)
    _store(session, user, answers)
    expected = _reference_progress(answers, zone, window)
    assert analytics.progress(session=session, user=user, zone=zone, window=window) == expected
    with pytest.MonkeyPatch.context() as patch:  # the query for zones whose days can go back, on every history
        patch.setattr(aggregates, "days_go_back", lambda pieces: True)
        assert analytics.progress(session=session, user=user, zone=zone, window=window) == expected
    assert analytics.weekly_time(session=session, user=user, zone=zone) == _reference_weekly(answers, zone)
    done = analytics.done_rows(session=session, user=user)  # the page's way: from rows loaded once
    assert analytics.progress(session=session, user=user, zone=zone, window=window, done=done) == (
        _reference_progress(answers, zone, window))
    assert analytics.weekly_time(session=session, user=user, zone=zone, done=done) == _reference_weekly(
        answers, zone)


def test_a_later_answer_on_an_earlier_local_day_ends_that_day(session: Session) -> None:
    """In Goose Bay 00:01 on Sunday 7 November 2010 became 23:01 on Saturday: an answer at 00:00:30 on Sunday
    is followed by one at 23:30 on Saturday. Each day's point is the window ending with its last answer."""
    goose_bay = ZoneInfo("America/Goose_Bay")
    change = datetime(2010, 11, 7, 3, 1, tzinfo=UTC)
    around = (int(change.timestamp()) - 3600, int(change.timestamp()) + 3600)
    assert today.days_go_back(today.offsets(goose_bay, *around))
    assert not today.days_go_back(today.offsets(ZoneInfo("America/Santiago"), 1775358000 - 3600, 1775358000 + 3600))
    assert not today.days_go_back(today.offsets(ZoneInfo("Europe/Berlin"), 1774746000 - 86400, 1774746000 + 86400))
    user = make_user(session, now=NOW)
    answers: list[Answer] = [
        (change - timedelta(hours=1), "Algebra", True, 60.0),       # 23:01 Saturday (-03)
        (change - timedelta(seconds=30), "Algebra", True, 120.0),   # 00:00:30 Sunday (-03)
        (change + timedelta(minutes=29), "Algebra", False, 240.0),  # 23:30 Saturday again (-04)
        (change + timedelta(hours=2), "Algebra", False, 480.0),     # 01:01 Sunday (-04)
        (change + timedelta(hours=3), "Algebra", True, 960.0),      # 02:01 Sunday
        (change + timedelta(hours=4), "Algebra", True, 30.0),       # 03:01 Sunday
    ]
    _store(session, user, answers)
    got = analytics.progress(session=session, user=user, zone=goose_bay, window=2)
    assert got.periods == ["2010-11-06", "2010-11-07"]
    assert got.answered == {"Algebra": [2, 4]}
    # Saturday ends with the third answer (its window: the second and third), Sunday with the sixth
    assert got.accuracy == {"Algebra": [0.5, 1.0]}
    assert got.median_seconds == {"Algebra": [180.0, 495.0]}
    assert got == _reference_progress(answers, goose_bay, 2)


@pytest.mark.parametrize("name", [zone for zone, _ in AROUND])
def test_a_year_of_weekly_points_reads_a_bounded_number_of_rows(session: Session, name: str) -> None:
    """A long history: a point per topic and week, each from the topic's latest answers (at most topics x weeks
    x window rows leave the database)."""
    from studysmart.analytics import aggregates

    zone = ZoneInfo(name)
    user = make_user(session, now=NOW)
    start = NOW - timedelta(days=364)
    answers: list[Answer] = [(start + timedelta(hours=7 * k + 0.5), TOPICS[k % 3], k % 4 != 0, 30.0 + k % 50)
                             for k in range(1200)]
    _store(session, user, answers)
    bucket, ends = aggregates.progress_windows(session, user, zone, 5)
    assert bucket == "week" and sum(len(end.latest) for end in ends) <= 3 * 53 * 5
    assert analytics.progress(session=session, user=user, zone=zone) == _reference_progress(answers, zone, 5)
    assert analytics.weekly_time(session=session, user=user, zone=zone) == _reference_weekly(answers, zone)


@pytest.mark.parametrize("name", [zone for zone, _ in AROUND])
def test_the_offsets_found_once_per_year_equal_a_direct_probe(name: str) -> None:
    """The cached per-year changes give the pieces a probe over the range itself finds, for ranges that start
    and end anywhere (within a year, across years, at a change)."""
    import random

    zone = ZoneInfo(name)
    rng = random.Random(name)
    center = int(dict(AROUND)[name].timestamp())
    ranges = [(center - 1, center), (center, center + 1), (center - 86400, center + 86400)]
    ranges += [(s, s + rng.randint(0, 3 * 365 * 86400)) for s in (rng.randint(0, 1_900_000_000) for _ in range(20))]
    for start, end in ranges:
        direct = [(start, today._offset(zone, start)), *today._probe_changes(zone, start, end)]
        assert today.offsets(zone, start, end) == direct, (start, end)
