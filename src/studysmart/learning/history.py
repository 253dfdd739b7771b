"""The one adapter from stored answers (the students' completed tasks) to ``ml.Responses``: every model, the
trainer, shadow scoring, planning and analytics read a student's history through it. A student's whole history is
kept per process (``HistoryCache``) under their history token, which the database renews whenever their answers
change (migration 0010), so a request reads one row instead of every answer."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import fields
from datetime import datetime

import numpy as np
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from studysmart.core.db import READ_ONLY
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
    """One student's completed tasks, in completion order (read-only arrays). The whole history comes from the
    context's ``HistoryCache`` while the student's history token is unchanged."""
    from studysmart.learning.context import context_of  # the context module imports this one (via the cache)

    if before is not None:
        return _completed(session, user_id=user.id, before=before)
    token = _history_token(session, user)
    cache = context_of(session).histories
    history = cache.get(user.id, token) if token is not None else None
    if history is None:
        history = _frozen(_completed(session, user_id=user.id))
        if token is not None:
            cache.put(user.id, token, history)
    return history


def _history_token(session: Session, user: User) -> str | None:
    """The student's history token as ``session``'s next statements see it. In a read-only SQLite session that
    loaded ``user`` itself (e.g. authenticated it) the loaded value is its transaction's snapshot (SQLite reads one
    snapshot per transaction), so it is not read again; otherwise, and always on PostgreSQL (where each statement
    of a read-committed transaction sees the latest commits), it is read (which flushes pending changes first)."""
    state = inspect(user)
    bind = session.get_bind()
    read_only = bool(bind.get_execution_options().get(READ_ONLY)) and bind.dialect.name == "sqlite"
    if read_only and state.session is session and "history_token" not in state.unloaded:
        return user.history_token
    return session.scalar(select(User.history_token).where(User.id == user.id))


def _frozen(responses: Responses) -> Responses:
    """``responses`` with every array read-only: one cached history is shared by every request that reads it."""
    for column in fields(responses):
        value = getattr(responses, column.name)
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
        elif isinstance(value, dict):
            for array in value.values():
                array.setflags(write=False)
    return responses


class HistoryCache:
    """The last ``size`` students' histories read by this process, each under the history token it was read with
    (a token the database renews with every change to that student's answers, so an entry is never stale: a new
    token misses and the history is read again)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[str, Responses]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, user_id: int, token: str) -> Responses | None:
        """The cached history of this student under this token, or None."""
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is None or entry[0] != token:
                return None
            self._entries.move_to_end(user_id)
            return entry[1]

    def put(self, user_id: int, token: str, history: Responses) -> None:
        """Keep this student's history under ``token`` (dropping the least recently read student beyond ``size``)."""
        if self.size <= 0:
            return
        with self._lock:
            self._entries[user_id] = (token, history)
            self._entries.move_to_end(user_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, user_id: int) -> None:
        """Drop a student's entry (an erased account)."""
        with self._lock:
            self._entries.pop(user_id, None)
