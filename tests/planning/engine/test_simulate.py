"""Simulated students: following the plan beats the same minutes spent evenly at random difficulties."""

from __future__ import annotations

from datetime import date

import numpy as np

from studysmart.planning.engine import PlanOptions
from studysmart.planning.engine.simulate import compare, draw_exam, draw_student, predictions_for, run_strategy


def test_the_planned_student_beats_the_random_one_over_seeds():
    result = compare(range(4), n_topics=4, n_days=12)
    assert result.mean_difference > 0
    assert result.wins >= 3
    # a fair race: the random student spent at least as many minutes
    assert all(r >= p for p, r in zip(result.planned_minutes, result.random_minutes, strict=True))
    assert all(p > s for p, s in zip(result.planned, result.start, strict=True))  # the student learned
    body = result.to_dict()
    assert body["wins"] == result.wins and len(body["score_planned"]) == 4


def test_learning_is_largest_at_a_desirable_difficulty():
    rng = np.random.default_rng(0)
    student = draw_student(1, rng)
    student.theta[:] = 0.0
    student.a[:] = 1.0
    student.b[:] = [[-0.5, 0.5, 2.5]]  # P(correct) about 0.69, 0.31 and 0.01 at theta 0
    model = PlanOptions().gain_model
    after = []
    for d in range(3):
        learner = student.copy()
        for _ in range(20):
            p_true, _, _ = learner.attempt(0, d, rng)
            learner.learn(0, p_true, model)
        after.append(float(learner.theta[0]))
    assert after[0] > after[1] > after[2] >= 0.0


def test_a_replanning_student_runs_and_keeps_to_the_minutes():
    rng = np.random.default_rng(3)
    student = draw_student(3, rng)
    today = date(2025, 1, 6)
    exam = draw_exam(student.topics, 9, today, rng)
    result = run_strategy(student.copy(), exam, predictions_for(student, rng), today=today, strategy="plan",
                          rng=rng, replan_every=3)  # fmt: skip
    assert result.items > 0
    for day, spent in zip(exam.study_days(today), result.seconds_per_day, strict=True):
        assert spent <= exam.minutes_on(day) * 60
