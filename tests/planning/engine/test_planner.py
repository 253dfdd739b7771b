"""The plan: never over a day's minutes, priorities, replanning, materialising, invalid exams."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from studysmart.planning.engine import (
    CompletedWork,
    ExamSpec,
    InvalidExamError,
    MissingPredictionError,
    PlanOptions,
    materialise,
    plan_exam,
    replan,
)
from studysmart.planning.engine.optimise import safe_seconds
from studysmart.planning.engine.plan import Plan, displayed_minutes
from studysmart.planning.schemas import PlanRead
from tests.planning import cells

TODAY = date(2025, 3, 3)  # a Monday
EVERY_DAY_60 = (60.0,) * 7


def exam(topics, days=14, minutes=EVERY_DAY_60, **kw) -> ExamSpec:
    return ExamSpec(date=TODAY + timedelta(days=days), topics=tuple(topics), minutes_per_weekday=minutes, **kw)


def check_fits(plan, spec, predictions) -> None:
    """Every day's items fit its minutes, recomputed from the predictions (safe duration, rounded up)."""
    moments = {(c.topic, c.difficulty): (c.mean_seconds, c.var_seconds) for c in predictions.cells}
    z = PlanOptions().safety_z
    for day in plan.days:
        assert day.minutes_available == spec.minutes_on(day.date)
        mean = sum(item.count * moments[(item.topic, item.difficulty)][0] for item in day.items)
        var = sum(item.count * moments[(item.topic, item.difficulty)][1] for item in day.items)
        assert day.minutes_planned == displayed_minutes(safe_seconds(mean, var, z))
        assert day.minutes_planned <= day.minutes_available
        if day.minutes_available == 0:
            assert day.items == ()
        assert all(item.count > 0 for item in day.items)
        assert sum(item.count for item in day.items) <= spec.max_tasks_per_day


profiles = st.lists(st.tuples(*(st.floats(0.02, 0.98) for _ in range(3))), min_size=1, max_size=4)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ps=profiles,
    weights=st.lists(st.floats(0.1, 5.0), min_size=4, max_size=4),
    minutes=st.lists(st.one_of(st.just(0.0), st.floats(0.0, 150.0)), min_size=7, max_size=7),
    days=st.integers(1, 8),
    off=st.sets(st.integers(0, 7), max_size=3),
    seconds=st.floats(20.0, 900.0),
    sd=st.floats(0.05, 1.0),
)
def test_no_day_is_ever_loaded_beyond_its_minutes(ps, weights, minutes, days, off, seconds, sd):
    topics = [f"t{i}" for i in range(len(ps))]
    spec = exam(
        zip(topics, weights, strict=False),
        days=days,
        minutes=tuple(minutes),
        days_off=frozenset(TODAY + timedelta(days=k) for k in off),
    )
    predictions = cells(dict(zip(topics, ps, strict=True)), seconds=seconds, sd_log_time=sd)
    plan = plan_exam(spec, predictions, today=TODAY)
    assert [d.date for d in plan.days] == spec.study_days(TODAY)
    check_fits(plan, spec, predictions)
    for day in plan.days:
        if day.date in spec.days_off:
            assert day.items == ()


def test_a_full_plan_uses_most_of_the_time_and_has_the_api_shape():
    spec = exam([("algebra", 2), ("geometry", 1), ("calculus", 1)], days=10)
    predictions = cells({"algebra": (0.85, 0.7, 0.5), "geometry": (0.8, 0.6, 0.4), "calculus": (0.9, 0.75, 0.6)})
    plan = plan_exam(spec, predictions, today=TODAY)
    check_fits(plan, spec, predictions)
    for day in plan.days:  # each day is full: most of its minutes, or its task limit
        assert day.minutes_planned > 0.85 * day.minutes_available or \
            sum(i.count for i in day.items) == spec.max_tasks_per_day
    roomy = exam([("algebra", 2), ("geometry", 1), ("calculus", 1)], days=10, max_tasks_per_day=60)
    plan_60 = plan_exam(roomy, predictions, today=TODAY)
    assert sum(d.minutes_planned for d in plan_60.days) > 0.85 * sum(d.minutes_available for d in plan_60.days)
    body = PlanRead.model_validate(plan).model_dump(mode="json")
    assert set(body) == {"days"} and len(body["days"]) == 10
    day = body["days"][0]
    assert set(day) == {"date", "minutes_available", "minutes_planned", "items"}
    assert day["date"] == TODAY.isoformat()
    assert set(day["items"][0]) == {"topic", "difficulty", "count", "expected_seconds", "p_correct"}


