"""Shadow scoring in the worker: a task deleted while its prediction is being made is skipped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction, utcnow
from studysmart.learning.history import all_responses
from studysmart.learning.logs import PredictionLog
from studysmart.learning.shadow import shadow_score
from studysmart.ml import base as ml
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Task
from tests.factories import make_task, make_user


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
                          data=data)
    assert deleted == [ids[2]]
    assert logged == 3
    with sessions() as session:
        rows = session.scalars(select(PredictionLog).where(PredictionLog.model == "neural")).all()
    assert sorted(r.task_id for r in rows) == [ids[0], ids[1], ids[3]]
    assert next(r for r in rows if r.task_id == ids[0]).scored_at is not None
