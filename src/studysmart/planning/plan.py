"""What a plan is: days of (topic, difficulty, count) items, their API shape and storage record, and the
task specs one day turns into.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

__all__ = ["Plan", "PlanDay", "PlanItem", "TaskSpec", "displayed_minutes", "materialise"]


@dataclass(frozen=True)
class PlanItem:
    """``count`` items of one cell on one day; ``done`` of them are completed. ``expected_seconds`` is the
    expected total time of the ``count`` items (actual seconds for completed work when known)."""

    topic: str
    difficulty: str
    count: int
    expected_seconds: float
    p_correct: float | None
    done: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The API shape: {topic, difficulty, count, expected_seconds, p_correct}."""
        return {
            "topic": self.topic,
            "difficulty": self.difficulty,
            "count": self.count,
            "expected_seconds": round(self.expected_seconds, 1),
            "p_correct": None if self.p_correct is None else round(self.p_correct, 3),
        }


@dataclass(frozen=True)
class PlanDay:
    """One calendar day: the minutes available, the minutes planned (safe duration) and the items."""

    date: date
    minutes_available: float
    minutes_planned: float
    items: tuple[PlanItem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The API shape: {date, minutes_available, minutes_planned, items: [...]}."""
        return {
            "date": self.date.isoformat(),
            "minutes_available": round(self.minutes_available, 1),
            "minutes_planned": self.minutes_planned,
            "items": [item.to_dict() for item in self.items],
        }


@dataclass(frozen=True)
class Plan:
    """A plan from ``created_on`` up to the day before ``exam_date``.

    Attributes:
        days: every calendar day of the plan (days off and zero-minute days have no items).
        expected_gain: the planned work's expected exam-score gain (the objective, without spacing costs).
        missed: planned items of past days that were not done (on a replan).
    """

    created_on: date
    exam_date: date
    days: tuple[PlanDay, ...]
    expected_gain: float = 0.0
    missed: tuple[PlanItem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The API shape: {days: [...]}."""
        return {"days": [day.to_dict() for day in self.days]}

    def day(self, on: date) -> PlanDay | None:
        """The plan of one date (None outside the plan)."""
        return next((d for d in self.days if d.date == on), None)

    def remaining_practice(self, since: date) -> dict[tuple[str, str], int]:
        """(topic, difficulty) -> items planned but not done on days from ``since`` (for the forecast)."""
        out: dict[tuple[str, str], int] = defaultdict(int)
        for day in self.days:
            if day.date >= since:
                for item in day.items:
                    if item.count > item.done:
                        out[(item.topic, item.difficulty)] += item.count - item.done
        return dict(out)

    def to_record(self) -> dict[str, Any]:
        """Everything needed to rebuild the plan, unrounded and JSON-able (for storage and replanning;
        ``to_dict`` is the API shape)."""
        return {
            "created_on": self.created_on.isoformat(),
            "exam_date": self.exam_date.isoformat(),
            "expected_gain": self.expected_gain,
            "days": [
                {
                    "date": day.date.isoformat(),
                    "minutes_available": day.minutes_available,
                    "minutes_planned": day.minutes_planned,
                    "items": [asdict(item) for item in day.items],
                }
                for day in self.days
            ],
            "missed": [asdict(item) for item in self.missed],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Plan:
        """Rebuild a plan written by ``to_record``."""
        return cls(
            created_on=date.fromisoformat(record["created_on"]),
            exam_date=date.fromisoformat(record["exam_date"]),
            days=tuple(
                PlanDay(
                    date=date.fromisoformat(day["date"]),
                    minutes_available=float(day["minutes_available"]),
                    minutes_planned=float(day["minutes_planned"]),
                    items=tuple(PlanItem(**item) for item in day["items"]),
                )
                for day in record["days"]
            ),
            expected_gain=float(record.get("expected_gain", 0.0)),
            missed=tuple(PlanItem(**item) for item in record.get("missed", ())),
        )


def displayed_minutes(seconds: float) -> float:
    """Seconds as minutes rounded *up* to 0.1 (what the plan shows and what is checked against the budget)."""
    return math.ceil(seconds / 6.0 - 1e-9) / 10.0


@dataclass(frozen=True)
class TaskSpec:
    """A task the service creates from a planned item: title, cell, planned date and expected seconds."""

    title: str
    topic: str
    difficulty: str
    planned_for: date
    expected_seconds: float
    p_correct: float | None


def materialise(day: PlanDay, *, exam_name: str = "exam") -> list[TaskSpec]:
    """Turn one day's planned (not yet done) items into task specs, interleaved across topics.

    Args:
        day: a day of a plan.
        exam_name: used in the titles.

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
                    title=f"{exam_name}: {item.topic} ({item.difficulty}) {position[id(item)]}/{total}",
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
