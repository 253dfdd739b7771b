"""Analytics of one student's own answers: today at a glance, progress over time, calibration of the
predictions shown, ability per topic with its uncertainty, time per topic per week, and how every model scores
on this student's completed tasks (from the prediction logs).

Every function takes the user and reads only that user's rows. Days and weeks are the student's local ones
(``zone``). Uncertainty of a rate of k correct out of n is the 80% interval of its Beta(1 + k, 1 + n - k)
posterior (uniform prior), so a topic with three answers shows a wide interval rather than a confident 100%.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from scipy.special import betaincinv
from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from studysmart.analytics import aggregates
from studysmart.analytics.aggregates import DAILY_BUCKET_MAX_DAYS, PeriodEnd
from studysmart.analytics.today import (
    UTC,
    DaySummary,
    PlannedTask,
    completed_by,
    local_day,
    streak,
    today_summary,
)
from studysmart.learning import serving as predictions
from studysmart.learning.leaderboard import user_scores
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic
from studysmart.users.models import User

# today's summary (analytics.today) is part of this API too
__all__ = ["CalibrationBin", "DaySummary", "DoneRows", "DoneTask", "FirstSteps", "ModelScore", "PlannedTask",
           "Progress", "TimeCheck", "TopicAbility", "WeeklyTime", "abilities", "beta_interval", "calibration",
           "done_rows", "first_steps", "leaderboard", "progress", "streak", "time_checks", "today_summary",
           "user_topics", "weekly_time"]
LOW_Q, HIGH_Q = 0.1, 0.9  # an 80% interval, like the time intervals shown with predictions
ROLLING_WINDOW = 5  # answers per topic behind each point of the progress lines


@dataclass(frozen=True)
class Progress:
    """Per topic and period (a day, or a week for long histories): the share correct and the median time of
    the topic's latest ``window`` answers as of the end of the period (None in periods without answers in
    that topic), and the number answered in the period. A trailing window keeps one or two answers a day from
    drawing a line that jumps between 0% and 100%."""

    bucket: str  # "day" | "week"
    periods: list[str]  # ISO dates of each period's first day
    accuracy: dict[str, list[float | None]]
    median_seconds: dict[str, list[float | None]]
    answered: dict[str, list[int]]
    window: int = 5


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of shown P(correct): range, count, mean prediction, and the observed rate with its interval."""

    low: float
    high: float
    count: int
    mean_predicted: float | None
    observed: float | None
    observed_low: float | None
    observed_high: float | None


@dataclass(frozen=True)
class TimeCheck:
    """A completed task's predicted time (with its 80% range) against the time it took."""

    task_id: int
    title: str
    topic: str
    completed_at: datetime
    expected_seconds: float
    seconds_low: float
    seconds_high: float
    actual_seconds: float

    @property
    def inside(self) -> bool:
        """Whether the actual time fell inside the predicted range."""
        return self.seconds_low <= self.actual_seconds <= self.seconds_high


@dataclass(frozen=True)
class TopicAbility:
    """How well the student does in one topic: the answered rate with its 80% Beta interval, and what the
    serving model predicts for a medium task now."""

    topic: str
    answered: int
    correct: int
    mean: float
    low: float
    high: float
    predicted: float | None
    model: str | None
    source: str | None


@dataclass(frozen=True)
class WeeklyTime:
    """Minutes spent per topic per local week (weeks start on Monday)."""

    weeks: list[str]
    minutes: dict[str, list[float]]


@dataclass(frozen=True)
class ModelScore:
    """One model's scores on this student's completed tasks (from predictions logged before each answer)."""

    model: str
    serving: bool
    n: int
    log_loss: float | None
    auc: float | None
    brier: float | None
    mae_seconds: float | None
    coverage80: float | None


