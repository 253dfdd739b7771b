"""The per-process model cache: the champion of each model name, loaded from the database at most every
``refresh_seconds`` and swapped atomically when a new version is promoted; deleted accounts dropped from every
cached copy.

In a server's cache (``background``, with ``refresh_seconds`` > 0: it serves what was current a few seconds ago
anyway) a new version is loaded in a background thread, reading in its own read-only transaction, and the version
in use serves until it is ready; a model with no version loaded yet is "not ready" (``get`` returns None, and
serving falls back to the fallback). So no request waits for an artifact to load (a torch model: seconds, torch's
import included), and none holds the database's write lock meanwhile. Otherwise (commands, the worker, a refresh
of 0 as in the tests) ``get`` loads what is current at once.

Every training fits and stores the fallback model in the worker. Until the first one has, a process fits it itself,
on at most ``FALLBACK_FIT_LIMIT`` answers (all of a brand-new app's; the most recent ones of a large database), so
a request never pays for a fit that grows with the data."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import read_session
from studysmart.core.logging import kv
from studysmart.learning import registry
from studysmart.learning.erasure import forget
from studysmart.learning.history import recent_responses
from studysmart.learning.models import Erasure, ModelVersion, TrainingState
from studysmart.ml import base as ml
from studysmart.ml.robust import with_robust_weights

__all__ = ["FALLBACK_FIT_LIMIT", "FALLBACK_REFIT_SECONDS", "Loaded", "ModelCache"]

FALLBACK_MODEL = registry.FALLBACK
FALLBACK_REFIT_SECONDS = 60.0
#: Answers the in-process fallback is fitted on at most (a few tens of milliseconds): up to it, it follows every
#: new answer; past it, it is refitted on the most recent ones at most every FALLBACK_REFIT_SECONDS.
FALLBACK_FIT_LIMIT = 5000
log = logging.getLogger("studysmart.models")


@dataclass(frozen=True)
class Loaded:
    """One cached model: its name, version and the fitted model."""

    name: str
    version: int | None  # None: the in-process fallback fitted on the current data
    model: ml.Model
    checked_at: float
    stamp: int  # ModelVersion.id, or the sample count the fallback was fitted on
    fitted_at: float = 0.0  # the fallback: when it was fitted (refitted at most every FALLBACK_REFIT_SECONDS)
    erased: int = 0  # the largest Erasure.id this model honours (deleted accounts' parameters dropped)


class ModelCache:
    """Per-process cache of serving models; reads the database at most every ``refresh_seconds`` per name."""

    def __init__(self, *, refresh_seconds: float, background: bool = False) -> None:
        self.refresh_seconds = refresh_seconds
        self.background = background and refresh_seconds > 0  # a server's cache (see the module docstring)
        self._loaded: dict[str, Loaded] = {}
        self._lock = threading.Lock()
        self._loading: set[int] = set()  # ModelVersion ids being loaded in the background

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()

    def forget(self, persons: list[str]) -> None:
        """Drop ``persons`` from every cached model now (in the process that deleted their accounts; the others
        do it at their next refresh, from the Erasure rows)."""
        with self._lock:
            for name, entry in list(self._loaded.items()):
                self._loaded[name] = replace(entry, model=forget(name, entry.model, persons))

    def versions(self) -> dict[str, int | None]:
        """The version served per model name in this process."""
        return {name: entry.version for name, entry in self._loaded.items()}

    def get(self, session: Session, name: str) -> Loaded | None:
        """The champion of ``name`` (None if there is none); the fallback model is always available."""
        refresh = self.refresh_seconds
        entry = self._loaded.get(name)
        now = time.monotonic()
        if entry is not None and now - entry.checked_at < refresh:
            return entry
        with self._lock:
            entry = self._loaded.get(name)
            if entry is not None and now - entry.checked_at < refresh:
                return entry
            latest = session.scalar(select(func.max(Erasure.id))) or 0  # read before any artifact or data
            champion = session.execute(
                select(ModelVersion.id, ModelVersion.version)
                .where(ModelVersion.model == name, ModelVersion.is_champion.is_(True))
            ).first()
            if champion is not None:
                if entry is not None and entry.stamp == champion.id and entry.version is not None:
                    entry = replace(entry, checked_at=now)
                elif self.background and (entry is not None or name != FALLBACK_MODEL):
                    self._load_later(session, name, champion.id, champion.version)
                    if entry is not None:  # the version in use serves until the new one is ready
                        entry = replace(entry, checked_at=now)
                else:
                    entry = _load(session, name, champion.id, champion.version, latest, now)
            elif name == FALLBACK_MODEL:
                entry = self._fallback(session, entry, now, latest)
            else:
                entry = None
            if entry is not None and entry.erased < latest:  # accounts deleted since: drop them from this copy
                persons = list(session.scalars(select(Erasure.person).where(
                    Erasure.id > entry.erased, Erasure.id <= latest)))
                entry = replace(entry, model=forget(name, entry.model, persons), erased=latest)
            if entry is None:
                self._loaded.pop(name, None)
            else:
                self._loaded[name] = entry  # one assignment: readers see the old or the new model, never half
            return entry

    def _load_later(self, session: Session, name: str, version_id: int, version: int) -> None:
        """Load version ``version_id`` of ``name`` in a background thread and swap it in (called under the lock)."""
        if version_id in self._loading:
            return
        bind = session.get_bind()
        if not isinstance(bind, Engine):
            raise TypeError("the model cache needs sessions bound to an Engine")
        self._loading.add(version_id)
        factory = sessionmaker(bind)
        threading.Thread(target=self._load_and_swap, args=(factory, name, version_id, version),
                         name=f"load-{name}-v{version}", daemon=True).start()

    def _load_and_swap(self, factory: sessionmaker[Session], name: str, version_id: int, version: int) -> None:
        try:
            started = time.perf_counter()
            with read_session(factory) as session:
                latest = session.scalar(select(func.max(Erasure.id))) or 0
                loaded = _load(session, name, version_id, version, latest, time.monotonic())
            with read_session(factory) as session:
                session.connection()  # from the pool before the lock: requests hold theirs while they wait on it
                with self._lock:
                    self._swap(session, name, version_id, loaded)
            log.info(kv("models.loaded", model=name, version=version,
                        seconds=round(time.perf_counter() - started, 3)))
        except Exception as exc:  # the version in use goes on serving; the next refresh tries again
            log.warning(kv("models.load_failed", model=name, version=version, error=f"{type(exc).__name__}: {exc}"),
                        exc_info=exc)
        finally:
            with self._lock:
                self._loading.discard(version_id)

    def _swap(self, session: Session, name: str, version_id: int, loaded: Loaded) -> None:
        """Put a loaded version in use unless a newer one replaced it meanwhile (called under the lock)."""
        # Accounts deleted while it loaded (here, ``forget``, or elsewhere) are dropped before the swap.
        newest = session.scalar(select(func.max(Erasure.id))) or 0
        if newest > loaded.erased:
            persons = list(session.scalars(select(Erasure.person).where(
                Erasure.id > loaded.erased, Erasure.id <= newest)))
            loaded = replace(loaded, model=forget(name, loaded.model, persons), erased=newest)
        if session.scalar(select(ModelVersion.is_champion).where(ModelVersion.id == version_id)):
            self._loaded[name] = loaded

    def _fallback(self, session: Session, entry: Loaded | None, now: float, erased: int) -> Loaded:
        samples = session.scalar(select(TrainingState.samples)) or 0
        if entry is not None and entry.version is None and (entry.stamp == samples or (
                samples > FALLBACK_FIT_LIMIT and now - entry.fitted_at < FALLBACK_REFIT_SECONDS)):
            return replace(entry, checked_at=now)
        # Only until the first training stores a version: a bounded pass (the student's own answers still apply at
        # once, through their history; the worker fits on all of them).
        data = recent_responses(session, limit=FALLBACK_FIT_LIMIT)
        model = ml.create(FALLBACK_MODEL).fit(with_robust_weights(data))  # as training does
        return Loaded(FALLBACK_MODEL, None, model, now, samples, now, erased=erased)


def _load(session: Session, name: str, version_id: int, version: int, erased: int, now: float) -> Loaded:
    """Version ``version_id`` of ``name``, read and deserialised, without the accounts deleted up to Erasure
    ``erased``."""
    # A stored artifact honours the erasures a training applied; the pending ones are read before it, so one
    # the training applies meanwhile is at worst applied twice.
    pending = list(session.scalars(select(Erasure.person).where(
        Erasure.applied_at.is_(None), Erasure.id <= erased))) if erased else []
    blob = session.scalar(select(ModelVersion.artifact).where(ModelVersion.id == version_id))
    model = ml.load(name, blob or b"")
    return Loaded(name, version, forget(name, model, pending) if pending else model, now, version_id,
                  erased=erased)
