"""The knowledge-tracing simulator the planning benchmark uses: it learns, forgets, and keeps to the minutes."""

from __future__ import annotations

from datetime import date

import numpy as np

from studysmart.planning.engine.simulate import draw_exam, draw_student, predictions_for, run_strategy

TODAY = date(2025, 1, 6)


def test_practice_raises_ability_and_time_away_lowers_it():
    student = draw_student(2, np.random.default_rng(0))
    before = student.p_true(0.0)[0, 1]
    for _ in range(20):
        student.answer(0, 1, 0.0)
    assert student.p_true(0.0)[0, 1] > before
    assert before < student.p_true(30.0)[0, 1] < student.p_true(0.0)[0, 1]  # some of it fades, some stays
    assert student.p_true(0.0)[1, 1] == draw_student(2, np.random.default_rng(0)).p_true(0.0)[1, 1]


def test_the_baselines_spend_no_more_than_the_plan_and_every_strategy_runs():
    rng = np.random.default_rng(3)
    student = draw_student(3, rng)
    exam = draw_exam(student.topics, 12, TODAY, rng)
    predictions = predictions_for(student, rng, horizon=12)
    start = student.exam_score(exam, 12)
    score, spent = run_strategy(student.copy(), exam, predictions, today=TODAY, strategy="plan",
                                rng=np.random.default_rng(1))
    assert score > start
    for day, seconds in zip(exam.study_days(TODAY), spent, strict=True):
        assert seconds <= exam.minutes_on(day) * 60
    for name in ("even", "easiest", "weakest"):
        other, used = run_strategy(student.copy(), exam, predictions, today=TODAY, strategy=name,
                                   rng=np.random.default_rng(1), seconds_per_day=spent)
        assert other > start
        assert all(u <= s for u, s in zip(used, spent, strict=True))


def test_what_was_forgotten_can_be_learned_again():
    """After a topic saturates and the student is away, practice brings the ability back: relearning is possible,
    as it is for real learners (docs/models.md: Junyi's accuracy after a break), though slower than Junyi's."""
    student = draw_student(1, np.random.default_rng(5))
    for _ in range(200):
        student.answer(0, 1, 0.0)
    saturated = student.ability(0.0)[0]
    away = student.ability(60.0)[0]
    for _ in range(40):
        student.answer(0, 1, 60.0)
    back = student.ability(60.0)[0]
    assert away < saturated - 0.3
    assert back - away > 0.5 * (saturated - away)


def test_a_longer_preparation_with_the_same_daily_minutes_ends_no_lower():
    """The same student and minutes per weekday: 60 days of even practice end at least as high as 30 days."""
    for seed in range(5):
        rng = np.random.default_rng(seed)
        student = draw_student(4, rng)
        short = draw_exam(student.topics, 30, TODAY, rng)
        long = short.model_copy(update={"date": TODAY + (short.date - TODAY) * 2, "days_off": frozenset()})
        short = short.model_copy(update={"days_off": frozenset()})
        scores = []
        for exam in (short, long):
            days = exam.study_days(TODAY)
            seconds = [exam.minutes_on(day) * 60.0 for day in days]
            predictions = predictions_for(student, np.random.default_rng(1), horizon=len(days))
            score, _ = run_strategy(student.copy(), exam, predictions, today=TODAY, strategy="even",
                                    rng=np.random.default_rng(2), seconds_per_day=seconds)
            scores.append(score)
        assert scores[1] >= scores[0] - 0.005, seed