def beta_interval(correct: int, answered: int) -> tuple[float, float, float]:
    """Posterior mean and 80% interval of a rate from ``correct`` of ``answered`` (uniform prior).

    Args:
        correct: number correct.
        answered: number answered.

    Returns:
        (mean, low, high).
    """
    a, b = 1.0 + correct, 1.0 + answered - correct
    low, high = betaincinv(a, b, [LOW_Q, HIGH_Q])
    return a / (a + b), float(low), float(high)


_local_day = local_day


@dataclass(frozen=True, slots=True)
class DoneTask:
    """The columns of a completed task the analytics read (a plain row, not an ORM object)."""

    id: int
    title: str
    topic_id: int
    completed_at: datetime
    correct: bool | None
    seconds_taken: float | None
    p_correct: float | None
    expected_seconds: float | None
    seconds_low: float | None
    seconds_high: float | None


DoneRows = list[tuple[DoneTask, str]]
_DONE_COLUMNS = (Task.id, Task.title, Task.topic_id, Task.completed_at, Task.correct, Task.seconds_taken,
                 Task.p_correct, Task.expected_seconds, Task.seconds_low, Task.seconds_high)


def done_rows(*, session: Session, user: User) -> DoneRows:
    """The student's completed tasks with their topic names, in completion order (load once, pass as ``done``)."""
    return _done_rows(session, user)


def _or_load(done: DoneRows | None, session: Session, user: User) -> DoneRows:
    return _done_rows(session, user) if done is None else done


#: (local day, correct, seconds taken, topic name) of each completed task, in completion order
Answers = list[tuple[date, bool | None, float | None, str]]


def _answers(done: DoneRows, zone: ZoneInfo) -> Answers:
    """The local day, outcome, time and topic of every completed task of ``done``."""
    return [(_local_day(task.completed_at, zone), task.correct, task.seconds_taken, topic)
            for task, topic in done if task.completed_at]


def _to_done(row: Any) -> tuple[DoneTask, str]:
    return DoneTask(*row[:-1]), row[-1]


def _done_rows(session: Session, user: User) -> DoneRows:
    stmt = (select(*_DONE_COLUMNS, Topic.name).join(Topic, Task.topic_id == Topic.id).where(*completed_by(user))
            .order_by(Task.completed_at, Task.id))
    return [_to_done(row) for row in session.execute(stmt)]


@dataclass(frozen=True)
class FirstSteps:
    """A newcomer's three steps: add a task, time it, mark its outcome; ``done`` once a task is marked."""

    added: bool
    timed: bool
    marked: bool

    @property
    def done(self) -> bool:
        return self.marked


def first_steps(*, session: Session, user: User) -> FirstSteps:
    """Which of the three first steps this student's tasks show (a started task counts as timed)."""
    own = Task.owner_id == user.id
    added, timed, marked = session.execute(select(
        exists().where(own), exists().where(own, Task.started_at.is_not(None)),
        exists().where(own, Task.status == TaskStatus.DONE))).one()
    return FirstSteps(added=bool(added), timed=bool(timed or marked), marked=bool(marked))


def user_topics(*, session: Session, user: User) -> list[str]:
    """The names of the topics this student has tasks in, alphabetically (ignoring case)."""
    stmt = (select(Topic.name).join(Task, Task.topic_id == Topic.id).where(Task.owner_id == user.id)
            .group_by(Topic.id, Topic.name, Topic.key).order_by(Topic.key))
    return list(session.scalars(stmt))


def _period_start(day: date, bucket: str) -> date:
    return day - timedelta(days=day.weekday()) if bucket == "week" else day


