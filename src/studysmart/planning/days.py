"""Skipping and moving days of an exam's plan: a skipped day has no minutes and a moved day's minutes go to the
day it moved to; the plan re-flows the work (``planning.state.exam_spec`` turns the changes into the planner's
days off and extra minutes). Changes are stored on the exam (``Exam.day_changes``) and can be undone; like the
other writes, each stores the plan as it stands after the change and only flushes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from studysmart.planning.engine import PlanningError
from studysmart.planning.models import Exam
from studysmart.planning.state import current_plan, exam_spec, get_exam, local_today
from studysmart.users.models import User

__all__ = ["move_day", "restore_day", "skip_day"]


def _check_day(exam: Exam, day: date, today: date, field: str, where: str) -> None:
    """``day`` is a study day of the remaining plan whose tasks are not on the list yet, not a day off."""
    if not today <= day < exam.exam_date:
        raise PlanningError(field, f"{day} is not a day of the remaining plan ({today} to the day before the exam)",
                            where=where)
    if day.isoformat() in (exam.materialized or {}):
        raise PlanningError(field, f"the tasks of {day} are on your task list already", where=where)
    if day.isoformat() in (exam.days_off or []) or not exam.minutes_per_weekday[day.weekday()]:
        raise PlanningError(field, f"{day} is a day off (no study minutes)", where=where)


def _moved_in(exam: Exam, day: date) -> list[date]:
    return [source for source, to in exam.moves().items() if to == day]


def _store(session: Session, user: User, exam: Exam, changes: dict[str, str | None], now: datetime) -> Exam:
    exam.day_changes = changes
    exam_spec(exam)  # still an exam the planner accepts
    exam.updated_at = now
    plan = current_plan(session, user, exam, now)
    exam.plan_record = plan.model_dump(mode="json")
    exam.plan_updated_at = now
    session.flush()
    return exam


def _changeable(session: Session, user: User, exam_id: int, day: date, now: datetime) -> tuple[Exam, date]:
    exam = get_exam(session=session, user=user, exam_id=exam_id, for_update=True)
    today = local_today(exam, now)
    _check_day(exam, day, today, "date", "path")
    if _moved_in(exam, day):
        raise PlanningError("date", f"other days were moved to {day}: undo those moves first", where="path")
    return exam, today


def skip_day(*, session: Session, user: User, exam_id: int, day: date, now: datetime) -> Exam:
    """Skip a day: no study that day, its work re-flows to the other days (within their minutes).

    Raises:
        ExamNotFound: for a missing or another student's exam.
        PlanningError: (field ``date``) for a day outside today..the day before the exam, a day off, a day
            whose tasks are on the list, or a day other days were moved to.
    """
    exam, _ = _changeable(session, user, exam_id, day, now)
    return _store(session, user, exam, {**(exam.day_changes or {}), day.isoformat(): None}, now)


def move_day(*, session: Session, user: User, exam_id: int, day: date, to: date, now: datetime) -> Exam:
    """Move a day: its minutes go to ``to`` (e.g. the next day) and the plan re-flows.

    Raises:
        ExamNotFound: for a missing or another student's exam.
        PlanningError: field ``date`` as for ``skip_day``; field ``to`` for the same day, a day outside
            today..the day before the exam, a day off, a skipped or moved day, or one whose tasks are on the list.
    """
    exam, today = _changeable(session, user, exam_id, day, now)
    if to == day:
        raise PlanningError("to", "a day cannot move to itself")
    _check_day(exam, to, today, "to", "body")
    if to.isoformat() in (exam.day_changes or {}):
        raise PlanningError("to", f"{to} is skipped or moved itself: undo that first")
    return _store(session, user, exam, {**(exam.day_changes or {}), day.isoformat(): to.isoformat()}, now)


def restore_day(*, session: Session, user: User, exam_id: int, day: date, now: datetime) -> Exam:
    """Undo a skip or move of ``day`` (the plan re-flows again).

    Raises:
        ExamNotFound: for a missing or another student's exam.
        PlanningError: (field ``date``) when the day is not skipped or moved, or is past.
    """
    exam = get_exam(session=session, user=user, exam_id=exam_id, for_update=True)
    changes = dict(exam.day_changes or {})
    if day.isoformat() not in changes:
        raise PlanningError("date", f"{day} is not skipped or moved", where="path")
    if day < local_today(exam, now):
        raise PlanningError("date", f"{day} is past", where="path")
    del changes[day.isoformat()]
    return _store(session, user, exam, changes, now)
