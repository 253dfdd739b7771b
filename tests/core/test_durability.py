"""The embedded database's durability: WAL with synchronous=FULL, so a commit is on disk (fsync'd) before the
request that made it is answered, and survives power loss, not only a crash of the process."""

from __future__ import annotations

import threading
from pathlib import Path

from studysmart.core.db import make_engine

SYNCHRONOUS_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def _pragmas(url: str) -> tuple[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    finally:
        engine.dispose()
    return str(journal), int(synchronous or 0)


def test_every_sqlite_connection_commits_durably(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'durable.db'}"
    assert _pragmas(url) == ("wal", SYNCHRONOUS_FULL)
    seen: list[tuple[str, int]] = []  # connections made by other threads (each web request's) alike
    workers = [threading.Thread(target=lambda: seen.append(_pragmas(url))) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert seen == [("wal", SYNCHRONOUS_FULL)] * 3