def _median(values: list[float]) -> float | None:
    """The median (the mean of the middle two for an even count), None for no values."""
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _python_windows(answers: Answers, window: int) -> tuple[str, list[PeriodEnd]]:
    """``aggregates.progress_windows`` computed in Python from every answer (from rows already loaded)."""
    if not answers:
        return "day", []
    days = [day for day, *_ in answers]
    bucket = "day" if (max(days) - min(days)).days <= DAILY_BUCKET_MAX_DAYS else "week"
    recent: dict[str, list[tuple[bool | None, float | None]]] = defaultdict(list)
    ends: dict[tuple[str, date], int] = {}  # (topic, period) -> how many of the topic's answers by its end
    answered: dict[tuple[str, date], int] = defaultdict(int)
    for day, correct, seconds, topic in answers:  # in completion order
        period = _period_start(day, bucket)
        recent[topic].append((correct, seconds))
        answered[(topic, period)] += 1
        ends[(topic, period)] = len(recent[topic])
    return bucket, [PeriodEnd(topic, period, answered[(topic, period)], recent[topic][max(0, end - window):end])
                    for (topic, period), end in ends.items()]


def progress(*, session: Session, user: User, zone: ZoneInfo = UTC, window: int = ROLLING_WINDOW,
             done: DoneRows | None = None) -> Progress:
    """Accuracy and median time of each topic's latest ``window`` answers, per day (per week when the history
    spans more than 35 days): from ``done`` if loaded, else the database returns only the windows' answers."""
    if done is None:
        bucket, ends = aggregates.progress_windows(session, user, zone, window)
    else:
        bucket, ends = _python_windows(_answers(done, zone), window)
    if not ends:
        return Progress("day", [], {}, {}, {}, window)
    periods = sorted({end.period for end in ends})
    index = {period: i for i, period in enumerate(periods)}
    topics = sorted({end.topic for end in ends})
    accuracy: dict[str, list[float | None]] = {t: [None] * len(periods) for t in topics}
    median: dict[str, list[float | None]] = {t: [None] * len(periods) for t in topics}
    answered: dict[str, list[int]] = {t: [0] * len(periods) for t in topics}
    for end in ends:  # each period's value: the window ending with its last answer
        i = index[end.period]
        answered[end.topic][i] = end.answered
        accuracy[end.topic][i] = sum(bool(correct) for correct, _ in end.latest) / len(end.latest)
        median[end.topic][i] = _median([seconds for _, seconds in end.latest if seconds])
    return Progress(bucket=bucket, periods=[p.isoformat() for p in periods], accuracy=accuracy,
                    median_seconds=median, answered=answered, window=window)


def _bin(p: float, bins: int) -> int | None:
    """The bin k with k / bins <= p < (k + 1) / bins (the last one also holds 1.0); None outside [0, 1]."""
    k = min(max(int(p * bins), 0), bins - 1)
    while k > 0 and p < k / bins:  # p * bins may round across a bin's edge
        k -= 1
    while k < bins - 1 and p >= (k + 1) / bins:
        k += 1
    return k if k / bins <= p < (k + 1) / bins or (k == bins - 1 and p == 1.0) else None


def calibration(*, session: Session, user: User, bins: int = 10, done: DoneRows | None = None
                ) -> list[CalibrationBin]:
    """The P(correct) shown at creation against the outcomes, in ``bins`` equal-width bins."""
    if done is None:
        rows = [(float(p or 0.0), bool(y)) for p, y in session.execute(
            select(Task.p_correct, Task.correct).where(*completed_by(user), Task.p_correct.is_not(None),
                                                       Task.correct.is_not(None))
            .order_by(Task.completed_at, Task.id))]  # completion order, as in done_rows (the same mean)
    else:
        rows = [(float(task.p_correct), bool(task.correct)) for task, _ in done
                if task.p_correct is not None and task.correct is not None]
    binned: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for p, y in rows:
        k = _bin(p, bins)
        if k is not None:
            binned[k].append((p, y))
    out = []
    for k, inside in enumerate(binned):
        low, high = k / bins, (k + 1) / bins
        if not inside:
            out.append(CalibrationBin(low, high, 0, None, None, None, None))
            continue
        hits = sum(y for _, y in inside)
        _, lo, hi = beta_interval(hits, len(inside))
        out.append(CalibrationBin(low, high, len(inside), float(np.mean([p for p, _ in inside])),
                                  hits / len(inside), lo, hi))
    return out


