"""Study tasks: create (with a prediction), edit, start (one timer at a time), complete (with the online update),
delete. The list is in ``tasks.listing``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studysmart.core.db import on_commit
from studysmart.core.exceptions import DomainError
from studysmart.core.text import name_problem
from studysmart.learning import history as stored_answers
from studysmart.learning import serving as predictions
from studysmart.learning import tracker as training
from studysmart.learning.context import AppContext, context_of
from studysmart.learning.prediction import ServedPrediction, ShownPrediction
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic, UserTopic, topic_key
from studysmart.tasks.schemas import TaskUpdate
from studysmart.users.models import User

MIN_SECONDS = 1.0  # the UI timer never records less
MAX_SECONDS = 86_400.0
#: How long after completing a task its completion can be undone (the page offers it for a few seconds; this
#: leaves room for a slow request). Later, the outcome and time can still be corrected (``update_task``).
UNDO_WINDOW = timedelta(minutes=2)
TOPIC_KEY_LENGTH = 100
#: Topics every student sees in their lists and autocomplete (migration 0005 creates them); any other topic is
#: seen only by the students who used it.
SHARED_TOPICS = ("Algebra", "Biology", "Calculus", "Chemistry", "Computer science", "Economics", "English",
                 "French", "Geography", "Geometry", "German", "History", "Literature", "Physics", "Probability",
                 "Spanish", "Statistics")


class TaskNotFound(DomainError, LookupError):
    """No such task for this user (another user's task is indistinguishable from a missing one)."""

    status = 404

    def __init__(self, task_id: int) -> None:
        super().__init__("task not found")
        self.task_id = task_id


class AlreadyCompleted(DomainError, RuntimeError):
    """The task is done already."""

    status = 409

    def __init__(self, task_id: int) -> None:
        super().__init__("task is already completed")
        self.task_id = task_id


class InvalidTaskInput(DomainError, ValueError):
    """A value is not acceptable; ``field`` names it."""

    status = 422
    field: str

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason, field=field)
        self.reason = reason


class TimerRunning(DomainError, RuntimeError):
    """Another task's timer is running: one timer at a time."""

    status = 409

    def __init__(self, task_id: int, running: Task) -> None:
        super().__init__(f"another task's timer is running (“{running.title}”, id {running.id}); "
                         "complete it or stop its timer first")
        self.task_id = task_id
        self.running_id = running.id
        self.running_title = running.title  # copied: the row is gone from the session once it rolls back


class NotCompleted(DomainError, RuntimeError):
    """The task is not done, so there is no completion to undo."""

    status = 409

    def __init__(self, task_id: int) -> None:
        super().__init__("task is not completed")
        self.task_id = task_id


class UndoExpired(DomainError, RuntimeError):
    """The completion is too old to undo; its outcome and time can still be corrected."""

    status = 409

    def __init__(self, task_id: int) -> None:
        super().__init__("too late to undo this completion; correct its outcome or time instead")
        self.task_id = task_id


@dataclass(frozen=True)
class CompletionResult:
    """The completed task and whether this completion started a retraining."""

    task: Task
    completed_since_training: int
    training_due: bool


def _request_training(context: AppContext) -> None:
    context.jobs.request_training(trigger="threshold")


# -- topics ----------------------------------------------------------------------------------------------------
def get_or_create_topic(*, session: Session, name: str, user: User | None = None) -> Topic:
    """The catalog topic with this name (case-insensitive), created if new; with ``user``, it joins their own
    topics (a topic of their tasks and exams is theirs anyway)."""
    name = " ".join(name.split())
    key = topic_key(name)
    if not key:
        raise InvalidTaskInput("topic", "must not be empty")
    if len(key) > TOPIC_KEY_LENGTH:  # case folding can lengthen a name ("ß" -> "ss")
        raise InvalidTaskInput("topic", f"must be at most {TOPIC_KEY_LENGTH} characters")
    problem = name_problem(name)
    if problem is not None:
        raise InvalidTaskInput("topic", problem)
    topic = session.scalar(select(Topic).where(Topic.key == key))
    if topic is None:
        try:
            with session.begin_nested():
                topic = Topic(name=name, key=key)
                session.add(topic)
        except IntegrityError:  # created concurrently
            topic = session.scalars(select(Topic).where(Topic.key == key)).one()
    if user is not None:
        _add_user_topic(session, user, topic)
    return topic


