"""Inputs of exam planning: the exam, the student's predictions per (topic, difficulty), completed work.

Pydantic models without a database or HTTP. Their field constraints are the validation: a bad field raises
pydantic's ``ValidationError``, whose ``loc`` names it, and ``InvalidExamError.from_validation`` turns that into
the one-field ``PlanningError`` the service reports. The constrained types (``Minutes``, ``Fraction``,
``Weight``) are the ones the API's request bodies use, so the rules are written once.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Annotated, Any

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from studysmart.core.exceptions import DomainError

__all__ = [
    "DIFFICULTIES",
    "LEARNS",
    "PROBE_SIZE",
    "SMALL_PROBE",
    "VOLUME_PROBES",
    "CellPrediction",
    "CompletedWork",
    "Difficulty",
    "ExamSpec",
    "Fraction",
    "InvalidExamError",
    "Minutes",
    "MissingPredictionError",
    "PlanningError",
    "StudentPredictions",
    "TopicAbility",
    "TopicLearning",
    "TopicWeight",
    "Weight",
]

DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")


def _known_difficulty(value: str) -> str:
    if value not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {value!r} (one of {', '.join(DIFFICULTIES)})")
    return value


Difficulty = Annotated[str, AfterValidator(_known_difficulty)]

#: The furthest exam date accepted: plans are day by day, so an exam years away is an input error.
MAX_HORIZON_DAYS = 730
#: The largest log-seconds the lognormal moments below are computed from (a week per item): the exponents
#: stay far from overflow whatever a prediction says (served ones stay within a day anyway).
MAX_LOG_SECONDS = math.log(7 * 86_400.0)

#: Problems in the probe blocks of practice through which a model's gains are read (``TopicLearning.from_probes``:
#: the log(1 + count) curve is fitted between the two).
PROBE_SIZE = 10
SMALL_PROBE = 3
#: Larger blocks through which a model's own diminishing returns are read beyond ``PROBE_SIZE`` (what a plan
#: allocates to a topic over weeks), instead of extrapolating the fitted curve (``TopicLearning.volume``).
VOLUME_PROBES = (30, 100, 300)
#: A probe block's logit gain above this is learning (below: the difficulty teaches nothing).
LEARNS = 1e-9

Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Minutes = Annotated[float, Field(ge=0, le=1440, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Weight = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class PlanningError(DomainError, ValueError):
    """A planning input is unusable; ``field`` names the input field at fault (e.g. ``topics[1].weight``), and
    ``where`` the part of the request it came in ("body", or "path" for a date in the URL)."""

    status = 422
    field: str

    def __init__(self, field: str, message: str, where: str = "body") -> None:
        super().__init__(message, field=field, where=where)


class InvalidExamError(PlanningError):
    """The exam specification is invalid (exam in the past, no topics, negative minutes, bad weights ...)."""

    @classmethod
    def from_validation(cls, error: ValidationError) -> InvalidExamError:
        """The first error of a pydantic validation as one field, ``loc`` written as ``topics[1].weight``."""
        first = error.errors(include_url=False)[0]
        field = ""
        for part in first["loc"]:
            if isinstance(part, int):
                field += f"[{part}]"
            elif part != "[key]":  # the marker pydantic adds to a bad dict key
                field += f".{part}" if field else str(part)
        return cls(field or "exam", str(first["msg"]))


class MissingPredictionError(PlanningError):
    """The predictions lack a topic the exam needs."""


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TopicWeight(_Input):
    """One exam topic and its (unnormalised, positive) share of the exam."""

    topic: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    weight: Weight = 1.0


class ExamSpec(_Input):
    """An exam to prepare for.

    Args:
        date: the exam day (not a study day).
        topics: the exam's topics with positive weights (TopicWeight, (topic, weight) pairs, {topic, weight}
            dicts, or one mapping topic -> weight); normalised to sum to 1 by ``weights()``.
        minutes_per_weekday: minutes available per weekday, Monday first (7 numbers in [0, 1440]).
        target_score: the score the student aims for, as a fraction in [0, 1] (optional).
        days_off: dates with no study at all.
        minutes_done: minutes already used on given dates (e.g. today), subtracted from those days' minutes.
        extra_minutes: minutes added to given dates (a day the student moved to another: its minutes go there;
            a day has at most 1440 minutes).
        difficulty_mix: the exam's share of easy/medium/hard questions (default equal thirds).
        name: a label for calendars and task titles.
        productive_band: the P(correct) range of planned tasks (low, high); a topic with no difficulty in the
            band gets the one closest to it.
        max_tasks_per_day: at most this many tasks (problems) on one day.

    Raises:
        pydantic.ValidationError: naming the invalid field (see ``check_date`` for the date against today).
    """

    date: dt.date
    topics: Annotated[tuple[TopicWeight, ...], Field(min_length=1)]
    minutes_per_weekday: Annotated[tuple[Minutes, ...], Field(min_length=7, max_length=7)]
    target_score: Fraction | None = None
    days_off: frozenset[dt.date] = frozenset()
    minutes_done: dict[dt.date, NonNegative] = Field(default_factory=dict)
    extra_minutes: dict[dt.date, NonNegative] = Field(default_factory=dict)
    difficulty_mix: dict[Difficulty, NonNegative] | None = None
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = "exam"
    productive_band: tuple[Fraction, Fraction] = (0.55, 0.9)
    max_tasks_per_day: Annotated[int, Field(ge=1, le=200)] = 12

    @field_validator("productive_band")
    @classmethod
    def _ordered_band(cls, band: tuple[float, float]) -> tuple[float, float]:
        if band[0] >= band[1]:
            raise ValueError(f"the band's low end ({band[0]}) must be below its high end ({band[1]})")
        return band

    @field_validator("topics", mode="before")
    @classmethod
    def _topic_shapes(cls, value: Any) -> Any:
        """Accept one mapping topic -> weight, (topic, weight) pairs and bare topic names."""
        items = value.items() if isinstance(value, Mapping) else value
        if not isinstance(items, Iterable) or isinstance(items, str | bytes):
            return value
        out: list[Any] = []
        for item in items:
            if isinstance(item, str):
                out.append({"topic": item})
            elif isinstance(item, Sequence) and len(item) == 2:
                out.append({"topic": item[0], "weight": item[1]})
            else:
                out.append(item)
        return out

    @field_validator("topics")
    @classmethod
    def _distinct(cls, topics: tuple[TopicWeight, ...]) -> tuple[TopicWeight, ...]:
        names = [t.topic for t in topics]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate topics {duplicates}")
        return topics

    @field_validator("difficulty_mix")
    @classmethod
    def _some_questions(cls, mix: dict[str, float] | None) -> dict[str, float] | None:
        if mix is not None and sum(mix.values()) <= 0:
            raise ValueError("the shares need a positive sum")
        return mix

    def check_date(self, today: dt.date) -> None:
        """Check the exam against today's date.

        Raises:
            InvalidExamError: (field ``date``) when the exam is in the past or more than two years away.
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
        minutes = min(self.minutes_per_weekday[day.weekday()] + self.extra_minutes.get(day, 0.0), 1440.0)
        return max(0.0, minutes - self.minutes_done.get(day, 0.0))

    def study_days(self, today: dt.date) -> list[dt.date]:
        """Every date from ``today`` up to the day before the exam."""
        return [today + dt.timedelta(days=k) for k in range((self.date - today).days)]


