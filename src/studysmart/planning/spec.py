"""Inputs of exam planning: the exam, the student's predictions per (topic, difficulty), completed work.

Everything here is plain data with validation; no database and no HTTP. Invalid input raises
``InvalidExamError`` (a ``ValueError``) whose ``field`` names the offending field, so the API can map it to a
4xx response.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np

__all__ = [
    "DIFFICULTIES",
    "CellPrediction",
    "CompletedWork",
    "ExamSpec",
    "InvalidExamError",
    "MissingPredictionError",
    "PlanningError",
    "StudentPredictions",
    "TopicAbility",
    "TopicWeight",
]

DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")

#: The furthest exam date accepted: plans are day by day, so an exam years away is an input error.
MAX_HORIZON_DAYS = 730
#: The largest log-seconds the lognormal moments below are computed from (a week per item): the exponents
#: stay far from overflow whatever a prediction says (served ones stay within a day anyway).
MAX_LOG_SECONDS = math.log(7 * 86_400.0)


class PlanningError(ValueError):
    """A planning input is unusable; ``field`` names the input field at fault (e.g. ``topics[1].weight``), and
    ``where`` the part of the request it came in ("body", or "path" for a date in the URL)."""

    def __init__(self, field: str, message: str, where: str = "body") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.where = where


class InvalidExamError(PlanningError):
    """The exam specification is invalid (exam in the past, no topics, negative minutes, bad weights ...)."""


class MissingPredictionError(PlanningError):
    """The predictions lack a topic the exam needs."""


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@dataclass(frozen=True)
class TopicWeight:
    """One exam topic and its (unnormalised, positive) share of the exam."""

    topic: str
    weight: float = 1.0


@dataclass(frozen=True)
class ExamSpec:
    """An exam to prepare for.

    Args:
        date: the exam day (not a study day).
        topics: the exam's topics with positive weights (TopicWeight, (topic, weight) pairs, {topic, weight}
            dicts, or one mapping topic -> weight); normalised to sum to 1 by ``weights()``.
        minutes_per_weekday: minutes available per weekday, Monday first (7 numbers >= 0).
        target_score: the score the student aims for, as a fraction in [0, 1] (optional).
        days_off: dates with no study at all.
        minutes_done: minutes already used on given dates (e.g. today), subtracted from those days' minutes.
        difficulty_mix: the exam's share of easy/medium/hard questions (default equal thirds).
        name: a label for calendars and task titles.

    Raises:
        InvalidExamError: on any structurally invalid field (see ``validate`` for the date check).
    """

    date: dt.date
    topics: tuple[TopicWeight, ...]
    minutes_per_weekday: tuple[float, ...]
    target_score: float | None = None
    days_off: frozenset[dt.date] = frozenset()
    minutes_done: Mapping[dt.date, float] = field(default_factory=dict)
    difficulty_mix: Mapping[str, float] | None = None
    name: str = "exam"

    def __post_init__(self) -> None:
        raw = self.topics.items() if isinstance(self.topics, Mapping) else (self.topics or ())
        topics = tuple(_coerce_topic(t) for t in raw)
        object.__setattr__(self, "topics", topics)
        object.__setattr__(self, "days_off", frozenset(self.days_off or ()))
        object.__setattr__(self, "minutes_done", dict(self.minutes_done or {}))
        if not isinstance(self.date, dt.date):
            raise InvalidExamError("date", "must be a date")
        if not topics:
            raise InvalidExamError("topics", "at least one topic is required")
        seen: set[str] = set()
        for i, tw in enumerate(topics):
            if not isinstance(tw.topic, str) or not tw.topic.strip():
                raise InvalidExamError(f"topics[{i}].topic", "must be a non-empty string")
            if tw.topic in seen:
                raise InvalidExamError(f"topics[{i}].topic", f"duplicate topic {tw.topic!r}")
            seen.add(tw.topic)
            if not _finite(tw.weight) or tw.weight <= 0:
                raise InvalidExamError(f"topics[{i}].weight", f"must be a positive number, got {tw.weight!r}")
        minutes = tuple(self.minutes_per_weekday or ())
        if len(minutes) != 7:
            raise InvalidExamError("minutes_per_weekday", f"needs 7 numbers (Monday first), got {len(minutes)}")
        for i, m in enumerate(minutes):
            if not _finite(m) or m < 0 or m > 24 * 60:
                raise InvalidExamError(f"minutes_per_weekday[{i}]", f"must be between 0 and 1440, got {m!r}")
        object.__setattr__(self, "minutes_per_weekday", tuple(float(m) for m in minutes))
        if self.target_score is not None and (not _finite(self.target_score) or not 0 <= self.target_score <= 1):
            raise InvalidExamError("target_score", f"must be a fraction in [0, 1], got {self.target_score!r}")
        for day, m in self.minutes_done.items():
            if not _finite(m) or m < 0:
                raise InvalidExamError("minutes_done", f"minutes done on {day} must be >= 0, got {m!r}")
        if self.difficulty_mix is not None:
            mix = dict(self.difficulty_mix)
            unknown = set(mix) - set(DIFFICULTIES)
            if unknown:
                raise InvalidExamError("difficulty_mix", f"unknown difficulties {sorted(unknown)}")
            if any(not _finite(v) or v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
                raise InvalidExamError("difficulty_mix", "shares must be >= 0 with a positive sum")
            object.__setattr__(self, "difficulty_mix", mix)

    def validate(self, today: dt.date) -> None:
        """Check the exam against today's date.

        Raises:
            InvalidExamError: (field ``date``) when the exam is already in the past.
        """
        if self.date < today:
            raise InvalidExamError("date", f"the exam ({self.date}) is in the past (today is {today})")
        if self.date > today + dt.timedelta(days=MAX_HORIZON_DAYS):
            raise InvalidExamError("date", f"the exam must be within {MAX_HORIZON_DAYS} days (a plan per day)")

    def weights(self) -> dict[str, float]:
        """Topic -> weight, normalised to sum to 1."""
        total = sum(t.weight for t in self.topics)
        return {t.topic: t.weight / total for t in self.topics}

    def mix(self) -> dict[str, float]:
        """Difficulty -> share of the exam's questions (sums to 1; equal thirds by default)."""
        mix = dict(self.difficulty_mix) if self.difficulty_mix else dict.fromkeys(DIFFICULTIES, 1.0)
        total = sum(mix.values())
        return {d: mix.get(d, 0.0) / total for d in DIFFICULTIES}

    def minutes_on(self, day: dt.date) -> float:
        """Study minutes available on ``day`` (0 on days off and from the exam day on)."""
        if day in self.days_off or day >= self.date:
            return 0.0
        return max(0.0, self.minutes_per_weekday[day.weekday()] - self.minutes_done.get(day, 0.0))

    def study_days(self, today: dt.date) -> list[dt.date]:
        """Every date from ``today`` up to the day before the exam."""
        return [today + timedelta(days=k) for k in range((self.date - today).days)]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExamSpec:
        """Build from API-shaped data: ``{date, topics: [{topic, weight}], minutes_per_weekday, ...}``.

        Dates may be ``date`` objects or ISO strings.
        """
        try:
            exam_date = _as_date(data["date"])
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidExamError("date", f"a date is required ({exc})") from None
        try:
            days_off = frozenset(_as_date(d) for d in data.get("days_off") or ())
        except (ValueError, TypeError) as exc:
            raise InvalidExamError("days_off", f"must be dates ({exc})") from None
        return cls(
            date=exam_date,
            topics=tuple(data.get("topics") or ()),
            minutes_per_weekday=tuple(data.get("minutes_per_weekday") or ()),
            target_score=data.get("target_score"),
            days_off=days_off,
            minutes_done={_as_date(k): float(v) for k, v in (data.get("minutes_done") or {}).items()},
            difficulty_mix=data.get("difficulty_mix"),
            name=str(data.get("name") or "exam"),
        )


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise TypeError(f"not a date: {value!r}")


