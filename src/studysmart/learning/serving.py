"""Serve predictions: the champion model of each name, cached per process and swapped atomically when a new
version is promoted; the student's own history applied at prediction time (the online update); every active
model's prediction logged per task and scored when the task is done."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from studysmart.core.config import get_settings
from studysmart.learning import registry
from studysmart.learning.erasure import forget
from studysmart.learning.history import all_responses, person_label, user_history
from studysmart.learning.logs import PredictionLog
from studysmart.learning.models import Erasure, ModelVersion, TrainingState
from studysmart.ml import base as ml
from studysmart.ml.data import Queries, Responses
from studysmart.ml.robust import with_robust_weights
from studysmart.tasks.models import Difficulty, Task, Topic, item_label
from studysmart.users.models import User

FALLBACK_MODEL = registry.FALLBACK
FALLBACK_REFIT_SECONDS = 60.0
FALLBACK_CHEAP_SAMPLES = 5000


@dataclass(frozen=True)
class ServedPrediction:
    """One prediction as shown to a student."""

    p_correct: float
    expected_seconds: float
    seconds_low: float
    seconds_high: float
    model: str
    model_version: int | None
    source: str
    mean_log_time: float
    sd_log_time: float
    explanation: str
    arm: str = "champion"


@dataclass(frozen=True)
class _Loaded:
    name: str
    version: int | None  # None: the in-process fallback fitted on the current data
    model: ml.Model
    checked_at: float
    stamp: int  # ModelVersion.id, or the sample count the fallback was fitted on
    fitted_at: float = 0.0  # the fallback: when it was fitted (refitted at most every FALLBACK_REFIT_SECONDS)
    erased: int = 0  # the largest Erasure.id this model honours (deleted accounts' parameters dropped)


class ModelCache:
    """Per-process cache of serving models; reads the database at most every ``refresh_seconds`` per name."""

    def __init__(self) -> None:
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()

    def forget(self, persons: list[str]) -> None:
        """Drop ``persons`` from every cached model now (in the process that deleted their accounts; the others
        do it at their next refresh, from the Erasure rows)."""
        with self._lock:
            for name, entry in list(self._loaded.items()):
                self._loaded[name] = replace(entry, model=forget(name, entry.model, persons))

    def versions(self) -> dict[str, int | None]:
        """The version served per model name in this process."""
        return {name: entry.version for name, entry in self._loaded.items()}

    def get(self, session: Session, name: str) -> _Loaded | None:
        """The champion of ``name`` (None if there is none); the fallback model is always available."""
        refresh = get_settings().model_refresh_seconds
        entry = self._loaded.get(name)
        now = time.monotonic()
        if entry is not None and now - entry.checked_at < refresh:
            return entry
        with self._lock:
            entry = self._loaded.get(name)
            if entry is not None and now - entry.checked_at < refresh:
                return entry
            latest = session.scalar(select(func.max(Erasure.id))) or 0  # read before any artifact or data
            champion = session.execute(
                select(ModelVersion.id, ModelVersion.version)
                .where(ModelVersion.model == name, ModelVersion.is_champion.is_(True))
            ).first()
            if champion is not None:
                if entry is None or entry.stamp != champion.id or entry.version is None:
                    # A stored artifact honours the erasures a training applied; the pending ones are read
                    # before it, so one the training applies meanwhile is at worst applied twice.
                    pending = list(session.scalars(select(Erasure.person).where(
                        Erasure.applied_at.is_(None), Erasure.id <= latest))) if latest else []
                    blob = session.scalar(select(ModelVersion.artifact).where(ModelVersion.id == champion.id))
                    model = ml.load(name, blob or b"")
                    entry = _Loaded(name, champion.version, forget(name, model, pending) if pending else model,
                                    now, champion.id, erased=latest)
                else:
                    entry = replace(entry, checked_at=now)
            elif name == FALLBACK_MODEL:
                entry = self._fallback(session, entry, now, latest)
            else:
                entry = None
            if entry is not None and entry.erased < latest:  # accounts deleted since: drop them from this copy
                persons = list(session.scalars(select(Erasure.person).where(
                    Erasure.id > entry.erased, Erasure.id <= latest)))
                entry = replace(entry, model=forget(name, entry.model, persons), erased=latest)
            if entry is None:
                self._loaded.pop(name, None)
            else:
                self._loaded[name] = entry  # one assignment: readers see the old or the new model, never half
            return entry

    def _fallback(self, session: Session, entry: _Loaded | None, now: float, erased: int) -> _Loaded:
        samples = session.scalar(select(TrainingState.samples)) or 0
        if entry is not None and entry.version is None and (entry.stamp == samples or (
                samples > FALLBACK_CHEAP_SAMPLES and now - entry.fitted_at < FALLBACK_REFIT_SECONDS)):
            return replace(entry, checked_at=now)
        # Only until the first training stores a shrinkage version: a cheap pass over the data (milliseconds per
        # thousand answers); past a few thousand answers at most once a minute per process (the student's own
        # answers still apply at once, through their history).
        model = ml.create(FALLBACK_MODEL).fit(with_robust_weights(all_responses(session)))  # as training does
        return _Loaded(FALLBACK_MODEL, None, model, now, samples, now, erased=erased)


CACHE = ModelCache()


def forget_persons(persons: list[str]) -> None:
    """Drop deleted accounts' persons from this process's cached models at once (called after the commit)."""
    CACHE.forget(persons)


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
    settings = get_settings()
    wanted = settings.serving_model if settings.serving_model != registry.AUTO else user.preference("preferred_model")
    if registry.is_known(wanted) and CACHE.get(session, wanted) is not None:
        return wanted, "preference"
    champion = session.scalar(select(TrainingState.serving_model)) or FALLBACK_MODEL
    if champion != FALLBACK_MODEL and CACHE.get(session, champion) is None:
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
    return next((name for name in ranked if CACHE.get(session, name) is not None), None)


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


def _predict_one(entry: _Loaded, user: User, topic: Topic, difficulty: Difficulty,
                 history: Responses, now: datetime) -> ml.Prediction:
    # ``order`` = now, as in training and evaluation, where each answer carries its time (the sequence models
    # read the gap since the previous answer and the time of day from it).
    queries = Queries.from_columns([person_label(user.id)], [item_label(topic.key, difficulty)],
                                   topic=[topic.key], difficulty=[Difficulty(difficulty).value],
                                   order=[now.timestamp()])
    return served_prediction(entry.model, queries, history)


def _served(entry: _Loaded, pred: ml.Prediction, explanation: str, arm: str) -> ServedPrediction:
    low, high = pred.served_interval()
    return ServedPrediction(
        p_correct=float(pred.p_correct[0]),
        expected_seconds=float(pred.expected_seconds[0]),
        seconds_low=float(low[0]),
        seconds_high=float(high[0]),
        model=entry.name,
        model_version=entry.version,
        source=str(pred.source[0]),
        mean_log_time=float(pred.mean_log_time[0]),
        sd_log_time=float(pred.sd_log_time[0]),
        explanation=explanation,
        arm=arm,
    )


def serving_entry(session: Session, user: User) -> tuple[_Loaded, str]:
    """The loaded model that serves this student (name, version, model) and the A/B arm."""
    name, arm = choose_model(session, user)
    entry = CACHE.get(session, name)
    assert entry is not None  # the fallback always exists
    return entry, arm


def _serve(session: Session, user: User, topic: Topic, difficulty: Difficulty,
           history: Responses, now: datetime) -> tuple[ServedPrediction, _Loaded, ml.Prediction]:
    entry, arm = serving_entry(session, user)
    pred = _predict_one(entry, user, topic, difficulty, history, now)
    if isinstance(entry.model, registry.Explains) and len(history):
        sentence = entry.model.explain(person_label(user.id), item_label(topic.key, difficulty), topic=topic.key,
                           difficulty=Difficulty(difficulty).value, history=history).sentence
    else:
        sentence = _explain(history, topic)
    return _served(entry, pred, sentence, arm), entry, pred


def predict_task(*, session: Session, user: User, topic: Topic, difficulty: Difficulty,
                 now: datetime, history: Responses | None = None) -> ServedPrediction:
    """The prediction the serving model makes for this student on a (topic, difficulty) task, right now.
    ``history``: the student's history if the caller already loaded it (``user_history``)."""
    history = user_history(session, user) if history is None else history
    return _serve(session, user, topic, difficulty, history, now)[0]


