"""Reading exams and their current plan and readiness: computed on read, never written by a read.

The plan depends on the stored exam (its fields, the tasks made from its planned days, and ``plan_record``: the
plan as last written by a change to the exam, from which a replan keeps its first day and counts missed work),
the local date, the student's completed tasks, the unfinished tasks on today's list and the serving model.
``_stamp`` fingerprints all of them, and ``planning.cache`` keeps one (plan, readiness) per exam and stamp, so a
read recomputes only after one of them changed. A recompute replans from ``plan_record``: work done stays on its
day, missed days are redistributed and every day keeps within its minutes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from studysmart.core.exceptions import DomainError
from studysmart.ml.base import SERVED_SD_LOG_TIME, SERVED_SECONDS, Z80
from studysmart.planning.cache import PlanCache, cache_for
from studysmart.planning.engine import (
    CompletedWork,
    ExamSpec,
    InvalidExamError,
    Plan,
    Readiness,
    plan_exam,
    readiness,
)
from studysmart.planning.ics import plan_to_ics
from studysmart.planning.inputs import StudentInputs, completed_work, serving_model_key, student_inputs
from studysmart.planning.models import Exam
from studysmart.tasks.models import Task, TaskStatus
from studysmart.users.models import User

__all__ = [
    "ExamNotFound",
    "ExamState",
    "exam_ics",
    "exam_owner",
    "exam_plan",
    "exam_readiness",
    "exam_spec",
    "exam_state",
    "get_exam",
    "list_exams",
    "local_today",
    "zone",
]

READINESS_DRAWS = 2000


class ExamNotFound(DomainError, LookupError):
    """No such exam for this user (another user's exam is indistinguishable from a missing one)."""

    status = 404

    def __init__(self, exam_id: int) -> None:
        super().__init__("exam not found")
        self.exam_id = exam_id


@dataclass(frozen=True)
class ExamState:
    """An exam with its current plan and readiness."""

    exam: Exam
    plan: Plan
    readiness: Readiness


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``; raises InvalidExamError (field ``timezone``) for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidExamError("timezone", f"unknown time zone {name!r}") from None


def local_today(exam: Exam, now: datetime) -> date:
    """The date in the exam's time zone at ``now``."""
    return now.astimezone(zone(exam.timezone)).date()


def planning_day(exam: Exam, now: datetime) -> date:
    """Today in the exam's zone, but never after the exam day (a past exam keeps its final plan)."""
    return min(local_today(exam, now), exam.exam_date)


def exam_spec(exam: Exam) -> ExamSpec:
    """The planner's view of a stored exam (topics labelled by their catalog names): skipped days and days moved
    elsewhere have no minutes, and a day another moved to has that day's minutes too.

    Raises:
        InvalidExamError: naming the first field the planner refuses (e.g. ``minutes_per_weekday[2]``).
    """
    moves = exam.moves()
    extra: dict[date, float] = {}
    for day, to in moves.items():  # a moved day's minutes go to the day it moved to
        extra[to] = extra.get(to, 0.0) + float(exam.minutes_per_weekday[day.weekday()])
    try:
        return ExamSpec.model_validate({
            "date": exam.exam_date,
            "topics": [{"topic": et.topic.name, "weight": et.weight} for et in exam.topics],
            "minutes_per_weekday": exam.minutes_per_weekday,
            "target_score": exam.target_score,
            "days_off": [*exam.days_off_dates(), *exam.skipped_dates(), *moves],
            "extra_minutes": extra,
            "name": exam.name,
            "productive_band": (exam.band_low, exam.band_high),
            "max_tasks_per_day": exam.max_tasks_per_day,
        })
    except ValidationError as error:
        raise InvalidExamError.from_validation(error) from None


def list_exams(*, session: Session, user: User) -> list[Exam]:
    """The student's exams, soonest first."""
    return list(session.scalars(select(Exam).where(Exam.owner_id == user.id).order_by(Exam.exam_date, Exam.id)))


def get_exam(*, session: Session, user: User, exam_id: int, for_update: bool = False) -> Exam:
    """One of the student's exams; raises ExamNotFound."""
    stmt = select(Exam).where(Exam.id == exam_id, Exam.owner_id == user.id)
    if for_update:
        stmt = stmt.with_for_update(of=Exam)
    exam = session.scalar(stmt)
    if exam is None:
        raise ExamNotFound(exam_id)
    return exam


def exam_owner(*, session: Session, exam_id: int) -> User:
    """The student an exam belongs to (for operator commands); raises ExamNotFound."""
    owner = session.scalar(select(User).join(Exam, Exam.owner_id == User.id).where(Exam.id == exam_id))
    if owner is None:
        raise ExamNotFound(exam_id)
    return owner


def mean_seconds(task: Task) -> float | None:
    """The task's expected time as the planner counts it: the lognormal mean, exp(mu + sd^2 / 2). The task keeps
    the median exp(mu) and its 80% interval exp(mu -/+ z sd), from which sd follows. Both are kept within the
    served ranges (``ml.base``), so a task stored with an absurd prediction cannot overflow the plan."""
    median = task.expected_seconds
    if median is None or not math.isfinite(median):
        return None
    median = min(max(median, SERVED_SECONDS[0]), SERVED_SECONDS[1])
    sd = 0.0
    low, high = task.seconds_low, task.seconds_high
    if low and high and math.isfinite(low) and math.isfinite(high) and high > low > 0:
        sd = min(math.log(high / low) / (2 * Z80), SERVED_SD_LOG_TIME[1])
    return median * math.exp(sd * sd / 2)


def tasks_of(session: Session, user: User, ids: Sequence[int], *where: Any) -> list[Task]:
    """The student's tasks among ``ids`` (deleted ones are gone) that meet ``where``, oldest first."""
    if not ids:
        return []
    return list(session.scalars(select(Task).where(Task.owner_id == user.id, Task.id.in_(ids), *where)
                                .order_by(Task.id)))


def _pending_today(session: Session, user: User, exam: Exam, today: date) -> list[Task] | None:
    """None while today's planned tasks are not on the student's list; else those of them not done yet."""
    ids = (exam.materialized or {}).get(today.isoformat())
    return None if ids is None else tasks_of(session, user, ids, Task.status != TaskStatus.DONE)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stamp(session: Session, user: User, exam: Exam, today: date, pending: list[Task] | None) -> str:
    """A fingerprint of everything the exam's plan and readiness depend on (see the module docstring)."""
    stored = json.dumps([exam.name, exam.exam_date.isoformat(), [(et.topic_id, et.weight) for et in exam.topics],
                         exam.minutes_per_weekday, exam.days_off, exam.target_score, exam.timezone,
                         exam.materialized, exam.plan_record, exam.day_changes, exam.band_low, exam.band_high,
                         exam.max_tasks_per_day], sort_keys=True, default=str)
    count, id_sum, last = session.execute(
        select(func.count(Task.id), func.coalesce(func.sum(Task.id), 0), func.max(Task.completed_at))
        .where(Task.owner_id == user.id, Task.status == TaskStatus.DONE)
    ).one()
    today_list = "open" if pending is None else _digest(
        ",".join(f"{t.id}:{t.topic_id}:{t.difficulty.value}:{t.expected_seconds}" for t in pending))
    return "|".join([today.isoformat(), exam.updated_at.isoformat(), _digest(stored),
                     f"{count}:{id_sum}:{last.isoformat() if last else '-'}", serving_model_key(session, user),
                     today_list])


@dataclass(frozen=True)
class _Inputs:
    spec: ExamSpec
    student: StudentInputs
    done: list[CompletedWork]
    plan: Plan


def _plan(session: Session, user: User, exam: Exam, today: date, *, pending: Sequence[Task],
          closed: bool) -> _Inputs:
    previous = Plan.model_validate(exam.plan_record) if exam.plan_record else None
    spec = exam_spec(exam)
    topics = [et.topic for et in exam.topics]
    student = student_inputs(session=session, user=user, topics=topics, today=today, exam_date=exam.exam_date)
    start = min(previous.created_on, today) if previous is not None else today
    done = completed_work(session=session, user=user, topics=topics, since=start, zone=zone(exam.timezone))
    names = {t.id: t.name for t in topics}
    committed = [CompletedWork(date=today, topic=names[t.topic_id], difficulty=t.difficulty.value, count=1,
                               seconds=mean_seconds(t)) for t in pending if t.topic_id in names]
    plan = plan_exam(spec, student.predictions, today=today, completed=done,
                     previous=previous, today_committed=committed, today_closed=closed)
    return _Inputs(spec, student, done, plan)


def compute_plan(session: Session, user: User, exam: Exam, today: date, *, pending: Sequence[Task],
                 closed: bool) -> Plan:
    """The exam's plan from ``today``, replanned from ``plan_record``; ``pending`` are unfinished tasks on today's
    list, and ``closed`` says that today's tasks were added (no new work today)."""
    return _plan(session, user, exam, today, pending=pending, closed=closed).plan


def _compute(session: Session, user: User, exam: Exam, today: date, *, pending: Sequence[Task],
             closed: bool) -> tuple[Plan, Readiness]:
    """Plan and readiness (the forecast assumes the plan is followed)."""
    found = _plan(session, user, exam, today, pending=pending, closed=closed)
    ready = readiness(found.spec, found.student.predictions, plan=found.plan, today=today,
                      n_draws=READINESS_DRAWS, seed=exam.id)
    return found.plan, ready


def _today(session: Session, user: User, exam: Exam, now: datetime) -> tuple[date, list[Task] | None]:
    """The planning day and, once its tasks are on the list, those of them not done yet."""
    today = planning_day(exam, now)
    return today, _pending_today(session, user, exam, today) if today < exam.exam_date else None


def current_plan(session: Session, user: User, exam: Exam, now: datetime) -> Plan:
    """The exam's plan at ``now``, computed without the cache (for writes that store it)."""
    today, pending = _today(session, user, exam, now)
    return compute_plan(session, user, exam, today, pending=pending or [], closed=pending is not None)


def exam_state(*, session: Session, user: User, exam_id: int, now: datetime, force: bool = False,
               cache: PlanCache | None = None) -> ExamState:
    """The exam with its plan and readiness, computed when something they depend on changed since the cached
    ones (see the module docstring). Only reads the database.

    Args:
        session: a database session.
        user: the student.
        exam_id: the exam.
        now: the current time.
        force: recompute even when the cached plan is current.
        cache: where computed plans are kept (default: the cache of the session's database).

    Raises:
        ExamNotFound: for a missing or another student's exam.
    """
    exam = get_exam(session=session, user=user, exam_id=exam_id)
    today, pending = _today(session, user, exam, now)
    key = (exam.id, _stamp(session, user, exam, today, pending))
    cache = cache if cache is not None else cache_for(session)
    found = None if force else cache.get(key)
    if found is None:
        found = _compute(session, user, exam, today, pending=pending or [], closed=pending is not None)
        cache.put(key, found)
    return ExamState(exam, *found)


def exam_plan(*, session: Session, user: User, exam_id: int, now: datetime) -> Plan:
    """The exam's current day-by-day plan (see ``exam_state``)."""
    return exam_state(session=session, user=user, exam_id=exam_id, now=now).plan


def exam_readiness(*, session: Session, user: User, exam_id: int, now: datetime) -> Readiness:
    """The exam's current readiness: expected score now (10%-90% range) and on exam day with the plan."""
    return exam_state(session=session, user=user, exam_id=exam_id, now=now).readiness


def exam_ics(*, session: Session, user: User, exam_id: int, now: datetime, start_hour: float = 18.0) -> bytes:
    """The plan as an .ics calendar: one event per study block at ``start_hour`` in the exam's time zone."""
    state = exam_state(session=session, user=user, exam_id=exam_id, now=now)
    return plan_to_ics(state.plan, exam_name=state.exam.name, start_hour=start_hour,
                       timezone=state.exam.timezone, uid_domain=f"exam-{state.exam.id}.studysmart",
                       generated_at=now)
