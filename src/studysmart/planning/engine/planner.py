"""The day-by-day exam plan: which (topic, difficulty, count) to practise each day, and replanning.

``plan_exam`` builds the allocation problem of ``optimise`` from an exam and the student's predictions (today's
and the exam day's P(correct), problem times, and the served model's learning: ``spec.TopicLearning``),
allocates and schedules it greedily, re-checks every day exactly after rounding, and returns a ``Plan``.
Passing the previous plan and the completed work replans: work done stays on its day (the model's predictions
already include it, as the student's history), today keeps what is done and what is on the task list
(``today_committed``), and only the remaining minutes are planned.

A day's load is never above its minutes nor above the exam's ``max_tasks_per_day`` problems: planned minutes
are the safe duration (mean + z * sd of the day's total time, z = the upper end of the 80% time interval),
rounded up to 0.1 minute and checked after rounding. Today's list is ``materialise(plan.day(today))``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from studysmart.ml.base import Z80
from studysmart.planning.engine.optimise import Cell, Problem, allocate, safe_seconds, schedule
from studysmart.planning.engine.plan import Plan, PlanDay, PlanItem, displayed_minutes
from studysmart.planning.engine.readiness import topic_readiness
from studysmart.planning.engine.spec import CellPrediction, CompletedWork, ExamSpec, StudentPredictions

# (topic, difficulty) -> (count, seconds) of work done, and (topic, difficulty) -> its prediction
_ByCell = Mapping[tuple[str, str], tuple[int, float]]
_CellOf = Mapping[tuple[str, str], CellPrediction]

__all__ = ["PlanOptions", "plan_exam", "replan"]


class PlanOptions(BaseModel):
    """How plans are made (the exam spec has the productive band and the tasks per day).

    Args:
        safety_z: z of the safety margin on a day's total time (default: upper end of the 80% interval).
        review_days: the last this many study days review every topic.
        retention_floor: a topic comes back before less than this share of its practice gain is left (the
            model's forgetting).
        max_interval_days: the longest spacing interval, whatever the forgetting.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    safety_z: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Z80
    review_days: Annotated[int, Field(ge=1)] = 3
    retention_floor: Annotated[float, Field(gt=0, le=1)] = 0.6
    max_interval_days: Annotated[int, Field(ge=1)] = 10


def _done_by_day(
    completed: Sequence[CompletedWork], predictions: StudentPredictions, start: date, end: date
) -> dict[date, dict[tuple[str, str], tuple[int, float]]]:
    """date -> (topic, difficulty) -> (count, seconds) of completed work in [start, end)."""
    means = {(c.topic, c.difficulty): c.mean_seconds for c in predictions.cells}
    out: dict[date, dict[tuple[str, str], tuple[int, float]]] = defaultdict(dict)
    for work in completed:
        if not start <= work.date < end or work.count == 0:
            continue
        key = (work.topic, work.difficulty)
        seconds = work.seconds if work.seconds is not None else work.count * means.get(key, 0.0)
        count, spent = out[work.date].get(key, (0, 0.0))
        out[work.date][key] = (count + work.count, spent + seconds)
    return out


def _build_problem(
    exam: ExamSpec,
    predictions: StudentPredictions,
    budgets: list[float],
    slots: list[int],
    committed: _ByCell,
    options: PlanOptions,
) -> Problem:
    topics = topic_readiness(exam, predictions)
    cells = [
        Cell(t, tr.topic, c.difficulty, c.p_correct, c.mean_seconds, c.var_seconds)
        for t, tr in enumerate(topics)
        for c in predictions.by_topic(tr.topic).values()
    ]
    on_list: list[dict[str, float]] = [{} for _ in topics]
    index = {tr.topic: t for t, tr in enumerate(topics)}
    for (topic, difficulty), (count, _) in committed.items():
        if topic in index:
            on_list[index[topic]][difficulty] = on_list[index[topic]].get(difficulty, 0.0) + count
    gaps = [tr.learning.max_gap(options.retention_floor, options.max_interval_days) for tr in topics]
    return Problem(topics, cells, budgets, [max(n, 0) for n in slots], options.safety_z, gaps, options.review_days,
                   on_list, exam.productive_band)


def plan_exam(
    exam: ExamSpec,
    predictions: StudentPredictions,
    *,
    today: date,
    options: PlanOptions | None = None,
    completed: Sequence[CompletedWork] = (),
    previous: Plan | None = None,
    today_committed: Sequence[CompletedWork] = (),
    today_closed: bool = False,
) -> Plan:
    """Plan (or replan) the days from ``today`` to the day before the exam.

    Args:
        exam: the exam.
        predictions: the student's current predictions per (topic, difficulty) cell, with their learning.
        today: the first day to plan.
        options: planning options.
        completed: work done so far; today's work stays on today and uses up its minutes and task slots.
        previous: the plan being replanned; its past days come back with what was done on them, and its
            planned-but-undone past work is reported as ``missed``.
        today_committed: work on the student's task list for today and not done yet: it stays on today (shown
            as planned), counts as practice and takes today's minutes before any new work.
        today_closed: today's tasks are on the list: today gets no new work beyond ``today_committed``, so the
            plan and the task list agree.

    Returns:
        The plan. Each day's planned minutes fit its minutes and its problems ``max_tasks_per_day``.

    Raises:
        InvalidExamError: when the exam is in the past.
        MissingPredictionError: when an exam topic has no predictions.
    """
    options = options or PlanOptions()
    exam.check_date(today)
    start = min(previous.created_on, today) if previous is not None else today
    done = _done_by_day(completed, predictions, start, exam.date)
    cell_of = {(c.topic, c.difficulty): c for c in predictions.cells}
    committed = _done_by_day(today_committed, predictions, today, exam.date).get(today, {})
    committed_seconds = sum(seconds for _, seconds in committed.values())
    days = exam.study_days(today)
    budgets = []
    slots = []
    for day in days:
        spent = sum(seconds for _, seconds in done.get(day, {}).values())
        used = sum(count for count, _ in done.get(day, {}).values())
        if day == today:
            spent += committed_seconds
            used += sum(count for count, _ in committed.values())
        free = exam.minutes_on(day) - spent / 60.0
        closed = (day == today and today_closed) or used >= exam.max_tasks_per_day
        budgets.append(0.0 if closed else max(0.0, math.floor(free * 10 + 1e-9) / 10.0) * 60.0)
        slots.append(exam.max_tasks_per_day - used)
    problem = _build_problem(exam, predictions, budgets, slots, committed, options)
    counts = schedule(problem, allocate(problem)) if days else []
    _enforce_limits(exam, days, counts, problem, done, {today: committed_seconds}, slots)
    _, planned_p = problem.replay(counts)
    out_days = [_past_day(exam, d, done.get(d, {}), cell_of) for d in exam.study_days(start) if d < today]
    for j, day in enumerate(days):
        out_days.append(_future_day(exam, day, counts[j], planned_p[j], problem, done.get(day, {}), cell_of,
                                    committed if day == today else {}))
    return Plan(
        created_on=start,
        exam_date=exam.date,
        days=tuple(out_days),
        expected_gain=problem.objective(counts) if days else 0.0,
        missed=_missed(previous, done, today) if previous is not None else (),
    )


def replan(
    previous: Plan,
    exam: ExamSpec,
    predictions: StudentPredictions,
    *,
    today: date,
    completed: Sequence[CompletedWork],
    options: PlanOptions | None = None,
) -> Plan:
    """Replan after completions or missed days: ``plan_exam`` with the previous plan (see there)."""
    return plan_exam(exam, predictions, today=today, options=options, completed=completed, previous=previous)


def _enforce_limits(
    exam: ExamSpec,
    days: list[date],
    counts: list[dict[int, int]],
    problem: Problem,
    done: Mapping[date, _ByCell],
    committed_seconds: Mapping[date, float],
    slots: list[int],
) -> None:
    """The hard check after rounding: drop planned problems (least value per second first) while a day's shown
    minutes (work done and committed + safe duration of the new work, rounded up) exceed its minutes, or its
    problems exceed the task slots left.

    Not redundant with the solver's budget (the day's free minutes rounded down to 0.1): when a day's minutes are
    not a multiple of 0.1 and work was already done on it, a load that fits that budget can still round up past
    the minutes (tests/planning/engine/test_limits.py has such a day)."""
    for j, day in enumerate(days):
        spent = sum(seconds for _, seconds in done.get(day, {}).values()) + committed_seconds.get(day, 0.0)
        planned = counts[j]

        def over(planned: dict[int, int] = planned, spent: float = spent, j: int = j, day: date = day) -> bool:
            minutes = displayed_minutes(spent + safe_seconds(*problem.load(planned), problem.z))
            return minutes > exam.minutes_on(day) or sum(planned.values()) > max(slots[j], 0)

        while planned and over():
            worst = min(planned, key=problem.density)
            planned[worst] -= 1
            if planned[worst] == 0:
                del planned[worst]


def _done_items(by_cell: _ByCell, cell_of: _CellOf) -> list[PlanItem]:
    return [
        PlanItem(topic=topic, difficulty=difficulty, count=count, expected_seconds=seconds,
                 p_correct=cell_of[(topic, difficulty)].p_correct if (topic, difficulty) in cell_of else None,
                 done=count)
        for (topic, difficulty), (count, seconds) in sorted(by_cell.items())
    ]


def _past_day(exam: ExamSpec, day: date, by_cell: _ByCell, cell_of: _CellOf) -> PlanDay:
    spent = sum(seconds for _, seconds in by_cell.values())
    return PlanDay(date=day, minutes_available=exam.minutes_on(day), minutes_planned=displayed_minutes(spent),
                   items=tuple(_done_items(by_cell, cell_of)))


def _future_day(
    exam: ExamSpec, day: date, planned: dict[int, int], planned_p: dict[int, float], problem: Problem,
    by_cell: _ByCell, cell_of: _CellOf, committed: _ByCell,
) -> PlanDay:
    """One day to come: its new problems (at their predicted P(correct) after the practice planned before them),
    with the work done and on today's list."""
    done_items = {(i.topic, i.difficulty): i for i in _done_items(by_cell, cell_of)}
    for key, (count, seconds) in committed.items():  # on the task list, not done yet: planned items
        prior = done_items.get(key)
        done_items[key] = PlanItem(topic=key[0], difficulty=key[1], count=count + (prior.count if prior else 0),
                                   expected_seconds=seconds + (prior.expected_seconds if prior else 0.0),
                                   p_correct=cell_of[key].p_correct if key in cell_of else None,
                                   done=prior.done if prior else 0)
    spent = sum(seconds for _, seconds in by_cell.values()) + sum(seconds for _, seconds in committed.values())
    mean, var = problem.load(planned)
    minutes = displayed_minutes(spent + safe_seconds(mean, var, problem.z))
    items = []
    for c, n in sorted(planned.items(), key=lambda kv: (problem.cells[kv[0]].topic, kv[0])):
        cell = problem.cells[c]
        prior = done_items.pop((cell.topic, cell.difficulty), None)
        count = n + (prior.count if prior else 0)
        seconds = n * cell.mean_seconds + (prior.expected_seconds if prior else 0.0)
        items.append(PlanItem(topic=cell.topic, difficulty=cell.difficulty, count=count, expected_seconds=seconds,
                              p_correct=planned_p.get(c, cell.p_correct), done=prior.done if prior else 0))
    items.extend(done_items.values())
    return PlanDay(date=day, minutes_available=exam.minutes_on(day), minutes_planned=minutes, items=tuple(items))


def _missed(previous: Plan, done: Mapping[date, _ByCell], today: date) -> tuple[PlanItem, ...]:
    """The previous plan's missed items plus its items on days before ``today`` that were not done."""
    out = list(previous.missed)
    for day in previous.days:
        if day.date >= today:
            continue
        for item in day.items:
            did = done.get(day.date, {}).get((item.topic, item.difficulty), (0, 0.0))[0]
            if item.count > did:
                share = item.expected_seconds / item.count if item.count else 0.0
                out.append(PlanItem(topic=item.topic, difficulty=item.difficulty, count=item.count - did,
                                    expected_seconds=share * (item.count - did), p_correct=item.p_correct))
    return tuple(out)
