"""The trainer fits on a stated sample of whole students when the answers exceed the setting, and a model with a
time budget on a smaller one; students outside a sample are served from their own history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings, get_settings
from studysmart.core.db import transaction, utcnow
from studysmart.learning import scaling, trainer
from studysmart.learning import tracker as training
from studysmart.learning.columns import read_answers
from studysmart.learning.history import person_label, user_history
from studysmart.learning.models import ModelVersion, TrainingRun
from studysmart.ml import base as ml
from studysmart.ml.synthetic import generate_learning
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty
from studysmart.users.models import User
from tests.factories import make_task, make_user


def _students(sessions: sessionmaker[Session], n: int = 5, answers: int = 12) -> list[int]:
    now = utcnow() - timedelta(days=2)
    ids = []
    with transaction(sessions) as session:
        for s in range(n):
            user = make_user(session, now=now)
            for i in range(answers):
                when = now + timedelta(minutes=s * answers + i)
                task = make_task(session, user, now=when, topic=["Algebra", "Geometry"][i % 2],
                                 difficulty=list(Difficulty)[(i + s) % 3])
                tasks.complete_task(session=session, user=user, task_id=task.id, correct=(i + s) % 3 != 0,
                                    seconds=30.0 + 10 * (i % 4), now=when + timedelta(seconds=30))
            ids.append(user.id)
    return ids


def test_a_training_over_the_bound_fits_a_sample_and_serves_everyone(
        fast_models: Any, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _students(sessions)
    monkeypatch.setenv("STUDYSMART_TRAINING_MAX_ANSWERS", "30")  # 2 of the 5 students (12 answers each)
    get_settings.cache_clear()
    with transaction(sessions) as session:
        training.mark_queued(session=session, now=utcnow())
    outcome = trainer.run_training(sessions, get_settings())
    assert outcome is not None and outcome.status == "succeeded"
    with sessions() as session:
        run = session.scalars(select(TrainingRun)).one()
        assert run.n_samples == 60  # every answer was read
        version = session.scalars(select(ModelVersion).where(ModelVersion.model == "shrinkage")).one()
        assert version.n_train + version.n_test == 24
        assert any("sample of 2 of 5 students" in note for note in run.models["shrinkage"]["notes"])
        model = ml.load("shrinkage", version.artifact)
        data = read_answers(session)
        sampled = scaling.sample(data, 30)
        outside = next(i for i in ids if person_label(i) not in set(sampled.persons))
        history = user_history(session, session.get(User, outside))
    queries = history.to_queries(np.array([len(history) - 1]))
    served, cold = model.predict(queries, history=history), model.predict(queries)
    assert np.isfinite(served.p_correct).all() and served.p_correct[0] != cold.p_correct[0]  # its own history


def test_the_sample_is_stated_and_bounded() -> None:
    data = generate_learning(n_persons=40, answers_per_person=20, seed=2).responses
    fitted = scaling.training_data(data, Settings(training_max_answers=300))
    assert len(fitted.data) <= 300 and fitted.data.n_persons == len(fitted.data) // 20 and fitted.sampled
    assert fitted.note() is not None and f"of {len(data)} answers" in fitted.note()  # type: ignore[operator]
    assert not scaling.training_data(data, Settings(training_max_answers=0)).sampled  # 0: every answer


def test_a_model_with_a_time_budget_fits_a_sample_and_is_scored_on_the_whole_holdout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = generate_learning(n_persons=40, answers_per_person=20, seed=2).responses
    split = trainer.holdout_split(data)
    monkeypatch.setattr(scaling, "budget_answers", lambda name, seconds: 200)
    cand = trainer.fit_candidate("shrinkage", split, data, Settings())
    assert cand.n_train == 160 and cand.n_test == len(split.test)  # 10 students' training parts
    assert cand.holdout is not None and len(cand.holdout.p_correct) == len(split.test)
    assert "10 students (200 answers)" in cand.notes[0]
