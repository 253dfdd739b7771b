"""The training job: versions and promotion, failures that leave the champion serving, hot swaps, killed workers."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import get_settings
from studysmart.core.db import transaction, utcnow
from studysmart.learning import tracker as training
from studysmart.learning import trainer as pipeline
from studysmart.learning.columns import read_answers
from studysmart.learning.jobs import EmbeddedWorker, Jobs
from studysmart.learning.logs import PredictionLog
from studysmart.learning.models import ModelVersion, TrainingRun
from studysmart.ml import base as ml
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty
from studysmart.users.models import User
from tests.factories import create_task, make_task, make_user, register
from tests.learning.slow_model import MARKER_ENV


def _history(sessions: sessionmaker[Session], n: int = 12, user: int | None = None) -> int:
    """A student with ``n`` completed tasks over two topics; returns the user id."""
    now = utcnow() - timedelta(days=2)
    with transaction(sessions) as session:
        owner = session.get(User, user) if user else make_user(session, now=now)
        assert owner is not None
        for i in range(n):
            task = make_task(session, owner, now=now + timedelta(minutes=i), topic=["Algebra", "Geometry"][i % 2],
                             difficulty=list(Difficulty)[i % 3])
            tasks.complete_task(session=session, user=owner, task_id=task.id, correct=i % 3 != 0,
                                seconds=30.0 + 10 * (i % 4), now=now + timedelta(minutes=i, seconds=30))
        return owner.id


def _champions(session: Session) -> dict[str, int]:
    rows = session.execute(select(ModelVersion.model, ModelVersion.version).where(ModelVersion.is_champion.is_(True)))
    return {model: version for model, version in rows}


def _queue_run(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        training.mark_queued(session=session, now=utcnow())


@pytest.fixture
def trained(fast_models: Any, sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Data and a first successful training (every fast model has a champion version 1)."""
    _history(sessions)
    _queue_run(sessions)
    outcome = pipeline.run_training(sessions, get_settings())
    assert outcome is not None and outcome.status == "succeeded"
    return sessions


def test_first_training_stores_and_promotes_every_model(trained: sessionmaker[Session]) -> None:
    with trained() as session:
        assert _champions(session) == {"shrinkage": 1, "item-means": 1, "avg": 1}
        run = session.scalars(select(TrainingRun)).one()
        assert run.status == "succeeded" and run.n_samples == 12
        assert set(run.models) == {"shrinkage", "item-means", "avg"}
        assert run.models["shrinkage"]["metrics"]["log_loss"] is not None
        state = training.get_status(session=session)
        assert state.completed_since_training == 0 and state.last_trained_at is not None
        assert state.serving_model == "shrinkage"
        version = session.scalars(select(ModelVersion).where(ModelVersion.model == "shrinkage")).one()
        assert version.n_train + version.n_test == 12 and version.n_test > 0
        ml.load("shrinkage", version.artifact)  # the stored artifact loads


