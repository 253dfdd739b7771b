"""What a fitted model derives from a student's history, kept for the next prediction from the same history.

The app hands every request the same read-only ``Responses`` object for a student until their answers change (its
history cache), so a model keyed on that object re-derives the student once per change, not once per request.
Only read-only histories are kept: a writable one may change under the key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

import numpy as np

from studysmart.ml.data import Responses

T = TypeVar("T")

#: Histories whose derived values one model keeps.
SIZE = 256
_ATTRIBUTE = "_history_memo"


def is_frozen(history: Responses) -> bool:
    """Whether every array of ``history`` is read-only (the history can be keyed by identity)."""
    arrays: list[object] = [getattr(history, f.name) for f in fields(history)]
    arrays += list(history.person_covariates.values())
    return all(not array.flags.writeable for array in arrays if isinstance(array, np.ndarray))


class HistoryMemo:
    """Derived values by (the identity of a read-only object, a name), the last ``size`` objects. An entry holds
    its object, so the identity cannot be reused by another object while the entry is kept."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, str], tuple[object, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object, name: str, derive: Callable[[], T]) -> T:
        """``derive()``, computed once per (``key``, ``name``) while kept."""
        slot = (id(key), name)
        with self._lock:
            entry = self._entries.get(slot)
            if entry is not None and entry[0] is key:
                self._entries.move_to_end(slot)
                return entry[1]  # type: ignore[no-any-return]
        value = derive()
        with self._lock:
            self._entries[slot] = (key, value)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every derived value (the model was refitted)."""
        with self._lock:
            self._entries.clear()


def derived(model: object, history: Responses, name: str, derive: Callable[[], T]) -> T:
    """``derive()`` for ``history`` under ``name``, kept in ``model``'s memo when the history is read-only."""
    if not is_frozen(history):
        return derive()
    return kept(model, history, name, derive)


def kept(model: object, key: object, name: str, derive: Callable[[], T]) -> T:
    """``derive()`` under (``key``, ``name``) in ``model``'s memo; the caller vouches that ``key`` never changes."""
    memo: HistoryMemo | None = model.__dict__.get(_ATTRIBUTE)
    if memo is None:
        memo = model.__dict__.setdefault(_ATTRIBUTE, HistoryMemo())
    return memo.get(key, name, derive)


def forget(model: object) -> None:
    """Drop everything ``model`` derived from histories (call when its fitted parameters change)."""
    memo = model.__dict__.get(_ATTRIBUTE)
    if memo is not None:
        memo.clear()
