"""The trigger: the Nth completion queues exactly one training; concurrent completions coalesce and lose no count.
Run against the embedded SQLite queue and a real Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction, utcnow
from studysmart.learning import tracker as training
from studysmart.learning import trainer as pipeline
from studysmart.learning.jobs import Jobs
from studysmart.learning.trainer import run_training
from studysmart.tasks import service as tasks
from studysmart.users.models import User
from tests.factories import make_task, make_user


def _setup(sessions: sessionmaker[Session], n: int) -> tuple[int, list[int]]:
    now = utcnow()
    with transaction(sessions) as session:
        user = make_user(session, now=now)
        ids = [make_task(session, user, now=now, title=f"T{i}").id for i in range(n)]
        return user.id, ids


def _complete(sessions: sessionmaker[Session], user_id: int, task_id: int) -> None:
    with transaction(sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        tasks.complete_task(session=session, user=user, task_id=task_id, correct=task_id % 3 > 0, seconds=42.0,
                            now=utcnow() + timedelta(seconds=task_id))


def test_fifth_completion_queues_exactly_one_job(jobs: Jobs) -> None:
    sessions = jobs.sessions()
    user_id, ids = _setup(sessions, 7)
    for task_id in ids[:4]:
        _complete(sessions, user_id, task_id)
        assert jobs.depth() == 0
    _complete(sessions, user_id, ids[4])
    assert jobs.depth() == 1
    for task_id in ids[5:]:
        _complete(sessions, user_id, task_id)  # coalesce into the queued job
    assert jobs.depth() == 1
    with sessions() as session:
        state = training.get_status(session=session)
    assert state.queued and state.completed_since_training == 7


def test_concurrent_completions_around_the_threshold_queue_one_job(jobs: Jobs) -> None:
    sessions = jobs.sessions()
    user_id, ids = _setup(sessions, 20)
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda task_id: _complete(sessions, user_id, task_id), ids))
    assert jobs.depth() == 1
    with sessions() as session:
        state = training.get_status(session=session)
    assert state.completed_since_training == 20 and state.samples == 20


def test_completions_during_training_are_kept_and_requeue(jobs: Jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = jobs.sessions()
    user_id, ids = _setup(sessions, 12)
    for task_id in ids[:5]:
        _complete(sessions, user_id, task_id)
    assert jobs.depth() == 1
    jobs.huey.flush()  # the test runs the job itself, with completions arriving mid-run

    original_fit = pipeline.fit_candidate
    arrivals = iter([ids[5:11]])

    def fit_with_arrivals(*args: Any, **kwargs: Any) -> pipeline.Candidate:
        for task_id in next(arrivals, []):  # six completions while the run is fitting
            _complete(sessions, user_id, task_id)
        return original_fit(*args, **kwargs)

    monkeypatch.setattr(pipeline, "fit_candidate", fit_with_arrivals)
    outcome = run_training(sessions, jobs.settings)
    assert outcome is not None and outcome.status == "succeeded"
    assert outcome.remaining == 6
    with sessions() as session:
        state = training.get_status(session=session)
    assert state.completed_since_training == 6 and state.samples == 11
    assert state.last_trained_at is not None and not state.running
    # The six arrivals were over the threshold but coalesced into the running job; it is idle now and the
    # worker re-requests (Jobs._train does this when remaining >= threshold).
    assert jobs.request_training() is True
    assert jobs.depth() == 1


def test_only_one_claim_wins(jobs: Jobs) -> None:
    sessions = jobs.sessions()
    with transaction(sessions) as session:
        assert training.mark_queued(session=session, now=utcnow())
        assert not training.mark_queued(session=session, now=utcnow())
    with transaction(sessions) as session:
        first = training.claim_run(session=session, now=utcnow(), trigger="t", attempt=1, pid=1)
    with transaction(sessions) as session:
        second = training.claim_run(session=session, now=utcnow(), trigger="t", attempt=1, pid=2)
    assert first is not None and second is None


def test_a_reaped_run_cannot_finish_over_its_retry(jobs: Jobs) -> None:
    sessions = jobs.sessions()
    with transaction(sessions) as session:
        training.mark_queued(session=session, now=utcnow())
        run = training.claim_run(session=session, now=utcnow() - timedelta(minutes=5), trigger="t", attempt=1, pid=1)
        assert run is not None
        run_id = run.id
    with transaction(sessions) as session:
        reaped = training.reap_stale_run(session=session, now=utcnow(), stale_after=timedelta(seconds=30))
        assert reaped is not None and reaped.id == run_id
        assert training.reap_stale_run(session=session, now=utcnow(), stale_after=timedelta(seconds=30)) is None
    with pytest.raises(training.RunReaped), transaction(sessions) as session:
        training.finish_run(session=session, run_id=run_id, now=utcnow(), models={}, n_samples=0, serving_model=None)
    with sessions() as session:
        state = training.get_status(session=session)
        assert state.queued and state.last_trained_at is None
