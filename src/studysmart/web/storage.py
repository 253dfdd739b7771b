"""Where NiceGUI keeps ``app.storage.user`` (the web sessions' identities): in ``var_dir/sessions`` (0700), one
file per browser id, each written 0600, and sessions older than their lifetime removed at start.

NiceGUI writes its storage files with the process umask (usually 0644) into ``./.nicegui`` of the working
directory. It reads ``Storage.path`` when a storage is created, so setting it before the first request moves
them; the files are written by ``PrivateFileDict``, a ``FilePersistentDict`` whose backup writes 0600. With
``NICEGUI_REDIS_URL`` (scale-out) NiceGUI keeps them in Redis and nothing here applies; an explicit
``NICEGUI_STORAGE_PATH`` is respected.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from nicegui.persistence import FilePersistentDict, PersistentDict
from nicegui.persistence.serialization import dumps
from nicegui.storage import Storage

from studysmart.core.files import private_dir, write_private

_original_factory = Storage._create_persistent_dict


class PrivateFileDict(FilePersistentDict):
    """NiceGUI's file-backed storage, written synchronously (the files are tiny) with mode 0600."""

    def backup(self) -> None:
        """Write the data to the file (0600), or remove the file when the data is empty."""
        if not self:
            with contextlib.suppress(FileNotFoundError):
                self.filepath.unlink()
            return
        private_dir(self.filepath.parent, tighten=False)
        tmp = self.filepath.with_name(f"{self.filepath.name}.{os.getpid()}.tmp")
        write_private(tmp, dumps(self, str(self.filepath), indent=self.indent).encode(self.encoding or "utf-8"))
        tmp.replace(self.filepath)


def _private_factory(id: str) -> PersistentDict:  # NiceGUI's name
    if Storage.redis_url:
        return _original_factory(id)
    return PrivateFileDict(Storage.path / f"storage-{id}.json", encoding="utf-8")


def keep_private(path: Path, *, max_age_hours: float) -> None:
    """Keep NiceGUI's per-browser storage in ``path`` (unless NICEGUI_STORAGE_PATH says otherwise), private, and
    without the storage of sessions older than ``max_age_hours``."""
    if "NICEGUI_STORAGE_PATH" not in os.environ:
        Storage.path = path.resolve()
    Storage._create_persistent_dict = staticmethod(_private_factory)  # type: ignore[method-assign]
    if Storage.redis_url:
        return
    private_dir(Storage.path)
    oldest = time.time() - max_age_hours * 3600
    for file in Storage.path.glob("storage-user-*.json"):
        with contextlib.suppress(FileNotFoundError):
            if file.stat().st_mtime < oldest:
                file.unlink()
            else:
                file.chmod(0o600)
