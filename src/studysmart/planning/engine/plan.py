"""What a plan is: days of (topic, difficulty, count) items, and the task specs one day turns into.

One shape: ``Plan`` is stored as ``plan.model_dump(mode="json")`` and read back with ``Plan.model_validate``
(keys of older records, such as the removed solver's name, are ignored); the API's view of it is
``planning.schemas.PlanRead``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

from pydantic import BaseModel, ConfigDict

__all__ = ["Plan", "PlanDay", "PlanItem", "TaskSpec", "displayed_minutes", "materialise", "task_title"]


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True)  # extra keys (of older stored records) are ignored


class PlanItem(_Output):
    """``count`` items of one cell on one day; ``done`` of them are completed. ``expected_seconds`` is the
    expected total time of the ``count`` items (actual seconds for completed work when known)."""

    topic: str
    difficulty: str
    count: int
    expected_seconds: float
    p_correct: float | None
    done: int = 0


class PlanDay(_Output):
    """One calendar day: the minutes available, the minutes planned (safe duration) and the items."""

    date: dt.date
    minutes_available: float
    minutes_planned: float
    items: tuple[PlanItem, ...] = ()


class Plan(_Output):
    """A plan from ``created_on`` up to the day before ``exam_date``.

    Attributes:
        days: every calendar day of the plan (days off and zero-minute days have no items).
        expected_gain: the planned work's expected exam-score gain (the objective, without spacing costs).
        missed: planned items of past days that were not done (on a replan).
    """

    created_on: dt.date
    exam_date: dt.date
    days: tuple[PlanDay, ...]
    expected_gain: float = 0.0
    missed: tuple[PlanItem, ...] = ()

    def day(self, on: dt.date) -> PlanDay | None:
        """The plan of one date (None outside the plan)."""
        return next((d for d in self.days if d.date == on), None)

    def remaining_practice(self, since: dt.date) -> dict[tuple[str, str], int]:
        """(topic, difficulty) -> items planned but not done on days from ``since`` (for the forecast)."""
        out: dict[tuple[str, str], int] = defaultdict(int)
        for day in self.days:
            if day.date >= since:
                for item in day.items:
                    if item.count > item.done:
                        out[(item.topic, item.difficulty)] += item.count - item.done
        return dict(out)


def displayed_minutes(seconds: float) -> float:
    """Seconds as minutes rounded *up* to 0.1 (what the plan shows and what is checked against the budget)."""
    return math.ceil(seconds / 6.0 - 1e-9) / 10.0


class TaskSpec(_Output):
    """A task the service creates from a planned item: title, cell, planned date and expected seconds."""

    title: str
    topic: str
    difficulty: str
    planned_for: dt.date
    expected_seconds: float
    p_correct: float | None


def task_title(topic: str, difficulty: str, position: int, total: int) -> str:
    """A task's title by what to do: ``"Probability: 3 medium problems (1 of 3)"``, or ``"Probability: 1 medium
    problem"`` for a single one."""
    if total <= 1:
        return f"{topic}: 1 {difficulty} problem"
    return f"{topic}: {total} {difficulty} problems ({position} of {total})"


def materialise(day: PlanDay) -> list[TaskSpec]:
    """Turn one day's planned (not yet done) items into task specs, interleaved across topics.

    Args:
        day: a day of a plan.

    Returns:
        One TaskSpec per item still to do, ordered round-robin over the day's items (A, B, C, A, B, ...).
    """
    queues = [(item, item.count - item.done) for item in day.items if item.count > item.done]
    specs: list[TaskSpec] = []
    position = {id(item): 0 for item, _ in queues}
    while any(left > 0 for _, left in queues):
        next_round = []
        for item, left in queues:
            if left <= 0:
                continue
            position[id(item)] += 1
            total = item.count - item.done
            specs.append(
                TaskSpec(
                    title=task_title(item.topic, item.difficulty, position[id(item)], total),
                    topic=item.topic,
                    difficulty=item.difficulty,
                    planned_for=day.date,
                    expected_seconds=item.expected_seconds / item.count if item.count else 0.0,
                    p_correct=item.p_correct,
                )
            )
            next_round.append((item, left - 1))
        queues = next_round
    return specs