def test_weak_heavy_topics_get_more_time_than_strong_light_ones():
    spec = exam([("weak", 0.7), ("strong", 0.3)], days=10)
    predictions = cells({"weak": (0.6, 0.45, 0.3), "strong": (0.95, 0.88, 0.75)})
    plan = plan_exam(spec, predictions, today=TODAY)
    seconds = {"weak": 0.0, "strong": 0.0}
    for day in plan.days:
        for item in day.items:
            seconds[item.topic] += item.expected_seconds
    assert seconds["weak"] > 1.5 * seconds["strong"] > 0


def test_practice_is_at_a_desirable_difficulty():
    spec = exam([("algebra", 1)], days=5)
    predictions = cells({"algebra": (0.97, 0.72, 0.25)})
    plan = plan_exam(spec, predictions, today=TODAY)
    planned = {item.difficulty for day in plan.days for item in day.items}
    assert planned == {"medium"}


def test_topics_are_interleaved_within_a_day_and_spaced_across_days():
    topics = {f"t{i}": (0.85, 0.7, 0.55) for i in range(4)}
    spec = exam([(t, 1) for t in topics], days=20)
    predictions = cells(topics)
    plan = plan_exam(spec, predictions, today=TODAY)
    for day in plan.days:
        assert len({item.topic for item in day.items}) >= 2  # 60 minutes: interleaved
    gaps = {t: predictions.learning[t].max_gap(PlanOptions().retention_floor, PlanOptions().max_interval_days)
            for t in topics}
    for topic in topics:
        days = [k for k, d in enumerate(plan.days) if any(i.topic == topic for i in d.items)]
        assert days and days[0] <= gaps[topic] - 1
        assert max(b - a for a, b in pairwise(days)) <= gaps[topic]  # never away longer than forgetting allows
    last = {i.topic for d in plan.days[-PlanOptions().review_days:] for i in d.items}
    assert last == set(topics)  # the last days review every topic


def test_long_horizons_still_fit():
    spec = exam([("a", 1), ("b", 2), ("c", 1)], days=200, minutes=(30, 45, 0, 60, 30, 90, 0))
    predictions = cells({"a": (0.8, 0.7, 0.5), "b": (0.6, 0.5, 0.3), "c": (0.9, 0.8, 0.7)})
    plan = plan_exam(spec, predictions, today=TODAY)
    check_fits(plan, spec, predictions)


def test_a_missed_day_is_redistributed_over_the_remaining_days():
    spec = exam([("a", 1), ("b", 1), ("c", 1)], days=10, minutes=(30,) * 7)
    predictions = cells({"a": (0.85, 0.7, 0.5), "b": (0.8, 0.65, 0.45), "c": (0.9, 0.75, 0.6)})
    first = plan_exam(spec, predictions, today=TODAY)
    missed_day = first.days[0]
    missed_topics = {item.topic for item in missed_day.items}
    assert missed_topics
    tomorrow = TODAY + timedelta(days=1)
    again = replan(first, spec, predictions, today=tomorrow, completed=[])
    assert again.days[0].date == TODAY and again.days[0].items == ()  # nothing was done: the past stays empty
    assert {(m.topic, m.difficulty, m.count) for m in again.missed} == {
        (i.topic, i.difficulty, i.count) for i in missed_day.items
    }

    def later_items(plan):
        return sum(i.count for d in plan.days if d.date >= tomorrow for i in d.items if i.topic in missed_topics)

    assert later_items(again) >= later_items(first) > 0  # (the days are at their task limit: not more)
    check_fits(again, spec, predictions)
    # a second replan remembers what was missed before
    day_after = tomorrow + timedelta(days=1)
    third = replan(again, spec, predictions, today=day_after, completed=[])
    assert sum(m.count for m in third.missed) == sum(i.count for d in first.days[:1] + again.days[1:2] for i in d.items)


