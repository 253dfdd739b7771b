"""A deleted account leaves the models: the sample count at once, serving at once (this process) or at the next
refresh (other processes), and the stored model versions at the next training."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import get_settings
from studysmart.core.db import transaction, utcnow
from studysmart.learning import tracker as training
from studysmart.learning import trainer as pipeline
from studysmart.learning.cache import ModelCache
from studysmart.learning.context import context_of
from studysmart.learning.history import person_label
from studysmart.learning.models import Erasure, ModelVersion
from studysmart.ml import base as ml
from studysmart.ml.data import Queries
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users import service as users
from studysmart.users.models import User
from tests.factories import PASSWORD, make_task, make_user
from tests.learning.test_pipeline import _history, _queue_run

ITEM = "algebra|medium"


def _samples(session: Session) -> tuple[int, int]:
    """The tracker's sample count and the number of answers that exist."""
    done = session.scalar(select(func.count()).select_from(Task).where(Task.status == TaskStatus.DONE)) or 0
    return training.get_status(session=session).samples, int(done)


def test_the_sample_count_follows_deleted_tasks_and_accounts(sessions: sessionmaker[Session]) -> None:
    alice, bob = _history(sessions, n=6), _history(sessions, n=4)
    with transaction(sessions) as session:
        user = session.get(User, alice)
        assert user is not None
        planned = make_task(session, user, now=utcnow())
        done = session.scalars(select(Task.id).where(Task.owner_id == alice, Task.status == TaskStatus.DONE)).first()
        assert _samples(session) == (10, 10)
        tasks.delete_task(session=session, user=user, task_id=planned.id)  # never answered: no change
        assert _samples(session) == (10, 10)
        tasks.delete_task(session=session, user=user, task_id=done)
        assert _samples(session) == (9, 9)
    with transaction(sessions) as session:
        users.delete_account(session=session, user=session.get(User, bob), current_password=PASSWORD)
    with sessions() as session:
        assert _samples(session) == (5, 5)
        assert session.scalars(select(Erasure.person)).all() == [person_label(bob)]


def _predict(model: ml.Model, person: str) -> tuple[float, float, str]:
    pred = model.predict(Queries.from_columns([person], [ITEM], topic=["algebra"], difficulty=["medium"],
                                              order=[utcnow().timestamp()]))
    return float(pred.p_correct[0]), float(pred.mean_log_time[0]), str(pred.source[0])


def _as_unknown(model: ml.Model, person: str) -> bool:
    """Whether ``model`` predicts ``person`` exactly as someone it never saw (P(correct) and log-time)."""
    mine, nobody = _predict(model, person), _predict(model, "nobody-ever")
    return bool(np.isclose(mine[0], nobody[0]) and np.isclose(mine[1], nobody[1]))


