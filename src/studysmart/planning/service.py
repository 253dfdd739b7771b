"""Exam preparation for one student: exams (create, edit, delete), and turning a planned day into real tasks.

Reading (exams, their current plan and readiness, the .ics export) is ``planning.state``, re-exported here: a
read computes and never writes. The writes are here, and each also stores the plan as the student sees it after
the change (``Exam.plan_record``), which later replans start from. As everywhere in the app, services only
flush: the API route, or the page's transaction (``web.auth.act``), commits.

Adding a day's tasks to the task list (``materialize_day``) closes that day in the plan: from then on its work
is the tasks on the list (done or not), so the plan and the list agree. Each planned problem first reuses one of
the student's open tasks of the same topic and difficulty (undated, overdue or due that day), and only the rest
become new tasks, named by what to do ("Probability: 3 medium problems"), so open work does not pile up.

``today_plan`` is the one list of today's work that the dashboard and the preparation page both show: the open
tasks due today (or earlier, or undated), then each upcoming exam's planned work for today that is not on the
list yet (exactly the new tasks ``materialize_day`` would make). Skipping and moving days: ``planning.days``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from studysmart.learning import serving as predictions
from studysmart.learning.prediction import ShownPrediction
from studysmart.planning.days import move_day, restore_day, skip_day
from studysmart.planning.engine import Plan, PlanningError, TaskSpec, materialise
from studysmart.planning.engine.plan import task_title
from studysmart.planning.engine.spec import InvalidExamError
from studysmart.planning.models import DEFAULT_BAND, DEFAULT_MAX_TASKS, Exam, ExamTopic
from studysmart.planning.schemas import ExamUpdate
from studysmart.planning.state import (
    ExamNotFound,
    ExamState,
    current_plan,
    exam_ics,
    exam_owner,
    exam_plan,
    exam_readiness,
    exam_spec,
    exam_state,
    get_exam,
    list_exams,
    local_today,
    tasks_of,
    zone,
)
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users.models import User

__all__ = [
    "ExamNotFound",
    "ExamState",
    "Materialized",
    "TodayEntry",
    "TodayPlan",
    "create_exam",
    "delete_exam",
    "exam_ics",
    "exam_owner",
    "exam_plan",
    "exam_readiness",
    "exam_spec",
    "exam_state",
    "get_exam",
    "list_exams",
    "local_today",
    "materialize_day",
    "move_day",
    "restore_day",
    "skip_day",
    "today_plan",
    "update_exam",
]


@dataclass(frozen=True)
class Materialized:
    """The tasks of one planned day; ``created`` is False when the day had been materialized before, and
    ``reused`` counts the student's open tasks that took a planned problem instead of a new task."""

    tasks: list[Task]
    created: bool
    reused: int = 0


def _topic_rows(session: Session, topics: Sequence[Mapping[str, Any]]) -> list[ExamTopic]:
    rows: list[ExamTopic] = []
    seen: set[int] = set()
    for i, entry in enumerate(topics):
        try:
            topic = tasks.get_or_create_topic(session=session, name=str(entry.get("topic") or ""))
        except tasks.InvalidTaskInput as exc:
            raise InvalidExamError(f"topics[{i}].topic", exc.reason) from None
        if topic.id in seen:  # names that differ only in case or spacing are one catalog topic
            raise InvalidExamError(f"topics[{i}].topic", f"duplicate topic {topic.name!r}")
        seen.add(topic.id)
        rows.append(ExamTopic(topic=topic, weight=float(entry.get("weight", 1.0)), position=i))
    return rows


def _store_plan(session: Session, user: User, exam: Exam, now: datetime, plan: Plan | None = None) -> None:
    """Keep ``plan`` (default: the plan as it stands now) as the one later replans start from."""
    plan = plan if plan is not None else current_plan(session, user, exam, now)
    exam.plan_record = plan.model_dump(mode="json")
    exam.plan_updated_at = now


def create_exam(*, session: Session, user: User, name: str, date: date, topics: Sequence[Mapping[str, Any]],
                minutes_per_weekday: Sequence[float], target_score: float | None = None,
                days_off: Sequence[date] = (), timezone: str = "UTC",
                productive_band: tuple[float, float] = DEFAULT_BAND, max_tasks_per_day: int = DEFAULT_MAX_TASKS,
                now: datetime) -> Exam:
    """Store a new exam and its first plan.

    Args:
        session: a database session.
        user: the student.
        name: the exam's name.
        date: the exam day (today or later in ``timezone``).
        topics: ``{topic, weight}`` mappings; topics are catalog topics (created if new).
        minutes_per_weekday: 7 numbers, Monday first.
        target_score: the score aimed for, a fraction in [0, 1].
        days_off: dates without study.
        timezone: IANA name of the zone the student's days are counted in.
        productive_band: the P(correct) range (low, high) of planned tasks.
        max_tasks_per_day: at most this many planned tasks on one day.
        now: the current time.

    Returns:
        The exam.

    Raises:
        InvalidExamError: naming the offending field (exam in the past, no topics, negative minutes, ...).
    """
    zone(timezone)
    exam = Exam(owner_id=user.id, name=name.strip(), exam_date=date, target_score=target_score,
                minutes_per_weekday=[float(m) for m in minutes_per_weekday],
                days_off=sorted({d.isoformat() for d in days_off}), timezone=timezone, created_at=now,
                updated_at=now, materialized={}, day_changes={}, band_low=float(productive_band[0]),
                band_high=float(productive_band[1]), max_tasks_per_day=int(max_tasks_per_day))
    exam.topics = _topic_rows(session, topics)
    exam_spec(exam).check_date(local_today(exam, now))
    _store_plan(session, user, exam, now)
    session.add(exam)
    session.flush()
    return exam