class CellPrediction(_Input):
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
        p_exam: P(correct) of this cell on the exam day without more practice (what the student has, less what
            the model says they forget by then); None = ``p_correct``.
    """

    topic: str
    difficulty: Difficulty
    p_correct: Fraction
    mean_log_time: Finite
    sd_log_time: NonNegative
    slope: Finite | None = None
    intercept: Finite | None = None
    p_exam: Fraction | None = None

    @property
    def exam_p(self) -> float:
        """P(correct) on the exam day without more practice."""
        return self.p_correct if self.p_exam is None else self.p_exam

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


class TopicAbility(_Input):
    """The student's ability in a topic and its posterior sd (same units as the cells' slope/intercept)."""

    topic: str
    theta: Finite
    theta_sd: NonNegative = 0.0


class TopicLearning(_Input):
    """What practice does for one student in one topic, as the model of learning estimates it (its linearisation).

    Planned practice adds expected correct and wrong answers (n * p and n * (1 - p) for n problems predicted at
    P(correct) p). C more correct answers after ``past_correct`` raise the logit of P(correct) on the topic by
    ``gain_correct[d] * (log(1 + past_correct + C) - log(1 + past_correct))`` (the model's log(1 + count) gain,
    with the slope of an answer at difficulty d: hard successes may teach more), wrong answers likewise with
    ``gain_wrong``. ``retention[k]`` is the share of a gain left k days after the topic was last practised (the
    model's forgetting; the last value holds beyond). A model without learning has zero slopes.

    Args:
        topic: topic label.
        past_correct, past_wrong: the student's answers on the topic so far.
        gain_correct, gain_wrong: difficulty -> logit slope per unit of log(1 + count) (missing = 0).
        retention: share of a practice gain left after 0, 1, 2, ... days (non-increasing, in [0, 1]).
        volume: (block size, the model's gain of that many problems / its gain of the first size) at growing
            sizes, the first with ratio 1: the model's own diminishing returns where the curve would extrapolate
            (``logit_gain``); empty = the curve at any size.
    """

    topic: str
    past_correct: NonNegative = 0.0
    past_wrong: NonNegative = 0.0
    gain_correct: dict[Difficulty, Finite] = Field(default_factory=dict)
    gain_wrong: dict[Difficulty, Finite] = Field(default_factory=dict)
    retention: Annotated[tuple[Fraction, ...], Field(min_length=1)] = (1.0,)
    volume: tuple[tuple[Annotated[float, Field(gt=0, allow_inf_nan=False)], NonNegative], ...] = ()

    @field_validator("volume")
    @classmethod
    def _growing_blocks(cls, volume: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        sizes = [n for n, _ in volume]
        if sizes != sorted(set(sizes)):
            raise ValueError("block sizes must be distinct and increasing")
        return volume

    @classmethod
    def from_probes(cls, topic: str, *, p_correct: Mapping[str, float], small: Mapping[str, float],
                    big: Mapping[str, float], retention: Sequence[float],
                    volume: Mapping[str, Sequence[float]] | None = None) -> TopicLearning:
        """The linearisation that reproduces a model's gains of blocks of practice.

        Args:
            topic: topic label.
            p_correct: difficulty -> today's P(correct) (the blocks' expected outcomes; missing: 0.5).
            small, big: difficulty -> the model's logit gain straight after ``SMALL_PROBE`` and ``PROBE_SIZE``
                problems of that difficulty (missing or not above 0 in ``big``: that difficulty teaches nothing).
            retention: the share of the big blocks' gain left after 0, 1, 2, ... days.
            volume: difficulty -> the model's gains of ``VOLUME_PROBES`` problems (None: not read).

        The ratio of the two blocks' gains fixes the curve's effective earlier answers (as many right as wrong),
        then each difficulty's slope makes the curve equal the model at ``PROBE_SIZE`` (the same slope for right
        and wrong answers). The volume ratios are the mean over the difficulties that teach of each block's gain
        (at least 0) relative to ``PROBE_SIZE``'s, never falling (more practice is not read as a loss).
        """
        p_of = {d: p_correct.get(d, 0.5) for d in DIFFICULTIES}
        learns = [d for d in DIFFICULTIES if big.get(d, 0.0) > LEARNS]
        past = _effective_past([small[d] / big[d] for d in learns if small.get(d, 0.0) > 0],
                               float(np.mean(list(p_of.values()))))
        curve = cls(topic=topic, past_correct=past, past_wrong=past, retention=tuple(retention))
        slopes = {d: float(big[d] / curve.logit_gain(PROBE_SIZE * p_of[d], PROBE_SIZE * (1 - p_of[d]), 1.0, 1.0))
                  if d in learns else 0.0 for d in DIFFICULTIES}
        blocks: tuple[tuple[float, float], ...] = ()
        if volume is not None and learns:
            ratios = [float(np.mean([max(volume[d][j], 0.0) / big[d] for d in learns]))
                      for j in range(len(VOLUME_PROBES))]
            blocks = tuple(zip((PROBE_SIZE, *VOLUME_PROBES), np.maximum.accumulate([1.0, *ratios]).tolist(),
                               strict=True))
        return cls(topic=topic, past_correct=past, past_wrong=past, retention=tuple(retention),
                   gain_correct=slopes, gain_wrong=dict(slopes), volume=blocks)

    def retained(self, days: int) -> float:
        """The share of a practice gain left ``days`` after the last practice."""
        return self.retention[min(max(days, 0), len(self.retention) - 1)]

    def logit_gain(self, correct: float, wrong: float, slope_correct: float, slope_wrong: float) -> float:
        """The logit gain of ``correct`` and ``wrong`` more answers with the given (mean) slopes, no time away.

        Up to the first ``volume`` block (or without one) the log(1 + count) curve; beyond, the curve's gain of
        a block of that first size at the same share of correct answers, times the model's ratio at the total
        (linear in log size between the probed blocks, the last ratio held beyond: no extrapolation).
        """
        n = correct + wrong
        if not self.volume or n <= self.volume[0][0]:
            return self._curve(correct, wrong, slope_correct, slope_wrong)
        first = self.volume[0][0]
        return self._curve(correct * first / n, wrong * first / n, slope_correct, slope_wrong) * self._ratio(n)

    def _curve(self, correct: float, wrong: float, slope_correct: float, slope_wrong: float) -> float:
        return slope_correct * (math.log1p(self.past_correct + correct) - math.log1p(self.past_correct)) + \
            slope_wrong * (math.log1p(self.past_wrong + wrong) - math.log1p(self.past_wrong))

    def _ratio(self, n: float) -> float:
        """The model's gain of a block of ``n`` problems over its gain of the first ``volume`` block (n above it)."""
        for (a, ra), (b, rb) in pairwise(self.volume):
            if n <= b:
                return ra + math.log(n / a) / math.log(b / a) * (rb - ra)
        return self.volume[-1][1]

    def practice_gain(self, problems: Mapping[str, float], p_correct: Mapping[str, float]) -> float:
        """The logit gain (no time away) of ``problems`` (difficulty -> count) at their P(correct)."""
        correct = wrong = s_correct = s_wrong = 0.0
        for d, n in problems.items():
            p = p_correct.get(d, 0.5)
            correct += n * p
            wrong += n * (1 - p)
            s_correct += n * p * self.gain_correct.get(d, 0.0)
            s_wrong += n * (1 - p) * self.gain_wrong.get(d, 0.0)
        return self.logit_gain(correct, wrong, s_correct / correct if correct > 0 else 0.0,
                               s_wrong / wrong if wrong > 0 else 0.0)

    def max_gap(self, floor: float, cap: int) -> int:
        """The longest break (days, 1..cap) after which at least ``floor`` of a practice gain is left."""
        gap = 1
        while gap < cap and self.retained(gap + 1) >= floor:
            gap += 1
        return gap