def shadow_models(session: Session) -> list[str]:
    """Models scored alongside the served one in this process (torch models are scored by the worker)."""
    names = [FALLBACK_MODEL, *get_settings().enabled_models]
    return [n for n in dict.fromkeys(names) if registry.is_known(n) and not registry.needs_torch(n)]


def predict_and_log(*, session: Session, user: User, task: Task, now: datetime,
                    replace: bool = False) -> ServedPrediction:
    """The served prediction for ``task``, with one PredictionLog per active model (the served one marked) to
    score them when the task is done. The student's history is read once for all models."""
    if replace:
        session.execute(delete(PredictionLog).where(PredictionLog.task_id == task.id))
    history = user_history(session, user)
    served, entry, pred = _serve(session, user, task.topic, task.difficulty, history, now)
    logs = [_log(task, user, entry, pred, now, arm=served.arm)]
    for name in shadow_models(session):
        shadow = CACHE.get(session, name)
        if name == served.model or shadow is None:
            continue
        logs.append(_log(task, user, shadow, _predict_one(shadow, user, task.topic, task.difficulty, history, now),
                         now))
    session.add_all(logs)
    return served


def _log(task: Task, user: User, entry: _Loaded, pred: ml.Prediction, now: datetime,
         arm: str | None = None) -> PredictionLog:
    return PredictionLog(
        task_id=task.id, user_id=user.id, model=entry.name, model_version=entry.version, served=arm is not None,
        arm=arm, p_correct=float(pred.p_correct[0]), mean_log_time=float(pred.mean_log_time[0]),
        sd_log_time=float(pred.sd_log_time[0]), source=str(pred.source[0]), created_at=now)


def score_task(*, session: Session, task: Task, now: datetime) -> None:
    """Attach the outcome of a completed task to every prediction logged for it."""
    session.execute(
        update(PredictionLog)
        .where(PredictionLog.task_id == task.id)
        .values(correct=task.correct, log_time=task.log_time, scored_at=now)
    )
