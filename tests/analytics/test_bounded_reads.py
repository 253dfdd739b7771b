"""The analytics and the dashboard read what they show: columns rather than task objects, the dashboard's first
tasks only, a streak that reads back only as far as it goes, and local days counted by the database as Python
counts them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from studysmart.analytics import service as analytics
from studysmart.analytics import today
from studysmart.core.db import utcnow
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users.models import User
from tests.factories import make_task, make_user

NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


@contextmanager
def _task_objects_loaded() -> Iterator[list[int]]:
    """The ids of Task ORM objects loaded from the database meanwhile."""
    loaded: list[int] = []

    def on_load(target: Task, context: Any) -> None:
        loaded.append(target.id)

    event.listen(Task, "load", on_load)
    try:
        yield loaded
    finally:
        event.remove(Task, "load", on_load)


def _done(session: Session, user: User, days_back: list[int], topics: tuple[str, ...] = ("Algebra", "Geometry")
          ) -> None:
    """Completed tasks (bulk rows), one per entry of ``days_back`` (days before NOW)."""
    made = [tasks.get_or_create_topic(session=session, name=name) for name in topics]
    session.flush()
    topic_ids = [topic.id for topic in made]
    session.execute(insert(Task), [{
        "owner_id": user.id, "topic_id": topic_ids[k % len(topic_ids)], "title": f"Done {k}",
        "difficulty": Difficulty.MEDIUM, "status": TaskStatus.DONE, "created_at": NOW - timedelta(days=d, hours=1),
        "completed_at": NOW - timedelta(days=d, minutes=10), "correct": k % 3 != 0, "seconds_taken": 60.0 + k,
        "p_correct": 0.05 + (k % 19) / 20, "expected_seconds": 90.0, "seconds_low": 40.0, "seconds_high": 200.0,
    } for k, d in enumerate(days_back)])
    session.flush()


def test_the_charts_read_columns_not_task_objects(session: Session) -> None:
    user = make_user(session, now=NOW)
    _done(session, user, [k // 3 for k in range(60)])
    with _task_objects_loaded() as loaded:
        done = analytics.done_rows(session=session, user=user)
        progress = analytics.progress(session=session, user=user)
        bins = analytics.calibration(session=session, user=user)
        checks = analytics.time_checks(session=session, user=user, limit=25)
        abilities = analytics.abilities(session=session, user=user, now=NOW)
        weekly = analytics.weekly_time(session=session, user=user)
        summary = analytics.today_summary(session=session, user=user, now=NOW)
    assert loaded == []
    assert len(done) == 60 and sum(progress.answered["Algebra"]) == 30
    assert sum(b.count for b in bins) == 60 and [c.task_id for c in checks] == [t.id for t, _ in done][-25:]
    assert [(a.topic, a.answered, a.correct) for a in abilities] == [("Algebra", 30, 20), ("Geometry", 30, 20)]
    assert all(a.predicted is not None and 0 < a.predicted < 1 for a in abilities)
    assert sum(weekly.minutes["Algebra"]) > 0 and summary.streak_days == 20 and summary.done_today == 3
    # the same figures from the rows loaded once (the analytics page's way)
    assert analytics.calibration(session=session, user=user, done=done) == bins
    assert analytics.time_checks(session=session, user=user, limit=25, done=done) == checks
    assert analytics.abilities(session=session, user=user, now=NOW, done=done) == abilities
    for zone in (ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kathmandu")):  # local days from stored seconds
        assert (analytics.progress(session=session, user=user, zone=zone)
                == analytics.progress(session=session, user=user, zone=zone, done=done))
        assert (analytics.weekly_time(session=session, user=user, zone=zone)
                == analytics.weekly_time(session=session, user=user, zone=zone, done=done))


def test_a_medium_prediction_per_topic_is_what_predict_task_says(session: Session) -> None:
    user = make_user(session, now=NOW)
    _done(session, user, list(range(12)), topics=("Algebra", "Geometry", "Probability"))
    got = analytics.abilities(session=session, user=user, now=NOW)
    topics = {t.name: t for t in (tasks.get_or_create_topic(session=session, name=n)
                                  for n in ("Algebra", "Geometry", "Probability"))}
    for ability in got:
        one = analytics.predictions.predict_task(session=session, user=user, topic=topics[ability.topic],
                                                 difficulty=Difficulty.MEDIUM, now=NOW)
        assert (ability.predicted, ability.model, ability.source) == (pytest.approx(one.p_correct), one.model,
                                                                      one.source)


def test_the_dashboard_reads_only_the_tasks_it_shows(session: Session) -> None:
    from studysmart.web.pages.dashboard import SHOWN_PLANNED, _load

    user = make_user(session, now=NOW)
    today = [make_task(session, user, now=NOW - timedelta(minutes=30 - k), title=f"Open {k}").id for k in range(20)]
    later = []
    for k in range(4):  # due next week: not today's
        task = make_task(session, user, now=NOW - timedelta(minutes=40 - k), title=f"Later {k}")
        task.due_date = (NOW + timedelta(days=7)).date()
        later.append(task.id)
    for k in range(6):
        done = make_task(session, user, now=NOW - timedelta(days=3, minutes=k), title=f"Done {k}")
        tasks.complete_task(session=session, user=user, task_id=done.id, correct=True, seconds=60.0,
                            now=NOW - timedelta(days=3))
    session.commit()
    session.expunge_all()
    with _task_objects_loaded() as loaded:
        data = _load(ZoneInfo("UTC"))(session, user)
    # Today's list (its count and total time are shown) is every open task for today; nothing else is loaded:
    # no answer, no task due later, whatever the length of the history.
    assert set(loaded) <= set(today), loaded
    assert len(data.today.entries) >= len(today)
    full = analytics.today_summary(session=session, user=user, now=utcnow())  # every task, as the API reads
    assert data.summary.planned_count == len(full.planned) >= 20
    assert [t.id for t in data.summary.planned] == [t.id for t in full.planned][:SHOWN_PLANNED]
    # the other tasks' time is the one predicted at their creation (the same model here: the same figure)
    assert data.summary.planned_seconds == pytest.approx(full.planned_seconds, rel=1e-6)


def test_a_long_streak_is_counted_to_its_first_day(session: Session) -> None:
    user = make_user(session, now=NOW)
    _done(session, user, [*range(0, 130), *range(131, 140)])  # 130 days in a row, a day off, 9 more
    summary = analytics.today_summary(session=session, user=user, now=NOW)
    assert summary.streak_days == 130
    assert (summary.week_answered, summary.done_today) == (7, 1)
    other = make_user(session, now=NOW)
    _done(session, other, [1, 2, 3])  # nothing today yet: the streak ends yesterday
    assert analytics.today_summary(session=session, user=other, now=NOW).streak_days == 3


ZONES = ["UTC", "Europe/Berlin", "America/Santiago", "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns"]
NOWS = [datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 4, 5, 3, 30, tzinfo=UTC),
        datetime(2026, 9, 6, 4, 10, tzinfo=UTC), NOW]


def _moments_around_local_days(rng: np.random.Generator) -> list[datetime]:
    """Completion times for the zones: random ones over 400 days, and some within a second or an hour of each
    offset change (found hour by hour) and of local midnights near each of NOWS."""
    start = NOW - timedelta(days=400)
    moments = [start + timedelta(seconds=float(s)) for s in rng.uniform(0, 401 * 86400, 250)]
    for name in ZONES[1:]:
        zone = ZoneInfo(name)
        hours = [start + timedelta(hours=h) for h in range(401 * 24)]
        for before, after in pairwise(hours):
            if before.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
                moments += [after + timedelta(seconds=s) for s in (-3600, -1, 0, 1, 1800)]
        for now in NOWS:
            for k in range(-2, 3):
                midnight = datetime.combine(now.astimezone(zone).date() + timedelta(days=k), time(0), tzinfo=zone)
                moments += [midnight.astimezone(UTC) + timedelta(seconds=s) for s in (-1, 0, 1)]
    return [m.replace(microsecond=0) + timedelta(microseconds=int(rng.integers(0, 10**6))) for m in moments]


def test_todays_figures_and_the_streak_count_local_days_as_python_does(session: Session) -> None:
    user = make_user(session, now=NOW)
    topic = tasks.get_or_create_topic(session=session, name="Algebra")
    session.flush()
    rng = np.random.default_rng(16)
    moments = _moments_around_local_days(rng)
    seconds = [float(s) for s in rng.uniform(30, 900, len(moments))]
    correct = [bool(c) for c in rng.random(len(moments)) < 0.6]
    session.execute(insert(Task), [{
        "owner_id": user.id, "topic_id": topic.id, "title": "Done", "difficulty": Difficulty.MEDIUM,
        "status": TaskStatus.DONE, "created_at": at - timedelta(hours=1), "completed_at": at, "correct": ok,
        "seconds_taken": s} for at, s, ok in zip(moments, seconds, correct, strict=True)])
    session.flush()
    for name in ZONES:
        zone = ZoneInfo(name)
        local = [m.astimezone(zone).date() for m in moments]
        assert today._local_days(session, user, NOW - timedelta(days=401), NOW, zone) == set(local), name
        for now in NOWS:
            day = now.astimezone(zone).date()
            summary = analytics.today_summary(session=session, user=user, now=now, zone=zone)
            done_today = [s for d, s in zip(local, seconds, strict=True) if d == day]
            week = [ok for m, ok in zip(moments, correct, strict=True) if m >= now - timedelta(days=7)]
            assert summary.done_today == len(done_today), (name, now)
            assert summary.seconds_today == pytest.approx(sum(done_today), rel=1e-12), (name, now)
            assert (summary.week_answered, summary.week_correct) == (len(week), sum(week)), (name, now)
            assert summary.streak_days == analytics.streak(set(local), day), (name, now)