def time_checks(*, session: Session, user: User, limit: int = 200, done: DoneRows | None = None) -> list[TimeCheck]:
    """The latest completed tasks with a predicted time range, oldest first."""
    if done is None:
        ranged = [column.is_not(None) & (column != 0) for column in
                  (Task.expected_seconds, Task.seconds_low, Task.seconds_high, Task.seconds_taken)]
        latest = session.execute(
            select(*_DONE_COLUMNS, Topic.name).join(Topic, Task.topic_id == Topic.id)
            .where(*completed_by(user), *ranged).order_by(Task.completed_at.desc(), Task.id.desc()).limit(limit)).all()
        done = [_to_done(row) for row in reversed(latest)]
    out = [TimeCheck(task.id, task.title, topic, task.completed_at, task.expected_seconds, task.seconds_low,
                     task.seconds_high, task.seconds_taken)
           for task, topic in _or_load(done, session, user)
           if task.completed_at and task.expected_seconds and task.seconds_low and task.seconds_high
           and task.seconds_taken]
    return out[-limit:]


def abilities(*, session: Session, user: User, now: datetime, done: DoneRows | None = None) -> list[TopicAbility]:
    """Per topic the student has answered: the rate with its 80% interval and the serving model's P(correct)
    for a medium task now (the model's view, which also uses other students' data)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    topic_ids: dict[str, int] = {}
    if done is None:
        for topic_id, name, answered, correct in session.execute(
                select(Topic.id, Topic.name, func.count(), func.sum(case((Task.correct.is_(True), 1), else_=0)))
                .join(Topic, Task.topic_id == Topic.id).where(*completed_by(user)).group_by(Topic.id, Topic.name)
                .order_by(Topic.id)):
            counts[name][0] += int(answered)
            counts[name][1] += int(correct or 0)
            topic_ids[name] = topic_id
    else:
        for task, name in done:
            counts[name][0] += 1
            counts[name][1] += int(bool(task.correct))
            topic_ids[name] = task.topic_id
    if not counts:
        return []
    names = sorted(counts)
    topics = {t.id: t for t in session.scalars(select(Topic).where(Topic.id.in_(set(topic_ids.values()))))}
    served = predictions.predict_cells(session=session, user=user, now=now,  # one model call for every topic
                                       cells=[(topics[topic_ids[name]].key, Difficulty.MEDIUM) for name in names])
    out = []
    for k, name in enumerate(names):
        answered, correct = counts[name]
        mean, low, high = beta_interval(correct, answered)
        shown = served[k]
        out.append(TopicAbility(name, answered, correct, mean, low, high, shown.p_correct, shown.model,
                                shown.source))
    return out


def weekly_time(*, session: Session, user: User, zone: ZoneInfo = UTC, done: DoneRows | None = None) -> WeeklyTime:
    """Minutes per topic per local week (each week's seconds, in minutes rounded to 0.1; a GROUP BY unless loaded)."""
    if done is None:
        seconds = aggregates.weekly_seconds(session, user, zone)
    else:
        seconds = defaultdict(float)
        for day, _, taken, topic in _answers(done, zone):
            if taken:
                seconds[(_period_start(day, "week"), topic)] += taken
    weeks = sorted({week for week, _ in seconds})
    names = sorted({topic for _, topic in seconds})
    return WeeklyTime(weeks=[w.isoformat() for w in weeks],
                      minutes={t: [round(seconds.get((w, t), 0.0) / 60.0, 1) for w in weeks] for t in names})


def leaderboard(*, session: Session, user: User) -> list[ModelScore]:
    """Every model with scored predictions for this student, best log loss first; marks the serving one (the
    AUC over each model's latest ``AUC_WINDOW`` scored predictions)."""
    serving = predictions.serving_model_name(session, user)
    out = [ModelScore(model=model, serving=model == serving, **scores)
           for model, scores in user_scores(session, user_id=user.id).items()]
    return sorted(out, key=lambda s: (s.log_loss is None, s.log_loss or 0.0, s.model))
