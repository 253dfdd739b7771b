"""Request and response bodies of the exams API (unknown fields are refused; minutes are 7 numbers).

The constrained numbers (minutes, fractions, weights) are the planner's own types (``engine.spec``), so a body
that passes here is an exam the planner accepts. The read models are views of the engine's ``Plan`` and
``Readiness`` (``model_validate`` on them), rounded for the API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from studysmart.core.text import VisibleName
from studysmart.planning.engine.spec import Fraction, InvalidExamError, Minutes, Weight
from studysmart.planning.models import DEFAULT_BAND, DEFAULT_MAX_TASKS, Exam
from studysmart.tasks.models import Difficulty

ExamName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), VisibleName]
TopicName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), VisibleName]
WeekMinutes = Annotated[list[Minutes], Field(min_length=7, max_length=7, description="Monday first")]
TimeZone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _rounded(digits: int) -> AfterValidator:
    return AfterValidator(lambda value: round(value, digits))


def _ordered(band: tuple[float, float]) -> tuple[float, float]:
    if band[0] >= band[1]:
        raise ValueError(f"the low end ({band[0]:g}) must be below the high end ({band[1]:g})")
    return band


OpenFraction = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
ProductiveBand = Annotated[tuple[OpenFraction, OpenFraction], AfterValidator(_ordered),
                           Field(description="P(correct) range of planned tasks (low, high), 0 < low < high < 1")]
TasksPerDay = Annotated[int, Field(ge=1, le=50, description="at most this many planned tasks on one day")]


class ExamTopicIn(BaseModel):
    """One topic of the exam and its weight (its share of the exam, normalised over the topics)."""

    model_config = ConfigDict(extra="forbid")

    topic: TopicName
    weight: Annotated[Weight, Field(le=1000)] = 1.0


class ExamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ExamName
    date: dt.date
    topics: Annotated[list[ExamTopicIn], Field(min_length=1, max_length=50)]
    target_score: Fraction | None = None
    minutes_per_weekday: WeekMinutes
    days_off: Annotated[list[dt.date], Field(max_length=1000)] = []
    timezone: TimeZone = "UTC"
    productive_band: ProductiveBand = DEFAULT_BAND
    max_tasks_per_day: TasksPerDay = DEFAULT_MAX_TASKS


class ExamUpdate(BaseModel):
    """Fields to change (the fields set, ``model_fields_set``, are the changes: only ``target_score`` can be
    cleared with an explicit null); the plan is recomputed, keeping the work done."""

    model_config = ConfigDict(extra="forbid")

    name: ExamName | None = None
    date: dt.date | None = None
    topics: Annotated[list[ExamTopicIn], Field(min_length=1, max_length=50)] | None = None
    target_score: Fraction | None = None
    minutes_per_weekday: WeekMinutes | None = None
    days_off: Annotated[list[dt.date], Field(max_length=1000)] | None = None
    timezone: TimeZone | None = None
    productive_band: ProductiveBand | None = None
    max_tasks_per_day: TasksPerDay | None = None

    @field_validator("name", "date", "topics", "minutes_per_weekday", "days_off", "timezone", "productive_band",
                     "max_tasks_per_day")
    @classmethod
    def _not_null(cls, value: object) -> object:
        """Only ``target_score`` can be cleared; an explicit null elsewhere (a 500 before) is refused."""
        if value is None:
            raise ValueError("must not be null (leave the field out to keep it)")
        return value


def exam_update(changes: Mapping[str, Any]) -> ExamUpdate:
    """``changes`` as an ExamUpdate, for callers without the API's 422 handling (the preparation page).

    Raises:
        InvalidExamError: naming the first invalid field (``topics[0].weight``, ``minutes_per_weekday`` ...).
    """
    try:
        return ExamUpdate.model_validate(changes)
    except ValidationError as error:
        raise InvalidExamError.from_validation(error) from None


class ExamTopicRead(BaseModel):
    topic: str
    weight: float


class DayMove(BaseModel):
    """Move a day of the plan: its minutes go to ``to`` (a later or earlier day before the exam)."""

    model_config = ConfigDict(extra="forbid")

    to: dt.date


class DayChangeRead(BaseModel):
    """A day the student changed: skipped (``moved_to`` is None) or moved to another day."""

    date: dt.date
    moved_to: dt.date | None


class ExamRead(BaseModel):
    id: int
    name: str
    date: dt.date
    topics: list[ExamTopicRead]
    target_score: float | None
    minutes_per_weekday: list[float]
    days_off: list[dt.date]
    timezone: str
    productive_band: tuple[float, float]
    max_tasks_per_day: int
    day_changes: list[DayChangeRead]
    created_at: dt.datetime
    updated_at: dt.datetime


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ReadinessRead(_View):
    """Expected exam score now (a fraction) with its 10%-90% range, and the forecast on exam day with the plan."""

    expected_score: Annotated[float, _rounded(4)]
    low: Annotated[float, _rounded(4)]
    high: Annotated[float, _rounded(4)]
    forecast_on_exam_day: Annotated[float, _rounded(4)]


class PlanItemRead(_View):
    topic: str
    difficulty: Difficulty
    count: int
    expected_seconds: Annotated[float, _rounded(1)]
    p_correct: Annotated[float, _rounded(3)] | None


class PlanDayRead(_View):
    date: dt.date
    minutes_available: Annotated[float, _rounded(1)]
    minutes_planned: float
    items: list[PlanItemRead]


class PlanRead(_View):
    days: list[PlanDayRead]


def exam_read(exam: Exam) -> ExamRead:
    """The API view of a stored exam."""
    return ExamRead(
        id=exam.id, name=exam.name, date=exam.exam_date,
        topics=[ExamTopicRead(topic=et.topic.name, weight=et.weight) for et in exam.topics],
        target_score=exam.target_score, minutes_per_weekday=list(exam.minutes_per_weekday),
        days_off=exam.days_off_dates(), timezone=exam.timezone,
        productive_band=(exam.band_low, exam.band_high), max_tasks_per_day=exam.max_tasks_per_day,
        day_changes=[DayChangeRead(date=dt.date.fromisoformat(day), moved_to=None if to is None else
                                   dt.date.fromisoformat(to)) for day, to in sorted((exam.day_changes or {}).items())],
        created_at=exam.created_at,
        updated_at=exam.updated_at,
    )
