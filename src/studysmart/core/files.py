"""Private files: what StudySmart keeps on disk (the SQLite database, which holds password hashes, its -wal and
-shm, the job queue, the generated secret, web session storage, backups) is readable by its owner only: files
0600, directories 0700, whatever the process umask."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
_SIDECARS = ("-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)


def private_dir(path: Path, *, tighten: bool = True) -> Path:
    """Create the directory ``path`` (and its parents) if missing, itself 0700; with ``tighten``, an existing one
    of ours is set to 0700 too."""
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if tighten or not existed:
        _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 if it is missing (SQLite then uses it as a new database, and gives its
    -wal and -shm the same mode); an existing file of ours, and its SQLite side files, are set to 0600."""
    private_dir(path.parent, tighten=False)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _tighten(path, FILE_MODE)
    for suffix in _SIDECARS:
        _tighten(path.with_name(path.name + suffix), FILE_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated) with mode 0600."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as handle:
        os.fchmod(handle.fileno(), FILE_MODE)  # an existing file keeps its mode on open
        handle.write(data)


def secure_var_dir(var_dir: Path, *, sqlite_path: Path | None, with_queue: bool) -> None:
    """Make the var directory 0700 and what StudySmart keeps in it 0600, creating the SQLite database and the
    job-queue file private before anything opens them.

    Args:
        var_dir: ``settings.var_dir``.
        sqlite_path: the SQLite database file (None on PostgreSQL).
        with_queue: whether the job queue is the SQLite file ``var_dir/queue.db`` (no Redis).
    """
    private_dir(var_dir)
    if sqlite_path is not None:
        private_file(sqlite_path)
    if with_queue:
        private_file(var_dir / "queue.db")
    _tighten(var_dir / "secret_key", FILE_MODE)
