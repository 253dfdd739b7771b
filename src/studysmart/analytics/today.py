"""Today at a glance for one student: the plan (unfinished tasks due today or earlier, or undated) with current
predictions, today's work, the streak and the last 7 days, read with bounded queries.

Today's and the week's figures are SQL aggregates over their own time ranges; the streak reads the local days with
a completion (one row per day, the day computed by the database) over 40 days, and further back only while it
reaches the start of what was read (so it costs as much as the streak is long, not the history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from studysmart.learning import serving as predictions
from studysmart.learning.prediction import ShownPrediction
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users.models import User

UTC = ZoneInfo("UTC")
RECENT = timedelta(days=40)  # the days the streak reads first (most streaks are shorter)
_PROBE = 6 * 3600  # no zone has changed its UTC offset twice within 6 hours
_DAY = 86400
_EPOCH_DAY = date(1970, 1, 1)


@dataclass(frozen=True)
class PlannedTask:
    """An unfinished task with its current prediction (what the serving model says now)."""

    id: int
    title: str
    topic: str
    difficulty: str
    status: str
    prediction: ShownPrediction | None
    started_at: datetime | None


@dataclass(frozen=True)
class DaySummary:
    """Today at a glance. ``planned`` holds the first tasks of today's plan (all of them unless a number shown
    was asked for), ``planned_count`` how many there are in all, ``planned_seconds`` their predicted time."""

    planned: list[PlannedTask]
    planned_seconds: float
    daily_goal_minutes: int
    done_today: int
    seconds_today: float
    streak_days: int
    week_answered: int
    week_correct: int
    planned_count: int = 0

    @property
    def week_accuracy(self) -> float | None:
        """Share correct over the last 7 days (None without answers)."""
        return self.week_correct / self.week_answered if self.week_answered else None


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    """The student's calendar day of a moment."""
    return moment.astimezone(zone).date()


def streak(days: set[date], today: date) -> int:
    """Consecutive days with a completion, ending today (or yesterday, while today is still open)."""
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count


def _planned(task: Task, current: ShownPrediction | None) -> PlannedTask:
    return PlannedTask(id=task.id, title=task.title, topic=task.topic.name,
                       difficulty=Difficulty(task.difficulty).value,
                       status=TaskStatus(task.status).value, prediction=current, started_at=task.started_at)


def epoch_seconds(session: Session, column: Any) -> Any:
    """SQL for a stored UTC time as whole seconds since 1970 (a number: no datetime to build per row). Whole
    seconds suffice for calendar days: every midnight falls on a whole second."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def completed_by(user: User) -> tuple[Any, ...]:
    """The conditions of ``user``'s completed tasks (with a completion time): the analytics' answers."""
    return (Task.owner_id == user.id, Task.status == TaskStatus.DONE, Task.completed_at.is_not(None))


def day_of(seconds: float, zone: ZoneInfo) -> date:
    """The calendar day in ``zone`` of a time given as seconds since 1970."""
    return datetime.fromtimestamp(seconds, zone).date()


def _offset(zone: ZoneInfo, at: int) -> int:
    shift = datetime.fromtimestamp(at, zone).utcoffset()
    return int(shift.total_seconds()) if shift is not None else 0


def _probe_changes(zone: ZoneInfo, start: int, end: int) -> list[tuple[int, int]]:
    """The zone's offset changes in (``start``, ``end``] as (from, offset), found to the second between 6-hour
    probes."""
    changes: list[tuple[int, int]] = []
    current, probe = _offset(zone, start), start
    while probe < end:
        step = min(probe + _PROBE, end)
        if _offset(zone, step) != current:
            low, high = probe, step  # offset(low) is the current one, offset(high) is not
            while high - low > 1:
                mid = (low + high) // 2
                low, high = (mid, high) if _offset(zone, mid) == current else (low, mid)
            current = _offset(zone, high)
            changes.append((high, current))
        probe = step
    return changes


@lru_cache(maxsize=4096)
def _year_changes(zone: ZoneInfo, year: int) -> tuple[tuple[int, int], ...]:
    """The zone's offset changes in one UTC year (after its first second, up to the next year's): found once
    per process, so a long history costs no more probes than a short one."""
    bounds = [int(datetime(y, 1, 1, tzinfo=UTC).timestamp()) for y in (year, year + 1)]
    return tuple(_probe_changes(zone, *bounds))


def offsets(zone: ZoneInfo, start: int, end: int) -> list[tuple[int, int]]:
    """The zone's UTC offset (seconds) from ``start`` to ``end`` (seconds since 1970) as (from, offset) pieces:
    each offset holds from its ``from`` until the next piece's (the changes of each UTC year found once)."""
    first, last = (datetime.fromtimestamp(at, UTC).year for at in (start, end))
    pieces = [(start, _offset(zone, start))]
    for year in range(first, last + 1):
        pieces += [(at, offset) for at, offset in _year_changes(zone, year) if start < at <= end]
    return pieces


def day_number_of(session: Session, pieces: list[tuple[int, int]]) -> Any:
    """SQL for the local day of a task's completion as days since 1970-01-01, given the zone's offsets over the
    completions' time range (``offsets``; later ones keep the last offset): (seconds since 1970 + the offset then)
    // 86400, the offset a CASE over the changes."""
    epoch = epoch_seconds(session, Task.completed_at)
    shift: Any = literal(pieces[0][1])
    if len(pieces) > 1:
        shift = case(*[(epoch < begin, literal(before)) for (_, before), (begin, _) in pairwise(pieces)],
                     else_=literal(pieces[-1][1]))
    return (epoch + shift) // literal(_DAY)  # whole seconds, all after 1970: integer division


