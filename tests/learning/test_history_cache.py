"""A student's history is cached per process under a token the database renews with every change to their answers:
whatever changes the answers (completing, undoing, correcting, deleting, another process), the next read is the
stored history, never a stale copy; what does not change them keeps the cached copy."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from studysmart.core.db import read_session, transaction, utcnow
from studysmart.learning.context import AppContext
from studysmart.learning.history import _completed, user_history
from studysmart.ml.data import Responses
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.tasks.schemas import TaskUpdate
from studysmart.users.models import User
from tests.conftest import reconfigured
from tests.factories import make_task, make_user

NOW = utcnow()


def _same(a: Responses, b: Responses) -> bool:
    return (len(a) == len(b) and list(a.persons[a.person]) == list(b.persons[b.person])
            and list(a.items[a.item]) == list(b.items[b.item])
            and np.array_equal(a.correct, b.correct, equal_nan=True)
            and np.array_equal(a.log_time, b.log_time, equal_nan=True)
            and np.array_equal(a.order, b.order, equal_nan=True))


def _token(session: Session, user: User) -> str:
    token = session.scalar(select(User.history_token).where(User.id == user.id))
    assert token is not None
    return token


def _fresh(session: Session, user: User) -> Responses:
    return _completed(session, user_id=user.id)


@pytest.fixture
def student(context: AppContext) -> int:
    with transaction(context.sessions) as session:
        user = make_user(session, now=NOW - timedelta(days=3))
        for k in range(3):
            task = make_task(session, user, now=NOW - timedelta(days=2, minutes=k), topic="Algebra")
            tasks.complete_task(session=session, user=user, task_id=task.id, correct=k % 2 == 0, seconds=60.0 + k,
                                now=NOW - timedelta(days=2) + timedelta(minutes=k))
        return user.id


def test_every_change_to_the_answers_renews_the_token_and_the_next_read_is_the_stored_history(
        context: AppContext, student: int) -> None:
    changes = {
        "complete": lambda s, u: tasks.complete_task(
            session=s, user=u, task_id=make_task(s, u, now=NOW, topic="Geometry").id, correct=True, seconds=90.0,
            now=NOW),
        "correct the outcome": lambda s, u: tasks.update_task(
            session=s, user=u, task_id=_done(s, u)[-1], update=TaskUpdate(correct=False), now=NOW),
        "correct the time": lambda s, u: tasks.update_task(
            session=s, user=u, task_id=_done(s, u)[-1], update=TaskUpdate(seconds=333.0), now=NOW),
        "undo": lambda s, u: tasks.undo_completion(session=s, user=u, task_id=_done(s, u)[-1], now=NOW),
        "delete an answer": lambda s, u: tasks.delete_task(session=s, user=u, task_id=_done(s, u)[0]),
        "bulk insert": lambda s, u: s.execute(insert(Task), [{
            "owner_id": u.id, "topic_id": s.scalar(select(Task.topic_id).where(Task.owner_id == u.id).limit(1)),
            "title": "Imported", "difficulty": Difficulty.HARD, "status": TaskStatus.DONE, "created_at": NOW,
            "completed_at": NOW, "correct": True, "seconds_taken": 120.0}]),
        "bulk update": lambda s, u: s.execute(update(Task).where(Task.owner_id == u.id, Task.status == TaskStatus.DONE)
                                              .values(seconds_taken=Task.seconds_taken + 1)),
        "bulk delete": lambda s, u: s.execute(delete(Task).where(Task.id == _done(s, u)[0])),
    }
    for what, change in changes.items():
        with transaction(context.sessions) as session:
            user = session.get(User, student)
            assert user is not None
            before = user_history(session, user)
            token = _token(session, user)
            assert user_history(session, user) is before  # the cached copy while nothing changed
            change(session, user)
            after = user_history(session, user)  # in the same transaction: the change is seen at once
            assert _token(session, user) != token, what
            assert _same(after, _fresh(session, user)), what
            assert not _same(after, before), what


def _done(session: Session, user: User) -> list[int]:
    return list(session.scalars(select(Task.id).where(Task.owner_id == user.id, Task.status == TaskStatus.DONE)
                                .order_by(Task.completed_at, Task.id)))


def test_planning_starting_and_editing_a_task_keep_the_cached_history(context: AppContext, student: int) -> None:
    with transaction(context.sessions) as session:
        user = session.get(User, student)
        assert user is not None
        cached, token = user_history(session, user), _token(session, user)
        task = make_task(session, user, now=NOW, topic="Calculus")
        tasks.start_task(session=session, user=user, task_id=task.id, now=NOW)
        tasks.update_task(session=session, user=user, task_id=_done(session, user)[0],
                          update=TaskUpdate(title="Renamed", notes="a note"), now=NOW)
        assert _token(session, user) == token
        assert user_history(session, user) is cached


def test_another_process_completing_a_task_is_seen_by_the_next_read(context: AppContext, student: int) -> None:
    other = reconfigured(context)  # the same database, its own history cache: a second process
    with context.sessions() as session:
        user = session.get(User, student)
        assert user is not None
        assert len(user_history(session, user)) == 3
    with transaction(other.sessions) as session:
        user = session.get(User, student)
        assert user is not None
        task = make_task(session, user, now=NOW, topic="Geometry")
        tasks.complete_task(session=session, user=user, task_id=task.id, correct=False, seconds=50.0, now=NOW)
    with context.sessions() as session:
        user = session.get(User, student)
        assert user is not None
        history = user_history(session, user)
        assert len(history) == 4
        assert _same(history, _fresh(session, user))


def test_the_cached_history_cannot_be_changed_in_place(context: AppContext, student: int) -> None:
    with context.sessions() as session:
        user = session.get(User, student)
        assert user is not None
        history = user_history(session, user)
        with pytest.raises(ValueError, match="read-only"):
            history.correct[0] = 0.5


def test_a_history_read_before_a_time_is_not_cached(context: AppContext, student: int) -> None:
    with context.sessions() as session:
        user = session.get(User, student)
        assert user is not None
        full = user_history(session, user)
        earlier = user_history(session, user, before=NOW - timedelta(days=2) + timedelta(seconds=30))
        assert len(earlier) == 1 and len(full) == 3
        assert user_history(session, user) is full


def test_the_cache_keeps_the_students_read_last(context: AppContext) -> None:
    small = reconfigured(context, history_cache_students=2)
    with transaction(small.sessions) as session:
        users = [make_user(session, now=NOW) for _ in range(3)]
        first = [user_history(session, user) for user in users]
        assert user_history(session, users[2]) is first[2]
        assert user_history(session, users[0]) is not first[0]  # the least recently read one was dropped


def test_a_deleted_account_leaves_the_cache(context: AppContext, student: int) -> None:
    from studysmart.users import service as users
    from tests.factories import PASSWORD

    with transaction(context.sessions) as session:
        user = session.get(User, student)
        assert user is not None
        user_history(session, user)
        token = _token(session, user)
    assert context.histories.get(student, token) is not None
    with transaction(context.sessions) as session:
        user = session.get(User, student)
        assert user is not None
        users.delete_account(session=session, user=user, current_password=PASSWORD)
    assert context.histories.get(student, token) is None


def test_a_read_session_that_loaded_the_student_reads_the_history_its_other_reads_see(
        context: AppContext, student: int) -> None:
    """Authenticate (load the user) in a read session, let another transaction complete a task, then read the
    history in that session: it agrees with what the session's own queries see (on SQLite the snapshot of the
    login, on PostgreSQL the latest commit), so a plan stamped from those queries is built from that history."""
    user_id = student
    with read_session(context.sessions) as reader:
        user = reader.get(User, user_id)
        assert user is not None
        with transaction(context.sessions) as session:
            writer_user = session.get(User, user_id)
            assert writer_user is not None
            task = make_task(session, writer_user, now=NOW, topic="Geometry")
            tasks.complete_task(session=session, user=writer_user, task_id=task.id, correct=True, seconds=40.0,
                                now=NOW)
        seen = reader.scalar(select(func.count()).select_from(Task)
                             .where(Task.owner_id == user_id, Task.status == TaskStatus.DONE))
        assert len(user_history(reader, user)) == seen
        assert seen == (3 if reader.get_bind().dialect.name == "sqlite" else 4)
