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
from zoneinfo import ZoneInfo

import numpy as np
from scipy.special import betaincinv
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from studysmart.learning import history as stored_answers
from studysmart.learning import serving as predictions
from studysmart.learning.leaderboard import user_scores
from studysmart.learning.prediction import ShownPrediction
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic
from studysmart.users.models import User

UTC = ZoneInfo("UTC")
LOW_Q, HIGH_Q = 0.1, 0.9  # an 80% interval, like the time intervals shown with predictions
DAILY_BUCKET_MAX_DAYS = 35  # longer histories are shown per week
ROLLING_WINDOW = 5  # answers per topic behind each point of the progress lines


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
    """Today at a glance."""

    planned: list[PlannedTask]
    planned_seconds: float
    daily_goal_minutes: int
    done_today: int
    seconds_today: float
    streak_days: int
    week_answered: int
    week_correct: int

    @property
    def week_accuracy(self) -> float | None:
        """Share correct over the last 7 days (None without answers)."""
        return self.week_correct / self.week_answered if self.week_answered else None


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


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


DoneRows = list[tuple[Task, str]]


def done_rows(*, session: Session, user: User) -> DoneRows:
    """The student's completed tasks with their topic names, in completion order (load once, pass as ``done``)."""
    return _done_rows(session, user)


def _or_load(done: DoneRows | None, session: Session, user: User) -> DoneRows:
    return _done_rows(session, user) if done is None else done


def _done_rows(session: Session, user: User) -> DoneRows:
    stmt = (select(Task, Topic.name).join(Topic, Task.topic_id == Topic.id)
            .where(Task.owner_id == user.id, Task.status == TaskStatus.DONE, Task.completed_at.is_not(None))
            .order_by(Task.completed_at, Task.id))
    return [(task, name) for task, name in session.execute(stmt)]


def _planned(task: Task, current: ShownPrediction | None) -> PlannedTask:
    return PlannedTask(id=task.id, title=task.title, topic=task.topic.name,
                       difficulty=Difficulty(task.difficulty).value,
                       status=TaskStatus(task.status).value, prediction=current, started_at=task.started_at)


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


def streak(days: set[date], today: date) -> int:
    """Consecutive days with a completion, ending today (or yesterday, while today is still open)."""
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count


def today_summary(*, session: Session, user: User, now: datetime, zone: ZoneInfo = UTC) -> DaySummary:
    """Today's plan (unfinished tasks due today or earlier, or undated) with each task's current prediction and
    their predicted time, today's work, the streak and the accuracy of the last 7 days."""
    today = _local_day(now, zone)
    stmt = (select(Task).where(Task.owner_id == user.id, Task.status != TaskStatus.DONE,
                               or_(Task.due_date.is_(None), Task.due_date <= today))
            .order_by(Task.status, Task.due_date, Task.created_at, Task.id))  # in progress first
    open_tasks = list(session.scalars(stmt))
    current = predictions.predict_tasks(session=session, user=user, tasks=open_tasks, now=now)  # one model call
    planned = [_planned(task, current.get(task.id)) for task in open_tasks]
    done = _done_rows(session, user)
    days = {_local_day(task.completed_at, zone) for task, _ in done if task.completed_at}
    today_rows = [task for task, _ in done
                  if task.completed_at and _local_day(task.completed_at, zone) == today]
    week_start = now - timedelta(days=7)
    week = [task for task, _ in done if task.completed_at and task.completed_at >= week_start]
    return DaySummary(
        planned=planned,
        planned_seconds=float(sum(t.prediction.expected_seconds for t in planned if t.prediction is not None)),
        daily_goal_minutes=int(user.preference("daily_goal_minutes")),
        done_today=len(today_rows),
        seconds_today=float(sum(t.seconds_taken or 0.0 for t in today_rows)),
        streak_days=streak(days, today),
        week_answered=len(week),
        week_correct=sum(1 for t in week if t.correct),
    )


def _period_start(day: date, bucket: str) -> date:
    return day - timedelta(days=day.weekday()) if bucket == "week" else day


