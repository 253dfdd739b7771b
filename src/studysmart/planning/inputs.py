"""What the planner needs to know about one student, read from the database and the serving model.

- ``StudentPredictions``: one query row per (topic, difficulty) cell of the exam through the model that serves
  the student (with the student's history applied, as for a new task). Ability uncertainty for the readiness
  interval: a single-ability model (LNIRT: one theta per student) gives its own posterior (theta, sd) of the
  student, used for every topic with ``shared_ability=True``; a model with a student x topic variance (the practice
  model, alone or in a blend) gives the student's ability overall (a N(0, 1) logit prior, from the Fisher
  information of their answers in the exam's topics) shared by every topic (``shared_sd``), plus their deviation
  in each topic (the model's variance as its prior, from their answers in that topic); any other model gets, per
  topic, the posterior sd of a probit ability with a N(0, 1) prior from the Fisher information of the student's
  answers in that topic (at the model's predicted P(correct)), topics independent.
- P(correct) today (query time = the planning day) and on the exam day (query time = the exam date, so the
  model's forgetting of what the student has between now and then is the model's own).
- ``TopicLearning``: a model of learning (``LearnsFromPractice``: the ``practice`` model) gives its gains and
  forgetting as the planner's linearisation: per difficulty, the logit slope per unit of log(1 + count) of an
  answer, and the share of a gain left after k days, both measured through the model's own predictions (a
  probe block of practice with its expected outcomes appended to the student's history, the topic's tasks
  predicted straight after and k days later: ``learning_of``). A blend with a model of learning among its members
  (``learner_of``) is read the same way, through the blend: its gains are the learning member's as the blend
  weighs it. Any other model (LNIRT, the baselines) gives none: no gains, no forgetting.
- ``CompletedWork``: the student's completed tasks in the exam's topics since a date, per local day and cell.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import numpy as np
from scipy.special import logit, ndtri
from sqlalchemy import select
from sqlalchemy.orm import Session

from studysmart.learning import history as stored_answers
from studysmart.learning import registry
from studysmart.learning import serving as predictions
from studysmart.ml.data import Queries, Responses
from studysmart.planning.engine.readiness import LOGIT_PER_PROBIT
from studysmart.planning.engine.spec import (
    DIFFICULTIES,
    LEARNS,
    PROBE_SIZE,
    SMALL_PROBE,
    VOLUME_PROBES,
    CompletedWork,
    StudentPredictions,
    TopicAbility,
    TopicLearning,
)
from studysmart.tasks.models import Task, TaskStatus, Topic, item_label
from studysmart.users.models import User

__all__ = ["LearnsFromPractice", "StudentInputs", "completed_work", "learner_of", "learning_of", "serving_model_key",
           "student_inputs", "with_practice"]

_P_CLIP = 1e-4
_DAY = 86_400.0


class _Gain(Protocol):
    logit_if_correct: float
    logit_if_wrong: float


@runtime_checkable
class LearnsFromPractice(Protocol):
    """A model of learning as the planner reads it (``ml.practice.PracticeModel``)."""

    def practice_gain(self, topic: str, *, correct: float = 0.0, wrong: float = 0.0,
                      hardness: float = 0.0) -> _Gain: ...

    def hardness_of(self, topic: str | None, difficulty: str | None) -> float: ...

    def forgetting(self, gap: float) -> tuple[float, float]: ...


@dataclass(frozen=True)
class StudentInputs:
    """The planner's view of one student for one exam.

    Attributes:
        predictions: the exam's cells (topics labelled by their catalog names), today and on the exam day, with
            the model's learning per topic.
    """

    predictions: StudentPredictions


def _serving_entry(session: Session, user: User) -> Any:
    return predictions.serving_entry(session, user)[0]


def serving_model_key(session: Session, user: User) -> str:
    """A fingerprint of the model (and version) that serves this student right now."""
    entry = _serving_entry(session, user)
    return f"{entry.name}:{entry.version}:{entry.stamp}"


def _single_ability(model: Any, person: str, history: Responses) -> tuple[float, float] | None:
    """The student's (theta, sd) from a single-ability model (the LNIRT family's ``ability``), or None."""
    return model.ability(person, history) if isinstance(model, registry.HasAbility) else None


def _fisher_sd(p: np.ndarray, prior_variance: float = 1.0) -> float:
    """Posterior sd of a probit ability (N(0, ``prior_variance``) prior) after answers predicted at P(correct)
    ``p``."""
    p = np.clip(p, _P_CLIP, 1 - _P_CLIP)
    density = np.exp(-0.5 * ndtri(p) ** 2) / math.sqrt(2 * math.pi)
    return float(1.0 / math.sqrt(1.0 / prior_variance + np.sum(density**2 / (p * (1 - p)))))


def _topic_variance(model: Any) -> float:
    """The model of learning's student x topic variance (logit; 0 without one): ``PracticeModel.topic_variance``."""
    learner = learner_of(model)
    return float(learner.topic_variance()) if learner is not None and hasattr(learner, "topic_variance") else 0.0


