"""Tasks and topics API (thin: parse, call the service, commit)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, File, HTTPException, Path, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studysmart.core.db import read_session, transaction, utcnow
from studysmart.core.deps import SessionDep, SettingsDep
from studysmart.core.errors import responses
from studysmart.learning.context import ContextDep
from studysmart.learning.prediction import ShownPrediction
from studysmart.tasks import listing, service, transfer
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic
from studysmart.tasks.schemas import (
    MAX_ROW_ID,
    CompleteTask,
    PredictionRead,
    TaskCreate,
    TaskPage,
    TaskRead,
    TaskUpdate,
    TopicCreate,
    TopicName,
    TopicRead,
)
from studysmart.users import service as users
from studysmart.users.deps import BearerToken, CurrentUser
from studysmart.users.models import User

router = APIRouter(prefix="/tasks", tags=["tasks"])
ONE_TASK = responses(404)
TaskId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
topics_router = APIRouter(prefix="/topics", tags=["topics"])


def _prediction_read(shown: ShownPrediction | None) -> PredictionRead | None:
    return PredictionRead.model_validate(shown) if shown is not None else None


def task_read(task: Task, current: ShownPrediction | None = None) -> TaskRead:
    """The API view of a task: ``prediction`` is ``current`` for an open task (the stored one when not given: a
    task just created or re-predicted), the stored one for a done task; ``created_prediction`` the stored one."""
    created = _prediction_read(task.prediction)
    prediction = created if task.status is TaskStatus.DONE or current is None else _prediction_read(current)
    return TaskRead(
        id=task.id, title=task.title, topic=task.topic.name, difficulty=task.difficulty, notes=task.notes,
        status=task.status, due_date=task.due_date, created_at=task.created_at, started_at=task.started_at,
        completed_at=task.completed_at, correct=task.correct, seconds_taken=task.seconds_taken,
        prediction=prediction, created_prediction=created,
    )


def _reads(session: Session, user: User, tasks: list[Task]) -> list[TaskRead]:
    """The API views of these tasks, with the current predictions of the open ones (one batched model call)."""
    current = service.current_predictions(session=session, user=user, tasks=tasks, now=utcnow())
    return [task_read(task, current.get(task.id)) for task in tasks]


@router.post("", response_model=TaskRead, status_code=status.HTTP_201_CREATED)
def create(body: TaskCreate, token: BearerToken, settings: SettingsDep, context: ContextDep) -> TaskRead:
    # Authentication and the prediction read in one read-only session; the write transaction (on SQLite, the one
    # writer at a time) only inserts the task and its prediction log.
    # An account deleted since authentication fails the task's foreign key: a 401, as if it had gone before.
    # (The body is validated before the token is checked here: a bad body with a bad token is a 422, not a 401.)
    now = utcnow()
    with read_session(context.sessions) as reader:
        user = users.user_from_token(session=reader, token=token, secret=settings.resolved_secret_key())
        shown = service.preview(session=reader, user=user, topic=body.topic, difficulty=body.difficulty, now=now)
    try:
        with transaction(context.sessions) as session:
            task = service.create_task(session=session, user=user, title=body.title, topic=body.topic,
                                       difficulty=body.difficulty, notes=body.notes, due_date=body.due_date, now=now,
                                       prediction=shown.prediction, catalog=shown.topic)
    except IntegrityError:
        with read_session(context.sessions) as reader:
            users.account(session=reader, user_id=user.id)  # NotAuthenticated when the account has gone
        raise
    return task_read(task)


def _today(tz: str) -> date:
    """Today's date in the time zone called ``tz``; a 422 naming ``tz`` when there is no such zone."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory of zones, like "America"
        raise HTTPException(status_code=422, detail=[{"loc": ["query", "tz"], "msg": "unknown time zone",
                                                      "type": "value_error"}]) from None
    return utcnow().astimezone(zone).date()


@router.get("", response_model=TaskPage)
def list_tasks(user: CurrentUser, session: SessionDep, status: TaskStatus | None = None,
               topic: Annotated[str | None, Query(max_length=100)] = None,
               view: Annotated[listing.TaskView | None, Query(
                   description="today, upcoming (due later or no due date), overdue: open tasks; done")] = None,
               sort: Annotated[listing.TaskSort, Query(
                   description="after the running task: created (newest first) or due (soonest first)")]
               = listing.TaskSort.CREATED,
               q: Annotated[str | None, Query(max_length=listing.MAX_QUERY_LENGTH,
                                              description="words the title contains")] = None,
               tz: Annotated[str, Query(max_length=64, description="IANA time zone of 'today'")] = "UTC",
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               offset: Annotated[int, Query(ge=0, le=2**31)] = 0) -> TaskPage:
    """The student's tasks, the running one first, filtered, searched and sorted (paged; ``total`` counts all)."""
    tasks, total = listing.list_tasks(session=session, user=user, today=_today(tz), status=status, topic=topic,
                                      view=view, sort=sort, query=q, limit=limit, offset=offset)
    return TaskPage(items=_reads(session, user, tasks), total=total, limit=limit, offset=offset)


class Imported(BaseModel):
    imported: int


