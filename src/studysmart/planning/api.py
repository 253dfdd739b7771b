"""Exams API (thin: parse, call the service, commit after a write; a GET only reads). A missing or another
student's exam is a 404, an invalid exam a 422 naming the field (both are core.errors.DomainError)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from studysmart.core.db import utcnow
from studysmart.core.deps import SessionDep
from studysmart.core.errors import responses
from studysmart.planning import service
from studysmart.planning.schemas import (
    DayMove,
    ExamCreate,
    ExamRead,
    ExamUpdate,
    PlanRead,
    ReadinessRead,
    exam_read,
)
from studysmart.tasks.api import task_read
from studysmart.tasks.schemas import MAX_ROW_ID, TaskRead
from studysmart.users.deps import CurrentUser

router = APIRouter(prefix="/exams", tags=["exams"])
ONE_EXAM = responses(404)
ExamId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


@router.post("", response_model=ExamRead, status_code=status.HTTP_201_CREATED)
def create(body: ExamCreate, user: CurrentUser, session: SessionDep) -> ExamRead:
    exam = service.create_exam(
        session=session, user=user, name=body.name, date=body.date,
        topics=[t.model_dump() for t in body.topics], minutes_per_weekday=body.minutes_per_weekday,
        target_score=body.target_score, days_off=body.days_off, timezone=body.timezone,
        productive_band=body.productive_band, max_tasks_per_day=body.max_tasks_per_day, now=utcnow(),
    )
    session.commit()
    return exam_read(exam)


@router.get("", response_model=list[ExamRead])
def list_exams(user: CurrentUser, session: SessionDep) -> list[ExamRead]:
    return [exam_read(e) for e in service.list_exams(session=session, user=user)]


@router.get("/{exam_id}", response_model=ExamRead, responses=ONE_EXAM)
def get(exam_id: ExamId, user: CurrentUser, session: SessionDep) -> ExamRead:
    return exam_read(service.get_exam(session=session, user=user, exam_id=exam_id))


@router.patch("/{exam_id}", response_model=ExamRead, responses=ONE_EXAM)
def patch(exam_id: ExamId, body: ExamUpdate, user: CurrentUser, session: SessionDep) -> ExamRead:
    exam = service.update_exam(session=session, user=user, exam_id=exam_id, update=body, now=utcnow())
    session.commit()
    return exam_read(exam)


@router.delete("/{exam_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ONE_EXAM)
def delete(exam_id: ExamId, user: CurrentUser, session: SessionDep) -> None:
    service.delete_exam(session=session, user=user, exam_id=exam_id)
    session.commit()


@router.get("/{exam_id}/readiness", response_model=ReadinessRead, responses=ONE_EXAM)
def readiness(exam_id: ExamId, user: CurrentUser, session: SessionDep) -> ReadinessRead:
    result = service.exam_readiness(session=session, user=user, exam_id=exam_id, now=utcnow())
    return ReadinessRead.model_validate(result)


@router.get("/{exam_id}/plan", response_model=PlanRead, responses=ONE_EXAM)
def plan(exam_id: ExamId, user: CurrentUser, session: SessionDep) -> PlanRead:
    result = service.exam_plan(session=session, user=user, exam_id=exam_id, now=utcnow())
    return PlanRead.model_validate(result)


@router.get("/{exam_id}/plan.ics", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}, "description": "The plan as an iCalendar file"},
                       **ONE_EXAM})
def plan_ics(exam_id: ExamId, user: CurrentUser, session: SessionDep) -> Response:
    calendar = service.exam_ics(session=session, user=user, exam_id=exam_id, now=utcnow())
    return Response(calendar, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="exam-{exam_id}.ics"'})


@router.post("/{exam_id}/plan/{date}/materialize", response_model=list[TaskRead],
             status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "The day was materialized before: its tasks, none created"},
                        **ONE_EXAM})
def materialize(exam_id: ExamId, date: dt.date, user: CurrentUser, session: SessionDep,
                response: Response) -> list[TaskRead]:
    result = service.materialize_day(session=session, user=user, exam_id=exam_id, day=date, now=utcnow())
    session.commit()
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return [task_read(task) for task in result.tasks]


ONE_DAY = responses(404, 422)


@router.post("/{exam_id}/plan/{date}/skip", response_model=ExamRead, responses=ONE_DAY)
def skip(exam_id: ExamId, date: dt.date, user: CurrentUser, session: SessionDep) -> ExamRead:
    """Skip a day of the plan (no study that day); its work re-flows to the other days."""
    exam = service.skip_day(session=session, user=user, exam_id=exam_id, day=date, now=utcnow())
    session.commit()
    return exam_read(exam)


@router.post("/{exam_id}/plan/{date}/move", response_model=ExamRead, responses=ONE_DAY)
def move(exam_id: ExamId, date: dt.date, body: DayMove, user: CurrentUser, session: SessionDep) -> ExamRead:
    """Move a day of the plan: its minutes go to ``to`` and the plan re-flows."""
    exam = service.move_day(session=session, user=user, exam_id=exam_id, day=date, to=body.to, now=utcnow())
    session.commit()
    return exam_read(exam)


@router.delete("/{exam_id}/plan/{date}/change", response_model=ExamRead, responses=ONE_DAY)
def restore(exam_id: ExamId, date: dt.date, user: CurrentUser, session: SessionDep) -> ExamRead:
    """Undo the skip or move of a day."""
    exam = service.restore_day(session=session, user=user, exam_id=exam_id, day=date, now=utcnow())
    session.commit()
    return exam_read(exam)
