"""The worker's columnar read of every answer is the per-row read (``history.all_responses``), value for value."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction, utcnow
from studysmart.learning.columns import read_answers
from studysmart.learning.history import all_responses
from studysmart.ml.data import Responses
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task
from tests.factories import make_task, make_user

_FIELDS = ("person", "item", "correct", "log_time", "order", "persons", "items", "item_topic", "item_difficulty")


def _same(a: Responses, b: Responses) -> None:
    for name in _FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype, name
            assert np.array_equal(x, y, equal_nan=x.dtype != object), name


def _answers(sessions: sessionmaker[Session]) -> None:
    """12 students (ids past 10, so "u10" sorts before "u2"), three topics, every difficulty, a missing time, a
    missing outcome, answers interleaved in time, and tasks not yet done."""
    now = utcnow() - timedelta(days=3)
    with transaction(sessions) as session:
        users = [make_user(session, now=now) for _ in range(12)]
        for i in range(60):
            user = users[(i * 7) % len(users)]
            when = now + timedelta(minutes=i)
            task = make_task(session, user, now=when, topic=["Algebra", "Geometry", "Zoology"][i % 3],
                             difficulty=list(Difficulty)[(i // 3) % 3])
            if i % 11 == 10:
                continue  # still open: not an answer
            tasks.complete_task(session=session, user=user, task_id=task.id, correct=i % 4 != 0,
                                seconds=20.0 + i, now=when + timedelta(seconds=30))
            if i % 9 == 0:  # stored without a time or an outcome (older rows may be so)
                session.execute(update(Task).where(Task.id == task.id).values(
                    seconds_taken=None, correct=None if i == 18 else Task.correct))


def test_columnar_read_equals_the_row_read(sessions: sessionmaker[Session]) -> None:
    _answers(sessions)
    with sessions() as session:
        rows = all_responses(session)
        columns = read_answers(session, chunk=7)  # many partial chunks
        assert len(rows) == 55 and rows.n_persons == 12
        assert np.isnan(rows.correct).sum() == 1 and np.isnan(rows.log_time).sum() == 6  # missing values too
        _same(columns, rows)
        cut = utcnow() - timedelta(days=3) + timedelta(minutes=30)
        _same(read_answers(session, before=cut, chunk=4), all_responses(session, before=cut))


def test_columnar_read_of_no_answers(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        data = read_answers(session)
        _same(data, all_responses(session))
    assert len(data) == 0
