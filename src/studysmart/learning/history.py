"""The one adapter from stored answers (the students' completed tasks) to ``ml.Responses``: every model, the
trainer, shadow scoring, planning and analytics read a student's history through it."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from studysmart.ml.data import Responses
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic, item_label
from studysmart.users.models import User


def person_label(user_id: int) -> str:
    """The person label of a user in model data."""
    return f"u{user_id}"


def _responses(rows: list[tuple[int, str, Difficulty, bool | None, float | None, datetime | None]]) -> Responses:
    return Responses.from_columns(
        person=[person_label(r[0]) for r in rows],
        item=[item_label(r[1], r[2]) for r in rows],
        correct=[None if r[3] is None else float(r[3]) for r in rows],
        seconds=[r[4] for r in rows],
        order=[r[5].timestamp() if r[5] else math.nan for r in rows],
        topic=[r[1] for r in rows],
        difficulty=[Difficulty(r[2]).value for r in rows],
    )


def _completed(session: Session, user_id: int | None = None, before: datetime | None = None,
               latest: int | None = None) -> Responses:
    stmt = (
        select(Task.owner_id, Topic.key, Task.difficulty, Task.correct, Task.seconds_taken, Task.completed_at)
        .join(Topic, Task.topic_id == Topic.id)
        .where(Task.status == TaskStatus.DONE)
        .order_by(Task.completed_at, Task.id)
    )
    if user_id is not None:
        stmt = stmt.where(Task.owner_id == user_id)
    if before is not None:
        stmt = stmt.where(Task.completed_at < before)
    if latest is not None:  # the newest ``latest`` answers (the index on completed_at), back in completion order
        stmt = stmt.order_by(None).order_by(Task.completed_at.desc(), Task.id.desc()).limit(latest)
        return _responses([tuple(r) for r in reversed(session.execute(stmt).all())])  # type: ignore[misc]
    return _responses([tuple(r) for r in session.execute(stmt)])  # type: ignore[misc]


def all_responses(session: Session, *, before: datetime | None = None) -> Responses:
    """Every completed task of every student, in completion order."""
    return _completed(session, before=before)


def recent_responses(session: Session, *, limit: int) -> Responses:
    """The ``limit`` most recently completed tasks of all students, in completion order (a bounded read)."""
    return _completed(session, latest=limit)


def user_history(session: Session, user: User, *, before: datetime | None = None) -> Responses:
    """One student's completed tasks, in completion order."""
    return _completed(session, user_id=user.id, before=before)
