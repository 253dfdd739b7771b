"""A server's model cache loads new versions in the background: no request waits for an artifact to load, or
holds the database's write lock while one does (learning.cache)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import get_settings
from studysmart.core.db import transaction, utcnow
from studysmart.learning import cache as cache_module
from studysmart.learning.cache import Loaded, ModelCache
from studysmart.learning.history import person_label
from studysmart.learning.models import ModelVersion
from studysmart.ml import base as ml
from tests.learning.test_erasure import _as_unknown, _delete, _two_students_trained

MODEL = "person-median"


@pytest.fixture
def personal_models(fast_models: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trainings fit the fallback and one model that keeps a parameter per student (fast)."""
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", f"shrinkage,{MODEL}")
    get_settings.cache_clear()


def _promote_copy(sessions: sessionmaker[Session]) -> int:
    """A new champion version of MODEL (a copy of the current one's artifact, as a training would store)."""
    with transaction(sessions) as session:
        current = session.scalars(select(ModelVersion).where(ModelVersion.model == MODEL,
                                                             ModelVersion.is_champion.is_(True))).one()
        copy = ModelVersion(model=MODEL, version=current.version + 1, artifact=current.artifact,
                            metrics=current.metrics, is_champion=True, promoted_at=utcnow(), run_id=current.run_id)
        session.execute(update(ModelVersion).where(ModelVersion.id == current.id).values(is_champion=False))
        session.add(copy)
        session.flush()
        return copy.version


def _eventually(sessions: sessionmaker[Session], cache: ModelCache, done: Callable[[Loaded | None], bool]
                ) -> Loaded | None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sessions() as session:
            entry = cache.get(session, MODEL)
        if done(entry):
            return entry
        time.sleep(0.05)
    raise AssertionError("the cache never served the new version")


class _HeldLoads:
    """``ml.load`` made to wait until released outside the test's thread, recording the threads it ran in."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.threads: list[str] = []
        original = ml.load

        def held(name: str, blob: bytes) -> Any:
            self.threads.append(threading.current_thread().name)
            if threading.current_thread() is not threading.main_thread():  # not the test's own forget()
                self.started.set()
                assert self.release.wait(20)
            return original(name, blob)

        monkeypatch.setattr(cache_module.ml, "load", held)


def test_a_new_version_loads_in_the_background_while_the_one_in_use_serves(
        personal_models: None, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    _two_students_trained(sessions)
    cache = ModelCache(refresh_seconds=0.01, background=True)  # a server's cache (the setting is seconds there)
    first = _eventually(sessions, cache, lambda entry: entry is not None)
    assert first is not None and first.version == 1
    loads = _HeldLoads(monkeypatch)
    newer = _promote_copy(sessions)
    time.sleep(0.02)
    with sessions() as session:
        serving = cache.get(session, MODEL)  # returns at once: the load waits on ``loads.release``
    assert serving is not None and serving.version == 1
    assert loads.started.wait(10)
    # The loading thread holds no write lock: a write goes through while it is stuck in ml.load.
    with transaction(sessions) as session:
        session.execute(update(ModelVersion).where(ModelVersion.version == newer).values(fit_seconds=1.5))
    loads.release.set()
    entry = _eventually(sessions, cache, lambda entry: entry is not None and entry.version == newer)
    assert entry is not None
    assert loads.threads and all(name != threading.current_thread().name for name in loads.threads)


def test_a_model_not_loaded_yet_is_not_ready_until_its_load_ends(
        personal_models: None, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    _two_students_trained(sessions)
    loads = _HeldLoads(monkeypatch)
    cache = ModelCache(refresh_seconds=0.01, background=True)
    with sessions() as session:
        assert cache.get(session, MODEL) is None  # serving falls back to the fallback model meanwhile
    assert loads.started.wait(10)
    loads.release.set()
    entry = _eventually(sessions, cache, lambda entry: entry is not None)
    assert entry is not None and entry.version == 1


def test_an_account_deleted_while_a_version_loads_is_not_in_it(
        personal_models: None, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    leaver, _ = _two_students_trained(sessions)
    cache = ModelCache(refresh_seconds=0.01, background=True)
    assert _eventually(sessions, cache, lambda entry: entry is not None) is not None
    loads = _HeldLoads(monkeypatch)
    newer = _promote_copy(sessions)
    time.sleep(0.02)
    with sessions() as session:
        cache.get(session, MODEL)
    assert loads.started.wait(10)
    _delete(sessions, leaver)  # after the load read which accounts were deleted
    loads.release.set()
    entry = _eventually(sessions, cache, lambda entry: entry is not None and entry.version == newer)
    assert entry is not None and _as_unknown(entry.model, person_label(leaver))


def test_a_command_or_the_worker_loads_the_current_version_at_once(
        personal_models: None, sessions: sessionmaker[Session]) -> None:
    _two_students_trained(sessions)
    with sessions() as session:  # a command's context: the default refresh, no background loads
        entry = ModelCache(refresh_seconds=5.0).get(session, MODEL)
    assert entry is not None and entry.version == 1
