"""Exam preparation for one student: exams (create, list, edit, delete), their cached plan and readiness, the
.ics export, and turning a planned day into real tasks.

The plan is computed lazily: reading an exam's plan or readiness recomputes both only when the exam's
``plan_stamp`` no longer matches (the local date, the student's completed tasks and the serving model version
are in it; editing the exam clears it). A recompute replans from the stored plan, so work done stays on its
day, missed days are redistributed and every day keeps within its minutes.

Adding a day's tasks to the task list (``materialize_day``) closes that day in the plan: from then on its work
is the tasks on the list (done or not), so the plan and the list agree. Unfinished tasks of earlier planned days
move to the new day first, as far as its minutes go, and new tasks only fill the rest, so missed work does not
pile up on the list.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from studysmart.ml.base import SERVED_SD_LOG_TIME, SERVED_SECONDS, Z80
from studysmart.planning.engine import (
    CompletedWork,
    ExamSpec,
    InvalidExamError,
    Plan,
    PlanningError,
    PlanOptions,
    Readiness,
    materialise,
    plan_exam,
    readiness,
)
from studysmart.planning.ics import plan_to_ics
from studysmart.planning.inputs import completed_work, serving_model_key, student_inputs
from studysmart.planning.models import Exam, ExamTopic
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic
from studysmart.users.models import User

__all__ = [
    "ExamNotFound",
    "ExamState",
    "Materialized",
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
    "update_exam",
]

EDITABLE = ("name", "date", "topics", "target_score", "minutes_per_weekday", "days_off", "timezone")
READINESS_DRAWS = 2000


class ExamNotFound(LookupError):
    """No such exam for this user (another user's exam is indistinguishable from a missing one)."""


@dataclass(frozen=True)
class ExamState:
    """An exam with its current plan and readiness."""

    exam: Exam
    plan: Plan
    readiness: Readiness


@dataclass(frozen=True)
class Materialized:
    """The tasks of one planned day; ``created`` is False when the day had been materialized before, and
    ``carried`` counts unfinished tasks of earlier planned days moved to this day instead of new ones."""

    tasks: list[Task]
    created: bool
    carried: int = 0


# -- exams -----------------------------------------------------------------------------------------------------
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidExamError("timezone", f"unknown time zone {name!r}") from None


def local_today(exam: Exam, now: datetime) -> date:
    """The date in the exam's time zone at ``now``."""
    return now.astimezone(_zone(exam.timezone)).date()


def exam_spec(exam: Exam) -> ExamSpec:
    """The planner's view of a stored exam (topics labelled by their catalog names).

    Raises:
        InvalidExamError: naming the first field the planner refuses (e.g. ``minutes_per_weekday[2]``).
    """
    try:
        return ExamSpec.model_validate({
            "date": exam.exam_date,
            "topics": [{"topic": et.topic.name, "weight": et.weight} for et in exam.topics],
            "minutes_per_weekday": exam.minutes_per_weekday,
            "target_score": exam.target_score,
            "days_off": exam.days_off_dates(),
            "name": exam.name,
        })
    except ValidationError as error:
        raise InvalidExamError.from_validation(error) from None


def _topic_rows(session: Session, topics: Sequence[Mapping[str, Any]]) -> list[ExamTopic]:
    rows: list[ExamTopic] = []
    seen: set[int] = set()
    for i, entry in enumerate(topics):
        try:
            topic = tasks.get_or_create_topic(session=session, name=str(entry.get("topic") or ""))
        except tasks.InvalidTaskInput as exc:
            raise InvalidExamError(f"topics[{i}].topic", exc.reason) from None
        if topic.id in seen:
            raise InvalidExamError(f"topics[{i}].topic", f"duplicate topic {topic.name!r}")
        seen.add(topic.id)
        rows.append(ExamTopic(topic=topic, weight=float(entry.get("weight", 1.0)), position=i))
    return rows


def _check(exam: Exam, today: date, *, check_date: bool = True) -> None:
    """Validate the exam as the planner sees it (raises InvalidExamError naming the field); ``check_date``
    False accepts an exam day that has passed (editing the name or topics of a past exam)."""
    if exam.name is None or not exam.name.strip():
        raise InvalidExamError("name", "must not be empty")
    spec = exam_spec(exam)
    if check_date:
        spec.check_date(today)


def create_exam(*, session: Session, user: User, name: str, date: date, topics: Sequence[Mapping[str, Any]],
                minutes_per_weekday: Sequence[float], target_score: float | None = None,
                days_off: Sequence[date] = (), timezone: str = "UTC", now: datetime) -> Exam:
    """Store a new exam (its plan is computed on first read).

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
        now: the current time.

    Returns:
        The exam.

    Raises:
        InvalidExamError: naming the offending field (exam in the past, no topics, negative minutes, ...).
    """
    exam = Exam(owner_id=user.id, name=name.strip(), exam_date=date, target_score=target_score,
                minutes_per_weekday=[float(m) for m in minutes_per_weekday],
                days_off=sorted({d.isoformat() for d in days_off}), timezone=timezone, created_at=now,
                updated_at=now, materialized={})
    _zone(timezone)
    if not topics:
        raise InvalidExamError("topics", "at least one topic is required")
    exam.topics = _topic_rows(session, topics)
    _check(exam, local_today(exam, now))
    session.add(exam)
    session.flush()
    return exam


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


def update_exam(*, session: Session, user: User, exam_id: int, changes: Mapping[str, Any], now: datetime) -> Exam:
    """Edit an exam (keys of ``EDITABLE``; ``date`` is the exam day); the plan is recomputed on the next read,
    keeping the work done so far."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidExamError(sorted(unknown)[0], "cannot be changed")
    exam = get_exam(session=session, user=user, exam_id=exam_id, for_update=True)
    if "name" in changes:
        exam.name = str(changes["name"] or "").strip()
    if "date" in changes:
        exam.exam_date = changes["date"]
    if "target_score" in changes:
        exam.target_score = changes["target_score"]
    if "minutes_per_weekday" in changes:
        exam.minutes_per_weekday = [float(m) for m in changes["minutes_per_weekday"] or ()]
    if "days_off" in changes:
        exam.days_off = sorted({d.isoformat() for d in changes["days_off"] or ()})
    if "timezone" in changes:
        _zone(str(changes["timezone"]))
        exam.timezone = str(changes["timezone"])
    if "topics" in changes:
        if not changes["topics"]:
            raise InvalidExamError("topics", "at least one topic is required")
        exam.topics.clear()
        session.flush()  # the old rows go first: a topic kept in the list would clash on (exam, topic)
        exam.topics.extend(_topic_rows(session, changes["topics"]))
    _check(exam, local_today(exam, now), check_date="date" in changes)
    exam.updated_at = now
    exam.plan_stamp = None
    session.flush()
    return exam


def delete_exam(*, session: Session, user: User, exam_id: int) -> None:
    """Delete one of the student's exams (tasks made from its plan stay)."""
    session.delete(get_exam(session=session, user=user, exam_id=exam_id))
    session.flush()


# -- plan and readiness ----------------------------------------------------------------------------------------
def _completion_stamp(session: Session, user: User) -> str:
    count, id_sum, last = session.execute(
        select(func.count(Task.id), func.coalesce(func.sum(Task.id), 0), func.max(Task.completed_at))
        .where(Task.owner_id == user.id, Task.status == TaskStatus.DONE)
    ).one()
    return f"{count}:{id_sum}:{last.isoformat() if last else '-'}"


def _mean_seconds(task: Task) -> float | None:
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


def _tasks_of(session: Session, user: User, ids: Sequence[int], *where: Any) -> list[Task]:
    """The student's tasks among ``ids`` (deleted ones are gone) that meet ``where``, oldest first."""
    if not ids:
        return []
    return list(session.scalars(select(Task).where(Task.owner_id == user.id, Task.id.in_(ids), *where)
                                .order_by(Task.id)))


def _pending_today(session: Session, user: User, exam: Exam, today: date) -> list[Task] | None:
    """None while today's planned tasks are not on the student's list; else those of them not done yet."""
    ids = (exam.materialized or {}).get(today.isoformat())
    return None if ids is None else _tasks_of(session, user, ids, Task.status != TaskStatus.DONE)


def _stamp(session: Session, user: User, today: date, pending: list[Task] | None) -> str:
    today_list = "open" if pending is None else hashlib.sha256(
        ",".join(f"{t.id}:{t.topic_id}:{t.difficulty.value}" for t in pending).encode()).hexdigest()[:16]
    return (f"{today.isoformat()}|{_completion_stamp(session, user)}|{serving_model_key(session, user)}"
            f"|{today_list}")


def _planning_day(exam: Exam, now: datetime) -> date:
    """Today in the exam's zone, but never after the exam day (a past exam keeps its final plan)."""
    return min(local_today(exam, now), exam.exam_date)


def _compute(session: Session, user: User, exam: Exam, today: date, options: PlanOptions | None, *,
             pending: Sequence[Task], closed: bool) -> tuple[Plan, Readiness]:
    """Plan and readiness; ``pending`` are unfinished tasks on today's list, and ``closed`` says that today's tasks
    were added (no new work today)."""
    previous = Plan.model_validate(exam.plan_record) if exam.plan_record else None
    spec = exam_spec(exam)
    topics: list[Topic] = [et.topic for et in exam.topics]
    inputs = student_inputs(session=session, user=user, topics=topics)
    start = min(previous.created_on, today) if previous is not None else today
    done = completed_work(session=session, user=user, topics=topics, since=start,
                          zone=_zone(exam.timezone))
    names = {t.id: t.name for t in topics}
    committed = [CompletedWork(date=today, topic=names[t.topic_id], difficulty=t.difficulty.value, count=1,
                               seconds=_mean_seconds(t)) for t in pending if t.topic_id in names]
    plan = plan_exam(spec, inputs.predictions, today=today, gains=inputs.gains, options=options,
                     completed=done, previous=previous, today_committed=committed,
                     today_closed=closed)
    model = (options or PlanOptions()).gain_model
    p_of = {(c.topic, c.difficulty): c.p_correct for c in inputs.predictions.cells}
    practised: dict[str, float] = {}
    for work in done:
        if work.date < today and (work.topic, work.difficulty) in p_of:
            effective = work.count * float(model.efficiency(p_of[(work.topic, work.difficulty)]))
            practised[work.topic] = practised.get(work.topic, 0.0) + effective
    ready = readiness(spec, inputs.predictions, practice=plan.remaining_practice(today), gains=inputs.gains,
                      gain_model=model, prior_practice=practised, n_draws=READINESS_DRAWS, seed=exam.id)
    return plan, ready


def exam_state(*, session: Session, user: User, exam_id: int, now: datetime, force: bool = False,
               options: PlanOptions | None = None) -> ExamState:
    """The exam with its plan and readiness, recomputed (and stored) only when something they depend on
    changed since the stored plan: the local date, the student's completed tasks, the serving model, or the
    exam itself.

    Args:
        session: a database session (the caller commits: a recompute writes the exam row).
        user: the student.
        exam_id: the exam.
        now: the current time.
        force: recompute even when the stored plan is current.
        options: planning options (defaults otherwise).

    Raises:
        ExamNotFound: for a missing or another student's exam.
    """
    exam = get_exam(session=session, user=user, exam_id=exam_id)
    today = _planning_day(exam, now)
    pending = _pending_today(session, user, exam, today) if today < exam.exam_date else None
    stamp = _stamp(session, user, today, pending)
    if force or exam.plan_stamp != stamp or exam.plan_record is None or exam.readiness_record is None:
        plan, ready = _compute(session, user, exam, today, options, pending=pending or [],
                               closed=pending is not None)
        exam.plan_record = plan.model_dump(mode="json")
        exam.readiness_record = ready.model_dump(mode="json")
        exam.plan_stamp = stamp
        exam.plan_updated_at = now
        session.flush()
        return ExamState(exam, plan, ready)
    assert exam.plan_record is not None and exam.readiness_record is not None
    return ExamState(exam, Plan.model_validate(exam.plan_record), Readiness.model_validate(exam.readiness_record))


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


def materialize_day(*, session: Session, user: User, exam_id: int, day: date, now: datetime) -> Materialized:
    """Turn a planned day into real tasks (with predictions), interleaved across topics, due that day.

    Idempotent: a day materialized before returns the tasks made then (those still existing) and creates none,
    so a retried request never doubles the work.

    Raises:
        ExamNotFound: for a missing or another student's exam.
        PlanningError: (field ``date``) for a day outside the remaining plan (past, or on/after the exam).
    """
    exam = get_exam(session=session, user=user, exam_id=exam_id, for_update=True)
    key = day.isoformat()
    if key in (exam.materialized or {}):
        return Materialized(_tasks_of(session, user, exam.materialized[key]), created=False)
    today = local_today(exam, now)
    if not today <= day < exam.exam_date:
        raise PlanningError("date", f"{day} is not a day of the remaining plan ({today} to the day before the exam)",
                            where="path")
    carried: list[Task] = []
    if day == today:  # unfinished tasks of earlier planned days come first, as far as today's minutes go
        carried = _leftovers_that_fit(session, user, exam, key, exam_spec(exam).minutes_on(day) * 60.0)
        for task in carried:
            task.due_date = day
        plan, _ = _compute(session, user, exam, day, None, pending=carried, closed=False)
    else:
        plan = exam_state(session=session, user=user, exam_id=exam_id, now=now).plan
    planned = plan.day(day)
    specs = materialise(planned, exam_name=exam.name) if planned is not None else []
    taken = Counter((t.topic.name, t.difficulty.value) for t in carried)
    day_tasks = list(carried)
    for spec in specs:
        if taken[(spec.topic, spec.difficulty)] > 0:  # this item is one of the carried tasks
            taken[(spec.topic, spec.difficulty)] -= 1
            continue
        day_tasks.append(tasks.create_task(session=session, user=user, title=spec.title[:200], topic=spec.topic,
                                           difficulty=Difficulty(spec.difficulty), due_date=spec.planned_for,
                                           notes=f"Planned for {exam.name}", now=now))
    exam.materialized = {**(exam.materialized or {}), key: [task.id for task in day_tasks]}
    exam.plan_stamp = None  # today is now closed: the next read replans around these tasks
    session.flush()
    return Materialized(day_tasks, created=True, carried=len(carried))


def _leftovers_that_fit(session: Session, user: User, exam: Exam, key: str, seconds: float) -> list[Task]:
    """Unfinished tasks made for earlier planned days of ``exam`` (in its topics), oldest first, as many as
    their expected times fit in ``seconds``."""
    ids = sorted({i for day, made in (exam.materialized or {}).items() if day < key for i in made})
    topic_ids = [et.topic_id for et in exam.topics]
    fit: list[Task] = []
    for task in _tasks_of(session, user, ids, Task.status == TaskStatus.PLANNED, Task.topic_id.in_(topic_ids)):
        seconds -= _mean_seconds(task) or 0.0
        if seconds < 0:
            break
        fit.append(task)
    return fit
