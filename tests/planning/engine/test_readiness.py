"""Readiness now and on exam day: the model's forgetting, the gains of the planned practice, intervals."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from scipy.special import ndtr

from studysmart.planning.engine import (
    CellPrediction,
    ExamSpec,
    MissingPredictionError,
    Plan,
    PlanDay,
    PlanItem,
    StudentPredictions,
    TopicAbility,
    plan_exam,
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


def test_an_ability_overall_correlates_the_topics_by_its_share_of_their_uncertainty():
    """``shared_sd``: the part of each topic's sd that every topic shares (a student overall and their deviation
    per topic) widens the exam's range between independent topics (0) and one ability for all (the whole sd)."""
    spec = exam([(f"t{i}", 1) for i in range(6)])
    predictions = cells({f"t{i}": (0.85, 0.7, 0.5) for i in range(6)}, theta_sd=0.5)

    def width(**update: object) -> float:
        ready = readiness(spec, predictions.model_copy(update=update))
        return ready.high - ready.low

    independent, part, whole = width(), width(shared_sd=0.3), width(shared_sd=0.5)
    assert independent < part < whole
    assert whole == pytest.approx(width(shared_ability=True), rel=1e-9)


def test_lnirt_parameters_are_used_when_given():
    a, b, theta, sd = 1.5, 0.3, 0.4, 0.5
    predictions = StudentPredictions(
        cells=(CellPrediction(topic="a", difficulty="medium", p_correct=0.99, mean_log_time=4.0, sd_log_time=0.3,
                              slope=a, intercept=b),),  # p here is ignored
        abilities={"a": TopicAbility(topic="a", theta=theta, theta_sd=sd)},
    )
    result = readiness(exam([("a", 1)]), predictions)
    assert result.expected_score == pytest.approx(float(ndtr((a * theta - b) / math.sqrt(1 + a**2 * sd**2))))


def _plan_of(topic_days: dict[tuple[str, str], tuple[int, int]], spec: ExamSpec) -> Plan:
    """A plan with (topic, difficulty) -> (count, days before the exam) of practice."""
    days = [PlanDay(date=spec.date - timedelta(days=k), minutes_available=60, minutes_planned=0,
                    items=(PlanItem(topic=t, difficulty=d, count=n, expected_seconds=60.0 * n, p_correct=0.7),))
            for (t, d), (n, k) in topic_days.items()]
    return Plan(created_on=TODAY, exam_date=spec.date, days=tuple(sorted(days, key=lambda x: x.date)))


def test_the_forecast_rises_with_practice_with_diminishing_returns():
    spec = exam([("a", 1)])
    predictions = cells({"a": (0.85, 0.7, 0.5)})
    scores = [readiness(spec, predictions, plan=_plan_of({("a", "medium"): (n, 1)}, spec)).forecast_on_exam_day
              if n else readiness(spec, predictions).forecast_on_exam_day for n in (0, 10, 30, 100, 300)]
    assert scores == sorted(scores) and scores[1] > scores[0]
    assert (scores[4] - scores[3]) / 200 < (scores[1] - scores[0]) / 10  # diminishing returns per problem


def test_the_forecast_counts_planned_problems_at_the_p_correct_the_plan_predicts_for_them():
    """Planned medium problems predicted at 0.9 (after earlier planned practice) are expected right 90% of the
    time in the forecast, not at today's 0.6; an item without a P(correct) is counted at today's."""
    spec = exam([("a", 1)])
    predictions = cells({"a": (0.85, 0.6, 0.4)})

    def forecast(p: float | None) -> float:
        day = PlanDay(date=spec.date - timedelta(days=1), minutes_available=60, minutes_planned=0,
                      items=(PlanItem(topic="a", difficulty="medium", count=40, expected_seconds=2400.0,
                                      p_correct=p),))
        plan = Plan(created_on=TODAY, exam_date=spec.date, days=(day,))
        return readiness(spec, predictions, plan=plan).forecast_on_exam_day

    topic = topic_readiness(spec, predictions)[0]
    at = {p: float(topic.expected(topic.probit_gain({"medium": 40.0}, 1, {"medium": p}))) for p in (0.6, 0.9)}
    print(f"forecast at 0.6: {forecast(0.6):.4f} ({at[0.6]:.4f}), at 0.9: {forecast(0.9):.4f} ({at[0.9]:.4f})")
    assert abs(at[0.9] - at[0.6]) > 1e-3
    assert forecast(0.9) == pytest.approx(at[0.9], abs=1e-9)
    assert forecast(0.6) == pytest.approx(at[0.6], abs=1e-9) == pytest.approx(forecast(None), abs=1e-9)


