"""Shadow predictions of the torch models, made in the worker so web processes never import torch.

At the start of each training run, the current champion of each torch model predicts every task created since that
champion was promoted (and not yet logged for it), from the student's history *before* the task was created, and the
prediction is logged (and scored, if the task is done). The champion never saw these outcomes, so the scores are
as prospective as the ones the web process logs at task creation.
"""

from __future__ import annotations

import logging
from datetime import datetime

import numpy as np
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction, utcnow
from studysmart.core.logging import kv
from studysmart.learning.history import person_label
from studysmart.learning.logs import PredictionLog
from studysmart.ml import base as ml
from studysmart.ml.data import Queries, Responses
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic, item_label

log = logging.getLogger("studysmart.training")
MAX_TASKS_PER_RUN = 5000
BATCH = 200
SHADOW_PERSON = "{}#shadow"  # a label the model never saw, so it cannot use the person's stored (later) history


def _history_before(data: Responses, person: str, before: datetime, label: str) -> Responses | None:
    codes = np.flatnonzero(data.persons == person)
    if codes.size == 0 or data.order is None:
        return None
    rows = np.flatnonzero((data.person == codes[0]) & (data.order < before.timestamp()))
    if rows.size == 0:
        return None
    sub = data.subset(rows)
    topic, difficulty = sub.row_topic(), sub.row_difficulty()
    return Responses.from_columns(
        person=[label] * rows.size, item=list(sub.items[sub.item]), correct=list(sub.correct),
        seconds=list(np.exp(sub.log_time)), order=sub.order,
        topic=None if topic is None else list(topic), difficulty=None if difficulty is None else list(difficulty))


def shadow_score(sessions: sessionmaker[Session], *, name: str, model: ml.Model, version: int, since: datetime,
                 data: Responses) -> int:
    """Log (and score) ``model``'s predictions for tasks created after ``since``; returns how many were logged
    (a task deleted meanwhile is skipped).

    Predictions are computed with no transaction open and written in small batches, so web requests never wait
    behind this work for SQLite's write lock.
    """
    already = exists().where(PredictionLog.task_id == Task.id, PredictionLog.model == name)
    with sessions() as session:
        rows = session.execute(
            select(Task.id, Task.owner_id, Task.created_at, Task.status, Task.correct, Task.seconds_taken,
                   Task.difficulty, Topic.key)
            .join(Topic, Task.topic_id == Topic.id)
            .where(Task.created_at >= since, ~already)
            .order_by(Task.id).limit(MAX_TASKS_PER_RUN)
        ).all()
    logs: list[PredictionLog] = []
    now = utcnow()
    for row in rows:
        label = SHADOW_PERSON.format(person_label(row.owner_id))
        history = _history_before(data, person_label(row.owner_id), row.created_at, label)
        queries = Queries.from_columns([label], [item_label(row.key, row.difficulty)], topic=[row.key],
                                       difficulty=[Difficulty(row.difficulty).value],
                                       order=[row.created_at.timestamp()])  # as served: at creation
        pred = model.predict(queries, history=history)
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
            logged += _add_for_existing_tasks(session, batch)
    return logged


def _add_for_existing_tasks(session: Session, logs: list[PredictionLog]) -> int:
    """Add the logs whose task still exists (one deleted since it was read is skipped); returns how many.

    The tasks are locked until the commit (``FOR KEY SHARE`` on PostgreSQL; SQLite's write transaction holds
    the whole database), so a deletion cannot slip in between this check and the insert."""
    alive = set(session.scalars(
        select(Task.id).where(Task.id.in_([entry.task_id for entry in logs]))
        .with_for_update(read=True, key_share=True)))
    kept = [entry for entry in logs if entry.task_id in alive]
    if len(kept) < len(logs):
        log.info(kv("training.shadow.skipped_deleted", tasks=len(logs) - len(kept)))
    session.add_all(kept)
    return len(kept)