def _history_rows(history: Responses, keys: list[str]) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """The history rows in the exam's topics: indices, item labels, topics and difficulties."""
    row_topic, row_difficulty = history.row_topic(), history.row_difficulty()
    if not len(history) or row_topic is None or row_difficulty is None:
        return np.zeros(0, dtype=int), [], [], []
    rows = np.flatnonzero(np.isin(row_topic.astype(str), keys))
    items = [str(label) for label in history.items[history.item[rows]]]
    return rows, items, [str(t) for t in row_topic[rows]], [str(d) for d in row_difficulty[rows]]


#: Days at which the retention of a practice gain is measured through the model (linear in between).
_RETENTION_DAYS = (0, 1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90, 180, 365, 730)


def with_practice(history: Responses, person: str, topic: str, item: str, difficulty: str, when: float,
                  p_correct: float, size: int = PROBE_SIZE) -> Responses:
    """``history`` and a block of ``size`` answers to ``item`` just before ``when``, with the expected outcomes at
    ``p_correct`` (round(size p) right, spread evenly)."""
    n = len(history)
    right = round(size * p_correct)
    outcomes = [float(math.floor((j + 1) * right / size) > math.floor(j * right / size)) for j in range(size)]
    row_topic, row_difficulty = history.row_topic(), history.row_difficulty()
    order = history.order.tolist() if history.order is not None else [math.nan] * n
    return Responses.from_columns(
        [str(x) for x in history.persons[history.person]] + [person] * size,
        [str(x) for x in history.items[history.item]] + [item] * size,
        history.correct.tolist() + outcomes,
        np.exp(history.log_time).tolist() + [60.0] * size,
        order=order + [when - 90.0 * (size - j) for j in range(size)],
        topic=(row_topic.tolist() if row_topic is not None else [topic] * n) + [topic] * size,
        difficulty=(row_difficulty.tolist() if row_difficulty is not None else ["medium"] * n) + [difficulty] * size,
    )


def learner_of(model: Any) -> LearnsFromPractice | None:
    """The model of learning in ``model``: the model itself, or the member of a fitted blend that learns from
    practice (None: no model of learning)."""
    if isinstance(model, LearnsFromPractice):
        return model
    try:
        members = getattr(model, "fitted_members", None)
    except RuntimeError:  # a blend not fitted yet
        return None
    return next((m for m in members.values() if isinstance(m, LearnsFromPractice)), None) if members else None


