"""One model's failure does not abort the training: the others fit, are scored and promoted; it is recorded."""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Self

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import get_settings
from studysmart.ml import base as ml
from studysmart.ml.base import Progress
from studysmart.ml.baselines import GlobalAverage
from studysmart.ml.data import Responses
from studysmart.training import pipeline
from studysmart.training import service as training
from studysmart.training.models import ModelVersion, TrainingRun
from tests.training.test_pipeline import _history, _queue_run


class BrokenModel(GlobalAverage):
    """A model whose fit fails the way LNIRT's Cholesky did."""

    name: ClassVar[str] = "broken-test"

    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        raise np.linalg.LinAlgError("Matrix is not positive definite")


@pytest.fixture
def with_broken_model(fast_models: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ml.MODELS, "broken-test", f"{__name__}:BrokenModel")
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", "shrinkage,broken-test,avg")
    get_settings.cache_clear()


def test_a_failing_model_is_recorded_and_the_others_are_stored_and_promoted(
        with_broken_model: None, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    _history(sessions)
    _queue_run(sessions)
    with caplog.at_level(logging.ERROR, logger="studysmart.training"):
        outcome = pipeline.run_training(sessions, get_settings())
    assert outcome is not None and outcome.status == "succeeded"
    with sessions() as session:
        champions = dict(session.execute(select(ModelVersion.model, ModelVersion.version)
                                         .where(ModelVersion.is_champion.is_(True))).all())
        assert champions == {"shrinkage": 1, "avg": 1}
        run = session.get(TrainingRun, outcome.run_id)
        assert run is not None and run.status == "succeeded" and run.error is None
        failed = run.models["broken-test"]
        assert failed["error"] == "LinAlgError: Matrix is not positive definite"
        assert "BrokenModel" not in failed["error"] and "in fit" in failed["traceback"]
        assert failed["version"] is None and failed["promoted"] is False
        assert run.models["shrinkage"]["promoted"] is True and "error" not in run.models["shrinkage"]
        assert training.get_status(session=session).serving_model == "shrinkage"
    failure_logs = [r for r in caplog.records if "training.model.failed" in r.getMessage()]
    assert len(failure_logs) == 1 and "broken-test" in failure_logs[0].getMessage()
    assert failure_logs[0].exc_info is not None  # the traceback is logged too


def test_a_run_where_every_model_fails_is_a_failed_run_with_a_retry(
        with_broken_model: None, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    _history(sessions)
    real_create = ml.create
    monkeypatch.setattr(ml, "create", lambda name, **kw: real_create("broken-test", **kw))  # every model breaks
    _queue_run(sessions)
    outcome = pipeline.run_training(sessions, get_settings())
    assert outcome is not None and outcome.status == "failed"
    assert outcome.retry_in == get_settings().training_retry_delay_seconds
    assert "every model failed" in (outcome.error or "") and "LinAlgError" in (outcome.error or "")
    with sessions() as session:
        run = session.get(TrainingRun, outcome.run_id)
        assert run is not None and run.status == "failed" and run.next_retry_at is not None
        assert set(run.models) == {"shrinkage", "broken-test", "avg"}
        assert all("LinAlgError" in info["error"] for info in run.models.values())
        assert session.scalars(select(ModelVersion)).all() == []
        assert training.get_status(session=session).queued
