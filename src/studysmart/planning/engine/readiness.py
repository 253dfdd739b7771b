"""Exam readiness: the expected score now and on exam day (the plan followed), with 80% intervals.

Score model. The exam draws questions from its topics (weights w_t) and difficulties (mix m_d). For a cell with
discrimination a and probit ``z = a*theta - b`` the student answers correctly with Phi(z). Ability is uncertain,
theta ~ N(theta_hat, s_t^2), so the expected P(correct) is Phi(z / r) with r = sqrt(1 + a^2 s_t^2). A model
that gives only P(correct) (no a, b) is read in probit units (a = 1) with the centre chosen so that Phi(z / r)
equals its prediction. On exam day the cells' ``p_exam`` are used (the served model's P(correct) at the exam
date: what the student has, less what they forget by then). The expected score is sum_t w_t sum_d m_d
Phi((z_td + g_t) / r_td); its 10%-90% interval comes from Monte Carlo draws of theta per topic (one draw for all
topics when the model has a single ability per student, ``StudentPredictions.shared_ability``; topics correlated
through ``StudentPredictions.shared_sd`` when the model has an ability overall and a deviation per topic).

Practice. g_t is the gain of the practice still planned in topic t, from the served model of learning's own
parameters (``spec.TopicLearning``: the log(1 + count) gains of expected correct and wrong answers at each
planned difficulty, at the P(correct) the plan predicts for each planned item, times the share the model's
forgetting leaves between the topic's last planned day and the exam), moved from the logit to the probit scale
(/ 1.702). A model without learning gives g_t = 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.special import ndtr, ndtri

from studysmart.planning.engine.plan import Plan
from studysmart.planning.engine.spec import DIFFICULTIES, ExamSpec, StudentPredictions, TopicLearning

__all__ = ["LOGIT_PER_PROBIT", "Readiness", "TopicReadiness", "readiness", "topic_readiness"]

_P_CLIP = 1e-4
#: The logistic-to-normal scale factor: logit(p) ~= 1.702 * probit(p).
LOGIT_PER_PROBIT = 1.702


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class TopicReadiness:
    """One exam topic as the score model sees it: its weight and, per difficulty present, the centred probit
    ``z`` (exam day, no more practice), slope ``a`` and uncertainty scale ``r``, so that the expected P(correct)
    after a probit gain ``g`` is Phi((z + g) / r); ``p_now`` is today's P(correct) per difficulty (what a
    planned task is predicted at) and ``learning`` what practice does. (Working state, NumPy arrays.)"""

    topic: str
    weight: float
    theta_sd: float
    difficulties: tuple[str, ...]
    mix: np.ndarray
    z: np.ndarray
    slope: np.ndarray
    scale: np.ndarray
    p_now: np.ndarray
    learning: TopicLearning

    def expected(self, gain: float | np.ndarray = 0.0) -> np.ndarray:
        """Expected P(correct) over the topic's difficulty mix after probit gain(s) ``gain``."""
        d = np.asarray(gain, dtype=float)[..., None]
        result: np.ndarray = np.sum(self.mix * ndtr((self.z + d) / self.scale), axis=-1)
        return result

    def p_of(self) -> dict[str, float]:
        """Difficulty -> today's P(correct)."""
        return {d: float(p) for d, p in zip(self.difficulties, self.p_now, strict=True)}

    def probit_gain(self, problems: Mapping[str, float], days_before_exam: int,
                    p_correct: Mapping[str, float] | None = None) -> float:
        """The probit gain on exam day of ``problems`` (difficulty -> count), last practised that many days
        before the exam, answered at ``p_correct`` (difficulty -> mean P(correct); default today's)."""
        if not problems:
            return 0.0
        logit = self.learning.practice_gain(problems, {**self.p_of(), **(p_correct or {})})
        return logit * self.learning.retained(days_before_exam) / LOGIT_PER_PROBIT

    def draws(self, gain: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """P(correct) over the mix at abilities ``estimate + theta_sd * noise`` after probit gain ``gain``
        (``noise`` standard normal, same shape as ``gain``)."""
        d = gain[..., None] + (noise * self.theta_sd)[..., None] * self.slope
        result: np.ndarray = np.sum(self.mix * ndtr(self.z + d), axis=-1)
        return result


def topic_readiness(exam: ExamSpec, predictions: StudentPredictions, *, on_exam_day: bool = True,
                    ) -> list[TopicReadiness]:
    """The score model for each exam topic (in the exam's order), on exam day (``p_exam``) or today.

    Raises:
        MissingPredictionError: when an exam topic has no predicted cell.
    """
    weights = exam.weights()
    predictions.require(weights)
    mix = exam.mix()
    out = []
    for topic, weight in weights.items():
        cells = predictions.by_topic(topic)
        diffs = tuple(d for d in DIFFICULTIES if d in cells)  # all predicted cells: practice may use any
        m = np.array([mix[d] for d in diffs]) if any(mix[d] > 0 for d in diffs) else np.ones(len(diffs))
        ability = predictions.abilities.get(topic)
        sd = float(ability.theta_sd) if ability is not None else 0.0
        a = np.array([cells[d].slope if cells[d].slope is not None else 1.0 for d in diffs])
        r = np.sqrt(1.0 + a**2 * sd**2)
        p = np.array([cells[d].p_correct for d in diffs])
        z = np.empty(len(diffs))
        for i, d in enumerate(diffs):
            cell = cells[d]
            if cell.intercept is not None and ability is not None:
                z[i] = a[i] * ability.theta - cell.intercept
            else:
                z[i] = _probit(cell.p_correct) * r[i]
            if on_exam_day and cell.p_exam is not None:  # the model's change by exam day (forgetting)
                z[i] += (_probit(cell.p_exam) - _probit(cell.p_correct)) * r[i]
        out.append(TopicReadiness(topic, weight, sd, diffs, m / m.sum(), z, a, r, p, predictions.learning_of(topic)))
    return out


def _probit(p: float) -> float:
    return float(ndtri(np.clip(p, _P_CLIP, 1 - _P_CLIP)))


class Readiness(_Frozen):
    """Expected exam score now with its 10%-90% interval, and the exam-day forecast (plan followed)."""

    expected_score: float
    low: float
    high: float
    forecast_on_exam_day: float
    forecast_low: float
    forecast_high: float
    target_score: float | None = None


def planned_practice(plan: Plan | None, since: date,
                     ) -> dict[str, tuple[dict[str, float], date, dict[str, float]]]:
    """Topic -> (difficulty -> problems planned and not done from ``since`` on, the last day with any,
    difficulty -> their mean planned P(correct): each item's, as predicted after the practice planned before it,
    where the plan gives one)."""
    counts: dict[str, dict[str, float]] = defaultdict(dict)
    right: dict[str, dict[str, float]] = defaultdict(dict)
    known: dict[str, dict[str, float]] = defaultdict(dict)
    last: dict[str, date] = {}
    for day in plan.days if plan is not None else ():
        if day.date < since:
            continue
        for item in day.items:
            left = item.count - item.done
            if left > 0:
                counts[item.topic][item.difficulty] = counts[item.topic].get(item.difficulty, 0.0) + left
                last[item.topic] = max(last.get(item.topic, day.date), day.date)
                if item.p_correct is not None:
                    right[item.topic][item.difficulty] = right[item.topic].get(item.difficulty, 0.0) + \
                        left * item.p_correct
                    known[item.topic][item.difficulty] = known[item.topic].get(item.difficulty, 0.0) + left
    return {t: (counts[t], last[t], {d: right[t][d] / n for d, n in known[t].items() if n > 0}) for t in counts}


def readiness(
    exam: ExamSpec,
    predictions: StudentPredictions,
    *,
    plan: Plan | None = None,
    today: date | None = None,
    n_draws: int = 4000,
    seed: int = 0,
) -> Readiness:
    """The expected exam score now and on exam day.

    Args:
        exam: the exam (weights and difficulty mix).
        predictions: the student's predictions per cell (today's and the exam day's) and their learning.
        plan: the plan whose work from ``today`` on is followed (None: no more practice; the forecast is then
            the exam-day score after forgetting alone).
        today: the first day of the plan counted (default: the plan's first day).
        n_draws: Monte Carlo draws for the intervals.
        seed: random seed (the result is deterministic for a given seed).

    Returns:
        A Readiness; scores are fractions in [0, 1].
    """
    since = today or (plan.created_on if plan is not None else exam.date)
    practice = planned_practice(plan, since)
    rng = np.random.default_rng(seed)
    now = forecast = 0.0
    now_draws = np.zeros(n_draws)
    forecast_draws = np.zeros(n_draws)
    shared = rng.standard_normal(n_draws)
    pairs = zip(topic_readiness(exam, predictions, on_exam_day=False), topic_readiness(exam, predictions),
                strict=True)
    for today_tr, exam_tr in pairs:
        if predictions.shared_ability:
            noise = shared
        else:  # correlated through the part of the ability every topic shares (``shared_sd``)
            rho = predictions.shared_sd / exam_tr.theta_sd if exam_tr.theta_sd > 0 else 0.0  # <= 1: validated
            noise = rho * shared + math.sqrt(1.0 - rho**2) * rng.standard_normal(n_draws)
        problems, last, p_planned = practice.get(exam_tr.topic, ({}, exam.date, {}))
        gain = exam_tr.probit_gain(problems, (exam.date - last).days, p_planned)
        now += today_tr.weight * float(today_tr.expected(0.0))
        forecast += exam_tr.weight * float(exam_tr.expected(gain))
        now_draws += today_tr.weight * today_tr.draws(np.zeros(n_draws), noise)
        forecast_draws += exam_tr.weight * exam_tr.draws(np.full(n_draws, gain), noise)
    low, high = np.quantile(now_draws, [0.1, 0.9])
    f_low, f_high = np.quantile(forecast_draws, [0.1, 0.9])
    return Readiness(
        expected_score=now,
        low=float(low),
        high=float(high),
        forecast_on_exam_day=forecast,
        forecast_low=float(f_low),
        forecast_high=float(f_high),
        target_score=exam.target_score,
    )