def _effective_past(ratios: list[float], p: float) -> float:
    """The earlier answers ``m`` (as many right as wrong) that make the log(1 + count) curve's gain of
    ``SMALL_PROBE`` problems relative to ``PROBE_SIZE`` problems the model's (``ratios``, one per difficulty)."""
    if not ratios:
        return 0.0
    target = float(np.mean(ratios))

    def ratio(m: float) -> float:
        def f(n: float) -> float:
            return math.log1p(p * n / (1 + m)) + math.log1p((1 - p) * n / (1 + m))
        return f(SMALL_PROBE) / f(PROBE_SIZE)

    candidates = [0.0, *np.geomspace(0.1, 1000.0, 60).tolist()]
    return float(min(candidates, key=lambda m: abs(ratio(m) - target)))


class StudentPredictions(_Input):
    """All cells predicted for one student, plus per-topic abilities when the model has them.

    Args:
        cells: one prediction per (topic, difficulty) cell.
        abilities: topic -> ability estimate (optional; without one a topic's score has no uncertainty).
        shared_ability: True when every topic's ability is the same latent variable (a single-theta model such
            as LNIRT: pass the person's theta and sd for every topic); the readiness interval then draws one
            ability for all topics instead of independent ones.
        shared_sd: the part of every topic's ``theta_sd`` that all topics share (a model of the student's
            ability overall and their deviation in each topic: the readiness draws correlate the topics through
            it); 0: independent topics (unless ``shared_ability``).
        learning: topic -> what practice does (the model's gains and forgetting); a topic without one does not
            learn (models without learning: LNIRT, the baselines).
    """

    cells: tuple[CellPrediction, ...]
    abilities: dict[str, TopicAbility] = Field(default_factory=dict)
    shared_ability: bool = False
    shared_sd: NonNegative = 0.0
    learning: dict[str, TopicLearning] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shared_within_each_topic(self) -> StudentPredictions:
        if any(self.shared_sd > a.theta_sd + 1e-9 for a in self.abilities.values()):
            raise ValueError("shared_sd is part of every topic's theta_sd: it cannot exceed one")
        return self

    def learning_of(self, topic: str) -> TopicLearning:
        """The topic's learning (no gains when the model has none)."""
        return self.learning.get(topic) or TopicLearning(topic=topic)

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
        shared_sd: float = 0.0,
        p_exam: Sequence[float] | np.ndarray | None = None,
        learning: Iterable[TopicLearning] = (),
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
                p_exam=None if p_exam is None else float(p_exam[i]),
            )
            for i in range(len(topics))
        )
        return cls(cells=cells, abilities={a.topic: a for a in abilities}, shared_ability=shared_ability,
                   shared_sd=shared_sd, learning={g.topic: g for g in learning})


class CompletedWork(_Input):
    """Practice done: ``count`` items of a cell on ``date``, taking ``seconds`` in total (if known)."""

    date: dt.date
    topic: str
    difficulty: Difficulty
    count: Annotated[int, Field(ge=0)] = 1
    seconds: NonNegative | None = None
