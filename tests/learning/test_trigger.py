"""The trigger: the Nth completion queues exactly one training; concurrent completions coalesce and lose no count;
with the growth rule, a share of all answers must be new and a time floor have passed since the last training.
Run on SQLite and PostgreSQL, against the embedded SQLite queue and a real Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings, get_settings
from studysmart.core.db import transaction, utcnow
from studysmart.learning import tracker as training
from studysmart.learning import trainer as pipeline
from studysmart.learning.jobs import Jobs
from studysmart.learning.models import TRACKER_ID, TrainingState
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


# -- the growth rule: new answers >= max(threshold, a share of all answers), and a time floor after a training --

FLOOR = timedelta(seconds=300)


@pytest.fixture
def growth_rule(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The production rule (10% growth, a 300 s floor) instead of the tests' every-5-completions; requested
    before ``jobs`` so that the test's context is made with it."""
    monkeypatch.setenv("STUDYSMART_RETRAIN_GROWTH_PERCENT", "10")
    monkeypatch.setenv("STUDYSMART_RETRAIN_MIN_INTERVAL_SECONDS", str(FLOOR.total_seconds()))
    get_settings.cache_clear()


def _tracker(sessions: sessionmaker[Session], **values: Any) -> None:
    with transaction(sessions) as session:
        training.ensure_tracker(session=session)
        session.execute(update(TrainingState).where(TrainingState.id == TRACKER_ID).values(**values))


def _complete_at(sessions: sessionmaker[Session], user_id: int, task_id: int, now: datetime) -> bool:
    with transaction(sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        return tasks.complete_task(session=session, user=user, task_id=task_id, correct=True, seconds=60.0,
                                   now=now).training_due


@pytest.mark.parametrize(("threshold", "percent", "samples", "needed"),
                         [(5, 10.0, 0, 5), (5, 10.0, 49, 5), (5, 10.0, 51, 6), (5, 10.0, 100_000, 10_000),
                          (5, 0.0, 100_000, 5), (20, 10.0, 100, 20)])
def test_answers_needed_is_the_larger_of_threshold_and_share(threshold: int, percent: float, samples: int,
                                                             needed: int) -> None:
    rule = Settings(retrain_threshold=threshold, retrain_growth_percent=percent, _env_file=None)  # type: ignore[call-arg]
    assert training.answers_needed(rule, samples) == needed


def test_below_the_growth_share_no_training_then_one(growth_rule: None, jobs: Jobs) -> None:
    sessions = jobs.sessions()
    assert jobs.settings.retrain_growth_percent == 10
    user_id, ids = _setup(sessions, 14)
    _tracker(sessions, samples=100)  # 100 earlier answers (e.g. an import before the first training)
    now = utcnow()
    # The threshold (5) is passed long before 10% of the answers are new: at k new answers of 100 + k,
    # 10% needs ceil((100 + k) / 10), first reached at k = 12.
    for task_id in ids[:11]:
        assert not _complete_at(sessions, user_id, task_id, now)
    assert jobs.depth() == 0
    with sessions() as session:
        state = training.get_status(session=session)
    assert state.completed_since_training == 11 and state.samples == 111 and state.threshold == 12
    assert not state.queued
    assert _complete_at(sessions, user_id, ids[11], now)
    assert jobs.depth() == 1
    for task_id in ids[12:]:
        _complete_at(sessions, user_id, task_id, now)  # coalesce into the queued job
    assert jobs.depth() == 1
    with sessions() as session:
        state = training.get_status(session=session)
    assert state.queued and state.completed_since_training == 14 and state.samples == 114


def test_within_the_time_floor_no_training_after_it_one(growth_rule: None, jobs: Jobs) -> None:
    sessions = jobs.sessions()
    user_id, ids = _setup(sessions, 8)
    trained = utcnow() - timedelta(seconds=100)
    _tracker(sessions, last_trained_at=trained)
    for task_id in ids[:6]:  # over the threshold and the share (6 of 6 answers are new), inside the floor
        assert not _complete_at(sessions, user_id, task_id, trained + timedelta(seconds=200))
    assert jobs.depth() == 0
    with sessions() as session:
        state = training.get_status(session=session)
    assert state.completed_since_training == 6 and not state.queued  # counted all the same
    assert state.not_before == trained + FLOOR
    assert _complete_at(sessions, user_id, ids[6], trained + FLOOR)  # the floor has passed: this one triggers
    assert jobs.depth() == 1
    _complete_at(sessions, user_id, ids[7], trained + FLOOR + timedelta(seconds=1))  # coalesces into it
    assert jobs.depth() == 1


def test_a_trigger_skipped_in_the_floor_fires_from_the_supervisor(growth_rule: None, jobs: Jobs) -> None:
    """No completion comes after the floor: the worker's supervisor (``request_if_due``) queues the training."""
    sessions = jobs.sessions()
    user_id, ids = _setup(sessions, 6)
    _tracker(sessions, last_trained_at=utcnow() - timedelta(seconds=100))
    for task_id in ids:
        assert not _complete_at(sessions, user_id, task_id, utcnow())
    assert jobs.request_if_due() is False  # still within the floor
    assert jobs.depth() == 0
    _tracker(sessions, last_trained_at=utcnow() - FLOOR - timedelta(seconds=1))  # time has passed
    assert jobs.request_if_due() is True
    assert jobs.request_if_due() is False  # coalesced: it is queued
    assert jobs.depth() == 1
    with sessions() as session:
        assert training.get_status(session=session).queued


def test_a_finished_run_does_not_requeue_within_the_floor(growth_rule: None, jobs: Jobs) -> None:
    """Completions that arrived during a run wait for the floor (the worker rests), however many they are."""
    sessions = jobs.sessions()
    user_id, ids = _setup(sessions, 12)
    for task_id in ids[:6]:
        _complete_at(sessions, user_id, task_id, utcnow())
    assert jobs.depth() == 1  # never trained: no floor yet
    jobs.huey.flush()
    outcome = run_training(sessions, jobs.settings)
    assert outcome is not None and outcome.status == "succeeded"
    for task_id in ids[6:]:  # 6 new of 12: over the threshold and the share, within the floor
        assert not _complete_at(sessions, user_id, task_id, utcnow())
    assert jobs.request_if_due() is False
    assert jobs.depth() == 0
