"""Reads never take the write lock: on SQLite a read-only session (a GET's, the trainer's) runs its deferred
transaction while a writer holds BEGIN IMMEDIATE, refuses writes, and hands its pooled connection back able to
write; on PostgreSQL the same sessions behave as before."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import make_engine, make_sessionmaker, read_session, transaction
from tests.factories import register

HOLD_SECONDS = 10.0  # the writer gives up waiting after this; the reader must finish well before


def _table(url: str) -> sessionmaker[Session]:
    factory = make_sessionmaker(make_engine(url))
    with transaction(factory) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    return factory


def _while_writing(factory: sessionmaker[Session], read: object) -> tuple[object, bool]:
    """Run ``read()`` in this thread while another thread is inside a write transaction (an uncommitted INSERT);
    returns what it read and whether the writer was still inside when it finished."""
    inside, done = threading.Event(), threading.Event()
    still_inside: list[bool] = []

    def write() -> None:
        with transaction(factory) as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
            inside.set()
            done.wait(HOLD_SECONDS)
            still_inside.append(done.is_set())

    writer = threading.Thread(target=write)
    writer.start()
    assert inside.wait(5)
    try:
        value = read()  # type: ignore[operator]
    finally:
        done.set()
        writer.join()
    return value, still_inside == [True]


def test_a_read_session_reads_its_snapshot_while_a_writer_is_inside(tmp_path: Path) -> None:
    factory = _table(f"sqlite:///{tmp_path / 'reads.db'}")

    def read() -> list[int]:
        with read_session(factory) as session:
            return list(session.scalars(text("SELECT x FROM t ORDER BY x")))

    seen, overlapped = _while_writing(factory, read)
    assert overlapped, "the read waited for the writer to commit"
    assert seen == [1]  # the committed snapshot, not the writer's uncommitted row
    with read_session(factory) as session:
        assert list(session.scalars(text("SELECT x FROM t ORDER BY x"))) == [1, 2]


def test_a_read_session_refuses_writes_and_its_connection_writes_again_afterwards(tmp_path: Path) -> None:
    factory = _table(f"sqlite:///{tmp_path / 'readonly.db'}")
    with read_session(factory) as session, pytest.raises(OperationalError, match="readonly"):
        session.execute(text("INSERT INTO t VALUES (3)"))
    with transaction(factory) as session:  # the same pooled connection, now writing
        session.execute(text("INSERT INTO t VALUES (4)"))
    with read_session(factory) as session:
        assert list(session.scalars(text("SELECT x FROM t ORDER BY x"))) == [1, 4]


def test_a_read_session_on_the_test_database(sessions: sessionmaker[Session]) -> None:
    with read_session(sessions) as session:  # SQLite and PostgreSQL alike
        assert session.scalar(text("SELECT 1")) == 1


def test_a_get_is_answered_while_a_write_transaction_is_open(client: TestClient) -> None:
    headers = register(client)
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with transaction(factory) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))

    def preview() -> int:
        response = client.get("/api/v1/predictions/preview", params={"topic": "Algebra", "difficulty": "easy"},
                              headers=headers)
        return response.status_code

    status, overlapped = _while_writing(factory, preview)
    assert status == 200
    assert overlapped, "the GET waited for the write transaction"


def test_every_read_session_of_a_factory_shares_one_reading_engine(tmp_path: Path) -> None:
    factory = _table(f"sqlite:///{tmp_path / 'same.db'}")
    with read_session(factory) as first, read_session(factory) as second:
        assert first.get_bind() is second.get_bind()  # caches keyed by engine (plans) keep their entries
        assert first.get_bind() is not factory.kw["bind"]
