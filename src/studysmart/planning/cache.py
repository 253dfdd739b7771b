"""The in-process cache of computed plans and readiness: an LRU keyed by exam id and a stamp of their inputs.

Reading a plan never writes to the database; it is computed from what is stored and kept here until one of its
inputs changes (the stamp, built by ``planning.state``, changes with them). The computation is deterministic,
so every web process computes the same plan from the same rows; a process only saves itself the work.

One cache serves each database engine (``cache_for``): two databases in one process (tests) never share
entries, and nothing needs resetting between them.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from studysmart.planning.engine import Plan, Readiness

__all__ = ["PlanCache", "cache_for"]

Key = tuple[int, str]
Entry = tuple[Plan, Readiness]


class PlanCache:
    """A thread-safe LRU of (plan, readiness) per (exam id, stamp).

    Args:
        size: the most entries kept (the least recently used goes first). An exam's entry for an older stamp
            is dropped when a newer one is stored, so one exam holds one entry.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._stamp_of: dict[int, str] = {}
        self._lock = threading.Lock()

    def get(self, key: Key) -> Entry | None:
        """The entry for ``key`` (None if absent), marked as recently used."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Key, entry: Entry) -> None:
        """Store ``entry``, replacing the exam's entry for any other stamp."""
        exam_id, stamp = key
        with self._lock:
            old = self._stamp_of.get(exam_id)
            if old is not None and old != stamp:
                self._entries.pop((exam_id, old), None)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._stamp_of[exam_id] = stamp
            while len(self._entries) > self.size:
                (dropped, stamp_dropped), _ = self._entries.popitem(last=False)
                if self._stamp_of.get(dropped) == stamp_dropped:
                    del self._stamp_of[dropped]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, PlanCache] = weakref.WeakKeyDictionary()
_BY_ENGINE_LOCK = threading.Lock()


def cache_for(session: Session) -> PlanCache:
    """The plan cache of the database ``session`` is bound to (made on first use)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _BY_ENGINE_LOCK:
        cache = _BY_ENGINE.get(engine)
        if cache is None:
            cache = _BY_ENGINE[engine] = PlanCache()
        return cache