def _add_user_topic(session: Session, user: User, topic: Topic) -> None:
    if session.get(UserTopic, (user.id, topic.id)) is not None:
        return
    try:
        with session.begin_nested():
            session.add(UserTopic(user_id=user.id, topic_id=topic.id))
    except IntegrityError:  # added concurrently
        pass


def find_topic(*, session: Session, name: str) -> Topic | None:
    """The catalog topic with this name, if any."""
    return session.scalar(select(Topic).where(Topic.key == topic_key(name)))


def list_topics(*, session: Session, user: User, query: str | None = None, limit: int = 100) -> list[Topic]:
    """The topics ``user`` sees, by name: the shared list and their own (added by them, or of their tasks and
    exams), optionally those containing ``query``. Other students' topics are never listed."""
    from studysmart.planning.models import Exam, ExamTopic  # planning imports this module

    shared = [topic_key(name) for name in SHARED_TOPICS]
    own = or_(
        Topic.key.in_(shared),
        Topic.id.in_(select(UserTopic.topic_id).where(UserTopic.user_id == user.id)),
        Topic.id.in_(select(Task.topic_id).where(Task.owner_id == user.id)),
        Topic.id.in_(select(ExamTopic.topic_id).join(Exam, ExamTopic.exam_id == Exam.id)
                     .where(Exam.owner_id == user.id)),
    )
    stmt = select(Topic).where(own).order_by(Topic.key).limit(limit)
    if query:
        stmt = stmt.where(Topic.key.contains(topic_key(query), autoescape=True))
    return list(session.scalars(stmt))


def _check_title(title: str) -> None:
    problem = name_problem(title)
    if problem is not None:
        raise InvalidTaskInput("title", problem)


# -- tasks -----------------------------------------------------------------------------------------------------
def _lock_account(session: Session, user: User) -> None:
    """Lock the account row (PostgreSQL; SQLite writes one at a time anyway). Every write that locks a task locks its
    account first, so two of them never take the two rows in opposite orders (the history-token trigger of a done
    task's change updates the account after the task). FOR NO KEY UPDATE: rows referencing the account (KEY SHARE)
    never wait on it."""
    session.execute(select(User.id).where(User.id == user.id).with_for_update(key_share=True))


def _owned(session: Session, user: User, task_id: int, *, for_update: bool = False) -> Task:
    stmt = select(Task).where(Task.id == task_id, Task.owner_id == user.id)
    if for_update:
        _lock_account(session, user)
        stmt = stmt.with_for_update(of=Task, key_share=True)  # FOR NO KEY UPDATE: foreign keys' KEY SHARE pass
    task = session.scalar(stmt)
    if task is None:
        raise TaskNotFound(task_id)
    return task


def get_task(*, session: Session, user: User, task_id: int) -> Task:
    """One of the user's tasks; raises TaskNotFound."""
    return _owned(session, user, task_id)


def _apply_prediction(session: Session, user: User, task: Task, now: datetime, *, replace: bool = False) -> None:
    task.prediction = predictions.predict_and_log(session=session, user=user, task=task, now=now, replace=replace)


@dataclass(frozen=True)
class Preview:
    """What a new (topic, difficulty) task would be shown, and how many of the student's answers are in the topic."""

    prediction: ServedPrediction
    topic_answers: int
    topic: Topic | None = None  # the catalog topic it was priced for (None: a name not in the catalog yet)


def preview(*, session: Session, user: User, topic: str, difficulty: Difficulty, now: datetime) -> Preview:
    """The prediction a new task would get now; nothing is written (a topic not in the catalog is priced from the
    population, not created). The API's preview and the create form's both come from here."""
    name = " ".join(topic.split())
    catalog = find_topic(session=session, name=name)
    subject = catalog or Topic(name=name, key=topic_key(name))
    history = stored_answers.user_history(session, user)  # read once: for the prediction and the answer count
    served = predictions.predict_task(session=session, user=user, topic=subject, difficulty=Difficulty(difficulty),
                                      now=now, history=history)
    topics = history.row_topic()
    answers = int(np.sum(topics == subject.key)) if topics is not None and len(history) else 0
    return Preview(prediction=served, topic_answers=answers, topic=catalog)