def learning_of(model: Any, *, person: str, history: Responses, topic: str, name: str, when: float, days: int,
                p_correct: dict[str, float]) -> TopicLearning:
    """The planner's linearisation of a model's gains and forgetting for one topic (no gains without learning).

    Through the served model itself, when it has a model of learning (``learner_of``: a blend's member that learns
    from practice, read as the blend serves it, so the forecast gains are those its predictions will show): for
    each practice difficulty, probe blocks of ``SMALL_PROBE`` and ``PROBE_SIZE`` problems with the expected
    outcomes at today's ``p_correct`` are appended to the history; their logit gains on the topic's tasks (mean
    over the difficulties) straight after fix the log(1 + count) curve (its effective earlier answers from the
    ratio of the two gains, then each difficulty's slope so that the curve equals the model at ``PROBE_SIZE``;
    the same slope for right and wrong answers), and the large block's gain k days later, relative to straight
    after, the retention (averaged over the difficulties). Blocks of ``VOLUME_PROBES`` problems give the model's
    gain at the volumes a plan allocates, relative to ``PROBE_SIZE`` (``TopicLearning.volume``; never falling:
    more practice is not read as a loss), so a topic the model says is saturated stops attracting minutes.

    Args:
        model: the serving model.
        person: the student's label; history: their answers.
        topic: the topic's key (the model's label); name: its catalog name (the planner's label).
        when: the planning time (timestamp).
        days: the longest break the plan can have (retention is given for 0..days days).
        p_correct: difficulty -> today's P(correct) (the probe's expected outcomes).
    """
    row_topic = history.row_topic()
    mine = (row_topic.astype(str) == topic) if row_topic is not None and len(history) else np.zeros(0, bool)
    correct = float(np.nansum(history.correct[mine])) if mine.size else 0.0
    wrong = float(np.sum(history.correct[mine] == 0)) if mine.size else 0.0
    if learner_of(model) is None:
        return TopicLearning(topic=name, past_correct=correct, past_wrong=wrong)
    served: Any = model
    grid = [k for k in _RETENTION_DAYS if k < days] + [days]
    rows = [(d, k) for k in grid for d in DIFFICULTIES]
    queries = Queries.from_columns([person] * len(rows), [item_label(topic, d) for d, _ in rows],
                                   topic=[topic] * len(rows), difficulty=[d for d, _ in rows],
                                   order=[when + k * _DAY for _, k in rows])

    def gains(probe: Responses) -> np.ndarray:
        after = logit(np.clip(predictions.served_prediction(served, queries, probe).p_correct, 1e-6, 1 - 1e-6))
        return np.asarray((after - base).reshape(len(grid), len(DIFFICULTIES)).mean(axis=1))

    base = logit(np.clip(predictions.served_prediction(served, queries, history).p_correct, 1e-6, 1 - 1e-6))
    p_of = {d: float(np.clip(p_correct.get(d, 0.5), 0.0, 1.0)) for d in DIFFICULTIES}
    big = {d: gains(with_practice(history, person, topic, item_label(topic, d), d, when, p_of[d]))
           for d in DIFFICULTIES}
    small = {d: float(gains(with_practice(history, person, topic, item_label(topic, d), d, when, p_of[d],
                                          size=SMALL_PROBE))[0]) for d in DIFFICULTIES}
    shares = [np.clip(big[d] / big[d][0], 0.0, 1.0) for d in DIFFICULTIES if big[d][0] > LEARNS]
    share = np.minimum.accumulate(np.mean(shares, axis=0)) if shares else np.ones(len(grid))
    volume = {d: [float(gains(with_practice(history, person, topic, item_label(topic, d), d, when, p_of[d],
                                            size=n))[0]) for n in VOLUME_PROBES]
              for d in DIFFICULTIES if big[d][0] > LEARNS}
    return TopicLearning.from_probes(name, p_correct=p_of, small=small, big={d: float(big[d][0]) for d in big},
                                     retention=np.interp(np.arange(days + 1), grid, share).tolist(), volume=volume)


def _noon(day: date) -> float:
    return datetime.combine(day, time(12), tzinfo=UTC).timestamp()


