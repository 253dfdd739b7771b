"""Readiness now and on exam day, and the learning-gain estimate from a student's own history."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from scipy.special import ndtr

from studysmart.planning.engine import (
    CellPrediction,
    ExamSpec,
    GainEstimate,
    GainModel,
    MissingPredictionError,
    StudentPredictions,
    TopicAbility,
    TopicHistory,
    estimate_gain,
    estimate_gains,
    plan_exam,
    population_gain,
    readiness,
)
from studysmart.planning.engine.readiness import topic_readiness
from studysmart.planning.schemas import ReadinessRead
from tests.planning import cells

TODAY = date(2025, 3, 3)


def exam(topics, **kw) -> ExamSpec:
    return ExamSpec(date=TODAY + timedelta(days=10), topics=tuple(topics), minutes_per_weekday=(45,) * 7, **kw)


def test_expected_score_is_the_weighted_p_correct_over_topics_and_difficulty_mix():
    spec = exam([("a", 3), ("b", 1)], difficulty_mix={"easy": 1, "medium": 1, "hard": 2})
    predictions = cells({"a": (0.9, 0.6, 0.3), "b": (0.8, 0.8, 0.4)})
    result = readiness(spec, predictions)
    expected = 0.75 * (0.9 + 0.6 + 2 * 0.3) / 4 + 0.25 * (0.8 + 0.8 + 2 * 0.4) / 4
    assert result.expected_score == pytest.approx(expected, abs=1e-9)
    assert result.low == pytest.approx(expected) and result.high == pytest.approx(expected)  # no uncertainty given
    assert result.forecast_on_exam_day == pytest.approx(expected)  # no practice planned
    assert set(ReadinessRead.model_validate(result).model_dump()) == {"expected_score", "low", "high",
                                                                     "forecast_on_exam_day"}


def test_ability_uncertainty_gives_an_interval_that_widens_with_it():
    spec = exam([("a", 1), ("b", 1)])
    narrow = readiness(spec, cells({"a": (0.9, 0.6, 0.3), "b": (0.8, 0.7, 0.4)}, theta_sd=0.2))
    wide = readiness(spec, cells({"a": (0.9, 0.6, 0.3), "b": (0.8, 0.7, 0.4)}, theta_sd=0.8))
    for result in (narrow, wide):
        assert result.low < result.expected_score < result.high
    assert wide.high - wide.low > 2 * (narrow.high - narrow.low)
    # the centre is the model's predictive P(correct) whatever the uncertainty
    assert narrow.expected_score == pytest.approx(wide.expected_score, abs=1e-9)


def test_a_shared_ability_widens_the_interval_over_many_topics():
    spec = exam([(f"t{i}", 1) for i in range(6)])
    predictions = cells({f"t{i}": (0.85, 0.7, 0.5) for i in range(6)}, theta_sd=0.5)
    independent = readiness(spec, predictions)
    shared = readiness(spec, predictions.model_copy(update={"shared_ability": True}))
    assert shared.expected_score == pytest.approx(independent.expected_score)
    assert shared.high - shared.low > 1.8 * (independent.high - independent.low)


def test_lnirt_parameters_are_used_when_given():
    a, b, theta, sd = 1.5, 0.3, 0.4, 0.5
    predictions = StudentPredictions(
        cells=(CellPrediction(topic="a", difficulty="medium", p_correct=0.99, mean_log_time=4.0, sd_log_time=0.3,
                              slope=a, intercept=b),),  # p here is ignored
        abilities={"a": TopicAbility(topic="a", theta=theta, theta_sd=sd)},
    )
    result = readiness(exam([("a", 1)]), predictions)
    assert result.expected_score == pytest.approx(float(ndtr((a * theta - b) / math.sqrt(1 + a**2 * sd**2))))


def test_the_forecast_rises_with_practice_and_saturates():
    spec = exam([("a", 1)])
    predictions = cells({"a": (0.85, 0.7, 0.5)})
    scores = [
        readiness(spec, predictions, practice={("a", "medium"): n}).forecast_on_exam_day for n in (0, 20, 60, 600, 6000)
    ]
    assert scores == sorted(scores) and scores[1] > scores[0]
    assert scores[4] - scores[3] < 0.01 < scores[1] - scores[0]  # diminishing returns
    # practice far from the desirable difficulty counts for less
    easy = readiness(spec, predictions, practice={("a", "easy"): 40}).forecast_on_exam_day
    medium = readiness(spec, predictions, practice={("a", "medium"): 40}).forecast_on_exam_day
    assert medium > easy


def test_practice_counts_even_on_difficulties_the_exam_does_not_ask():
    spec = exam([("a", 1)], difficulty_mix={"easy": 1, "medium": 1, "hard": 0})
    predictions = cells({"a": (0.9, 0.6, 0.7)})
    result = readiness(spec, predictions, practice={("a", "hard"): 50})
    assert result.expected_score == pytest.approx((0.9 + 0.6) / 2)
    assert result.forecast_on_exam_day > result.expected_score + 0.02


def test_the_forecast_follows_p_correct_as_ability_grows():
    spec = exam([("a", 1)])
    predictions = cells({"a": (0.75, 0.7, 0.65)})
    model = GainModel()
    result = readiness(spec, predictions, practice={("a", "medium"): 150}, gain_model=model)
    static_delta = float(model.ability_gain(150 * model.efficiency(0.7), model.prior_mean))
    topic = topic_readiness(spec, predictions)[0]
    static = float(topic.expected(static_delta))
    assert result.expected_score < result.forecast_on_exam_day < static  # items got easier: less effective


def test_forecast_from_a_plan_and_larger_gains():
    spec = exam([("a", 2), ("b", 1)])
    predictions = cells({"a": (0.8, 0.6, 0.4), "b": (0.9, 0.75, 0.5)}, theta_sd=0.3)
    plan = plan_exam(spec, predictions, today=TODAY)
    practice = plan.remaining_practice(TODAY)
    slow = readiness(spec, predictions, practice=practice, gains={"a": 0.01, "b": 0.01})
    fast = readiness(spec, predictions, practice=practice, gains={"a": GainEstimate(topic="a", gain=0.04, sd=0.01,
                                                                              n_responses=50, source="history")})
    assert slow.expected_score < slow.forecast_on_exam_day < fast.forecast_on_exam_day
    assert fast.forecast_low < fast.forecast_on_exam_day < fast.forecast_high


def test_missing_topic_predictions_are_an_error():
    with pytest.raises(MissingPredictionError):
        readiness(exam([("a", 1), ("zzz", 1)]), cells({"a": (0.8, 0.7, 0.6)}))


def learning_history(gain: float, n: int, seed: int, theta0: float = -0.3) -> TopicHistory:
    """Responses of a learner whose ability grows by ``gain`` per effective item, and the static model's p."""
    rng = np.random.default_rng(seed)
    model = GainModel()
    b = rng.normal(0.0, 0.5, size=n)
    # the static model: one ability for the whole history, fitted as the average ability
    static_theta = theta0
    p_static = ndtr(static_theta - b)
    practice = np.concatenate([[0.0], np.cumsum(model.efficiency(p_static))[:-1]])
    true_theta = theta0 + gain * (practice - practice.mean())
    correct = (rng.random(n) < ndtr(true_theta - b)).astype(float)
    return TopicHistory(topic="algebra", correct=correct.tolist(), p_correct=p_static.tolist())