def create_task(*, session: Session, user: User, title: str, topic: str, difficulty: Difficulty,
                notes: str | None = None, due_date: date | None = None, now: datetime,
                prediction: ServedPrediction | None = None, catalog: Topic | None = None) -> Task:
    """Plan a task and store the prediction shown for it (the worker logs the other models' later). ``prediction``:
    the one ``preview`` served for this student, topic and difficulty just before (e.g. in a read-only session, so
    that the writing transaction does not predict), else it is made here; ``catalog``: the catalog topic that
    preview found for ``topic`` (read in its session: a topic is never deleted while tasks refer to it)."""
    _check_title(title)
    if catalog is not None and catalog.key == topic_key(topic):
        catalog_topic = session.merge(catalog, load=False)  # as read: no second look-up
    else:
        catalog_topic = get_or_create_topic(session=session, name=topic)
    task = Task(owner_id=user.id, title=title, topic=catalog_topic, difficulty=Difficulty(difficulty), notes=notes,
                due_date=due_date, status=TaskStatus.PLANNED, created_at=now)
    if prediction is not None:
        task.prediction = prediction  # inserted with the task (not an UPDATE after it)
    session.add(task)
    session.flush()
    if prediction is None:
        _apply_prediction(session, user, task, now)
    else:
        predictions.log_served(session=session, task=task, served=prediction, now=now)
    return task


def current_predictions(*, session: Session, user: User, tasks: Sequence[Task],
                        now: datetime) -> dict[int, ShownPrediction]:
    """The current prediction for each open (not done) task among ``tasks``, by id: what the serving model says
    now, from the student's answers so far, in one batched model call. A done task keeps the prediction it was
    scored on (``Task.prediction``), so it has no entry. Nothing is written."""
    open_tasks = [task for task in tasks if task.status is not TaskStatus.DONE]
    return predictions.predict_tasks(session=session, user=user, tasks=open_tasks, now=now)


def task_update(changes: Mapping[str, Any]) -> TaskUpdate:
    """The typed edit of these fields (a page's form), or InvalidTaskInput naming the first refused field."""
    try:
        return TaskUpdate.model_validate(dict(changes))
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InvalidTaskInput(str(error["loc"][0]) if error["loc"] else "body", error["msg"]) from exc


def update_task(*, session: Session, user: User, task_id: int, update: TaskUpdate, now: datetime) -> Task:
    """Edit a task with the fields set in ``update`` (an explicit null clears notes or the due date); a new topic
    or difficulty on an unfinished task gets a new prediction; ``correct`` and ``seconds`` correct a done task's
    outcome and time (see ``_correct_completion``). One transaction: the caller commits."""
    task = _owned(session, user, task_id, for_update=True)
    given = update.model_fields_set
    repredict = False
    if update.title is not None:
        _check_title(update.title)
        task.title = update.title
    if "notes" in given:
        task.notes = update.notes
    if "due_date" in given:
        task.due_date = update.due_date
    if update.topic is not None:
        new_topic = get_or_create_topic(session=session, name=update.topic)
        repredict |= new_topic.id != task.topic_id
        task.topic = new_topic
    moved_topic = repredict
    if update.difficulty is not None:
        repredict |= update.difficulty != task.difficulty
        task.difficulty = update.difficulty
    if "correct" in given or "seconds" in given:
        _correct_completion(session, task, correct=update.correct, seconds=update.seconds, now=now)
    if repredict:
        if task.status is TaskStatus.DONE:
            raise InvalidTaskInput("topic" if moved_topic else "difficulty",
                                   "a completed task keeps its topic and difficulty")
        session.flush()
        _apply_prediction(session, user, task, now, replace=True)
    return task


def _check_seconds(seconds: float) -> None:
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:  # NaN fails too
        raise InvalidTaskInput("seconds", f"must be >= {MIN_SECONDS:.0f} and <= {MAX_SECONDS:.0f}")


def _correct_completion(session: Session, task: Task, *, correct: bool | None, seconds: float | None,
                        now: datetime) -> None:
    """Replace a done task's outcome and/or time. Everything that learns from it reads the task itself (the
    history, analytics, training), and the prediction log's scores are rewritten here, so all use the corrected
    values; it is still one completion for the training counter."""
    if task.status is not TaskStatus.DONE:
        raise InvalidTaskInput("correct" if correct is not None else "seconds",
                               "only a completed task's outcome and time can be corrected")
    if seconds is not None:
        _check_seconds(seconds)
        task.seconds_taken = float(seconds)
    if correct is not None:
        task.correct = correct
    session.flush()
    predictions.score_task(session=session, task=task, now=task.completed_at or now)


