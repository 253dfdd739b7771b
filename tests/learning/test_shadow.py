"""Shadow scoring in the worker: a request logs the served model only; the next training logs every other
champion's prediction for the task as it would have been shown then, with no task left out between two runs; a
task deleted while its prediction is being made is skipped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings, get_settings
from studysmart.core.db import transaction, utcnow
from studysmart.learning import trainer as pipeline
from studysmart.learning.history import all_responses, person_label, user_history
from studysmart.learning.logs import PredictionLog
from studysmart.learning.models import ModelVersion, TrainingRun
from studysmart.learning.serving import served_prediction
from studysmart.learning.shadow import shadow_score
from studysmart.ml import base as ml
from studysmart.ml.data import Queries
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, item_label
from studysmart.users.models import User
from tests.factories import make_task, make_user
from tests.learning.conftest import FAST_MODELS
from tests.learning.test_pipeline import _history, _queue_run


def test_a_task_deleted_between_the_read_and_the_write_is_skipped(sessions: sessionmaker[Session]) -> None:
    start = utcnow() - timedelta(hours=1)
    with transaction(sessions) as session:
        user = make_user(session, now=start)
        made = [make_task(session, user, now=start + timedelta(minutes=i)) for i in range(4)]
        tasks.complete_task(session=session, user=user, task_id=made[0].id, correct=True, seconds=40.0,
                            now=start + timedelta(minutes=5))
        ids = [t.id for t in made]
    with sessions() as session:
        data = all_responses(session)
    model = ml.create("shrinkage").fit(data)
    real_predict = model.predict
    deleted: list[int] = []

    def predict_then_delete(queries: Any, **kwargs: Any) -> ml.Prediction:
        if not deleted:  # the student deletes a task while the worker is still predicting (no transaction open)
            with transaction(sessions) as session:
                session.delete(session.get(Task, ids[2]))
            deleted.append(ids[2])
        return real_predict(queries, **kwargs)

    model.predict = predict_then_delete  # type: ignore[method-assign]
    logged = shadow_score(sessions, name="neural", model=model, version=1, since=start - timedelta(minutes=1),
                          until=utcnow(), data=data)
    assert deleted == [ids[2]]
    assert logged == 3
    with sessions() as session:
        rows = session.scalars(select(PredictionLog).where(PredictionLog.model == "neural")).all()
    assert sorted(r.task_id for r in rows) == [ids[0], ids[1], ids[3]]
    assert next(r for r in rows if r.task_id == ids[0]).scored_at is not None


def _train(sessions: sessionmaker[Session]) -> None:
    """Queue a training and run it here; it succeeds."""
    _queue_run(sessions)
    outcome = pipeline.run_training(sessions, get_settings())
    assert outcome is not None and outcome.status == "succeeded"


def _served_models(session: Session, task_id: int) -> dict[str, bool]:
    return {log.model: log.served for log in session.scalars(select(PredictionLog).where(
        PredictionLog.task_id == task_id))}


def test_a_request_logs_one_model_and_the_next_training_logs_every_champion_as_it_would_have_shown(
        fast_models: Settings, sessions: sessionmaker[Session]) -> None:
    user_id = _history(sessions)
    _train(sessions)
    with transaction(sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        shown = make_task(session, user, now=utcnow(), topic="Geometry")
        shown_id, served_model = shown.id, shown.prediction.model if shown.prediction else ""
        history = user_history(session, user)
    with sessions() as session:
        assert _served_models(session, shown_id) == {served_model: True}  # one model call per request
        champions = {name: ml.load(name, blob) for name, blob in session.execute(
            select(ModelVersion.model, ModelVersion.artifact).where(ModelVersion.is_champion.is_(True)))}
    _train(sessions)
    with sessions() as session:
        logs = {log.model: log for log in session.scalars(select(PredictionLog).where(
            PredictionLog.task_id == shown_id))}
        shown_at = logs[served_model].created_at
    assert set(logs) == set(champions) and [m for m, log in logs.items() if log.served] == [served_model]
    queries = Queries.from_columns([person_label(user_id)], [item_label("geometry", Difficulty.MEDIUM)],
                                   topic=["geometry"], difficulty=[Difficulty.MEDIUM.value],
                                   order=[shown_at.timestamp()])
    for name, model in champions.items():  # what the web would have shown with that champion serving
        expected = served_prediction(model, queries, history)
        assert logs[name].p_correct == pytest.approx(float(expected.p_correct[0]), abs=1e-9), name
        assert logs[name].mean_log_time == pytest.approx(float(expected.mean_log_time[0]), abs=1e-9), name


def test_a_task_shown_while_a_training_runs_is_scored_by_the_next_one(
        fast_models: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    user_id = _history(sessions)
    _train(sessions)
    during: list[int] = []
    real_fit = pipeline.fit_candidates

    def fit_while_a_task_is_shown(*args: Any, **kwargs: Any) -> Any:
        with transaction(sessions) as session:  # after this run's shadow pass, before its champions change
            user = session.get(User, user_id)
            assert user is not None
            during.append(make_task(session, user, now=utcnow()).id)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(pipeline, "fit_candidates", fit_while_a_task_is_shown)
    _train(sessions)
    monkeypatch.setattr(pipeline, "fit_candidates", real_fit)
    with sessions() as session:
        assert len(_served_models(session, during[0])) == 1  # only the served one so far
        run_started = session.scalar(select(TrainingRun.started_at).order_by(TrainingRun.id.desc()).limit(1))
    _train(sessions)
    with sessions() as session:
        logged = _served_models(session, during[0])
        versions = dict(session.execute(select(PredictionLog.model, ModelVersion.run_id).join(
            ModelVersion, (ModelVersion.model == PredictionLog.model)
            & (ModelVersion.version == PredictionLog.model_version)).where(PredictionLog.task_id == during[0],
                                                                           PredictionLog.served.is_(False))).all())
        starts = dict(session.execute(select(TrainingRun.id, TrainingRun.started_at)).all())
    assert set(logged) == set(FAST_MODELS.split(","))
    for model, run_id in versions.items():  # scored by a champion whose data ended before the task was shown
        assert run_id is not None and starts[run_id] <= run_started, model