def test_gain_is_recovered_from_a_long_history():
    estimates = [estimate_gain(learning_history(0.002, 2000, seed), GainModel(prior_sd=1.0)) for seed in range(5)]
    assert all(e.source == "history" for e in estimates)
    assert np.mean([e.raw_slope for e in estimates]) == pytest.approx(0.002, rel=0.25)
    no_learning = [estimate_gain(learning_history(0.0, 2000, seed)).raw_slope for seed in range(5)]
    assert abs(float(np.mean(no_learning))) < 0.0005


def test_short_histories_fall_back_to_the_prior_and_estimates_shrink_towards_it():
    model = GainModel(prior_mean=0.02, prior_sd=0.01, min_responses=10)
    short = estimate_gain(learning_history(0.05, 6, 0), model)
    assert short.source == "prior" and short.gain == 0.02
    medium = estimate_gain(learning_history(0.0, 150, 1), model)
    assert medium.source == "history"
    assert min(medium.raw_slope or 0.0, 0.02) <= medium.gain <= 0.02  # pulled from the slope towards the prior
    assert medium.sd < model.prior_sd
    gains = estimate_gains([learning_history(0.0, 150, 1)], ["algebra", "geometry"], model)
    assert gains["geometry"].source == "prior" and gains["algebra"].source == "history"


def test_population_prior_from_many_histories():
    histories = [learning_history(0.004, 400, seed) for seed in range(30)]
    model = population_gain(histories, GainModel(prior_mean=0.05))
    assert model.prior_mean == pytest.approx(0.004, abs=0.0015)
    assert model.prior_sd > 0
    assert population_gain(histories[:2]) == GainModel()  # too few: unchanged
