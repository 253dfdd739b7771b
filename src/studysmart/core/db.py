"""Database engine, sessions and the declarative base (SQLAlchemy 2, typed ORM).

SQLite runs in WAL mode with synchronous=FULL (an acknowledged commit survives power loss), foreign keys on, a busy
timeout, and ``BEGIN IMMEDIATE`` write transactions so that concurrent writers queue instead of failing. Work that
only reads (``read_session``: GET requests, the trainer's data) runs in plain deferred transactions instead, which
under WAL neither wait for the writer nor block it; they refuse writes (``PRAGMA query_only``). PostgreSQL goes
through psycopg 3, where both kinds of session behave alike.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from studysmart.core.files import private_file

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every ORM model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with StudySmart's connection settings (SQLite pragmas, psycopg 3 driver)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_file(Path(parsed.database))  # holds password hashes: 0600 (its -wal/-shm follow)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


#: The per-engine transaction locks of this process (see ``_configure_sqlite``), held across ``fork``.
_WRITE_LOCKS: weakref.WeakSet[Any] = weakref.WeakSet()
_FORK_WAIT_SECONDS = 30.0


class _TransactionLock:
    """A lock (weak-referenceable, unlike ``threading.Lock``) taken for every write transaction of one engine, and
    a count of its open read transactions (which take no lock, but a fork waits for them too)."""

    def __init__(self) -> None:
        self.held_for_fork = False
        self._lock = threading.Lock()
        self.acquire = self._lock.acquire
        self.release = self._lock.release
        self._readers = 0
        self._forking = False
        self._gate = threading.Condition()

    def enter_read(self) -> None:
        with self._gate:
            self._gate.wait_for(lambda: not self._forking)
            self._readers += 1

    def leave_read(self) -> None:
        with self._gate:
            self._readers -= 1
            self._gate.notify_all()

    def close_for_fork(self, timeout: float) -> None:
        with self._gate:
            self._forking = True
            self._gate.wait_for(lambda: self._readers == 0, timeout)

    def open_after_fork(self, *, child: bool) -> None:
        with self._gate:
            self._forking = False
            if child:  # the threads that held read transactions stayed in the parent
                self._readers = 0
            self._gate.notify_all()


def _before_fork() -> None:
    # A worker process forked while a thread here is inside a SQLite transaction inherits SQLite's in-memory
    # record that "this process" holds the database lock; its own new connection then waits on a lock nobody
    # will release ("database is locked" after busy_timeout). So a fork waits for open transactions to end,
    # and none starts until the fork is done.
    for lock in list(_WRITE_LOCKS):
        lock.held_for_fork = lock.acquire(timeout=_FORK_WAIT_SECONDS)
        lock.close_for_fork(_FORK_WAIT_SECONDS)


def _after_fork(*, child: bool) -> None:
    for lock in list(_WRITE_LOCKS):
        lock.open_after_fork(child=child)
        if lock.held_for_fork:
            lock.held_for_fork = False
            lock.release()


os.register_at_fork(before=_before_fork, after_in_parent=lambda: _after_fork(child=False),
                    after_in_child=lambda: _after_fork(child=True))

#: The execution option of an engine (and its connections) that only reads: see ``reader``.
READ_ONLY = "studysmart_read_only"
_READER_ATTRIBUTE = "_studysmart_reader"


def reader(engine: Engine) -> Engine:
    """``engine`` for reading only (the same pool): on SQLite a deferred transaction that never takes the write
    lock and refuses writes; on PostgreSQL the same transactions as ``engine``."""
    # One per engine, made once: what keys caches by engine (the plan cache) keeps its entries across requests.
    made: Engine | None = engine.__dict__.get(_READER_ATTRIBUTE)
    if made is None:
        made = engine.execution_options(**{READ_ONLY: True})
        setattr(engine, _READER_ATTRIBUTE, made)
    return made


def read_session(factory: sessionmaker[Session]) -> Session:
    """A new session of ``factory`` for work that only reads (a GET, the trainer's data, a preview).

    On SQLite it reads a consistent snapshot (WAL) concurrently with the one writer, which neither waits for it nor
    is waited for; a write through it fails at once ("attempt to write a readonly database").
    """
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("read_session needs a sessionmaker bound to an Engine")
    return factory(bind=reader(bind))


def _query_only(connection: Any, flag: bool) -> None:
    # A pooled connection keeps the pragma between transactions: set it only when it changes.
    if connection.info.get("query_only", False) != flag:
        connection.exec_driver_sql(f"PRAGMA query_only={int(flag)}")
        connection.info["query_only"] = flag


def _release(connection: Any, lock: _TransactionLock) -> None:
    """Release what ``connection``'s transaction holds (a Connection or the pool's connection: they share info)."""
    try:
        info = connection.info
    except (AttributeError, NotImplementedError):  # an ad-hoc pool wrapper (a reset): it holds nothing
        return
    if info.pop("holds_write_lock", False):
        lock.release()
    if info.pop("holds_read", False):
        lock.leave_read()


def _begin(connection: Any, lock: _TransactionLock) -> None:
    if connection.get_execution_options().get(READ_ONLY):
        # A reader takes no lock: under WAL it reads its snapshot while the one writer goes on.
        lock.enter_read()
        connection.info["holds_read"] = True
        flag, begin = True, "BEGIN"
    else:
        # IMMEDIATE takes the write lock up front: two writers queue on busy_timeout instead of deadlocking
        # on a read-to-write upgrade (which SQLite reports at once as "database is locked").
        lock.acquire()
        connection.info["holds_write_lock"] = True
        flag, begin = False, "BEGIN IMMEDIATE"
    try:
        _query_only(connection, flag)
        connection.exec_driver_sql(begin)
    except BaseException:
        _release(connection, lock)
        raise


def _configure_sqlite(engine: Engine) -> None:
    # One writer at a time per process, queued on a lock (woken at once) rather than on SQLite's busy handler
    # (which sleeps in growing steps and gives multi-second tails under load). Other processes (the training
    # worker, other web processes) still queue on busy_timeout. Readers (``reader``) take no lock.
    write_lock = _TransactionLock()
    _WRITE_LOCKS.add(write_lock)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        record.info.pop("query_only", None)  # a new connection writes (a record's info outlives reconnects)
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=FULL")  # WAL + FULL: a commit is fsync'd before it returns (README)
        cursor.close()

    event.listen(engine, "begin", lambda connection: _begin(connection, write_lock))

    # The lock is released once SQLite's COMMIT or ROLLBACK has returned (the "commit" and "rollback" events
    # fire before it): a fork between the two would copy SQLite's record of a lock still held, and with
    # synchronous=FULL the commit (an fsync) lasts long enough for that to happen.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def _commit_then_release(connection: Any) -> None:
        try:
            commit(connection)
        finally:
            _release(connection, write_lock)

    def _rollback_then_release(connection: Any) -> None:
        try:
            rollback(connection)
        finally:
            _release(connection, write_lock)

    dialect.do_commit = _commit_then_release  # type: ignore[method-assign,assignment]
    dialect.do_rollback = _rollback_then_release  # type: ignore[method-assign,assignment]


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the session's current transaction has committed (never if it rolls back).

    For side effects outside the database, such as enqueueing a job about rows this transaction writes.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


_AFTER_COMMIT = "studysmart.after_commit"
_log = logging.getLogger("studysmart.db")


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint committed; the outer transaction is still open
        return
    for callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception:  # the data is committed; a failed side effect is logged and recovered elsewhere
            _log.exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint rolled back; the outer transaction may still commit
        return
    session.info.pop(_AFTER_COMMIT, None)