@router.post("/import", response_model=Imported, status_code=status.HTTP_201_CREATED, responses=responses(413))
def import_tasks(file: Annotated[UploadFile, File(description="A CSV file with the columns of the export's "
                                                              "tasks.csv (see GET /tasks/import/template)")],
                 user: CurrentUser, session: SessionDep, settings: SettingsDep) -> Imported:
    """Import past study sessions from CSV, all or nothing: 422 names the first bad row (the header is row 1),
    its column and the reason, and nothing is imported; 413 for a file over ``max_import_bytes``."""
    content_type = (file.content_type or "").split(";")[0].strip().lower()
    if content_type not in transfer.CSV_CONTENT_TYPES:
        raise transfer.ImportRefused(f"must be a CSV file (text/csv), not {content_type}")
    data = file.file.read(settings.max_import_bytes + 1)
    imported = transfer.import_tasks(session=session, user=user, data=data, max_bytes=settings.max_import_bytes,
                                     now=utcnow())
    session.commit()
    return Imported(imported=imported)


@router.get("/import/template", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def import_template(user: CurrentUser) -> Response:
    """A CSV template for the import: the export's columns and two example rows to replace."""
    return Response(transfer.template_csv(now=utcnow()), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="studysmart-tasks-template.csv"'})


@router.get("/{task_id}", response_model=TaskRead, responses=ONE_TASK)
def get(task_id: TaskId, user: CurrentUser, session: SessionDep) -> TaskRead:
    return _reads(session, user, [service.get_task(session=session, user=user, task_id=task_id)])[0]


@router.patch("/{task_id}", response_model=TaskRead, responses=ONE_TASK)
def patch(task_id: TaskId, body: TaskUpdate, user: CurrentUser, session: SessionDep) -> TaskRead:
    task = service.update_task(session=session, user=user, task_id=task_id, update=body, now=utcnow())
    session.commit()
    return _reads(session, user, [task])[0]


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ONE_TASK)
def delete(task_id: TaskId, user: CurrentUser, session: SessionDep) -> None:
    service.delete_task(session=session, user=user, task_id=task_id)
    session.commit()


@router.post("/{task_id}/start", response_model=TaskRead, responses=responses(404, 409))
def start(task_id: TaskId, user: CurrentUser, session: SessionDep) -> TaskRead:
    """Start (or restart) the task's timer; 409 while another task's timer runs (one timer at a time)."""
    task = service.start_task(session=session, user=user, task_id=task_id, now=utcnow())
    session.commit()
    return _reads(session, user, [task])[0]


@router.post("/{task_id}/stop", response_model=TaskRead, responses=responses(404, 409))
def stop(task_id: TaskId, user: CurrentUser, session: SessionDep) -> TaskRead:
    """Stop the task's timer without completing it (the task is planned again)."""
    task = service.stop_task(session=session, user=user, task_id=task_id)
    session.commit()
    return _reads(session, user, [task])[0]


@router.post("/{task_id}/complete", response_model=TaskRead, responses=responses(404, 409))
def complete(task_id: TaskId, body: CompleteTask, user: CurrentUser, session: SessionDep) -> TaskRead:
    result = service.complete_task(session=session, user=user, task_id=task_id, correct=body.correct,
                                   seconds=body.seconds, now=utcnow())
    session.commit()
    return task_read(result.task)


@router.post("/{task_id}/undo", response_model=TaskRead, responses=responses(404, 409))
def undo(task_id: TaskId, user: CurrentUser, session: SessionDep) -> TaskRead:
    """Undo a completion made in the last few minutes: the task is open again and the answer is taken out of
    the training data and the counter (later, correct it with PATCH ``correct`` / ``seconds``)."""
    task = service.undo_completion(session=session, user=user, task_id=task_id, now=utcnow())
    session.commit()
    return _reads(session, user, [task])[0]


@topics_router.get("", response_model=list[TopicRead])
def list_topics(session: SessionDep, user: CurrentUser,
                q: Annotated[str | None, Query(max_length=100)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[Topic]:
    return service.list_topics(session=session, user=user, query=q, limit=limit)


@topics_router.post("", response_model=TopicRead, status_code=status.HTTP_201_CREATED)
def create_topic(body: TopicCreate, session: SessionDep, user: CurrentUser) -> Topic:
    try:
        topic = service.get_or_create_topic(session=session, name=body.name, user=user)
    except service.InvalidTaskInput as exc:  # the service names the task's field, "topic"; here it is "name"
        raise service.InvalidTaskInput("name", exc.reason) from None
    session.commit()
    return topic


__all__ = ["TopicName", "router", "topics_router"]


predictions_router = APIRouter(prefix="/predictions", tags=["predictions"])


@predictions_router.get("/preview", response_model=PredictionRead)
def preview(user: CurrentUser, session: SessionDep,
            topic: Annotated[str, Query(min_length=1, max_length=100)],
            difficulty: Difficulty) -> PredictionRead:
    """What a new task of this topic and difficulty would be shown now (nothing is written)."""
    shown = service.preview(session=session, user=user, topic=topic, difficulty=difficulty, now=utcnow())
    return PredictionRead.model_validate(shown.prediction)