def progress(*, session: Session, user: User, zone: ZoneInfo = UTC, window: int = ROLLING_WINDOW,
             done: DoneRows | None = None) -> Progress:
    """Accuracy and median time of each topic's latest ``window`` answers, per day (per week when the
    history spans more than 35 days). ``done``: the student's completed tasks, if already loaded."""
    done = _done_rows(session, user) if done is None else done
    if not done:
        return Progress("day", [], {}, {}, {}, window)
    days = [_local_day(task.completed_at, zone) for task, _ in done if task.completed_at]
    bucket = "day" if (max(days) - min(days)).days <= DAILY_BUCKET_MAX_DAYS else "week"
    periods = sorted({_period_start(day, bucket) for day in days})
    index = {period: i for i, period in enumerate(periods)}
    topics = sorted({topic for _, topic in done})
    accuracy: dict[str, list[float | None]] = {t: [None] * len(periods) for t in topics}
    median: dict[str, list[float | None]] = {t: [None] * len(periods) for t in topics}
    answered: dict[str, list[int]] = {t: [0] * len(periods) for t in topics}
    recent: dict[str, list[tuple[bool, float | None]]] = defaultdict(list)
    for (task, topic), day in zip(done, days, strict=True):  # in completion order
        i = index[_period_start(day, bucket)]
        recent[topic].append((bool(task.correct), task.seconds_taken))
        latest = recent[topic][-window:]
        answered[topic][i] += 1
        accuracy[topic][i] = float(np.mean([correct for correct, _ in latest]))
        times = [seconds for _, seconds in latest if seconds]
        median[topic][i] = float(np.median(times)) if times else None
    return Progress(bucket=bucket, periods=[p.isoformat() for p in periods], accuracy=accuracy,
                    median_seconds=median, answered=answered, window=window)


def calibration(*, session: Session, user: User, bins: int = 10, done: DoneRows | None = None
                ) -> list[CalibrationBin]:
    """The P(correct) shown at creation against the outcomes, in ``bins`` equal-width bins."""
    rows = [(task.p_correct, bool(task.correct)) for task, _ in _or_load(done, session, user)
            if task.p_correct is not None and task.correct is not None]
    out = []
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        inside = [(p, y) for p, y in rows if low <= p < high or (k == bins - 1 and p == 1.0)]
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
    topics: dict[str, Topic] = {}
    for task, name in _or_load(done, session, user):
        counts[name][0] += 1
        counts[name][1] += int(bool(task.correct))
        topics[name] = task.topic
    out = []
    history = stored_answers.user_history(session, user) if counts else None
    for name in sorted(counts):
        answered, correct = counts[name]
        mean, low, high = beta_interval(correct, answered)
        served = predictions.predict_task(session=session, user=user, topic=topics[name],
                                          difficulty=Difficulty.MEDIUM, now=now, history=history)
        out.append(TopicAbility(name, answered, correct, mean, low, high, served.p_correct, served.model,
                                served.source))
    return out


def weekly_time(*, session: Session, user: User, zone: ZoneInfo = UTC, done: DoneRows | None = None) -> WeeklyTime:
    """Minutes spent per topic per local week."""
    minutes: dict[tuple[date, str], float] = defaultdict(float)
    for task, topic in _or_load(done, session, user):
        if task.completed_at and task.seconds_taken:
            week = _period_start(_local_day(task.completed_at, zone), "week")
            minutes[(week, topic)] += task.seconds_taken / 60.0
    weeks = sorted({week for week, _ in minutes})
    names = sorted({topic for _, topic in minutes})
    return WeeklyTime(weeks=[w.isoformat() for w in weeks],
                      minutes={t: [round(minutes.get((w, t), 0.0), 1) for w in weeks] for t in names})


def leaderboard(*, session: Session, user: User) -> list[ModelScore]:
    """Every model with scored predictions for this student, best log loss first; marks the serving one (the
    AUC over each model's latest ``AUC_WINDOW`` scored predictions)."""
    serving = predictions.serving_model_name(session, user)
    out = [ModelScore(model=model, serving=model == serving, **scores)
           for model, scores in user_scores(session, user_id=user.id).items()]
    return sorted(out, key=lambda s: (s.log_loss is None, s.log_loss or 0.0, s.model))