def update_exam(*, session: Session, user: User, exam_id: int, update: ExamUpdate, now: datetime) -> Exam:
    """Edit an exam: the fields set in ``update`` (``target_score`` may be set to None to clear it). The plan is
    replanned, keeping the work done so far; a new ``date`` must not be in the past (other edits of a past exam
    are allowed)."""
    exam = get_exam(session=session, user=user, exam_id=exam_id, for_update=True)
    if update.name is not None:  # None: not given (an explicit null is refused by ExamUpdate)
        exam.name = update.name
    if update.date is not None:
        exam.exam_date = update.date
    if "target_score" in update.model_fields_set:
        exam.target_score = update.target_score
    if update.minutes_per_weekday is not None:
        exam.minutes_per_weekday = list(update.minutes_per_weekday)
    if update.days_off is not None:
        exam.days_off = sorted({d.isoformat() for d in update.days_off})
    if update.timezone is not None:
        zone(update.timezone)
        exam.timezone = update.timezone
    if update.productive_band is not None:
        exam.band_low, exam.band_high = update.productive_band
    if update.max_tasks_per_day is not None:
        exam.max_tasks_per_day = update.max_tasks_per_day
    if update.topics is not None:
        exam.topics.clear()
        session.flush()  # the old rows go first: a topic kept in the list would clash on (exam, topic)
        exam.topics.extend(_topic_rows(session, [t.model_dump() for t in update.topics]))
    spec = exam_spec(exam)
    if update.date is not None:
        spec.check_date(local_today(exam, now))
    exam.updated_at = now
    _store_plan(session, user, exam, now)
    session.flush()
    return exam


def delete_exam(*, session: Session, user: User, exam_id: int) -> None:
    """Delete one of the student's exams (tasks made from its plan stay)."""
    session.delete(get_exam(session=session, user=user, exam_id=exam_id))
    session.flush()


def _reusable(session: Session, user: User, exam: Exam, day: date, today: date) -> list[Task]:
    """The student's open tasks in the exam's topics that a planned problem of ``day`` can take: undated, overdue
    or due that day, not already the tasks of another day of this exam, oldest due first."""
    taken = {i for key, made in (exam.materialized or {}).items() if key >= today.isoformat() for i in made}
    stmt = (select(Task).where(Task.owner_id == user.id, Task.status != TaskStatus.DONE,
                               Task.topic_id.in_([et.topic_id for et in exam.topics]),
                               or_(Task.due_date.is_(None), Task.due_date < today, Task.due_date == day))
            .order_by(Task.due_date.is_(None), Task.due_date, Task.id))
    return [task for task in session.scalars(stmt) if task.id not in taken]


def _day_work(session: Session, user: User, exam: Exam, plan: Plan, day: date,
              today: date) -> tuple[list[Task | TaskSpec], int]:
    """The planned problems of ``day`` in order, each an open task it reuses or the spec of a new task (titled
    by what to do), and how many were reused."""
    planned = plan.day(day)
    specs = materialise(planned) if planned is not None else []
    open_tasks: dict[tuple[str, str], list[Task]] = defaultdict(list)
    for task in _reusable(session, user, exam, day, today):
        open_tasks[(task.topic.name, task.difficulty.value)].append(task)
    work: list[Task | TaskSpec] = []
    for spec in specs:
        waiting = open_tasks.get((spec.topic, spec.difficulty))
        work.append(waiting.pop(0) if waiting else spec)
    new = [w for w in work if isinstance(w, TaskSpec)]
    total: dict[tuple[str, str], int] = defaultdict(int)
    for spec in new:
        total[(spec.topic, spec.difficulty)] += 1
    position: dict[tuple[str, str], int] = defaultdict(int)
    for k, item in enumerate(work):
        if isinstance(item, TaskSpec):
            key = (item.topic, item.difficulty)
            position[key] += 1
            work[k] = item.model_copy(update={"title": task_title(*key, position[key], total[key])})
    return work, len(work) - len(new)


