"""Shadow predictions: every model that does not serve a task is scored on it too, computed in the worker so a
request pays for one model (the one that serves) whatever the number of models.

At the start of each training run, the current champion of each model predicts every task whose served
prediction was made after that champion's training data ends (and that it has no prediction logged for), from
the student's history *before* that moment, and the prediction is logged (and scored, if the task is done). The
champion never saw these outcomes, and it predicts what it would have shown then, so its scores are as
prospective as the served model's. (A run reads its data just after it starts: only a task both shown and
answered within those milliseconds could be in the data of the champion that scores it.)
"""

from __future__ import annotations

import logging
from datetime import datetime

import numpy as np
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from studysmart.core.db import read_session, transaction, utcnow
from studysmart.core.logging import kv
from studysmart.learning.history import person_label
from studysmart.learning.logs import PredictionLog
from studysmart.learning.serving import served_prediction
from studysmart.ml import base as ml
from studysmart.ml.data import Queries, Responses
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic, item_label

log = logging.getLogger("studysmart.training")
MAX_TASKS_PER_RUN = 5000
BATCH = 25  # logs per write transaction: each holds SQLite's write lock, which task creations wait for


class Histories:
    """Each person's answers in ``data``, indexed once, so that one task's history is a slice, not a scan."""

    def __init__(self, data: Responses) -> None:
        self.data = data
        self._code = {label: code for code, label in enumerate(data.persons)}
        order = np.argsort(data.person, kind="stable")  # completion order kept within each person
        bounds = np.searchsorted(data.person[order], np.arange(len(data.persons) + 1))
        self._rows = {code: order[bounds[code]:bounds[code + 1]] for code in range(len(data.persons))}

    def before(self, person: str, moment: datetime) -> Responses | None:
        """``person``'s answers completed before ``moment`` (None if there are none)."""
        code = self._code.get(person)
        if code is None or self.data.order is None:
            return None
        rows = self._rows[code]
        rows = rows[self.data.order[rows] < moment.timestamp()]
        if rows.size == 0:
            return None
        sub = self.data.subset(rows)
        topic, difficulty = sub.row_topic(), sub.row_difficulty()
        # Built like the web's ``user_history``: this person's own vocabularies, not every student's.
        return Responses.from_columns(
            person=[person] * rows.size, item=list(sub.items[sub.item]), correct=list(sub.correct),
            seconds=list(np.exp(sub.log_time)), order=sub.order,
            topic=None if topic is None else list(topic), difficulty=None if difficulty is None else list(difficulty))


def shadow_score(sessions: sessionmaker[Session], *, name: str, model: ml.Model, version: int, since: datetime,
                 until: datetime, data: Responses, histories: Histories | None = None) -> int:
    """Log (and score) ``model``'s predictions for the tasks served in ``[since, until)`` that have none from
    it; returns how many were logged (a task deleted meanwhile is skipped). ``data`` holds every answer completed
    before ``until``.

    Predictions are computed with no transaction open and written in small batches, so web requests never wait
    behind this work for SQLite's write lock.
    """
    histories = histories or Histories(data)
    served = aliased(PredictionLog)
    already = exists().where(PredictionLog.task_id == Task.id, PredictionLog.model == name)
    with read_session(sessions) as session:
        rows = session.execute(
            select(Task.id, Task.owner_id, served.created_at.label("shown_at"), Task.status, Task.correct,
                   Task.seconds_taken, Task.difficulty, Topic.key)
            .join(Topic, Task.topic_id == Topic.id)
            .join(served, and_(served.task_id == Task.id, served.served.is_(True)))
            .where(served.created_at >= since, served.created_at < until, ~already)
            .order_by(Task.id).limit(MAX_TASKS_PER_RUN)
        ).all()
    logs: list[PredictionLog] = []
    now = utcnow()
    for row in rows:
        person = person_label(row.owner_id)
        queries = Queries.from_columns([person], [item_label(row.key, row.difficulty)], topic=[row.key],
                                       difficulty=[Difficulty(row.difficulty).value],
                                       order=[row.shown_at.timestamp()])  # as served: when it was shown
        pred = served_prediction(model, queries, histories.before(person, row.shown_at))
        done = row.status is TaskStatus.DONE
        logs.append(PredictionLog(
            task_id=row.id, user_id=row.owner_id, model=name, model_version=version, served=False,
            p_correct=float(pred.p_correct[0]), mean_log_time=float(pred.mean_log_time[0]),
            sd_log_time=float(pred.sd_log_time[0]), source=str(pred.source[0]), created_at=now,
            correct=row.correct if done else None,
            log_time=float(np.log(row.seconds_taken)) if done and row.seconds_taken else None,
            scored_at=now if done else None))
    logged = 0
    for start in range(0, len(logs), BATCH):
        batch = logs[start:start + BATCH]
        with transaction(sessions) as session:
            logged += _add_for_existing_tasks(session, batch, name)
    return logged


def _add_for_existing_tasks(session: Session, logs: list[PredictionLog], name: str) -> int:
    """Add the logs whose task still exists and has no log from this model yet (one deleted or re-predicted
    since it was read is skipped); returns how many.

    The tasks are locked until the commit (``FOR KEY SHARE`` on PostgreSQL; SQLite's write transaction holds
    the whole database), so a deletion cannot slip in between this check and the insert."""
    ids = [entry.task_id for entry in logs]
    alive = set(session.scalars(
        select(Task.id).where(Task.id.in_(ids)).with_for_update(read=True, key_share=True)))
    alive -= set(session.scalars(select(PredictionLog.task_id).where(PredictionLog.task_id.in_(ids),
                                                                     PredictionLog.model == name)))
    kept = [entry for entry in logs if entry.task_id in alive]
    if len(kept) < len(logs):
        log.info(kv("training.shadow.skipped", model=name, tasks=len(logs) - len(kept)))
    session.add_all(kept)
    return len(kept)