def _coerce_topic(value: object) -> TopicWeight:
    if isinstance(value, TopicWeight):
        return value
    if isinstance(value, Mapping):
        return TopicWeight(topic=value.get("topic"), weight=value.get("weight", 1.0))  # type: ignore[arg-type]
    if isinstance(value, str):
        return TopicWeight(topic=value)
    if isinstance(value, Sequence) and len(value) == 2:
        return TopicWeight(topic=value[0], weight=value[1])
    raise InvalidExamError("topics", f"cannot read topic {value!r}")


@dataclass(frozen=True)
class CellPrediction:
    """The serving model's prediction for one student on one (topic, difficulty) cell.

    A non-LNIRT model supplies ``p_correct`` and the log-time moments only. An LNIRT model may also supply the
    cell's ``slope`` (a) and ``intercept`` (b), so that P(correct) = Phi(a * theta - b) for the topic's theta.

    Args:
        topic: topic label.
        difficulty: "easy", "medium" or "hard".
        p_correct: predicted probability of a correct answer.
        mean_log_time: predicted mean of log(seconds) for one item.
        sd_log_time: predictive sd of log(seconds) for one item.
        slope: discrimination a (None = 1, i.e. probit units).
        intercept: item intercept b (None = derive the probit from ``p_correct``).
    """

    topic: str
    difficulty: str
    p_correct: float
    mean_log_time: float
    sd_log_time: float
    slope: float | None = None
    intercept: float | None = None

    def __post_init__(self) -> None:
        if self.difficulty not in DIFFICULTIES:
            raise PlanningError("predictions.difficulty", f"unknown difficulty {self.difficulty!r}")
        if not _finite(self.p_correct) or not 0 <= self.p_correct <= 1:
            raise PlanningError("predictions.p_correct", f"must be in [0, 1], got {self.p_correct!r}")
        if not _finite(self.mean_log_time) or not _finite(self.sd_log_time) or self.sd_log_time < 0:
            raise PlanningError("predictions.log_time", "mean must be finite and sd >= 0")

    @property
    def mean_seconds(self) -> float:
        """Mean seconds of one item (lognormal mean, at most a week)."""
        return math.exp(min(self.mean_log_time + 0.5 * self.sd_log_time**2, MAX_LOG_SECONDS))

    @property
    def var_seconds(self) -> float:
        """Variance of the seconds of one item (lognormal; the standard deviation at most a week)."""
        s2 = self.sd_log_time**2
        if s2 == 0:
            return 0.0
        log_var = math.log(math.expm1(min(s2, 700.0))) + 2 * self.mean_log_time + s2  # expm1(700) is finite
        return math.exp(min(log_var, 2 * MAX_LOG_SECONDS))