def _champions_before_the_data(sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the champions had been trained before every answer: all hold-out answers are new to them."""
    with transaction(sessions) as session:
        session.execute(update(ModelVersion).values(created_at=utcnow() - timedelta(days=30)))
    monkeypatch.setattr(pipeline, "MIN_FRESH_ROWS", 1)  # the fixture's hold-out has a few answers


def _worse_shrinkage(sessions: sessionmaker[Session]) -> tuple[pipeline.Candidate, pipeline.Split]:
    """A candidate for "shrinkage" that is really the global average (clearly worse), with this data's split."""
    with sessions() as session:
        data = read_answers(session)
    split = pipeline.holdout_split(data)
    worse = ml.create("avg").fit(split.train)
    return pipeline.Candidate(name="shrinkage", model=worse, metrics=pipeline._score(worse, split.test),
                              n_train=len(split.train), n_test=len(split.test), fit_seconds=0.0), split


def test_a_champion_is_never_scored_on_answers_it_was_trained_on(trained: sessionmaker[Session]) -> None:
    candidate, split = _worse_shrinkage(trained)
    pipeline.score_champions(trained, [candidate], split)  # champion v1 was trained on every answer there is
    assert candidate.champion_metrics is None and candidate.compared_metrics is None
    assert "not compared with champion v1: 0 hold-out answers are newer" in candidate.notes[0]


def test_a_worse_candidate_is_stored_but_not_promoted(trained: sessionmaker[Session],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _champions_before_the_data(trained, monkeypatch)
    candidate, split = _worse_shrinkage(trained)
    pipeline.score_champions(trained, [candidate], split)
    with transaction(trained) as session:
        pipeline.store_and_promote(session, [candidate], run_id=1, tolerance=0.0)
    assert candidate.champion_metrics is not None and candidate.compared_metrics is not None
    assert candidate.compared_metrics["log_loss"] > candidate.champion_metrics["log_loss"]
    assert not candidate.promoted
    with trained() as session:
        assert _champions(session)["shrinkage"] == 1
        stored = session.scalars(select(ModelVersion).where(ModelVersion.model == "shrinkage",
                                                            ModelVersion.version == 2)).one()
        assert stored.is_champion is False


def test_scoring_champions_reuses_a_champion_already_loaded_at_its_version(
        trained: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    _champions_before_the_data(trained, monkeypatch)
    with trained() as session:
        data = read_answers(session)
    split = pipeline.holdout_split(data)
    stand_in = ml.create("avg").fit(split.train)  # distinguishable from the stored shrinkage champion
    scores = {}
    for version in (1, 2):  # the champion is version 1: reused; a stale version 2 is not
        cand = pipeline.Candidate(name="shrinkage", model=stand_in, metrics={}, n_train=0, n_test=0,
                                  fit_seconds=0.0)
        pipeline.score_champions(trained, [cand], split, {"shrinkage": (version, stand_in)})
        assert cand.champion_metrics is not None
        scores[version] = cand.champion_metrics["log_loss"]
    assert scores[1] == pipeline._score(stand_in, split.test)["log_loss"] != scores[2]


@pytest.mark.parametrize("failure", ["error", "timeout"])
def test_a_failed_training_keeps_the_champion_and_schedules_a_retry(
        trained: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    _history(trained, n=5)
    _queue_run(trained)
    if failure == "error":
        def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("numerical trouble")
        monkeypatch.setattr(pipeline, "fit_candidate", broken)
    else:
        monkeypatch.setenv("STUDYSMART_TRAINING_TIME_LIMIT_SECONDS", "0.2")
        get_settings.cache_clear()
        original = pipeline.fit_candidate

        def slow(*args: Any, **kwargs: Any) -> pipeline.Candidate:
            time.sleep(1.0)
            return original(*args, **kwargs)
        monkeypatch.setattr(pipeline, "fit_candidate", slow)
    outcome = pipeline.run_training(trained, get_settings())
    assert outcome is not None and outcome.status == "failed"
    assert outcome.retry_in == get_settings().training_retry_delay_seconds
    assert ("numerical trouble" if failure == "error" else "time limit") in (outcome.error or "")
    with trained() as session:
        assert _champions(session) == {"shrinkage": 1, "item-means": 1, "avg": 1}
        run = session.get(TrainingRun, outcome.run_id)
        assert run is not None and run.status == "failed" and run.next_retry_at is not None
        state = training.get_status(session=session)
        assert state.queued  # waiting for its retry
        assert state.completed_since_training == 5  # nothing was consumed


def test_retries_give_up_after_the_limit(trained: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "fit_candidate", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no")))
    _queue_run(trained)
    outcome = pipeline.run_training(trained, get_settings(), attempt=get_settings().training_retries + 1)
    assert outcome is not None and outcome.retry_in is None
    with trained() as session:
        assert training.get_status(session=session).status == "idle"


def test_a_running_server_picks_up_a_new_champion(fast_models: Any, client: TestClient) -> None:
    headers = register(client)
    first = create_task(client, headers)["prediction"]
    assert first["model"] == "shrinkage" and first["model_version"] is None  # the in-process fallback
    sessions = client.app.state.sessionmaker  # type: ignore[attr-defined]
    _history(sessions)
    _queue_run(sessions)
    assert pipeline.run_training(sessions, get_settings()).status == "succeeded"  # type: ignore[union-attr]
    second = create_task(client, headers)["prediction"]
    assert second["model"] == "shrinkage" and second["model_version"] == 1
    models = client.get("/api/v1/models", headers=headers).json()
    assert {c["model"] for c in models["champions"]} == {"shrinkage", "item-means", "avg"}
    status = client.get("/api/v1/training/status", headers=headers).json()
    assert status["last_run"]["status"] == "succeeded" and status["queued"] is False


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_worker_killed_mid_training_is_replaced_and_the_job_retried(
        fast_models: Any, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(ml.MODELS, "slow-test", "tests.learning.slow_model:SlowModel")
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", "shrinkage,slow-test")
    monkeypatch.setenv("STUDYSMART_TRAINING_STALE_SECONDS", "2")
    marker = tmp_path / "slow-marker"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    get_settings.cache_clear()
    user_id = _history(sessions)
    marker.write_text("first run is fast")
    _queue_run(sessions)
    assert pipeline.run_training(sessions, get_settings()).status == "succeeded"  # type: ignore[union-attr]
    marker.unlink()  # the next fit blocks

    jobs = Jobs(get_settings())
    jobs.huey.flush()
    _history(sessions, n=5, user=user_id)  # the 5th completion queues a job
    assert jobs.depth() == 1
    worker = EmbeddedWorker(jobs, workers=1, check_seconds=0.5)
    worker.start()
    try:
        _wait(marker.exists, 30, "the worker to start fitting")
        with sessions() as session:
            run = session.scalars(select(TrainingRun).where(TrainingRun.status == "running")).one()
            assert run.worker_pid == int(marker.read_text())
        os.kill(run.worker_pid, signal.SIGKILL)

        # The champion keeps serving while the worker is dead.
        with transaction(sessions) as session:
            user = session.get(User, user_id)
            assert user is not None
            task = make_task(session, user, now=utcnow())
            assert (task.model, task.model_version) == ("shrinkage", 1)

        def retried() -> bool:
            with sessions() as session:
                return session.scalar(select(TrainingRun.status).where(TrainingRun.attempt == 2)) == "succeeded"
        _wait(retried, 60, "the retried job to succeed")
        assert run.worker_pid not in worker.worker_pids()  # the dead worker was replaced
        with sessions() as session:
            first = session.get(TrainingRun, run.id)
            assert first is not None and first.status == "failed" and "worker" in (first.error or "")
            versions = session.scalars(select(ModelVersion.version).where(ModelVersion.model == "shrinkage")).all()
            assert sorted(versions) == [1, 2]  # the retry stored its candidate (promoted or not, by its metrics)
            assert training.get_status(session=session).status == "idle"
    finally:
        worker.stop()


def test_the_worker_scores_the_torch_champion_on_new_tasks(
        fast_models: Any, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", "shrinkage,neural")
    monkeypatch.setenv("STUDYSMART_MIN_SAMPLES_FOR_LNIRT", "1")
    get_settings.cache_clear()
    user_id = _history(sessions)
    _queue_run(sessions)
    assert pipeline.run_training(sessions, get_settings()).status == "succeeded"  # type: ignore[union-attr]
    # New tasks after the neural champion was promoted: the web process logs only the served model.
    with transaction(sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        done = make_task(session, user, now=utcnow())
        tasks.complete_task(session=session, user=user, task_id=done.id, correct=True, seconds=20.0, now=utcnow())
        planned = make_task(session, user, now=utcnow())
        done_id, planned_id = done.id, planned.id
    with sessions() as session:
        logged = dict(session.execute(select(PredictionLog.model, PredictionLog.served)
                                      .where(PredictionLog.task_id == done_id)).all())
        assert len(logged) == 1 and "neural" not in logged and list(logged.values()) == [True]
    _queue_run(sessions)
    assert pipeline.run_training(sessions, get_settings()).status == "succeeded"  # type: ignore[union-attr]
    with sessions() as session:
        rows = {r.task_id: r for r in session.scalars(select(PredictionLog).where(PredictionLog.model == "neural"))}
        assert set(rows) == {done_id, planned_id}
        assert rows[done_id].scored_at is not None and rows[done_id].correct is True
        assert rows[planned_id].scored_at is None
        assert 0 < rows[done_id].p_correct < 1 and rows[done_id].served is False


def test_served_predictions_carry_the_time_they_are_made_as_training_and_evaluation_do(
        trained: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    """The sequence models read the gap since the last answer and the time of day from a row's ``order``."""
    from studysmart.learning import serving as predictions
    from studysmart.tasks.models import Topic

    seen: list[Any] = []
    with transaction(trained) as session:
        student = session.scalars(select(User)).first()
        assert student is not None
        entry, _ = predictions.serving_entry(session, student)
        real = entry.model.predict
        monkeypatch.setattr(entry.model, "predict", lambda queries, **kw: seen.append(queries) or real(queries, **kw))
        topic = session.scalars(select(Topic)).first()
        assert topic is not None
        now = utcnow()
        predictions.predict_task(session=session, user=student, topic=topic, difficulty=Difficulty.EASY, now=now)
    assert seen and list(seen[0].order) == [now.timestamp()]