def undo_completion(*, session: Session, user: User, task_id: int, now: datetime) -> Task:
    """Undo a completion made within ``UNDO_WINDOW``: the task is open again (in progress if it was started),
    its prediction logs unscored and the completion taken out of the training counter (one transaction)."""
    task = _owned(session, user, task_id, for_update=True)
    if task.status is not TaskStatus.DONE or task.completed_at is None:
        raise NotCompleted(task_id)
    if now - task.completed_at > UNDO_WINDOW:
        raise UndoExpired(task_id)
    if task.started_at is not None and running_task(session=session, user=user, lock=True) is not None:
        task.started_at = None  # another timer started since: one timer at a time, so this one is planned again
    task.status = TaskStatus.IN_PROGRESS if task.started_at is not None else TaskStatus.PLANNED
    task.correct = None
    task.seconds_taken = None
    task.completed_at = None
    session.flush()
    predictions.unscore_task(session=session, task=task)
    training.uncount_completion(session=session)
    return task


def delete_task(*, session: Session, user: User, task_id: int) -> None:
    """Delete one of the user's tasks (its prediction logs go with it; a done one leaves the sample count)."""
    task = _owned(session, user, task_id, for_update=True)  # locked: a completion cannot race the count
    if task.status is TaskStatus.DONE:
        training.uncount_completions(session=session, n=1)
    session.delete(task)
    session.flush()


def running_task(*, session: Session, user: User, lock: bool = False) -> Task | None:
    """The user's task whose timer is running (in progress), if any; with ``lock``, the account row is locked
    first so that two starts at once cannot both find none (PostgreSQL; SQLite writes one at a time anyway)."""
    if lock:
        _lock_account(session, user)
    stmt = select(Task).where(Task.owner_id == user.id, Task.status == TaskStatus.IN_PROGRESS) \
        .order_by(Task.started_at.desc(), Task.id.desc()).limit(1)
    return session.scalar(stmt)


def start_task(*, session: Session, user: User, task_id: int, now: datetime) -> Task:
    """Start (or restart) the timer of a task that is not done; refused (TimerRunning) while another task's
    timer runs: one timer at a time."""
    running = running_task(session=session, user=user, lock=True)
    task = _owned(session, user, task_id, for_update=True)
    if task.status is TaskStatus.DONE:
        raise AlreadyCompleted(task_id)
    if running is not None and running.id != task.id:
        raise TimerRunning(task_id, running)
    task.status = TaskStatus.IN_PROGRESS
    task.started_at = now
    return task


def stop_task(*, session: Session, user: User, task_id: int) -> Task:
    """Stop a running timer without completing: the task is planned again (its time so far is not kept)."""
    task = _owned(session, user, task_id, for_update=True)
    if task.status is TaskStatus.DONE:
        raise AlreadyCompleted(task_id)
    task.status = TaskStatus.PLANNED
    task.started_at = None
    return task


def complete_task(*, session: Session, user: User, task_id: int, correct: bool, seconds: float | None,
                  now: datetime) -> CompletionResult:
    """Record the outcome, score every model's prediction, and count it toward retraining (one transaction).

    Without ``seconds``, a started task takes the time since it was started.
    """
    task = _owned(session, user, task_id, for_update=True)
    if task.status is TaskStatus.DONE:
        raise AlreadyCompleted(task_id)
    if seconds is None:
        seconds = task.elapsed_seconds(now)
        if seconds is None:
            raise InvalidTaskInput("seconds", "required when the task was not started")
        if seconds > MAX_SECONDS:
            raise InvalidTaskInput("seconds", "the task was started over 24 hours ago; give the time taken")
        seconds = max(seconds, MIN_SECONDS)
    _check_seconds(seconds)
    task.status = TaskStatus.DONE
    task.correct = correct
    task.seconds_taken = float(seconds)
    task.completed_at = now
    session.flush()
    predictions.score_task(session=session, task=task, now=now)
    count = training.count_completion(session=session, now=now)
    if count.training_due:
        context = context_of(session)
        on_commit(session, lambda: _request_training(context))
    return CompletionResult(task=task, completed_since_training=count.completed_since_training,
                            training_due=count.training_due)