def student_inputs(*, session: Session, user: User, topics: Sequence[Topic], today: date | None = None,
                   exam_date: date | None = None) -> StudentInputs:
    """Predictions per exam cell (today and on the exam day), ability uncertainty and the model's learning of
    ``user`` for ``topics``.

    Args:
        session: a database session.
        user: the student.
        topics: the exam's catalog topics.
        today: the planning day (default: today, UTC).
        exam_date: the exam day (default: ``today``: no forgetting).

    Returns:
        The student's inputs; topics are labelled by their catalog names.
    """
    today = today or datetime.now(UTC).date()
    exam_date = exam_date or today
    entry = _serving_entry(session, user)
    person = stored_answers.person_label(user.id)
    history = stored_answers.user_history(session, user)
    name_of = {t.key: t.name for t in topics}
    keys = [t.key for t in topics]
    cell_topics = [k for k in keys for _ in DIFFICULTIES]
    cell_diffs = [d for _ in keys for d in DIFFICULTIES]
    rows, past_items, past_topics, past_diffs = _history_rows(history, keys)
    n_cells = len(cell_topics)
    cell_items = [item_label(k, d) for k, d in zip(cell_topics, cell_diffs, strict=True)]
    past_order = history.order[rows].tolist() if history.order is not None else [math.nan] * rows.size
    queries = Queries.from_columns(
        [person] * (2 * n_cells + rows.size),
        cell_items + cell_items + past_items,
        topic=cell_topics + cell_topics + past_topics,
        difficulty=cell_diffs + cell_diffs + past_diffs,
        order=[_noon(today)] * n_cells + [_noon(exam_date)] * n_cells + past_order,
    )
    pred = predictions.served_prediction(entry.model, queries, history)
    p_past = np.asarray(pred.p_correct[2 * n_cells:], dtype=float)
    topic_of_row = np.asarray(past_topics, dtype=object)

    single = _single_ability(entry.model, person, history)
    variance = _topic_variance(entry.model) / LOGIT_PER_PROBIT**2
    shared = 0.0
    if single is not None:
        abilities = [TopicAbility(topic=name_of[k], theta=single[0], theta_sd=single[1]) for k in keys]
    elif variance > 0:  # the student overall (every exam topic's answers) and their deviation in each topic
        shared = _fisher_sd(p_past, 1.0 / LOGIT_PER_PROBIT**2)  # N(0, 1) on the logit scale, as the benchmark
        abilities = [TopicAbility(topic=name_of[k], theta=0.0,
                                  theta_sd=math.hypot(shared, _fisher_sd(p_past[topic_of_row == k], variance)))
                     for k in keys]
    else:
        abilities = [TopicAbility(topic=name_of[k], theta=0.0, theta_sd=_fisher_sd(p_past[topic_of_row == k]))
                     for k in keys]
    days = max((exam_date - today).days, 1)
    p_now = np.asarray(pred.p_correct[:n_cells], dtype=float)
    learning = [learning_of(entry.model, person=person, history=history, topic=k, name=name_of[k],
                            when=_noon(today), days=days,
                            p_correct={d: float(p_now[i]) for i, (t, d) in enumerate(zip(cell_topics, cell_diffs,
                                                                                        strict=True)) if t == k})
                for k in keys]
    student = StudentPredictions.from_arrays(
        [name_of[k] for k in cell_topics], cell_diffs, pred.p_correct[:n_cells], pred.mean_log_time[:n_cells],
        pred.sd_log_time[:n_cells], abilities=abilities, shared_ability=single is not None, shared_sd=shared,
        p_exam=pred.p_correct[n_cells:2 * n_cells], learning=learning,
    )
    return StudentInputs(student)


def completed_work(*, session: Session, user: User, topics: Sequence[Topic], since: date,
                   zone: ZoneInfo) -> list[CompletedWork]:
    """The student's completed tasks in ``topics`` from local day ``since`` on, per local day and cell.

    Args:
        session: a database session.
        user: the student.
        topics: the exam's catalog topics (work is labelled by their names).
        since: the first local day counted.
        zone: the time zone of the student's days.

    Returns:
        One CompletedWork per (day, topic, difficulty) with the count and the seconds taken.
    """
    start = datetime.combine(since, time(0), tzinfo=zone).astimezone(UTC)
    names = {t.id: t.name for t in topics}
    done = session.execute(
        select(Task.topic_id, Task.difficulty, Task.completed_at, Task.seconds_taken)
        .where(Task.owner_id == user.id, Task.status == TaskStatus.DONE, Task.completed_at >= start,
               Task.topic_id.in_(list(names)))
    )
    cells: dict[tuple[date, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for topic_id, difficulty, completed_at, seconds in done:
        if completed_at is None:  # a done task always has its completion time; be safe with old rows
            continue
        cell = cells[(completed_at.astimezone(zone).date(), names[topic_id], str(difficulty.value))]
        cell[0] += 1
        cell[1] += float(seconds or 0.0)
    return [CompletedWork(date=day, topic=topic, difficulty=difficulty, count=int(count), seconds=seconds)
            for (day, topic, difficulty), (count, seconds) in sorted(cells.items())]
