"""Request and response bodies of the tasks and topics API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from studysmart.core.text import VisibleName
from studysmart.learning.prediction import ShownPrediction
from studysmart.tasks.models import Difficulty, TaskStatus

#: The largest row id: the id columns are 32-bit INTEGER, and PostgreSQL refuses a larger value in a query (a 500
#: where a 404 or 422 is due), so every id in a path or query is bounded by it.
MAX_ROW_ID = 2**31 - 1

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), VisibleName]
TopicName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), VisibleName]
Notes = Annotated[str, StringConstraints(max_length=10_000)]
#: A completion time: at least 1 s (the UI timer never records less) and at most a day.
Seconds = Annotated[float, Field(ge=1, le=86_400, allow_inf_nan=False)]


class PredictionRead(ShownPrediction):
    """What the serving model expects for this student and task (with the sentence that explains it, for a
    preview)."""

    explanation: str | None = None


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    topic: TopicName
    difficulty: Difficulty
    notes: Notes | None = None
    due_date: date | None = None


class TaskUpdate(BaseModel):
    """Fields a student may edit; changing topic or difficulty re-predicts a task that is not done; ``correct``
    and ``seconds`` correct a done task's outcome and time taken."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    topic: TopicName | None = None
    difficulty: Difficulty | None = None
    notes: Notes | None = None
    due_date: date | None = None
    correct: bool | None = None
    seconds: Seconds | None = None

    @field_validator("title", "topic", "difficulty", "correct", "seconds", mode="before")
    @classmethod
    def _not_cleared(cls, value: object, info: ValidationInfo) -> object:
        """A task always has a title, a topic and a difficulty (and a done one its outcome and time): leave the
        field out to keep it; null is refused (notes and due_date may be cleared with null)."""
        if value is None:
            raise ValueError(f"{info.field_name} cannot be cleared; leave it out to keep it")
        return value


class CompleteTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    correct: bool
    seconds: Seconds | None = None


class TopicCreate(BaseModel):
    name: TopicName


class TopicRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    topic: str
    difficulty: Difficulty
    notes: str | None
    status: TaskStatus
    due_date: date | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    correct: bool | None
    seconds_taken: float | None
    #: An open task's current prediction (from the student's answers so far); a done task's the one it was shown
    #: at creation and scored on.
    prediction: PredictionRead | None
    #: The prediction shown when the task was created (or last re-predicted by an edit); stored for scoring.
    created_prediction: PredictionRead | None = None


class TaskPage(BaseModel):
    items: list[TaskRead]
    total: int
    limit: int
    offset: int
