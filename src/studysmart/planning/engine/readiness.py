"""Exam readiness: the expected score now with an interval, the gain model, the exam-day forecast.

Score model. The exam draws questions from its topics (weights w_t) and difficulties (mix m_d). For a cell
with discrimination a and probit ``z = a*theta - b`` the student answers correctly with Phi(z). Ability is
uncertain, theta ~ N(theta_hat, s_t^2), so the expected P(correct) is Phi(z / r) with r = sqrt(1 + a^2 s_t^2).
A model that gives only P(correct) (no a, b) is read in probit units (a = 1) with the centre chosen so that
Phi(z / r) equals its prediction. The expected score is sum_t w_t sum_d m_d Phi(z_td / r_td); its 10%-90%
interval comes from Monte Carlo draws of theta per topic (shared by the topic's cells; one draw for all topics
when the model has a single ability per student, ``StudentPredictions.shared_ability``).

Gain model (``GainModel``). Practising one item of a cell whose predicted P(correct) is p counts as ``eff(p) =
exp(-(p - target)^2 / (2 width^2))`` effective items (desirable difficulty: a full item at the target p = 0.7,
little when far too easy or too hard). E effective items raise the topic's ability by ``delta(E) = g * S * (1
- exp(-E / S))``: g per effective item at first, saturating at g * S (diminishing returns; S =
``saturation_items``). The per-topic gain g is estimated from the student's own history (``estimate_gain``):
the slope of per-response ability residuals against the effective practice count, shrunk towards a population
prior N(prior_mean, prior_sd^2) by precision weighting, so little history gives the prior. The exam-day
forecast integrates the planned practice step by step, so each item's efficiency follows P(correct) as ability
grows (``TopicReadiness.practice_delta``); the planner itself uses today's P(correct).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtr, ndtri

from studysmart.planning.engine.spec import DIFFICULTIES, ExamSpec, StudentPredictions

__all__ = [
    "GainEstimate",
    "GainModel",
    "Readiness",
    "TopicHistory",
    "TopicReadiness",
    "estimate_gain",
    "estimate_gains",
    "population_gain",
    "readiness",
    "topic_readiness",
]

_P_CLIP = 1e-4
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GainModel(_Frozen):
    """Hyperparameters of the learning-gain model (see the module docstring).

    Args:
        target_p: the desirable P(correct) for practice.
        width: sd of the desirability bell over P(correct).
        saturation_items: S, the effective items over which a topic's gain saturates.
        prior_mean: population gain g per effective item (ability units: probit / LNIRT theta).
        prior_sd: population sd of g across students and topics.
        min_responses: fewer responses in a topic than this -> the prior alone.
        floor_fraction: estimates are floored at this fraction of prior_mean, so that noisy history never
            writes a topic off.
    """

    target_p: Annotated[float, Field(gt=0, lt=1)] = 0.7
    width: Positive = 0.15
    saturation_items: Positive = 60.0
    prior_mean: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.02
    prior_sd: Positive = 0.015
    min_responses: Annotated[int, Field(ge=0)] = 10
    floor_fraction: Annotated[float, Field(ge=0, le=1)] = 0.25

    def efficiency(self, p: float | np.ndarray) -> np.ndarray:
        """Effective items per practised item at predicted P(correct) ``p`` (1 at the target)."""
        return np.exp(-0.5 * ((np.asarray(p, dtype=float) - self.target_p) / self.width) ** 2)

    def ability_gain(
        self, effective_items: float | np.ndarray, gain: float | np.ndarray, already: float | np.ndarray = 0.0
    ) -> np.ndarray:
        """Ability increase from ``effective_items`` more practice after ``already`` effective items.

        Args:
            effective_items: effective items to add (>= 0).
            gain: g, ability per effective item at the start.
            already: effective items already practised (diminishing returns continue from there).

        Returns:
            g * S * (exp(-already / S) - exp(-(already + effective_items) / S)).
        """
        s = self.saturation_items
        e0 = np.asarray(already, dtype=float)
        result: np.ndarray = np.asarray(gain) * s * (np.exp(-e0 / s) - np.exp(-(e0 + np.asarray(effective_items)) / s))
        return result


class TopicHistory(_Frozen):
    """A student's responses in one topic, in the order given.

    Args:
        topic: topic label.
        correct: 1/0 per response.
        p_correct: the serving model's P(correct) for each response at the student's *static* (fitted)
            ability, i.e. what the model expects without learning.
        slope: discrimination a per response (None = 1).
    """

    topic: str
    correct: tuple[float, ...]
    p_correct: tuple[float, ...]
    slope: tuple[float, ...] | None = None


class GainEstimate(_Frozen):
    """The learning gain g for one topic: posterior mean and sd, the raw history slope, and its source."""

    topic: str
    gain: float
    sd: float
    n_responses: int
    source: Literal["history", "prior"]
    raw_slope: float | None = None


def _residual_slope(history: TopicHistory, model: GainModel) -> tuple[float, float] | None:
    """Weighted least-squares slope of ability residuals vs effective practice count, and its variance."""
    y = np.asarray(history.correct, dtype=float)
    p = np.clip(np.asarray(history.p_correct, dtype=float), _P_CLIP, 1 - _P_CLIP)
    keep = np.isfinite(y) & np.isfinite(p)
    y, p = y[keep], p[keep]
    a = np.ones_like(p) if history.slope is None else np.asarray(history.slope, dtype=float)[keep]
    if y.size < 3:
        return None
    density = a * np.exp(-0.5 * ndtri(p) ** 2) / np.sqrt(2 * np.pi)  # dP/dtheta
    residual = (y - p) / density  # one Fisher-scoring step: the ability this response alone suggests
    weight = density**2 / (p * (1 - p))  # its precision
    practice = np.concatenate([[0.0], np.cumsum(model.efficiency(p))[:-1]])  # effective items before it
    centre = np.sum(weight * practice) / np.sum(weight)
    sxx = np.sum(weight * (practice - centre) ** 2)
    if sxx <= 0:
        return None
    slope = float(np.sum(weight * (practice - centre) * residual) / sxx)
    return slope, float(1.0 / sxx)


def estimate_gain(history: TopicHistory, model: GainModel | None = None) -> GainEstimate:
    """Estimate a topic's learning gain g from the student's own responses, shrunk to the population prior.

    Each response gives an ability residual (y - p) / (dP/dtheta) with precision (dP/dtheta)^2 / (p (1 - p));
    the precision-weighted regression slope of these residuals on the effective practice count before each
    response is the trend of ability the static model misses. It is combined with N(prior_mean, prior_sd^2) by
    precision weighting and floored at ``floor_fraction * prior_mean``.

    Args:
        history: the student's responses in the topic, oldest first.
        model: the gain model (defaults to ``GainModel()``).

    Returns:
        The estimate; ``source`` is "prior" when there are fewer than ``min_responses`` usable responses.
    """
    model = model or GainModel()
    n = int(np.sum(np.isfinite(np.asarray(history.correct, dtype=float))))
    fitted = _residual_slope(history, model) if n >= model.min_responses else None
    if fitted is None:
        return GainEstimate(topic=history.topic, gain=model.prior_mean, sd=model.prior_sd, n_responses=n,
                            source="prior")
    slope, var = fitted
    precision = 1.0 / var + 1.0 / model.prior_sd**2
    gain = (slope / var + model.prior_mean / model.prior_sd**2) / precision
    gain = max(gain, model.floor_fraction * model.prior_mean)
    return GainEstimate(topic=history.topic, gain=float(gain), sd=float(precision**-0.5), n_responses=n,
                        source="history", raw_slope=slope)


def estimate_gains(
    histories: Iterable[TopicHistory], topics: Iterable[str], model: GainModel | None = None
) -> dict[str, GainEstimate]:
    """Gain estimates for ``topics``: from the histories given (one per topic), the prior for the rest."""
    model = model or GainModel()
    by_topic = {h.topic: h for h in histories}
    return {
        t: estimate_gain(by_topic[t], model)
        if t in by_topic
        else GainEstimate(topic=t, gain=model.prior_mean, sd=model.prior_sd, n_responses=0, source="prior")
        for t in topics
    }


def population_gain(histories: Iterable[TopicHistory], model: GainModel | None = None) -> GainModel:
    """Refit the population prior from many students' histories (method of moments on the raw slopes).

    The prior mean is the precision-weighted mean of the raw slopes; its sd is the spread of the slopes beyond
    their sampling noise (at least a tenth of the mean). Histories shorter than ``min_responses`` are skipped.

    Returns:
        ``model`` with ``prior_mean`` and ``prior_sd`` replaced (unchanged if fewer than 5 usable histories).
    """
    model = model or GainModel()
    fits = [f for h in histories if len(h.correct) >= model.min_responses and (f := _residual_slope(h, model))]
    if len(fits) < 5:
        return model
    slopes = np.array([f[0] for f in fits])
    variances = np.array([f[1] for f in fits])
    weights = 1.0 / variances
    mean = float(np.sum(weights * slopes) / np.sum(weights))
    spread = float(np.var(slopes) - np.mean(variances))
    mean = max(mean, 0.0)
    sd = max(np.sqrt(max(spread, 0.0)), 0.1 * max(mean, model.prior_mean))
    return model.model_copy(update={"prior_mean": mean, "prior_sd": float(sd)})


@dataclass(frozen=True)
class TopicReadiness:
    """One exam topic as the score model sees it: its weight and, per difficulty present, the centred probit
    ``z``, slope ``a`` and uncertainty scale ``r`` so that the expected P(correct) after an ability change
    ``delta`` is Phi((z + a * delta) / r). (Working state of the computation, NumPy arrays: a dataclass.)"""

    topic: str
    weight: float
    theta_sd: float
    difficulties: tuple[str, ...]
    mix: np.ndarray
    z: np.ndarray
    slope: np.ndarray
    scale: np.ndarray
    p_now: np.ndarray

    def expected(self, delta: float | np.ndarray = 0.0) -> np.ndarray:
        """Expected P(correct) over the topic's difficulty mix after ability change(s) ``delta``."""
        d = np.asarray(delta, dtype=float)[..., None]
        result: np.ndarray = np.sum(self.mix * ndtr((self.z + self.slope * d) / self.scale), axis=-1)
        return result

    def practice_delta(
        self, counts: np.ndarray, gain: float | np.ndarray, already: float, model: GainModel, steps: int = 60
    ) -> np.ndarray:
        """Ability gain from practising ``counts[i]`` items of difficulty ``difficulties[i]``.

        The items are spread evenly over the practice (in up to ``steps`` steps) and each counts ``eff(p)``
        effective items at the P(correct) it has *when practised*: as ability grows, items get easier and
        (past the target) less effective, so the gain is not overstated.

        Args:
            counts: items per difficulty (aligned with ``difficulties``).
            gain: g, one value or an array of draws.
            already: effective items practised before.
            model: the gain model.
            steps: integration steps.

        Returns:
            The ability gain, one per element of ``gain``.
        """
        g = np.atleast_1d(np.asarray(gain, dtype=float))
        delta = np.zeros_like(g)
        total = float(np.sum(counts))
        if total <= 0:
            return delta
        n_steps = max(1, int(min(total, steps)))
        share = np.asarray(counts, dtype=float) / total
        per_step = total / n_steps
        effective = np.zeros_like(g)
        for _ in range(n_steps):
            p = ndtr((self.z + self.slope * delta[:, None]) / self.scale)
            effective += per_step * (model.efficiency(p) @ share)
            delta = model.ability_gain(effective, g, already)
        return delta

    def draws(self, delta: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """P(correct) over the mix at abilities ``estimate + theta_sd * noise + delta`` (``noise`` standard
        normal, same shape as ``delta``)."""
        d = (delta + noise * self.theta_sd)[..., None]
        result: np.ndarray = np.sum(self.mix * ndtr(self.z + self.slope * d), axis=-1)
        return result


def topic_readiness(exam: ExamSpec, predictions: StudentPredictions) -> list[TopicReadiness]:
    """The score model for each exam topic (in the exam's order).

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
                z[i] = ndtri(np.clip(cell.p_correct, _P_CLIP, 1 - _P_CLIP)) * r[i]
        out.append(TopicReadiness(topic, weight, sd, diffs, m / m.sum(), z, a, r, p))
    return out


class Readiness(_Frozen):
    """Expected exam score now with its 10%-90% interval, and the exam-day forecast (plan followed)."""

    expected_score: float
    low: float
    high: float
    forecast_on_exam_day: float
    forecast_low: float
    forecast_high: float
    target_score: float | None = None


def _gain_of(value: float | GainEstimate | None, model: GainModel) -> tuple[float, float]:
    if value is None:
        return model.prior_mean, model.prior_sd
    if isinstance(value, GainEstimate):
        return value.gain, value.sd
    return float(value), 0.0


def readiness(
    exam: ExamSpec,
    predictions: StudentPredictions,
    *,
    practice: Mapping[tuple[str, str], float] | None = None,
    gains: Mapping[str, float | GainEstimate] | None = None,
    gain_model: GainModel | None = None,
    prior_practice: Mapping[str, float] | None = None,
    n_draws: int = 4000,
    seed: int = 0,
) -> Readiness:
    """The expected exam score now and on exam day.

    Args:
        exam: the exam (weights and difficulty mix).
        predictions: the student's current predictions per cell.
        practice: (topic, difficulty) -> items still to practise before the exam (e.g.
            ``Plan.remaining_practice(today)``); none -> the forecast equals the score now.
        gains: topic -> learning gain (a float, or a GainEstimate whose sd widens the forecast interval);
            missing topics use the prior.
        gain_model: the gain model (efficiency, saturation, prior).
        prior_practice: topic -> effective items already practised in this preparation (diminishing returns).
        n_draws: Monte Carlo draws for the intervals.
        seed: random seed (the result is deterministic for a given seed).

    Returns:
        A Readiness; scores are fractions in [0, 1].
    """
    model = gain_model or GainModel()
    topics = topic_readiness(exam, predictions)
    practice = practice or {}
    prior_practice = prior_practice or {}
    gains = gains or {}
    rng = np.random.default_rng(seed)
    now = 0.0
    forecast = 0.0
    now_draws = np.zeros(n_draws)
    forecast_draws = np.zeros(n_draws)
    shared = rng.standard_normal(n_draws)
    for tr in topics:
        noise = shared if predictions.shared_ability else rng.standard_normal(n_draws)
        counts = np.array([practice.get((tr.topic, d), 0.0) for d in tr.difficulties])
        g, g_sd = _gain_of(gains.get(tr.topic), model)
        already = prior_practice.get(tr.topic, 0.0)
        delta = float(tr.practice_delta(counts, g, already, model)[0])
        now += tr.weight * float(tr.expected(0.0))
        forecast += tr.weight * float(tr.expected(delta))
        g_draws = np.maximum(g + g_sd * rng.standard_normal(n_draws), 0.0)
        delta_draws = tr.practice_delta(counts, g_draws, already, model)
        now_draws += tr.weight * tr.draws(np.zeros(n_draws), noise)
        forecast_draws += tr.weight * tr.draws(delta_draws, noise)
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
