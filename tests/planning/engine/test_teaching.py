"""A plan that teaches: productive difficulty, interleaving, spacing, human-sized days, every topic practised.

Hypothesis draws random students (P(correct) per topic falling from easy to hard, learning as a typical model
of learning estimates it, or none) and random exams.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studysmart.planning.engine import ExamSpec, PlanOptions, plan_exam
from studysmart.planning.engine.optimise import INTERLEAVE_MINUTES
from tests.planning import cells

TODAY = date(2025, 3, 3)
BAND = (0.55, 0.9)

# a topic: P(correct) on medium, the drop to hard and the rise to easy
topic_profile = st.tuples(st.floats(0.05, 0.97), st.floats(0.05, 0.4), st.floats(0.02, 0.3))


def _profile(medium: float, down: float, up: float) -> tuple[float, float, float]:
    return min(medium + up, 0.99), medium, max(medium - down, 0.01)


students = st.lists(topic_profile, min_size=1, max_size=5)
exams = st.tuples(st.lists(st.floats(0.1, 5.0), min_size=5, max_size=5),
                  st.lists(st.sampled_from([0.0, 15.0, 30.0, 45.0, 60.0, 90.0]), min_size=7, max_size=7),
                  st.integers(1, 30), st.booleans(), st.floats(60.0, 300.0))


def _setup(profiles, exam_draw):
    weights, minutes, days, learns, seconds = exam_draw
    topics = {f"t{i}": _profile(*p) for i, p in enumerate(profiles)}
    spec = ExamSpec(date=TODAY + timedelta(days=days), topics=tuple(zip(topics, weights, strict=False)),
                    minutes_per_weekday=tuple(minutes))
    predictions = cells(topics, seconds=seconds, learns=learns)
    return topics, spec, predictions, plan_exam(spec, predictions, today=TODAY)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles=students, exam_draw=exams)
def test_no_plan_is_all_easy_when_medium_is_in_the_band(profiles, exam_draw):
    topics, _, _, plan = _setup(profiles, exam_draw)
    planned = [(i.topic, i.difficulty) for d in plan.days for i in d.items]
    in_band = [t for t, ps in topics.items() if BAND[0] <= ps[1] <= BAND[1]]
    if planned and len(in_band) == len(topics):  # the student's medium is in the band on every topic
        assert any(d != "easy" for _, d in planned)
    for topic in in_band:  # and a topic whose medium is productive never gets easy problems
        assert all(d != "easy" for t, d in planned if t == topic)


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles=students, exam_draw=exams)
def test_planned_problems_are_in_the_productive_band_unless_none_is(profiles, exam_draw):
    """At the P(correct) predicted for when they are done (today's, plus the model's gain of the practice planned
    before them: the same logit shift for every difficulty of the topic), within a day's drift."""
    topics, _, _, plan = _setup(profiles, exam_draw)
    tol = 0.03
    for day in plan.days:
        for item in day.items:
            today = dict(zip(("easy", "medium", "hard"), topics[item.topic], strict=True))
            shift = _logit(item.p_correct) - _logit(today[item.difficulty])
            assert shift >= -1e-9  # gains only raise P(correct) (positive slopes)
            ps = {d: 1 / (1 + math.exp(-(_logit(p) + shift))) for d, p in today.items()}
            if any(BAND[0] + tol <= p <= BAND[1] - tol for p in ps.values()):
                assert BAND[0] - tol <= item.p_correct <= BAND[1] + tol
            else:  # the closest one to the band
                distance = {d: max(BAND[0] - p, p - BAND[1]) for d, p in ps.items()}
                assert distance[item.difficulty] <= min(distance.values()) + tol


def test_a_topic_moves_to_harder_problems_as_the_plan_teaches_it():
    """Medium is just below the band today; the planned practice raises it into the band, and the plan then
    gives medium problems, each planned at a P(correct) in the band."""
    topics = {"t": (0.75, 0.5, 0.3), "u": (0.75, 0.5, 0.3)}
    spec = ExamSpec(date=TODAY + timedelta(days=30), topics=(("t", 1.0), ("u", 1.0)),
                    minutes_per_weekday=(45.0,) * 7)
    plan = plan_exam(spec, cells(topics), today=TODAY)
    items = [i for d in plan.days for i in d.items]
    first_medium = min(k for k, d in enumerate(plan.days) if any(i.difficulty == "medium" for i in d.items))
    assert all(i.difficulty == "easy" for i in plan.days[0].items)
    assert first_medium > 0
    assert all(BAND[0] <= i.p_correct <= BAND[1] for i in items if i.difficulty == "medium")
    easy_p = [i.p_correct for d in plan.days for i in d.items if i.topic == "t" and i.difficulty == "easy"]
    assert easy_p == sorted(easy_p) and easy_p[-1] > easy_p[0]  # predicted as the plan teaches


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles=students, exam_draw=exams)
def test_days_are_interleaved_human_sized_and_every_topic_is_practised(profiles, exam_draw):
    topics, spec, _, plan = _setup(profiles, exam_draw)
    for day in plan.days:
        count = sum(i.count for i in day.items)
        assert count <= spec.max_tasks_per_day
        assert day.minutes_planned <= day.minutes_available
        if count >= 2 and len(topics) >= 2 and day.minutes_available >= INTERLEAVE_MINUTES:
            assert len({i.topic for i in day.items}) >= 2
    study = [d for d in plan.days if d.items]
    if len(study) >= len(topics):  # room for every topic: each gets practice
        assert {i.topic for d in study for i in d.items} == set(topics)


def test_a_heavier_topic_gets_more_practice_and_a_lighter_one_still_some():
    topics = {"heavy": (0.85, 0.7, 0.5), "light": (0.85, 0.7, 0.5)}
    spec = ExamSpec(date=TODAY + timedelta(days=20), topics=(("heavy", 4.0), ("light", 1.0)),
                    minutes_per_weekday=(60.0,) * 7)
    plan = plan_exam(spec, cells(topics), today=TODAY)
    count = {t: sum(i.count for d in plan.days for i in d.items if i.topic == t) for t in topics}
    assert count["heavy"] > count["light"] > 0


def test_faster_forgetting_brings_topics_back_sooner():
    topics = {f"t{i}": (0.85, 0.7, 0.5) for i in range(5)}
    spec = ExamSpec(date=TODAY + timedelta(days=40), topics=tuple((t, 1.0) for t in topics),
                    minutes_per_weekday=(45.0,) * 7)

    def longest_break(forgetting: float) -> int:
        plan = plan_exam(spec, cells(topics, forgetting=forgetting), today=TODAY)
        out = 0
        for topic in topics:
            days = [k for k, d in enumerate(plan.days) if any(i.topic == topic for i in d.items)]
            out = max(out, *(b - a for a, b in pairwise(days)))
        return out

    assert longest_break(1.0) < longest_break(0.05) <= PlanOptions().max_interval_days
