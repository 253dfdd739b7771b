"""Stored exams: their topics with weights, the study minutes, and the plan as of the last change to the exam.

``plan_record`` (``Plan.model_dump(mode="json")``, written at ``plan_updated_at``) is the plan as the student saw
it when the exam was created, edited or a day's tasks were added: replans start from it (its first day, the
work it planned for days now past). Reads compute the current plan and readiness without writing
(``planning.state``). ``readiness_record`` and ``plan_stamp`` are no longer written (they cached the plan on the
row when reads stored it) and can go in a later migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from studysmart.core.db import Base, UTCDateTime, utcnow
from studysmart.tasks.models import Topic

DEFAULT_BAND = (0.55, 0.9)
DEFAULT_MAX_TASKS = 12


class Exam(Base):
    """One student's exam: date, topics (``ExamTopic`` rows, in the order given), minutes per weekday (Monday
    first), days off (ISO dates), optional target score (a fraction), the time zone its days are counted in,
    the cached plan, the tasks made from each planned day (``materialized``: ISO date -> task ids), the days
    the student skipped or moved (``day_changes``: ISO date -> None for a skip, or the ISO date its minutes moved
    to), and how plans are made: the productive P(correct) band (``band_low``, ``band_high``) and
    ``max_tasks_per_day``."""

    __tablename__ = "exams"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids of deleted exams are never handed out again

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    exam_date: Mapped[dt.date] = mapped_column(Date)
    target_score: Mapped[float | None] = mapped_column(Float)
    minutes_per_weekday: Mapped[list[float]] = mapped_column(JSON)
    days_off: Mapped[list[str]] = mapped_column(JSON, default=list)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    plan_record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    readiness_record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    plan_stamp: Mapped[str | None] = mapped_column(String(200))
    plan_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    materialized: Mapped[dict[str, list[int]]] = mapped_column(JSON, default=dict)
    day_changes: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict, server_default="{}")
    band_low: Mapped[float] = mapped_column(Float, default=DEFAULT_BAND[0], server_default=str(DEFAULT_BAND[0]))
    band_high: Mapped[float] = mapped_column(Float, default=DEFAULT_BAND[1], server_default=str(DEFAULT_BAND[1]))
    max_tasks_per_day: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_TASKS,
                                                   server_default=str(DEFAULT_MAX_TASKS))

    topics: Mapped[list[ExamTopic]] = relationship(
        back_populates="exam", cascade="all, delete-orphan", order_by="ExamTopic.position", lazy="selectin"
    )

    def days_off_dates(self) -> list[dt.date]:
        """The days off as dates."""
        return [dt.date.fromisoformat(day) for day in self.days_off or ()]

    def skipped_dates(self) -> list[dt.date]:
        """The days the student skipped (no study; their work re-flows to other days)."""
        return sorted(dt.date.fromisoformat(day) for day, to in (self.day_changes or {}).items() if to is None)

    def moves(self) -> dict[dt.date, dt.date]:
        """Moved days: day -> the day its minutes went to."""
        return {dt.date.fromisoformat(day): dt.date.fromisoformat(to)
                for day, to in (self.day_changes or {}).items() if to is not None}


class ExamTopic(Base):
    """One topic of an exam and its weight (its unnormalised share of the exam)."""

    __tablename__ = "exam_topics"
    __table_args__ = (UniqueConstraint("exam_id", "topic_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[float] = mapped_column(Float)

    exam: Mapped[Exam] = relationship(back_populates="topics")
    topic: Mapped[Topic] = relationship(lazy="joined")
