"""Every prediction every active model made for a task, so models can be scored on completions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from studysmart.core.db import Base, UTCDateTime, utcnow


class PredictionLog(Base):
    """One model's prediction for one task (the served one has ``served=True``); scored once the task is done."""

    __tablename__ = "prediction_logs"
    # Both cover the leaderboards' AUC reads (a model's, or a student's model's, latest outcomes): no row lookups.
    __table_args__ = (Index("ix_prediction_logs_model_outcomes", "model", "scored_at", "correct", "p_correct",
                            "served", "arm"),
                      Index("ix_prediction_logs_user_model_outcomes", "user_id", "model", "scored_at", "correct",
                            "p_correct"))

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(40))
    model_version: Mapped[int | None]
    served: Mapped[bool] = mapped_column(default=False)
    arm: Mapped[str | None] = mapped_column(String(20))
    p_correct: Mapped[float] = mapped_column(Float)
    mean_log_time: Mapped[float] = mapped_column(Float)
    sd_log_time: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Filled when the task is completed.
    correct: Mapped[bool | None]
    log_time: Mapped[float | None] = mapped_column(Float)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
