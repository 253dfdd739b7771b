"""What StudySmart keeps under var/ (the SQLite database, which holds password hashes, its -wal and -shm, the job
queue, the generated secret) is created 0600 in a 0700 directory, whatever the umask; existing files are
tightened at start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from studysmart.app import create_app
from studysmart.core.config import Environment, Settings
from studysmart.migrations import upgrade
from tests.factories import register


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default: files 0644, directories 0755
    yield
    os.umask(previous)


def _modes(directory: Path) -> dict[str, str]:
    return {path.name: oct(path.stat().st_mode & 0o777) for path in [directory, *directory.iterdir()]}


def _settings(var: Path) -> Settings:
    return Settings(env=Environment.DEVELOPMENT, var_dir=var, database_url="", secret_key="", redis_url=None,
                    worker_processes=0)


def test_the_app_creates_its_var_files_private(tmp_path: Path, loose_umask: None) -> None:
    var = tmp_path / "var"
    settings = _settings(var)
    upgrade(settings.database_url)  # `studysmart db upgrade` before the first start
    with TestClient(create_app(settings, with_ui=False)) as client:
        register(client, "private@example.com")  # writes: the database's -wal and -shm exist now
        settings.resolved_secret_key()
        modes = _modes(var)
    assert {"studysmart.db", "studysmart.db-wal", "studysmart.db-shm", "queue.db", "secret_key"} <= set(modes)
    expected = {name: "0o600" for name in modes if name != "var"}
    assert modes == {"var": "0o700", **expected}


def test_existing_var_files_are_tightened_at_start(tmp_path: Path, loose_umask: None) -> None:
    var = tmp_path / "var"
    settings = _settings(var)
    upgrade(settings.database_url)
    (var / "secret_key").write_text("an-older-installation-s-generated-secret-key-0123456789")
    for path, mode in ((var, 0o755), (var / "studysmart.db", 0o644), (var / "secret_key", 0o644)):
        path.chmod(mode)
    create_app(settings, with_ui=False)
    modes = _modes(var)
    assert (modes["var"], modes["studysmart.db"], modes["secret_key"], modes["queue.db"]) == \
        ("0o700", "0o600", "0o600", "0o600")


def test_the_queue_is_private_whichever_command_creates_it(tmp_path: Path, loose_umask: None) -> None:
    from studysmart.learning.jobs import Jobs

    var = tmp_path / "var"
    Jobs(_settings(var)).depth()  # e.g. `studysmart status` or `demo` before any `serve`
    assert _modes(var)["queue.db"] == "0o600"
