"""The day-by-day exam plan: which (topic, difficulty, count) to practise each day, and replanning.

``plan_exam`` builds the allocation problem of ``optimise`` from an exam, the student's predictions and
learning gains, solves it with the greedy solver (then respaced), re-checks every day exactly after rounding,
and returns a ``Plan``. Passing the previous plan
and the completed work replans: work done stays on its day, missed work leaves its topics less practised (so
re-optimisation gives them more of the remaining days), today keeps what is done and only its remaining
minutes are planned.

A day's load is never above its minutes: planned minutes are the safe duration (mean + z * sd of the day's
total time, z = the upper end of the 80% time interval), rounded up to 0.1 minute and checked after rounding.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from studysmart.ml.base import Z80
from studysmart.planning.engine.optimise import Cell, Problem, TopicValues, respace, safe_seconds, solve_greedy
from studysmart.planning.engine.plan import Plan, PlanDay, PlanItem, displayed_minutes
from studysmart.planning.engine.readiness import GainEstimate, GainModel, topic_readiness
from studysmart.planning.engine.spec import CellPrediction, CompletedWork, ExamSpec, StudentPredictions

# (topic, difficulty) -> (count, seconds) of work done, and (topic, difficulty) -> its prediction
_ByCell = Mapping[tuple[str, str], tuple[int, float]]
_CellOf = Mapping[tuple[str, str], CellPrediction]

__all__ = ["PlanOptions", "plan_exam", "replan"]


class PlanOptions(BaseModel):
    """How plans are made.

    Args:
        gain_model: desirable difficulty (target P(correct), width), saturation and the prior gain.
        max_p_gap: cells with |p - target| above this are not planned (each topic keeps its closest cell).
        safety_z: z of the safety margin on a day's total time (default: upper end of the 80% interval).
        max_topic_share: the largest share of a day's minutes one topic may take (exams with 2+ topics).
        spacing_penalty: cost of studying a topic on two consecutive days, in units of a typical topic's first
            item's value (0 disables spacing).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gain_model: GainModel = Field(default_factory=GainModel)
    max_p_gap: Annotated[float, Field(ge=0, le=1)] = 0.3
    safety_z: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Z80
    max_topic_share: Annotated[float, Field(gt=0, le=1)] = 0.65
    spacing_penalty: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0


