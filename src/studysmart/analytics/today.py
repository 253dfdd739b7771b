"""Today at a glance for one student: the plan (unfinished tasks due today or earlier, or undated) with current
predictions, today's work, the streak and the last 7 days, read with bounded queries.

Today's and the week's figures read the completions of the last few weeks only; the streak reads further back
only while it reaches the start of what was read (so it costs as much as the streak is long, not the history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, case, cast, func, or_, select
from sqlalchemy.orm import Session

from studysmart.learning import serving as predictions
from studysmart.learning.prediction import ShownPrediction
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users.models import User

UTC = ZoneInfo("UTC")
RECENT = timedelta(days=40)  # completions read first: the last 7 days, today, and most streaks


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


def day_of(seconds: float, zone: ZoneInfo) -> date:
    """The calendar day in ``zone`` of a time given as seconds since 1970."""
    return datetime.fromtimestamp(seconds, zone).date()


#: (seconds since 1970, correct, seconds taken, within the last 7 days?) of a recent completion
Completion = tuple[int, bool | None, float | None, bool]


def _completions(session: Session, user: User, since: datetime, now: datetime) -> list[Completion]:
    week = case((Task.completed_at >= now - timedelta(days=7), True), else_=False)
    return list(session.execute(
        select(epoch_seconds(session, Task.completed_at), Task.correct, Task.seconds_taken, week)
        .where(Task.owner_id == user.id, Task.status == TaskStatus.DONE, Task.completed_at >= since)).all())


def _streak(session: Session, user: User, now: datetime, zone: ZoneInfo, recent: list[Completion]) -> int:
    """The streak, reading twice as far back each time it reaches the start of the completions read."""
    today, span, rows = local_day(now, zone), RECENT, recent
    first: datetime | None = None
    while True:
        since = now - span
        days = {day_of(done, zone) for done, *_ in rows}
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
        rows = _completions(session, user, now - span, now)


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
    recent = _completions(session, user, now - RECENT, now)
    today_rows = [(correct, seconds) for done, correct, seconds, _ in recent if day_of(done, zone) == today]
    week = [correct for _, correct, _, in_week in recent if in_week]
    return DaySummary(
        planned=planned,
        planned_seconds=planned_seconds,
        daily_goal_minutes=int(user.preference("daily_goal_minutes")),
        done_today=len(today_rows),
        seconds_today=float(sum(seconds or 0.0 for _, seconds in today_rows)),
        streak_days=_streak(session, user, now, zone, recent),
        week_answered=len(week),
        week_correct=sum(1 for correct in week if correct),
        planned_count=count,
    )
