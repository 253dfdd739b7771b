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