@dataclass(frozen=True)
class TopicAbility:
    """The student's ability in a topic and its posterior sd (same units as the cells' slope/intercept)."""

    topic: str
    theta: float
    theta_sd: float = 0.0


@dataclass(frozen=True)
class StudentPredictions:
    """All cells predicted for one student, plus per-topic abilities when the model has them.

    Args:
        cells: one prediction per (topic, difficulty) cell.
        abilities: topic -> ability estimate (optional; without one a topic's score has no uncertainty).
        shared_ability: True when every topic's ability is the same latent variable (a single-theta model such
            as LNIRT: pass the person's theta and sd for every topic); the readiness interval then draws one
            ability for all topics instead of independent ones.
    """

    cells: tuple[CellPrediction, ...]
    abilities: Mapping[str, TopicAbility] = field(default_factory=dict)
    shared_ability: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", tuple(self.cells))
        object.__setattr__(self, "abilities", dict(self.abilities or {}))

    def by_topic(self, topic: str) -> dict[str, CellPrediction]:
        """Difficulty -> cell for one topic (only the cells present)."""
        return {c.difficulty: c for c in self.cells if c.topic == topic}

    def require(self, topics: Iterable[str]) -> None:
        """Raise MissingPredictionError unless every topic has at least one predicted cell."""
        have = {c.topic for c in self.cells}
        missing = [t for t in topics if t not in have]
        if missing:
            raise MissingPredictionError("predictions", f"no predictions for topics {missing}")

    @classmethod
    def from_arrays(
        cls,
        topics: Sequence[str],
        difficulties: Sequence[str],
        p_correct: Sequence[float] | np.ndarray,
        mean_log_time: Sequence[float] | np.ndarray,
        sd_log_time: Sequence[float] | np.ndarray,
        *,
        slopes: Sequence[float] | np.ndarray | None = None,
        intercepts: Sequence[float] | np.ndarray | None = None,
        abilities: Iterable[TopicAbility] = (),
        shared_ability: bool = False,
    ) -> StudentPredictions:
        """Build from row arrays, e.g. the fields of ``studysmart.ml.base.Prediction`` for queries built
        one row per (topic, difficulty) cell.
        """
        cells = tuple(
            CellPrediction(
                topic=str(topics[i]),
                difficulty=str(difficulties[i]),
                p_correct=float(p_correct[i]),
                mean_log_time=float(mean_log_time[i]),
                sd_log_time=float(sd_log_time[i]),
                slope=None if slopes is None else float(slopes[i]),
                intercept=None if intercepts is None else float(intercepts[i]),
            )
            for i in range(len(topics))
        )
        return cls(cells=cells, abilities={a.topic: a for a in abilities}, shared_ability=shared_ability)


@dataclass(frozen=True)
class CompletedWork:
    """Practice done: ``count`` items of a cell on ``date``, taking ``seconds`` in total (if known)."""

    date: dt.date
    topic: str
    difficulty: str
    count: int = 1
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.count < 0:
            raise PlanningError("completed.count", f"must be >= 0, got {self.count}")
        if self.seconds is not None and (not _finite(self.seconds) or self.seconds < 0):
            raise PlanningError("completed.seconds", f"must be >= 0, got {self.seconds!r}")