def days_go_back(pieces: list[tuple[int, int]]) -> bool:
    """Whether a later moment can fall on an earlier local day: a change to a smaller offset that sets the
    clocks back across midnight (as in Goose Bay until 2010, where 00:01 on a Sunday became 23:01 on the
    Saturday; not where 24:00 becomes 23:00, as in Chile)."""
    return any((begin - 1 + before) // _DAY > (begin + after) // _DAY
               for (_, before), (begin, after) in pairwise(pieces))


def day_from_number(number: int) -> date:
    """The date of a day counted from 1970-01-01 (``day_number_of``)."""
    return _EPOCH_DAY + timedelta(days=int(number))


def _local_days(session: Session, user: User, since: datetime, now: datetime, zone: ZoneInfo) -> set[date]:
    """The student's local days with a completion at or after ``since``, one row per day from the database: the
    local day is (seconds since 1970 + the zone's offset then) // 86400, with the offset as a CASE over the
    zone's changes from ``since`` to two days after ``now`` (later completions keep the last offset: none of them
    falls on today or earlier)."""
    day = day_number_of(session, offsets(zone, int(since.timestamp()), int(now.timestamp()) + 2 * _DAY))
    rows = session.execute(select(day).distinct().where(
        Task.owner_id == user.id, Task.status == TaskStatus.DONE, Task.completed_at >= since))
    return {day_from_number(k) for (k,) in rows}


def _streak(session: Session, user: User, now: datetime, zone: ZoneInfo) -> int:
    """The streak, reading twice as far back each time it reaches the start of the days read."""
    today, span = local_day(now, zone), RECENT
    first: datetime | None = None
    while True:
        since = now - span
        days = _local_days(session, user, since, now, zone)
        count = streak(days, today)
        gap = (today if today in days else today - timedelta(days=1)) - timedelta(days=count)  # ends the streak
        if gap > local_day(since, zone):
            return count
        if first is None:
            first = session.scalar(select(func.min(Task.completed_at)).where(
                Task.owner_id == user.id, Task.status == TaskStatus.DONE))
        if first is None or first >= since:
            return count
        span *= 2


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first moment of a local day (its midnight, or the end of a gap that skips midnight), in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _recent_counts(session: Session, user: User, now: datetime, zone: ZoneInfo) -> tuple[int, float, int, int]:
    """Today's completions and their seconds, and the last 7 days' answers and correct ones (SQL aggregates)."""
    today = local_day(now, zone)
    start, end = _day_start(today, zone), _day_start(today + timedelta(days=1), zone)
    week = now - timedelta(days=7)
    is_today = (Task.completed_at >= start) & (Task.completed_at < end)
    in_week = Task.completed_at >= week
    row = session.execute(select(
        func.count(case((is_today, 1))), func.sum(case((is_today, func.coalesce(Task.seconds_taken, 0.0)))),
        func.count(case((in_week, 1))), func.count(case((in_week & Task.correct.is_(True), 1))))
        .where(Task.owner_id == user.id, Task.status == TaskStatus.DONE, Task.completed_at >= min(start, week))
    ).one()
    return int(row[0]), float(row[1] or 0.0), int(row[2]), int(row[3])


def today_summary(*, session: Session, user: User, now: datetime, zone: ZoneInfo = UTC,
                  shown: int | None = None) -> DaySummary:
    """Today's plan (unfinished tasks due today or earlier, or undated; in progress first) with each task's
    current prediction, today's work, the streak and the accuracy of the last 7 days.

    ``shown``: read only the first ``shown`` tasks of the plan (the others are counted, and their time is the
    one predicted when they were created)."""
    today = local_day(now, zone)
    plan = (Task.owner_id == user.id, Task.status != TaskStatus.DONE,
            or_(Task.due_date.is_(None), Task.due_date <= today))
    stmt = select(Task).where(*plan).order_by(Task.status, Task.due_date, Task.created_at, Task.id)
    open_tasks = list(session.scalars(stmt if shown is None else stmt.limit(shown)))
    current = predictions.predict_tasks(session=session, user=user, tasks=open_tasks, now=now)  # one model call
    planned = [_planned(task, current.get(task.id)) for task in open_tasks]
    planned_seconds = float(sum(t.prediction.expected_seconds for t in planned if t.prediction is not None))
    count = len(open_tasks)
    if shown is not None and count == shown:
        more, stored = session.execute(select(func.count(), func.sum(Task.expected_seconds)).where(
            *plan, Task.id.not_in([task.id for task in open_tasks]))).one()
        count += int(more)
        planned_seconds += float(stored or 0.0)
    done_today, seconds_today, week_answered, week_correct = _recent_counts(session, user, now, zone)
    return DaySummary(
        planned=planned,
        planned_seconds=planned_seconds,
        daily_goal_minutes=int(user.preference("daily_goal_minutes")),
        done_today=done_today,
        seconds_today=seconds_today,
        streak_days=_streak(session, user, now, zone),
        week_answered=week_answered,
        week_correct=week_correct,
        planned_count=count,
    )
