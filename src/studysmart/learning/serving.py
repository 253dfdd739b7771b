"""Serve predictions: the model that serves each student (from the session's context: its model cache and
settings), the student's own history applied at prediction time (the online update); the served prediction
logged per task and scored when the task is done (the worker logs the other models' predictions for it:
``learning.shadow``)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from studysmart.learning import registry
from studysmart.learning.cache import Loaded
from studysmart.learning.context import context_of
from studysmart.learning.history import person_label, user_history
from studysmart.learning.logs import PredictionLog
from studysmart.learning.models import ModelVersion, TrainingState
from studysmart.learning.prediction import ServedPrediction, ShownPrediction
from studysmart.ml import base as ml
from studysmart.ml.data import Queries, Responses
from studysmart.tasks.models import Difficulty, Task, Topic, item_label
from studysmart.users.models import User

FALLBACK_MODEL = registry.FALLBACK
__all__ = ["ServedPrediction", "ShownPrediction", "choose_model", "log_served", "predict_and_log", "predict_cells",
           "predict_task", "predict_tasks", "score_task", "serving_entry", "unscore_task"]


def _stable_fraction(user_id: int) -> float:
    """A fixed number in [0, 1) per user, for A/B assignment that never changes between requests."""
    digest = hashlib.sha256(f"studysmart-ab:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose_model(session: Session, user: User) -> tuple[str, str]:
    """Which model serves this student, and the A/B arm ("champion" or "challenger").

    An explicit setting or the student's preference wins when that model has a champion version; otherwise the
    model the last training chose (best held-out log loss). With ``ab_challenger_share`` > 0, that share of
    students (by a stable hash) gets the runner-up servable model instead.
    """
    context = context_of(session)
    settings, cache = context.settings, context.models
    wanted = settings.serving_model if settings.serving_model != registry.AUTO else user.preference("preferred_model")
    if registry.is_known(wanted) and cache.get(session, wanted) is not None:
        return wanted, "preference"
    champion = session.scalar(select(TrainingState.serving_model)) or FALLBACK_MODEL
    if champion != FALLBACK_MODEL and cache.get(session, champion) is None:
        champion = FALLBACK_MODEL
    if settings.ab_challenger_share > 0 and _stable_fraction(user.id) < settings.ab_challenger_share:
        challenger = _runner_up(session, champion)
        if challenger is not None:
            return challenger, "challenger"
    return champion, "champion"


def _runner_up(session: Session, champion: str) -> str | None:
    """The servable model other than ``champion`` with the best held-out log loss of its champion version (the
    registry's order breaks ties and ranks models without a score last), among those this process can serve."""
    rows = session.execute(select(ModelVersion.model, ModelVersion.metrics).where(ModelVersion.is_champion.is_(True)))
    loss: dict[str, float] = {}
    for name, metrics in rows:
        value = (metrics or {}).get("log_loss")
        if isinstance(value, int | float) and math.isfinite(value):
            loss[name] = float(value)
    servable = registry.servable()
    ranked = sorted((name for name in servable if name != champion),
                    key=lambda name: (name not in loss, loss.get(name, 0.0), servable.index(name)))
    cache = context_of(session).models
    return next((name for name in ranked if cache.get(session, name) is not None), None)


def serving_model_name(session: Session, user: User) -> str:
    """The name of the model that serves this student (see choose_model)."""
    return choose_model(session, user)[0]


def _explain(history: Responses, topic: Topic) -> str:
    if len(history) == 0:
        return "No history yet: estimate from all students."
    in_topic = int(np.sum(history.row_topic() == topic.key)) if history.item_topic is not None else 0
    if in_topic:
        return f"From your {in_topic} {topic.name} answer{'s' if in_topic != 1 else ''}."
    return f"No {topic.name} answers yet: from your {len(history)} other answers and all students."


def served_prediction(model: ml.Model, queries: Queries, history: Responses | None) -> ml.Prediction:
    """What a model predicts for these rows as the app shows it: every number finite and within the served
    ranges (``Prediction.bounded``). Every prediction a student sees (tasks, previews, plans) comes from here."""
    return model.predict(queries, history=history).bounded()


def _predict_rows(entry: Loaded, user: User, cells: list[tuple[str, Difficulty]], history: Responses,
                  now: datetime) -> ml.Prediction:
    # ``order`` = now, as in training and evaluation, where each answer carries its time (the sequence models
    # read the gap since the previous answer and the time of day from it).
    queries = Queries.from_columns([person_label(user.id)] * len(cells),
                                   [item_label(key, difficulty) for key, difficulty in cells],
                                   topic=[key for key, _ in cells],
                                   difficulty=[Difficulty(difficulty).value for _, difficulty in cells],
                                   order=[now.timestamp()] * len(cells))
    return served_prediction(entry.model, queries, history)


def _predict_one(entry: Loaded, user: User, topic: Topic, difficulty: Difficulty,
                 history: Responses, now: datetime) -> ml.Prediction:
    return _predict_rows(entry, user, [(topic.key, difficulty)], history, now)


def _shown(entry: Loaded, pred: ml.Prediction, row: int = 0) -> ShownPrediction:
    low, high = pred.served_interval()
    return ShownPrediction(
        p_correct=float(pred.p_correct[row]),
        expected_seconds=float(pred.expected_seconds[row]),
        seconds_low=float(low[row]),
        seconds_high=float(high[row]),
        model=entry.name,
        model_version=entry.version,
        source=str(pred.source[row]),
    )


def _served(entry: Loaded, pred: ml.Prediction, explanation: str, arm: str) -> ServedPrediction:
    return ServedPrediction(
        **vars(_shown(entry, pred)),
        mean_log_time=float(pred.mean_log_time[0]),
        sd_log_time=float(pred.sd_log_time[0]),
        explanation=explanation,
        arm=arm,
    )


def serving_entry(session: Session, user: User) -> tuple[Loaded, str]:
    """The loaded model that serves this student (name, version, model) and the A/B arm."""
    name, arm = choose_model(session, user)
    entry = context_of(session).models.get(session, name)
    assert entry is not None  # the fallback always exists
    return entry, arm


def _serve(session: Session, user: User, topic: Topic, difficulty: Difficulty,
           history: Responses, now: datetime) -> ServedPrediction:
    entry, arm = serving_entry(session, user)
    pred = _predict_one(entry, user, topic, difficulty, history, now)
    if isinstance(entry.model, registry.Explains) and len(history):
        why = entry.model.explain(person_label(user.id), item_label(topic.key, difficulty), topic=topic.key,
                                  difficulty=Difficulty(difficulty).value, order=now.timestamp(), history=history,
                                  label=topic.name)
        reason = getattr(why, "reason", "")
        if getattr(why, "generic", False):  # a blend none of whose weighted members explains itself
            sentence = _explain(history, topic)
        elif reason:  # a practice explanation (the module is loaded): it may be a blend's member's, whose numbers
            from studysmart.ml.practice.explain import headed  # are not the ones shown, so it states the served ones

            sentence = headed(float(pred.p_correct[0]), float(pred.expected_seconds[0]), reason)
        else:
            sentence = why.sentence
    else:
        sentence = _explain(history, topic)
    return _served(entry, pred, sentence, arm)


def predict_task(*, session: Session, user: User, topic: Topic, difficulty: Difficulty,
                 now: datetime, history: Responses | None = None) -> ServedPrediction:
    """The prediction the serving model makes for this student on a (topic, difficulty) task, right now.
    ``history``: the student's history if the caller already loaded it (``user_history``)."""
    history = user_history(session, user) if history is None else history
    return _serve(session, user, topic, difficulty, history, now)


def predict_tasks(*, session: Session, user: User, tasks: Sequence[Task], now: datetime,
                  history: Responses | None = None) -> dict[int, ShownPrediction]:
    """What the serving model predicts for each of these tasks of this student right now, by task id: one model
    call for all of them (the same served path as a preview, so an open task shows what a new task of its topic
    and difficulty would be shown). Nothing is written."""
    shown = predict_cells(session=session, user=user, cells=[(task.topic.key, task.difficulty) for task in tasks],
                          now=now, history=history)
    return {task.id: prediction for task, prediction in zip(tasks, shown, strict=True)}


def predict_cells(*, session: Session, user: User, cells: Sequence[tuple[str, Difficulty]], now: datetime,
                  history: Responses | None = None) -> list[ShownPrediction]:
    """What the serving model predicts for this student right now on each (topic key, difficulty), in order: one
    model call for all of them. Nothing is written."""
    if not cells:
        return []
    history = user_history(session, user) if history is None else history
    entry, _ = serving_entry(session, user)
    pred = _predict_rows(entry, user, list(cells), history, now)
    return [_shown(entry, pred, row) for row in range(len(cells))]


def predict_and_log(*, session: Session, user: User, task: Task, now: datetime,
                    replace: bool = False) -> ServedPrediction:
    """The served prediction for ``task``, logged (marked served) to score it when the task is done. The other
    models' predictions for the task are made and logged by the worker (``learning.shadow``), so a request pays
    for one model."""
    if replace:
        session.execute(delete(PredictionLog).where(PredictionLog.task_id == task.id))
    history = user_history(session, user)
    served = _serve(session, user, task.topic, task.difficulty, history, now)
    return log_served(session=session, task=task, served=served, now=now)


def log_served(*, session: Session, task: Task, served: ServedPrediction, now: datetime) -> ServedPrediction:
    """Log ``served`` (made by ``predict_task`` for this task's student, topic and difficulty, e.g. in a read-only
    session before this write) as the served prediction of ``task``, to score it when the task is done."""
    session.add(PredictionLog(
        task_id=task.id, user_id=task.owner_id, model=served.model, model_version=served.model_version, served=True,
        arm=served.arm, p_correct=served.p_correct, mean_log_time=served.mean_log_time,
        sd_log_time=served.sd_log_time, source=served.source, created_at=now))
    return served


def score_task(*, session: Session, task: Task, now: datetime) -> None:
    """Attach the outcome of a completed task to every prediction logged for it."""
    session.execute(
        update(PredictionLog)
        .where(PredictionLog.task_id == task.id)
        .values(correct=task.correct, log_time=task.log_time, scored_at=now)
    )


def unscore_task(*, session: Session, task: Task) -> None:
    """Take the outcome off every prediction logged for a task whose completion was undone (unscored again)."""
    session.execute(update(PredictionLog).where(PredictionLog.task_id == task.id)
                    .values(correct=None, log_time=None, scored_at=None))