def test_done_work_stays_and_today_keeps_only_its_remaining_minutes():
    spec = exam([("a", 1), ("b", 1)], days=6, minutes=(40,) * 7)
    predictions = cells({"a": (0.85, 0.7, 0.5), "b": (0.8, 0.65, 0.45)}, seconds=60)
    first = plan_exam(spec, predictions, today=TODAY)
    tomorrow = TODAY + timedelta(days=1)
    done = [
        CompletedWork(date=TODAY, topic="a", difficulty="medium", count=3, seconds=200.0),
        CompletedWork(date=tomorrow, topic="b", difficulty="medium", count=2, seconds=20 * 60.0),  # 20 of 40 min
    ]
    again = replan(first, spec, predictions, today=tomorrow, completed=done)
    past = again.day(TODAY)
    assert past is not None and [(i.topic, i.count, i.done) for i in past.items] == [("a", 3, 3)]
    today = again.day(tomorrow)
    assert today is not None
    kept = [i for i in today.items if i.topic == "b" and i.difficulty == "medium"]
    assert kept and kept[0].done == 2 and kept[0].count >= 2
    new_seconds = sum(i.expected_seconds for i in today.items) - 20 * 60.0
    assert 0 < new_seconds <= 20 * 60.0
    assert today.minutes_planned <= today.minutes_available
    remaining = again.remaining_practice(tomorrow)
    assert remaining[("b", "medium")] == kept[0].count - 2 + sum(
        i.count for d in again.days if d.date > tomorrow for i in d.items if (i.topic, i.difficulty) == ("b", "medium")
    )
    specs = materialise(today)
    assert len(specs) == sum(i.count - i.done for i in today.items)


def test_materialise_interleaves_the_days_tasks():
    spec = exam([("a", 1), ("b", 1)], days=3, minutes=(45,) * 7)
    plan = plan_exam(spec, cells({"a": (0.8, 0.7, 0.5), "b": (0.8, 0.7, 0.5)}), today=TODAY)
    day = plan.days[0]
    specs = materialise(day)
    assert len(specs) == sum(i.count for i in day.items)
    assert {s.topic for s in specs[:2]} == {"a", "b"}
    assert all(s.planned_for == TODAY for s in specs)
    for item in day.items:  # named by what to do: "a: 3 medium problems (1 of 3)"
        titles = [s.title for s in specs if (s.topic, s.difficulty) == (item.topic, item.difficulty)]
        n = item.count
        assert titles == ([f"{item.topic}: 1 {item.difficulty} problem"] if n == 1 else
                          [f"{item.topic}: {n} {item.difficulty} problems ({k} of {n})" for k in range(1, n + 1)])
    assert all(math.isclose(s.expected_seconds, 120 * math.exp(0.08), rel_tol=1e-6) for s in specs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"topics": ()}, "topics"),
        ({"topics": (("a", 0.0),)}, "topics[0].weight"),
        ({"topics": (("a", 1.0), ("b", -2.0))}, "topics[1].weight"),
        ({"topics": (("a", 1.0), ("a", 1.0))}, "topics"),
        ({"minutes_per_weekday": (30,) * 6}, "minutes_per_weekday"),
        ({"minutes_per_weekday": (30, 30, -5, 30, 30, 30, 30)}, "minutes_per_weekday[2]"),
        ({"minutes_per_weekday": (30, float("nan"), 0, 0, 0, 0, 0)}, "minutes_per_weekday[1]"),
        ({"target_score": 1.5}, "target_score"),
        ({"difficulty_mix": {"trivial": 1.0}}, "difficulty_mix.trivial"),
        ({"difficulty_mix": {"easy": 0.0}}, "difficulty_mix"),
    ],
)
def test_invalid_exams_raise_a_value_error_naming_the_field(kwargs, field):
    base = {"date": TODAY + timedelta(days=5), "topics": (("a", 1.0),), "minutes_per_weekday": EVERY_DAY_60}
    with pytest.raises(ValidationError) as caught:
        ExamSpec(**{**base, **kwargs})
    assert isinstance(caught.value, ValueError)
    error = InvalidExamError.from_validation(caught.value)
    assert error.field == field
    assert field in str(error)