def _gain_values(
    topics: Sequence[str], gains: Mapping[str, float | GainEstimate] | None, model: GainModel
) -> list[float]:
    out = []
    for t in topics:
        g = (gains or {}).get(t)
        out.append(model.prior_mean if g is None else g.gain if isinstance(g, GainEstimate) else float(g))
    return out


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
    days: list[date],
    budgets: list[float],
    gains: Mapping[str, float | GainEstimate] | None,
    already: Mapping[str, float],
    options: PlanOptions,
) -> Problem:
    model = options.gain_model
    topics = topic_readiness(exam, predictions)
    names = [tr.topic for tr in topics]
    values = TopicValues(topics, _gain_values(names, gains, model), [already.get(t, 0.0) for t in names], model)
    cells: list[Cell] = []
    for t, name in enumerate(names):
        available = list(predictions.by_topic(name).values())
        gaps = [abs(c.p_correct - model.target_p) for c in available]
        keep = [c for c, gap in zip(available, gaps, strict=False) if gap <= options.max_p_gap] or [
            available[gaps.index(min(gaps))]
        ]
        for c in keep:
            eff = float(model.efficiency(c.p_correct))
            cells.append(Cell(t, name, c.difficulty, c.p_correct, c.mean_seconds, c.var_seconds, eff))
    caps = []
    for budget in budgets:
        row = []
        for t in range(len(names)):
            cheapest = min(c.mean_seconds for c in cells if c.topic_index == t)
            share = options.max_topic_share if len(names) > 1 else 1.0
            row.append(max(share * budget, cheapest) if budget > 0 else 0.0)
        caps.append(row)
    first_items = [values.value(t, max(c.efficiency for c in cells if c.topic_index == t)) for t in range(len(names))]
    penalty = options.spacing_penalty * sorted(first_items)[len(first_items) // 2]
    return Problem(cells, values, budgets, caps, options.safety_z, penalty)


def plan_exam(
    exam: ExamSpec,
    predictions: StudentPredictions,
    *,
    today: date,
    gains: Mapping[str, float | GainEstimate] | None = None,
    options: PlanOptions | None = None,
    completed: Sequence[CompletedWork] = (),
    previous: Plan | None = None,
    today_committed: Sequence[CompletedWork] = (),
    today_closed: bool = False,
) -> Plan:
    """Plan (or replan) the days from ``today`` to the day before the exam.

    Args:
        exam: the exam.
        predictions: the student's current predictions per (topic, difficulty) cell.
        today: the first day to plan.
        gains: topic -> learning gain per effective item (float or GainEstimate); missing -> the prior.
        options: planning options.
        completed: work done so far; work done since the plan began counts as practice already done
            (diminishing returns), today's work stays on today and uses up its minutes.
        previous: the plan being replanned; its past days come back with what was done on them, and its
            planned-but-undone past work is reported as ``missed``.
        today_committed: work on the student's task list for today and not done yet: it stays on today (shown
            as planned), counts as practice and takes today's minutes before any new work.
        today_closed: today's tasks are on the list: today gets no new work beyond ``today_committed``, so the
            plan and the task list agree.

    Returns:
        The plan. Each day's planned minutes (new work) fit its minutes.

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
    already: dict[str, float] = defaultdict(float)  # practice done or on today's list, per topic
    for by_cell in [*done.values(), committed]:
        for (topic, difficulty), (count, _) in by_cell.items():
            if (topic, difficulty) in cell_of:
                already[topic] += count * float(options.gain_model.efficiency(cell_of[(topic, difficulty)].p_correct))
    days = exam.study_days(today)
    budgets = []
    for day in days:
        spent = sum(seconds for _, seconds in done.get(day, {}).values())
        if day == today:
            spent += committed_seconds
        free = exam.minutes_on(day) - spent / 60.0
        closed = day == today and today_closed
        budgets.append(0.0 if closed else max(0.0, math.floor(free * 10 + 1e-9) / 10.0) * 60.0)
    problem = _build_problem(exam, predictions, days, budgets, gains, already, options)
    counts = solve_greedy(problem) if days else []
    if problem.penalty > 0:  # spacing_penalty 0 disables spacing, the respacing pass too
        counts = respace(problem, counts)
    _enforce_minutes(exam, days, counts, problem, done, {today: committed_seconds})
    out_days = [_past_day(exam, d, done.get(d, {}), cell_of) for d in exam.study_days(start) if d < today]
    for j, day in enumerate(days):
        out_days.append(_future_day(exam, day, counts[j], problem, done.get(day, {}), cell_of,
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
    gains: Mapping[str, float | GainEstimate] | None = None,
    options: PlanOptions | None = None,
) -> Plan:
    """Replan after completions or missed days: ``plan_exam`` with the previous plan (see there)."""
    return plan_exam(
        exam, predictions, today=today, gains=gains, options=options, completed=completed, previous=previous
    )


def _enforce_minutes(
    exam: ExamSpec,
    days: list[date],
    counts: list[dict[int, int]],
    problem: Problem,
    done: Mapping[date, _ByCell],
    committed_seconds: Mapping[date, float],
) -> None:
    """The hard check after rounding: drop planned items (least value per second first) while a day's shown
    minutes (work done and committed + safe duration of the new work, rounded up) exceed its minutes.

    Not redundant with the solver's budget (the day's free minutes rounded down to 0.1): when a day's minutes are
    not a multiple of 0.1 and work was already done on it, a load that fits that budget can still round up past
    the minutes (tests/planning/engine/test_limits.py has such a day)."""
    for j, day in enumerate(days):
        spent = sum(seconds for _, seconds in done.get(day, {}).values()) + committed_seconds.get(day, 0.0)
        planned = counts[j]
        while planned and displayed_minutes(spent + safe_seconds(*problem.load(planned), problem.z)) > exam.minutes_on(
            day
        ):
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
    exam: ExamSpec, day: date, planned: dict[int, int], problem: Problem, by_cell: _ByCell, cell_of: _CellOf,
    committed: _ByCell,
) -> PlanDay:
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
                              p_correct=cell.p_correct, done=prior.done if prior else 0))
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
