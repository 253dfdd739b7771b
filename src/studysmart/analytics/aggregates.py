"""The progress lines and the weekly time as SQL over a student's completed tasks, the local days computed by the
database (``today.day_number_of``: the zone's offsets as a CASE over the history's time range).

The weekly time is a GROUP BY on (topic, local week). The progress lines need, per topic and period, the
topic's latest ``window`` answers as of the period's end: the database numbers each topic's answers in
completion order, marks each (topic, period)'s last one (its end) and returns only the answers within ``window``
of an end that follows them, so Python reads at most (topics x periods x window) rows however long the history
is, and computes each point from them exactly as from every answer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, literal, literal_column, select
from sqlalchemy.orm import Session

from studysmart.analytics.today import (
    completed_by,
    day_from_number,
    day_number_of,
    days_go_back,
    local_day,
    offsets,
)
from studysmart.tasks.models import Task, Topic
from studysmart.users.models import User

DAILY_BUCKET_MAX_DAYS = 35  # longer histories are shown per week


def _week_start(day: Any) -> Any:
    """SQL for the Monday of a local day number's week (1970-01-01 was a Thursday). The numbers are written
    inline: the same expression in a select and a window's partition is then computed once."""
    return day - (day + literal_column("3")) % literal_column("7")


@dataclass(frozen=True)
class LocalDays:
    """SQL for the local day number of the student's completions, the local days of the first and the last one,
    and whether a later completion can fall on an earlier local day in between (``today.days_go_back``)."""

    number: Any
    first: date
    last: date
    go_back: bool


def _local_days(session: Session, user: User, zone: ZoneInfo) -> LocalDays | None:
    """The student's ``LocalDays`` (None without completions)."""
    first, last = session.execute(select(func.min(Task.completed_at), func.max(Task.completed_at))
                                  .where(*completed_by(user))).one()
    if first is None or last is None:
        return None
    pieces = offsets(zone, int(first.timestamp()), int(last.timestamp()) + 1)
    return LocalDays(day_number_of(session, pieces), local_day(first, zone), local_day(last, zone),
                     days_go_back(pieces))


@dataclass(frozen=True)
class PeriodEnd:
    """A topic's answers in one period: how many, and the topic's latest ``window`` answers as of the period's
    last one ((correct, seconds taken), in completion order)."""

    topic: str
    period: date
    answered: int
    latest: list[tuple[bool | None, float | None]]


def progress_windows(session: Session, user: User, zone: ZoneInfo, window: int) -> tuple[str, list[PeriodEnd]]:
    """The bucket ("day", or "week" when the local days span more than 35) and every (topic, period)'s end."""
    local = _local_days(session, user, zone)
    if local is None:
        return "day", []
    # the local day computed once per answer (a materialised CTE: not again in each window's sort)
    done = (select(Task.topic_id, local.number.label("day"), Task.completed_at, Task.id, Task.correct,
                   Task.seconds_taken).where(*completed_by(user)).cte("done").prefix_with("MATERIALIZED"))
    span = (local.last - local.first).days
    if local.go_back:  # the first and the last completion's days need not be the first and the last day
        first, last = session.execute(select(func.min(done.c.day), func.max(done.c.day))).one()
        if first is None:  # deleted meanwhile
            return "day", []
        span = int(last) - int(first)
    bucket = "day" if span <= DAILY_BUCKET_MAX_DAYS else "week"
    period = (done.c.day if bucket == "day" else _week_start(done.c.day)).label("period")
    rows = (_windows_anywhere if local.go_back else _windows_in_order)(session, done, period, window)
    answers: dict[str, list[tuple[bool | None, float | None]]] = defaultdict(list)
    out = []
    for topic, number, is_end, n, correct, seconds in rows:  # each topic's in completion order
        answers[topic].append((correct, seconds))
        if is_end:
            out.append(PeriodEnd(topic, day_from_number(number), int(n), answers[topic][-window:]))
    return bucket, out


def _windows_in_order(session: Session, done: Any, period: Any, window: int) -> Any:
    """The rows of ``progress_windows`` when the periods follow completion order (each topic's answers of a period
    are consecutive): a period's latest ``window`` answers, counted back from its end, hold every answer within
    ``window`` of an end (a window reaching into an earlier period holds only answers close to that one's end).
    Rows (topic, period, is the end, answers in the period, correct, seconds), each topic's in completion order."""
    part, order = (done.c.topic_id, period), (done.c.completed_at.desc(), done.c.id.desc())
    ranked = select(done.c.topic_id, period, done.c.completed_at, done.c.id, done.c.correct, done.c.seconds_taken,
                    func.row_number().over(partition_by=part, order_by=order).label("back"),
                    func.count().over(partition_by=part, order_by=order, rows=(None, None)).label("n")).subquery()
    return session.execute(
        select(Topic.name, ranked.c.period, ranked.c.back == 1, ranked.c.n, ranked.c.correct, ranked.c.seconds_taken)
        .join(Topic, Topic.id == ranked.c.topic_id).where(ranked.c.back <= window)
        .order_by(ranked.c.topic_id, ranked.c.completed_at, ranked.c.id))


def _windows_anywhere(session: Session, done: Any, period: Any, window: int) -> Any:
    """The rows of ``_windows_in_order`` when a later answer can fall in an earlier period: each topic's answers
    numbered in completion order, each (topic, period)'s last one its end, and kept the answers within ``window``
    of the first end at or after them (the smallest end among the topic's answers from this one on)."""
    rn = func.row_number().over(partition_by=done.c.topic_id, order_by=(done.c.completed_at, done.c.id))
    numbered = select(done.c.topic_id, period, done.c.correct, done.c.seconds_taken, rn.label("rn")).subquery()
    part = (numbered.c.topic_id, numbered.c.period)
    ends = select(*numbered.c, func.max(numbered.c.rn).over(partition_by=part).label("end"),
                  func.count().over(partition_by=part).label("n")).subquery()
    following = select(*ends.c, func.min(ends.c.end).over(partition_by=ends.c.topic_id, order_by=ends.c.rn,
                                                          rows=(0, None)).label("next_end")).subquery()
    return session.execute(
        select(Topic.name, following.c.period, following.c.rn == following.c.end, following.c.n,
               following.c.correct, following.c.seconds_taken)
        .join(Topic, Topic.id == following.c.topic_id)
        .where(following.c.next_end - following.c.rn < literal(window))
        .order_by(following.c.topic_id, following.c.rn))


def weekly_seconds(session: Session, user: User, zone: ZoneInfo) -> dict[tuple[date, str], float]:
    """Per (local week's Monday, topic name): the seconds of the answers with a time."""
    local = _local_days(session, user, zone)
    if local is None:
        return {}
    week = _week_start(local.number).label("week")
    stmt = (select(week, Topic.name, func.sum(Task.seconds_taken))
            .join(Topic, Task.topic_id == Topic.id)
            .where(*completed_by(user), and_(Task.seconds_taken.is_not(None), Task.seconds_taken != 0))
            .group_by(week, Topic.name))
    return {(day_from_number(number), topic): float(seconds) for number, topic, seconds in session.execute(stmt)}


__all__ = ["DAILY_BUCKET_MAX_DAYS", "PeriodEnd", "progress_windows", "weekly_seconds"]
