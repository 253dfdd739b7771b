"""Exam preparation for one student: exams (create, edit, delete), and turning a planned day into real tasks.

Reading (exams, their current plan and readiness, the .ics export) is ``planning.state``, re-exported here: a
read computes and never writes. The writes are here, and each also stores the plan as the student sees it after
the change (``Exam.plan_record``), which later replans start from. As everywhere in the app, services only
flush: the API route, or the page's transaction (``web.auth.act``), commits.

Adding a day's tasks to the task list (``materialize_day``) closes that day in the plan: from then on its work
is the tasks on the list (done or not), so the plan and the list agree. Unfinished tasks of earlier planned days
move to the new day first, as far as its minutes go, and new tasks only fill the rest, so missed work does not
pile up on the list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from studysmart.planning.engine import Plan, PlanningError, materialise
from studysmart.planning.engine.spec import InvalidExamError
from studysmart.planning.models import Exam, ExamTopic
from studysmart.planning.schemas import ExamUpdate
from studysmart.planning.state import (
    ExamNotFound,
    ExamState,
    compute_plan,
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
    mean_seconds,
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


@dataclass(frozen=True)
class Materialized:
    """The tasks of one planned day; ``created`` is False when the day had been materialized before, and
    ``carried`` counts unfinished tasks of earlier planned days moved to this day instead of new ones."""

    tasks: list[Task]
    created: bool
    carried: int = 0


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
                days_off: Sequence[date] = (), timezone: str = "UTC", now: datetime) -> Exam:
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
                updated_at=now, materialized={})
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
        return Materialized(tasks_of(session, user, exam.materialized[key]), created=False)
    today = local_today(exam, now)
    if not today <= day < exam.exam_date:
        raise PlanningError("date", f"{day} is not a day of the remaining plan ({today} to the day before the exam)",
                            where="path")
    carried: list[Task] = []
    if day == today:  # unfinished tasks of earlier planned days come first, as far as today's minutes go
        carried = _leftovers_that_fit(session, user, exam, key, exam_spec(exam).minutes_on(day) * 60.0)
        for task in carried:
            task.due_date = day
        plan = compute_plan(session, user, exam, day, pending=carried, closed=False)
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
    _store_plan(session, user, exam, now, plan)
    session.flush()
    return Materialized(day_tasks, created=True, carried=len(carried))


def _leftovers_that_fit(session: Session, user: User, exam: Exam, key: str, seconds: float) -> list[Task]:
    """Unfinished tasks made for earlier planned days of ``exam`` (in its topics), oldest first, as many as
    their expected times fit in ``seconds``."""
    ids = sorted({i for day, made in (exam.materialized or {}).items() if day < key for i in made})
    topic_ids = [et.topic_id for et in exam.topics]
    fit: list[Task] = []
    for task in tasks_of(session, user, ids, Task.status == TaskStatus.PLANNED, Task.topic_id.in_(topic_ids)):
        seconds -= mean_seconds(task) or 0.0
        if seconds < 0:
            break
        fit.append(task)
    return fit
