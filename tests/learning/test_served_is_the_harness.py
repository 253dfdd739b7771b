"""The app serves what the evaluation harness measures: for one student, the prediction stored with each task
(made through the served path from their stored answers) equals the harness's online prediction of the same
answer from the same history (``ml.evaluate.online_predictions`` on the same stored data)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import get_settings
from studysmart.core.db import transaction, utcnow
from studysmart.learning import history, serving
from studysmart.learning import tracker as training
from studysmart.learning import trainer as pipeline
from studysmart.learning.context import context_of
from studysmart.ml.evaluate import Split, online_predictions
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task
from studysmart.users.models import User
from tests.factories import make_task, make_user

TOPICS = ("Algebra", "Geometry", "Probability")


def _population(sessions: sessionmaker[Session], *, students: int = 8, answers: int = 12) -> None:
    start = utcnow() - timedelta(days=3)
    with transaction(sessions) as session:
        for s in range(students):
            owner = make_user(session, now=start)
            for i in range(answers):
                at = start + timedelta(hours=s, minutes=3 * i)
                task = make_task(session, owner, now=at, topic=TOPICS[(i + s) % 3], difficulty=list(Difficulty)[i % 3])
                tasks.complete_task(session=session, user=owner, task_id=task.id, correct=(i + s) % 3 != 0,
                                    seconds=40.0 + 15 * ((i * s) % 5), now=at + timedelta(seconds=50))


@pytest.mark.parametrize(("model", "trained"), [("practice", "practice"), ("shrinkage", "shrinkage"),
                                               ("blend", "shrinkage,practice,lnirt,blend")])
def test_each_served_prediction_equals_the_harness_online_prediction(
        sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, model: str, trained: str) -> None:
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", trained)
    monkeypatch.setenv("STUDYSMART_SERVING_MODEL", model)
    get_settings.cache_clear()
    _population(sessions)
    with transaction(sessions) as session:
        training.mark_queued(session=session, now=utcnow())
    outcome = pipeline.run_training(sessions, get_settings())
    assert outcome is not None and outcome.status == "succeeded"

    # A new student: each task is created (its prediction served and stored) and answered at the same instant.
    start = utcnow()
    served: list[tuple[float, float]] = []
    with transaction(sessions) as session:
        student = make_user(session, now=start)
        for i in range(9):
            at = start + timedelta(hours=5 * i)  # hours apart: time away matters to a model of forgetting
            task = make_task(session, student, now=at, topic=TOPICS[i % 2], difficulty=list(Difficulty)[i % 3])
            assert task.model == model
            served.append((task.p_correct, task.expected_seconds))
            tasks.complete_task(session=session, user=student, task_id=task.id, correct=i % 4 != 1,
                                seconds=30.0 + 20 * (i % 3), now=at)
        student_id = student.id

    with sessions() as session:
        data = history.all_responses(session)
        entry = context_of(session).models.get(session, model)
        assert entry is not None and entry.version is not None  # the trained version, not a refit
        done = session.query(Task).filter(Task.owner_id == student_id).count()
        assert session.get(User, student_id) is not None and done == len(served)
    mine = data.persons[data.person] == history.person_label(student_id)
    # "temporal": the harness predicts each answer from all earlier ones (sequential), as the app does.
    split = Split("temporal", train=data.subset(np.flatnonzero(~mine)), test=data.subset(np.flatnonzero(mine)))
    for fast in (True, False):  # the model's vectorised sequential pass, and one served call per answer
        harness = online_predictions(entry.model, split, fast=fast).bounded()
        np.testing.assert_allclose(harness.p_correct, [p for p, _ in served], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(harness.expected_seconds, [s for _, s in served], rtol=1e-9)

    # The sentence beside a prediction states the numbers shown (a blend's member explains, with its own numbers),
    # and names the topic as the student wrote it.
    with sessions() as session:
        student = session.get(User, student_id)
        assert student is not None
        topic = tasks.find_topic(session=session, name="Algebra")
        assert topic is not None
        shown = serving.predict_task(session=session, user=student, topic=topic, difficulty=Difficulty.MEDIUM,
                                     now=start + timedelta(days=2))
    # The practice model explains itself; a blend by its practice member only when its P(correct) uses it.
    weights = dict(zip(entry.model.members_, entry.model.blend_.accuracy[1:], strict=True)) \
        if model == "blend" else {model: 1.0}
    if weights.get("practice", 0.0) > 0:
        assert shown.explanation.startswith(f"{shown.p_correct:.0%} likely right"), shown.explanation
    else:  # no member's account of a number the student is not shown
        assert "likely right" not in shown.explanation and "points" not in shown.explanation, shown.explanation
    assert "Algebra answers" in shown.explanation, shown.explanation
