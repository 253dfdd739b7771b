"""``studysmart backup PATH`` / ``studysmart restore PATH``: a consistent copy of the database, and putting one
back so that nothing issued before the restore (API tokens, web sessions) is accepted after it.

SQLite goes through SQLite's online backup API (a consistent snapshot while the app keeps running and writing);
PostgreSQL through ``pg_dump -Fc`` / ``pg_restore --clean --if-exists`` (Debian's client tools, found on PATH or
in /usr/lib/postgresql/*/bin, the newest first). A restore brings the restored data to the current schema
(``db upgrade``) and then starts a new auth epoch (``users.service.renew_auth_epoch``). On SQLite the restored
copy is prepared (migrated, new epoch) in a private temporary file and copied into the live database in one step,
so the live database is never half-restored and the old epoch is never live again; on PostgreSQL ``pg_restore``
runs in a single transaction, and the new epoch is written right after it commits.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from studysmart.core.db import make_engine, make_sessionmaker, transaction, utcnow
from studysmart.core.files import private_dir, private_file
from studysmart.migrations import upgrade
from studysmart.users import service as users

POSTGRES_LIB = Path("/usr/lib/postgresql")
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with a one-line reason for the operator."""


def _backend(url: URL) -> str:
    name = url.get_backend_name()
    if name in ("postgresql", "postgres"):
        return "postgresql"
    if name == "sqlite" and url.database and url.database != ":memory:":
        return "sqlite"
    raise BackupError(f"cannot back up a {name} database at {url.render_as_string(hide_password=True)}")


def backup(*, database_url: str, path: Path) -> None:
    """Write a consistent backup of the database to ``path`` (0600; replaced atomically if it exists)."""
    url = make_url(database_url)
    backend = _backend(url)
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise BackupError(f"directory {path.parent} does not exist")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    private_file(tmp)
    try:
        if backend == "sqlite":
            _sqlite_backup(Path(str(url.database)), tmp)
        else:
            _run(_pg_tool("pg_dump"), ["-Fc", "--file", str(tmp)], url)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def restore(*, database_url: str, path: Path) -> None:
    """Replace the database's content with the backup at ``path``, bring it to the current schema, and start a
    new auth epoch (every token and web session issued before is refused)."""
    url = make_url(database_url)
    backend = _backend(url)
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"no backup file at {path}")
    if backend == "sqlite":
        _sqlite_restore(path, Path(str(url.database)))
        return
    with open(path, "rb") as handle:
        if handle.read(len(PG_DUMP_MAGIC)) != PG_DUMP_MAGIC:
            raise BackupError(f"{path} is not a pg_dump custom-format backup (made by `studysmart backup`)")
    _run(_pg_tool("pg_restore"), ["--clean", "--if-exists", "--single-transaction", "--exit-on-error",
                                  "--no-owner", str(path)], url)
    upgrade(database_url)
    _renew_epoch(database_url)


def _renew_epoch(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            users.renew_auth_epoch(session=session, now=utcnow())
    finally:
        engine.dispose()


# SQLite ---------------------------------------------------------------------------------------------------------

def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)  # one step: a consistent snapshot, concurrent writers carry on (WAL)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError("the copy failed its integrity check")


def _check_sqlite_backup(path: Path) -> None:
    with open(path, "rb") as handle:
        if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            raise BackupError(f"{path} is not a SQLite database (made by `studysmart backup`)")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(f"{path} is damaged (integrity check failed)")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be read as a SQLite database ({exc})") from None
    if not {"alembic_version", "users"} <= tables:
        raise BackupError(f"{path} is not a StudySmart database")


@contextmanager
def _scratch(live: Path) -> Iterator[Path]:
    scratch = live.with_name(f".{live.name}.restore-{os.getpid()}")
    private_file(scratch)
    try:
        yield scratch
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            scratch.with_name(scratch.name + suffix).unlink(missing_ok=True)


def _sqlite_restore(backup_file: Path, live: Path) -> None:
    _check_sqlite_backup(backup_file)
    private_dir(live.parent, tighten=False)
    with _scratch(live) as scratch:
        with closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(scratch)) as dst:
            src.backup(dst)
        scratch_url = f"sqlite:///{scratch}"
        upgrade(scratch_url)
        _renew_epoch(scratch_url)
        with closing(sqlite3.connect(scratch)) as dst:
            dst.execute("PRAGMA journal_mode=DELETE")  # everything in the main file before it is copied
        private_file(live)
        with closing(sqlite3.connect(f"file:{scratch}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(live, timeout=30)) as dst:
            src.backup(dst)  # one step, under the live database's write lock: never half-restored


# PostgreSQL -----------------------------------------------------------------------------------------------------

def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(POSTGRES_LIB.glob(f"*/bin/{name}"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0, reverse=True)
    if candidates:
        return str(candidates[0])
    raise BackupError(f"{name} not found on PATH or in {POSTGRES_LIB}/*/bin; install postgresql-client")


def _run(tool: str, arguments: list[str], url: URL) -> None:
    """Run a PostgreSQL client tool against ``url``; the password goes through the environment, never argv."""
    env = {**os.environ}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    result = subprocess.run([tool, *arguments, "--dbname", conninfo], env=env, capture_output=True, text=True,  # noqa: S603 - no shell, our own arguments
                            check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{Path(tool).name} failed: {lines[-1] if lines else f'exit {result.returncode}'}")