@pytest.fixture
def personal_models(fast_models: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", "shrinkage,person-median,irt2pl,practice")
    monkeypatch.setenv("STUDYSMART_MIN_SAMPLES_FOR_LNIRT", "1")
    get_settings.cache_clear()


def _student(sessions: sessionmaker[Session], *, seconds: float, right_every: int, n: int = 12) -> int:
    """A student with ``n`` answers on Algebra and Geometry, of their own speed and accuracy."""
    start = utcnow() - timedelta(days=2)
    with transaction(sessions) as session:
        owner = make_user(session, now=start)
        for i in range(n):
            when = start + timedelta(minutes=i)
            task = make_task(session, owner, now=when, topic=["Algebra", "Geometry"][i % 2],
                             difficulty=list(Difficulty)[i % 3])
            tasks.complete_task(session=session, user=owner, task_id=task.id, correct=i % right_every == 0,
                                seconds=seconds * (1 + 0.1 * (i % 4)), now=when + timedelta(seconds=30))
        return owner.id


def _two_students_trained(sessions: sessionmaker[Session]) -> tuple[int, int]:
    leaver = _student(sessions, seconds=400.0, right_every=4)  # slow, mostly wrong
    stayer = _student(sessions, seconds=20.0, right_every=1)  # fast, always right
    _queue_run(sessions)
    assert pipeline.run_training(sessions, get_settings()).status == "succeeded"  # type: ignore[union-attr]
    return leaver, stayer


def _delete(sessions: sessionmaker[Session], user_id: int) -> None:
    with transaction(sessions) as session:
        users.delete_account(session=session, user=session.get(User, user_id), current_password=PASSWORD)


def test_serving_drops_a_deleted_student_at_once_here_and_at_the_next_refresh_elsewhere(
        personal_models: None, sessions: sessionmaker[Session]) -> None:
    leaver, _ = _two_students_trained(sessions)
    label = person_label(leaver)
    other_process = ModelCache(refresh_seconds=0)  # another web process's cache, loaded before the deletion
    with sessions() as session:
        cache = context_of(session).models
        here = {name: cache.get(session, name) for name in ("shrinkage", "person-median", "irt2pl", "practice")}
        there = {name: other_process.get(session, name) for name in here}
    for entry in [*here.values(), *there.values()]:
        assert entry is not None and not _as_unknown(entry.model, label)  # fitted to them
    _delete(sessions, leaver)
    for name in here:  # this process: at once, before any new request
        entry = cache._loaded[name]
        assert _as_unknown(entry.model, label), name
    with sessions() as session:  # the other process, at its next refresh (STUDYSMART_MODEL_REFRESH_SECONDS)
        for name in here:
            entry = other_process.get(session, name)
            assert entry is not None and entry.version == 1  # still version 1: not reloaded, stripped in place
            assert _as_unknown(entry.model, label), name


def test_the_next_training_strips_stored_versions(
        personal_models: None, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    leaver, stayer = _two_students_trained(sessions)
    label = person_label(leaver)
    _delete(sessions, leaver)
    with sessions() as session:  # a process starting now loads the stored champion and drops them at once
        fresh = ModelCache(refresh_seconds=0).get(session, "person-median")
        assert fresh is not None and _as_unknown(fresh.model, label)
    # The next training does not fit person-median any more: its champion v1 stays, and must be stripped.
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", "shrinkage,irt2pl")
    get_settings.cache_clear()
    _history(sessions, n=3, user=stayer)
    _queue_run(sessions)
    assert pipeline.run_training(sessions, get_settings()).status == "succeeded"  # type: ignore[union-attr]
    with sessions() as session:
        versions = session.scalars(select(ModelVersion).order_by(ModelVersion.id)).all()
        assert session.scalars(select(Erasure.applied_at)).one() is not None
    by_key = {(v.model, v.version): v for v in versions}
    assert by_key[("person-median", 1)].is_champion
    for version in versions:
        if version.is_champion:
            model = ml.load(version.model, version.artifact)
            assert _as_unknown(model, label), version.model
            assert not _as_unknown(model, person_label(stayer)), version.model  # the others' stay
        else:  # superseded versions keep their record, not the parameters
            assert version.artifact == b"" and version.metrics


def test_a_stripped_model_still_serves_everyone_else(personal_models: None, sessions: sessionmaker[Session]) -> None:
    leaver, stayer = _two_students_trained(sessions)
    with sessions() as session:
        before = {name: _predict(e.model, person_label(stayer)) for name in ("person-median", "irt2pl", "practice")
                  if (e := context_of(session).models.get(session, name)) is not None}
    _delete(sessions, leaver)
    with sessions() as session:
        after = {name: _predict(e.model, person_label(stayer)) for name in before
                 if (e := context_of(session).models.get(session, name)) is not None}
    assert set(after) == set(before) == {"person-median", "irt2pl", "practice"}
    for name in before:
        assert np.allclose(after[name][:2], before[name][:2]) and after[name][2] == before[name][2]


def test_deleting_a_task_and_completing_it_cannot_both_count(sessions: sessionmaker[Session]) -> None:
    owner = _history(sessions, n=2)
    with transaction(sessions) as session:
        user = session.get(User, owner)
        assert user is not None
        task = make_task(session, user, now=utcnow())
        tasks.complete_task(session=session, user=user, task_id=task.id, correct=True, seconds=20.0,
                            now=utcnow() + timedelta(seconds=20))
        tasks.delete_task(session=session, user=user, task_id=task.id)
        assert _samples(session) == (2, 2)
