"""Study tasks, the topic catalog (shared by the models) and the topics each student sees."""

from __future__ import annotations

import math
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, Enum, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from studysmart.core.db import Base, UTCDateTime, utcnow
from studysmart.learning.prediction import SHOWN_FIELDS, ShownPrediction


class Difficulty(StrEnum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class TaskStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e],
                validate_strings=True, name=cls.__name__.lower())


def topic_key(name: str) -> str:
    """The case-insensitive identity of a topic name."""
    return " ".join(name.split()).casefold()


class Topic(Base):
    """A topic in the catalog the models share; names are trimmed and unique case-insensitively (``key``). A
    student sees only the shared list (``SHARED_TOPICS``) and their own topics (``UserTopic``, tasks, exams)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UserTopic(Base):
    """A topic a student added to their own list (``POST /topics``); topics of their tasks and exams are theirs
    too. Only visibility: answers on a topic are pooled across students whoever added it."""

    __tablename__ = "user_topics"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Task(Base):
    """One study task of one student, with the prediction shown when it was created and, once done, the outcome."""

    __tablename__ = "tasks"
    # AUTOINCREMENT: SQLite would otherwise give a deleted task's id to the next task, and a stale page or a
    # stored reference (an exam's materialized days) would then act on an unrelated task.
    __table_args__ = (Index("ix_tasks_owner_status", "owner_id", "status"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    difficulty: Mapped[Difficulty] = mapped_column(_enum(Difficulty))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus), default=TaskStatus.PLANNED)
    due_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    correct: Mapped[bool | None]
    seconds_taken: Mapped[float | None] = mapped_column(Float)
    # The prediction shown at creation.
    p_correct: Mapped[float | None] = mapped_column(Float)
    expected_seconds: Mapped[float | None] = mapped_column(Float)
    seconds_low: Mapped[float | None] = mapped_column(Float)
    seconds_high: Mapped[float | None] = mapped_column(Float)
    model: Mapped[str | None] = mapped_column(String(40))
    model_version: Mapped[int | None]
    source: Mapped[str | None] = mapped_column(String(40))

    topic: Mapped[Topic] = relationship(lazy="joined")

    @property
    def prediction(self) -> ShownPrediction | None:
        """The prediction shown when the task was created (or last re-predicted); None for a task without one."""
        if self.p_correct is None:
            return None
        return ShownPrediction(p_correct=self.p_correct, expected_seconds=self.expected_seconds or 0.0,
                               seconds_low=self.seconds_low or 0.0, seconds_high=self.seconds_high or 0.0,
                               model=self.model or "", model_version=self.model_version, source=self.source or "")

    @prediction.setter
    def prediction(self, shown: ShownPrediction) -> None:
        for name in SHOWN_FIELDS:
            setattr(self, name, getattr(shown, name))

    @property
    def item(self) -> str:
        """The model's item for this task: its (topic, difficulty) cell."""
        return item_label(self.topic.key, self.difficulty)

    def elapsed_seconds(self, now: datetime) -> float | None:
        """Seconds since the task was started (None if it was not)."""
        if self.started_at is None:
            return None
        return max((now - self.started_at).total_seconds(), 0.0)

    @property
    def log_time(self) -> float | None:
        return None if not self.seconds_taken else math.log(self.seconds_taken)


def item_label(topic_key_: str, difficulty: Difficulty | str) -> str:
    """The item label of a (topic, difficulty) cell, as models see it."""
    return f"{topic_key_}|{Difficulty(difficulty).value}"
