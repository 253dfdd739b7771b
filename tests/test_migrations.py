"""The migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, defer

from studysmart.core.config import Settings
from studysmart.core.db import make_engine, transaction, utcnow
from studysmart.learning.context import make_context
from studysmart.learning.logs import PredictionLog
from studysmart.migrations import upgrade
from studysmart.models import Base
from studysmart.planning.models import Exam
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic
from studysmart.users.models import User
from tests.factories import make_task


def test_migrations_match_models(migrated: str) -> None:
    engine = make_engine(migrated)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


#: The schema's triggers, which autogenerate cannot see: a later migration that rebuilds a table (SQLite's batch mode
#: copies it) would drop them silently, and cached histories would outlive their answers (0010) or the kept model
#: scores drift from the logs (0009).
TRIGGERS = {f"{table}_{event}" for table in ("tasks_history", "prediction_logs_scores")
            for event in ("insert", "update", "delete")}


def test_the_latest_migration_keeps_every_trigger(migrated: str) -> None:
    engine = make_engine(migrated)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            found = set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        else:
            found = set(connection.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))
    engine.dispose()
    assert found >= TRIGGERS


def _counts(session: Session) -> dict[str, int]:
    return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Task, PredictionLog, Exam)}


def _user_before_0004(session: Session, now: datetime) -> User:
    """An account made on a schema older than 0004 (which added ``users.account_key``; 0010 ``history_token``)."""
    session.execute(text("INSERT INTO users (email, display_name, password_hash, created_at, preferences, "
                         "token_version) VALUES ('old@example.com', 'Old', 'x', :now, '{}', 0)"), {"now": now})
    user = session.scalars(select(User).options(defer(User.account_key), defer(User.history_token))
                           .where(User.email == "old@example.com")).one()
    return user


def _task_with_log(session: Session, user: User, now: datetime) -> Task:
    """A task and its prediction log written as rows (the services expect the latest schema, not 0002's)."""
    topic = session.scalar(select(Topic).where(Topic.key == "algebra"))
    if topic is None:
        topic = Topic(name="Algebra", key="algebra", created_at=now)
        session.add(topic)
        session.flush()
    task = Task(owner_id=user.id, topic_id=topic.id, title="Practice", difficulty=Difficulty.MEDIUM, created_at=now)
    session.add(task)
    session.flush()
    session.add(PredictionLog(task_id=task.id, user_id=user.id, model="shrinkage", served=True, p_correct=0.5,
                              mean_log_time=4.0, sd_log_time=1.0, source="population-prior", created_at=now))
    session.flush()
    return task


def test_ids_of_deleted_tasks_are_not_reused_and_the_rebuild_keeps_every_row(settings: Settings) -> None:
    """0003 rebuilds tasks and exams on SQLite (AUTOINCREMENT): rows and the rows that reference them survive."""
    upgrade(settings.database_url, "0002")
    context = make_context(settings)
    sessions = context.sessions
    now = utcnow()
    with transaction(sessions) as session:
        user = _user_before_0004(session, now)
        made = [_task_with_log(session, user, now) for _ in range(3)]
        session.execute(text(  # a row of 0002's exams table (the model has columns added later)
            "INSERT INTO exams (owner_id, name, exam_date, minutes_per_weekday, days_off, timezone, materialized, "
            "created_at, updated_at) VALUES (:owner, 'Final', :day, :minutes, '[]', 'UTC', '{}', :now, :now)"),
            {"owner": user.id, "day": now.date(), "minutes": "[30, 30, 30, 30, 30, 30, 30]", "now": now})
    with sessions() as session:
        before = _counts(session)
    assert before["Task"] == 3 and before["PredictionLog"] >= 3 and before["Exam"] == 1
    ids = [t.id for t in made]
    upgrade(settings.database_url)
    with transaction(sessions) as session:
        assert session.scalars(select(Task.id).order_by(Task.id)).all() == ids
        assert _counts(session) == before
        old_exam = session.scalars(select(Exam)).one()  # 0008's columns: the defaults for an existing exam
        assert (old_exam.day_changes, old_exam.band_low, old_exam.band_high, old_exam.max_tasks_per_day) == \
            ({}, 0.55, 0.9, 12)
        owner = session.get(User, user.id)
        assert owner is not None
        logs_of_newest = session.scalar(select(func.count()).where(PredictionLog.task_id == ids[-1]))
        session.delete(session.get(Task, ids[-1]))  # the newest task: the id SQLite used to hand out again
        session.flush()
        assert session.scalar(select(func.count()).select_from(PredictionLog)) == \
            before["PredictionLog"] - logs_of_newest  # the cascade still works
        assert make_task(session, owner, now=now).id > ids[-1]
    context.dispose()


def test_history_tokens_are_random_per_existing_student_and_renewed_by_their_answers(settings: Settings) -> None:
    """0010 gives every existing account its own token (a cache of the time before cannot match) and its triggers
    renew the token of whoever's done task changes, and only theirs."""
    upgrade(settings.database_url, "0009")
    context = make_context(settings)
    now = utcnow()
    with transaction(context.sessions) as session:
        for k in range(3):
            session.execute(text("INSERT INTO users (email, display_name, password_hash, created_at, preferences, "
                                 "token_version, account_key) VALUES (:email, 'Old', 'x', :now, '{}', 0, :key)"),
                            {"email": f"old{k}@example.com", "now": now, "key": f"key-{k}"})
    upgrade(settings.database_url)
    with transaction(context.sessions) as session:
        users = session.scalars(select(User).order_by(User.id)).all()
        tokens = [user.history_token for user in users]
        assert len(set(tokens)) == 3 and "0" not in tokens
        task = make_task(session, users[0], now=now)
        session.flush()
        assert [session.scalar(select(User.history_token).where(User.id == u.id)) for u in users] == tokens
        task.status, task.correct, task.seconds_taken, task.completed_at = TaskStatus.DONE, True, 60.0, now
        session.flush()
        after = [session.scalar(select(User.history_token).where(User.id == u.id)) for u in users]
        assert after[0] != tokens[0] and after[1:] == tokens[1:]
    context.dispose()