def test_an_exam_in_the_past_is_refused_but_an_exam_today_has_an_empty_plan():
    predictions = cells({"a": (0.8, 0.7, 0.5)})
    with pytest.raises(InvalidExamError) as caught:
        plan_exam(exam([("a", 1)], days=-1), predictions, today=TODAY)
    assert caught.value.field == "date"
    assert plan_exam(exam([("a", 1)], days=0), predictions, today=TODAY).days == ()


def test_missing_predictions_are_reported():
    with pytest.raises(MissingPredictionError):
        plan_exam(exam([("a", 1), ("b", 1)]), cells({"a": (0.8, 0.7, 0.5)}), today=TODAY)


def test_exam_from_api_shaped_data():
    spec = ExamSpec.model_validate({
        "name": "Finals", "date": "2025-03-20",
        "topics": [{"topic": "a", "weight": 3}, {"topic": "b", "weight": 1}],
        "minutes_per_weekday": [30, 30, 30, 30, 30, 0, 0], "days_off": ["2025-03-05"], "target_score": 0.8,
    })  # fmt: skip
    assert spec.weights() == {"a": 0.75, "b": 0.25}
    assert ExamSpec(date=spec.date, topics={"a": 3, "b": 1}, minutes_per_weekday=(0,) * 7).weights() == spec.weights()
    assert spec.minutes_on(date(2025, 3, 5)) == 0 and spec.minutes_on(date(2025, 3, 6)) == 30
    assert spec.minutes_on(date(2025, 3, 8)) == 0  # a Saturday
    with pytest.raises(ValidationError) as caught:
        ExamSpec.model_validate({"topics": [{"topic": "a"}], "minutes_per_weekday": [1] * 7})
    assert InvalidExamError.from_validation(caught.value).field == "date"


def test_a_stored_plan_comes_back_equal_and_can_be_replanned():
    spec = exam([("a", 1), ("b", 1)], days=5)
    predictions = cells({"a": (0.8, 0.7, 0.5), "b": (0.8, 0.7, 0.5)})
    done = [CompletedWork(date=TODAY, topic="a", difficulty="medium", count=2, seconds=250.0)]
    plan = plan_exam(spec, predictions, today=TODAY, completed=done)
    record = json.loads(json.dumps(plan.model_dump(mode="json")))
    assert Plan.model_validate(record) == plan
    again = replan(Plan.model_validate(record), spec, predictions, today=TODAY + timedelta(days=1), completed=done)
    assert again.created_on == TODAY and again.days[0].items[0].done == 2
    older = {**record, "solver": "milp", "status": "Optimization terminated successfully. (gap 0.010)"}
    assert Plan.model_validate(older) == plan  # records stored before the MILP was removed still load


def test_without_learning_the_minutes_go_to_the_topics_in_proportion_to_their_weights():
    """A model without learning gives every problem the same (zero) gain: the plan then spreads its minutes by
    the exam's weights (before: the ties all went to the hardest cell of whichever topic had it)."""
    spec = exam([("a", 3.0), ("b", 1.0), ("c", 2.0)], days=21)
    parts = [cells({t: profile}, seconds=seconds, learns=False)
             for t, profile, seconds in (("a", (0.8, 0.6, 0.4), 60.0), ("b", (0.7, 0.5, 0.2), 240.0),
                                         ("c", (0.9, 0.7, 0.5), 120.0))]
    predictions = parts[0].model_copy(update={"cells": tuple(c for p in parts for c in p.cells)})
    plan = plan_exam(spec, predictions, today=TODAY)
    seconds = {t: sum(i.expected_seconds for d in plan.days for i in d.items if i.topic == t) for t in "abc"}
    total = sum(seconds.values())
    assert total > 60 * 120
    for topic, weight in (("a", 0.5), ("b", 1 / 6), ("c", 1 / 3)):
        assert seconds[topic] / total == pytest.approx(weight, abs=0.05), seconds
