"""Fixtures: a fresh database per test on SQLite and (marked ``postgres``) PostgreSQL, settings, app client.

PostgreSQL and Redis come from STUDYSMART_TEST_POSTGRES_URL / STUDYSMART_TEST_REDIS_URL. Locally a missing server
skips its tests; in CI (CI or STUDYSMART_REQUIRE_SERVICES set) it fails them.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core import security
from studysmart.core.config import Settings, get_settings
from studysmart.core.db import make_engine
from studysmart.learning.context import AppContext, make_context

REQUIRE_SERVICES = bool(os.environ.get("STUDYSMART_REQUIRE_SERVICES") or os.environ.get("CI"))
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def service_url(variable: str, what: str) -> str:
    """The URL of a test service, or skip (locally) / fail (CI) when it is not configured.

    Under pytest-xdist each worker gets its own PostgreSQL database (``<name>_gw0``, created on first use) and
    its own Redis database number, so parallel workers never share state."""
    url = os.environ.get(variable)
    if not url:
        message = f"{what} is needed: set {variable}"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        return _worker_url(make_url(url), int(worker.removeprefix("gw")))
    return url


def _worker_url(url: URL, index: int) -> str:
    if url.drivername.startswith("redis"):
        return url.set(database=str(int(url.database or 0) + 1 + index)).render_as_string(hide_password=False)
    own = url.set(database=f"{url.database}_gw{index}")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                    {"name": own.database}).first()
        if exists is None:
            connection.exec_driver_sql(f'CREATE DATABASE "{own.database}"')
    engine.dispose()
    return own.render_as_string(hide_password=False)


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def _recreate_postgres(url: str, template: str) -> None:
    """Drop the database at ``url`` (ending any connection a test left open) and create it again as a copy of
    ``template``: a file copy of a few MB, against seconds for running every migration."""
    target = make_url(url)
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
            connection.exec_driver_sql(
                f'CREATE DATABASE "{target.database}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    finally:
        server.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: one run per backend (a test that asks for ``migrated`` gets it migrated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url = service_url("STUDYSMART_TEST_POSTGRES_URL", "PostgreSQL")
    if "migrated" not in request.fixturenames:  # ``migrated`` replaces the whole database from its template
        _reset_postgres(url)
    return url


#: Argon2id at its minimal cost: the same code path as production's hasher (tests/core/test_security.py checks
#: production's parameters), at about 1 ms a hash instead of 200: the suite hashes and verifies thousands.
CHEAP_HASHER = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
_CHEAP_DUMMY_HASH = CHEAP_HASHER.hash("studysmart-no-such-user")


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test in this process hashes passwords with ``CHEAP_HASHER`` (servers a test starts keep the real one)."""
    monkeypatch.setattr(security, "_hasher", CHEAP_HASHER)
    monkeypatch.setattr(security, "_DUMMY_HASH", _CHEAP_DUMMY_HASH)


@pytest.fixture
def settings(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for one test (environment variables, as in production)."""
    for name in list(os.environ):
        if name.startswith("STUDYSMART_") and not name.startswith(("STUDYSMART_TEST_", "STUDYSMART_SHARED")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STUDYSMART_ENV", "test")
    monkeypatch.setenv("STUDYSMART_DATABASE_URL", db_url)
    monkeypatch.setenv("STUDYSMART_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("STUDYSMART_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("STUDYSMART_MODEL_REFRESH_SECONDS", "0")
    monkeypatch.setenv("STUDYSMART_WORKER_PROCESSES", "0")  # tests drive the queue themselves
    # The prototype's rule: a training every STUDYSMART_RETRAIN_THRESHOLD completions (tests/learning/test_trigger.py
    # sets the growth share and the time floor itself).
    monkeypatch.setenv("STUDYSMART_RETRAIN_GROWTH_PERCENT", "0")
    monkeypatch.setenv("STUDYSMART_RETRAIN_MIN_INTERVAL_SECONDS", "0")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database at the latest migration per test process, copied for each test that needs one (the
    migrations run once, not once per test)."""
    from studysmart.migrations import upgrade

    template = tmp_path_factory.mktemp("template") / "migrated.db"
    upgrade(f"sqlite:///{template}")
    return template


@pytest.fixture(scope="session")
def migrated_postgres_template() -> str:
    """The name of one PostgreSQL database at the latest migration per test process (``<test db>_template``),
    which each PostgreSQL test's database is created from."""
    from studysmart.migrations import upgrade

    url = make_url(service_url("STUDYSMART_TEST_POSTGRES_URL", "PostgreSQL"))
    template = url.set(database=f"{url.database}_template")
    _recreate_postgres(template.render_as_string(hide_password=False), "template0")
    upgrade(template.render_as_string(hide_password=False))  # its engine is disposed: no connection stays open
    return str(template.database)


@pytest.fixture
def migrated(settings: Settings, request: pytest.FixtureRequest) -> str:
    """The test database at the latest migration: a copy of a migrated template (made once per test process)."""
    from studysmart.migrations import upgrade

    target = settings.sqlite_path
    if target is not None and not target.exists():
        template: Path = request.getfixturevalue("migrated_sqlite_template")
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
    elif make_url(settings.database_url).get_backend_name() == "postgresql":
        _recreate_postgres(settings.database_url, request.getfixturevalue("migrated_postgres_template"))
    else:
        upgrade(settings.database_url)
    return settings.database_url


@pytest.fixture
def context(settings: Settings, migrated: str) -> Iterator[AppContext]:
    """The test's own application context (settings, database, an empty model cache, its job queue)."""
    made = make_context(settings)
    yield made
    made.dispose()


def reconfigured(context: AppContext, **changes: Any) -> AppContext:
    """A context like ``context`` (same database) with some settings changed, as a restart with them would be."""
    return make_context(context.settings.model_copy(update=changes), engine=context.engine)


@pytest.fixture
def sessions(context: AppContext) -> sessionmaker[Session]:
    """Sessions of the test's context (services read its models and settings through them)."""
    return context.sessions


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


@pytest.fixture
def client(settings: Settings, migrated: str) -> Iterator[TestClient]:
    """An API client on a fresh app (without the web UI)."""
    from studysmart.app import create_app

    with TestClient(create_app(settings, with_ui=False)) as test_client:
        yield test_client


#: Tests whose PostgreSQL run repeats a minute or more of the same work as their SQLite run: two model tests
#: that use the database only to store answers and models, and the whole-API fuzzer (PostgreSQL's own failure
#: modes, NUL characters, integer overflow, locking, have their own tests on both databases). Their PostgreSQL
#: runs are in ``make test-slow``, to keep CI under its 20 minutes.
SLOW_ON_POSTGRES = {
    "test_one_account_cannot_poison_a_new_students_predictions_or_anyones_exam_plan",
    "test_each_served_prediction_equals_the_harness_online_prediction",
    "test_openapi_fuzz_no_server_error_and_every_answer_keeps_its_schema",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (getattr(item, "originalname", None) in SLOW_ON_POSTGRES and callspec is not None
                and callspec.params.get("db_url") == "postgres"):
            item.add_marker(pytest.mark.slow)