def materialize_day(*, session: Session, user: User, exam_id: int, day: date, now: datetime) -> Materialized:
    """Turn a planned day into tasks due that day, interleaved across topics: each planned problem reuses an open
    task of the same topic and difficulty when the student has one, else becomes a new task (with predictions).

    Idempotent: a day materialized before returns the tasks made then (those still existing) and creates none,
    so a retried request never doubles the work.

    Raises:
        ExamNotFound: for a missing or another student's exam.
        PlanningError: (field ``date``) for a day outside the remaining plan (past, or on/after the exam).
    """
    exam = get_exam(session=session, user=user, exam_id=exam_id, for_update=True)
    key = day.isoformat()
    if key in (exam.materialized or {}):
        return Materialized(tasks_of(session, user, exam.materialized[key]), created=False)
    today = local_today(exam, now)
    if not today <= day < exam.exam_date:
        raise PlanningError("date", f"{day} is not a day of the remaining plan ({today} to the day before the exam)",
                            where="path")
    plan = exam_state(session=session, user=user, exam_id=exam_id, now=now).plan
    work, reused = _day_work(session, user, exam, plan, day, today)
    day_tasks: list[Task] = []
    for item in work:
        if isinstance(item, Task):
            item.due_date = day
            day_tasks.append(item)
        else:
            day_tasks.append(tasks.create_task(session=session, user=user, title=item.title[:200],
                                               topic=item.topic, difficulty=Difficulty(item.difficulty),
                                               due_date=day, notes=f"Planned for {exam.name}", now=now))
    exam.materialized = {**(exam.materialized or {}), key: [task.id for task in day_tasks]}
    _store_plan(session, user, exam, now, plan)
    session.flush()
    return Materialized(day_tasks, created=True, reused=reused)


@dataclass(frozen=True)
class TodayEntry:
    """One piece of today's work: an open task (``task``), or a planned problem of an exam not on the list yet
    (``task`` None, ``exam_id`` its exam). ``prediction``: the serving model's current prediction for a task;
    a planned problem has the plan's ``p_correct`` and ``expected_seconds`` (from the same model)."""

    title: str
    topic: str
    difficulty: str
    expected_seconds: float | None
    p_correct: float | None
    task: Task | None = None
    prediction: ShownPrediction | None = None
    exam_id: int | None = None
    exam_name: str | None = None


@dataclass(frozen=True)
class TodayPlan:
    """Today's work, the same list on the dashboard and the preparation page."""

    day: date
    entries: list[TodayEntry]

    @property
    def seconds(self) -> float:
        """The predicted time of all of it."""
        return float(sum(e.expected_seconds or 0.0 for e in self.entries))

    @property
    def to_add(self) -> int:
        """Planned problems of exams not on the task list yet."""
        return sum(1 for e in self.entries if e.task is None)


def today_plan(*, session: Session, user: User, now: datetime, zone: ZoneInfo) -> TodayPlan:
    """Today's work: the student's open tasks due today, earlier or undated (in progress first, each with the
    serving model's current prediction), then each upcoming exam's planned problems for today that are not on the
    list yet (what adding the day's tasks would create). Only reads.

    Args:
        session: a database session.
        user: the student.
        now: the current time.
        zone: the student's time zone (today's date; each exam counts its own today).
    """
    today = now.astimezone(zone).date()
    stmt = (select(Task).where(Task.owner_id == user.id, Task.status != TaskStatus.DONE,
                               or_(Task.due_date.is_(None), Task.due_date <= today))
            .order_by(Task.status, Task.due_date, Task.created_at, Task.id))
    open_tasks = list(session.scalars(stmt))
    current = predictions.predict_tasks(session=session, user=user, tasks=open_tasks, now=now)
    entries = []
    for task in open_tasks:
        shown = current.get(task.id)
        entries.append(TodayEntry(title=task.title, topic=task.topic.name, difficulty=task.difficulty.value,
                                  expected_seconds=shown.expected_seconds if shown else task.expected_seconds,
                                  p_correct=shown.p_correct if shown else task.p_correct, task=task,
                                  prediction=shown))
    for exam in list_exams(session=session, user=user):
        exam_today = local_today(exam, now)
        if exam_today >= exam.exam_date or exam_today.isoformat() in (exam.materialized or {}):
            continue
        plan = exam_state(session=session, user=user, exam_id=exam.id, now=now).plan
        work, _ = _day_work(session, user, exam, plan, exam_today, exam_today)
        entries.extend(TodayEntry(title=spec.title, topic=spec.topic, difficulty=spec.difficulty,
                                  expected_seconds=spec.expected_seconds, p_correct=spec.p_correct,
                                  exam_id=exam.id, exam_name=exam.name)
                       for spec in work if isinstance(spec, TaskSpec))
    return TodayPlan(today, entries)