def test_forgetting_lowers_the_gain_of_practice_long_before_the_exam():
    spec = exam([("a", 1)])
    predictions = cells({"a": (0.85, 0.7, 0.5)}, forgetting=0.5)
    late = readiness(spec, predictions, plan=_plan_of({("a", "medium"): (20, 1)}, spec)).forecast_on_exam_day
    early = readiness(spec, predictions, plan=_plan_of({("a", "medium"): (20, 9)}, spec)).forecast_on_exam_day
    none = readiness(spec, predictions).forecast_on_exam_day
    assert none < early < late


def test_a_model_without_learning_forecasts_the_exam_day_score():
    spec = exam([("a", 1)])
    flat = cells({"a": (0.85, 0.7, 0.5)}, learns=False)
    result = readiness(spec, flat, plan=_plan_of({("a", "medium"): (50, 1)}, spec))
    assert result.forecast_on_exam_day == pytest.approx(result.expected_score)


def test_the_exam_day_uses_the_models_forgetting_of_what_the_student_has():
    spec = exam([("a", 1)])
    fading = StudentPredictions(cells=tuple(
        CellPrediction(topic="a", difficulty=d, p_correct=p, p_exam=p - 0.1, mean_log_time=4.0, sd_log_time=0.3)
        for d, p in zip(("easy", "medium", "hard"), (0.85, 0.7, 0.5), strict=True)))
    result = readiness(spec, fading)
    assert result.expected_score == pytest.approx((0.85 + 0.7 + 0.5) / 3)
    assert result.forecast_on_exam_day == pytest.approx((0.75 + 0.6 + 0.4) / 3)


def test_practice_counts_even_on_difficulties_the_exam_does_not_ask():
    spec = exam([("a", 1)], difficulty_mix={"easy": 1, "medium": 1, "hard": 0})
    predictions = cells({"a": (0.9, 0.6, 0.7)})
    result = readiness(spec, predictions, plan=_plan_of({("a", "hard"): (50, 1)}, spec))
    assert result.expected_score == pytest.approx((0.9 + 0.6) / 2)
    assert result.forecast_on_exam_day > result.expected_score + 0.02


def test_forecast_from_a_plan():
    spec = exam([("a", 2), ("b", 1)])
    predictions = cells({"a": (0.8, 0.6, 0.4), "b": (0.9, 0.75, 0.5)}, theta_sd=0.3)
    plan = plan_exam(spec, predictions, today=TODAY)
    ready = readiness(spec, predictions, plan=plan, today=TODAY)
    assert ready.expected_score < ready.forecast_on_exam_day
    assert ready.forecast_low < ready.forecast_on_exam_day < ready.forecast_high
    later = readiness(spec, predictions, plan=plan, today=spec.date - timedelta(days=1))  # only the last day's
    assert later.forecast_on_exam_day < ready.forecast_on_exam_day  # less practice left to count


def test_missing_topic_predictions_are_an_error():
    with pytest.raises(MissingPredictionError):
        readiness(exam([("a", 1), ("zzz", 1)]), cells({"a": (0.8, 0.7, 0.6)}))


def test_a_linearisation_from_probes_reproduces_the_models_gains():
    """``TopicLearning.from_probes``: the curve equals the model's gain of the big block at each difficulty, its
    small block gets about the model's share of that, and the volume ratios never fall."""
    from studysmart.planning.engine.spec import PROBE_SIZE, SMALL_PROBE, TopicLearning

    p = {"easy": 0.8, "medium": 0.55, "hard": 0.3}
    big = {"easy": 0.2, "medium": 0.35, "hard": 0.4}
    small = {d: 0.5 * g for d, g in big.items()}
    learning = TopicLearning.from_probes("a", p_correct=p, small=small, big=big, retention=[1.0, 0.8],
                                         volume={d: [2.0 * g, 1.5 * g, 3.0 * g] for d, g in big.items()})
    for d, gain in big.items():
        assert learning.practice_gain({d: PROBE_SIZE}, p) == pytest.approx(gain, rel=1e-9)
        assert learning.practice_gain({d: SMALL_PROBE}, p) / gain == pytest.approx(0.5, abs=0.05)
    assert [r for _, r in learning.volume] == [1.0, 2.0, 2.0, 3.0]
    assert learning.retained(5) == 0.8
    silent = TopicLearning.from_probes("a", p_correct=p, small={}, big={}, retention=[1.0], volume={})
    assert silent.practice_gain({"medium": 20}, p) == 0.0 and silent.volume == ()
    losing = TopicLearning.from_probes("a", p_correct=p, small=small, big={**big, "hard": -0.3}, retention=[1.0])
    assert losing.gain_correct["hard"] == 0.0 < losing.gain_correct["medium"]  # a negative probe teaches nothing
