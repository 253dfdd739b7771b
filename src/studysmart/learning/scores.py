"""Running sums of every model's scored predictions, so leaderboards read a few rows instead of every log.

Two tables hold the same sums (predictions, outcomes, log loss, squared error, time outcomes, absolute error in
seconds, inside the 80% range): per model, A/B arm, served flag and UTC hour of scoring, and per student and
model. Database triggers on ``prediction_logs`` (migration 0009) keep them equal to the logs in the transaction
that scores, unscores, inserts or deletes a log, whichever code path does it; the migration builds them from the
logs already there. A migration that rebuilds ``prediction_logs`` (SQLite batch mode) must re-create the triggers.

AUC is a rank statistic and has no running sum: the leaderboards compute it over a bounded recent window of the
logs instead (``studysmart.learning.leaderboard``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from studysmart.core.db import Base, UTCDateTime

#: The summed columns, in the order the leaderboards read them.
SUMS = ("n", "n_outcome", "sum_log_loss", "sum_brier", "n_time", "sum_abs_seconds", "n_covered")


class _Sums:
    n: Mapped[int] = mapped_column(default=0)  # scored predictions
    n_outcome: Mapped[int] = mapped_column(default=0)  # ... with an outcome (correct / incorrect)
    sum_log_loss: Mapped[float] = mapped_column(Float, default=0.0)
    sum_brier: Mapped[float] = mapped_column(Float, default=0.0)
    n_time: Mapped[int] = mapped_column(default=0)  # ... with an observed time
    sum_abs_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    n_covered: Mapped[int] = mapped_column(default=0)  # ... whose time fell inside the predicted 80% range


class ModelScoreHour(_Sums, Base):
    """The sums of one model's predictions scored in one UTC hour (per A/B arm, '' = none, and served flag)."""

    __tablename__ = "model_score_hours"
    __table_args__ = (Index("ix_model_score_hours_hour", "hour"),)

    model: Mapped[str] = mapped_column(String(40), primary_key=True)
    arm: Mapped[str] = mapped_column(String(20), primary_key=True)
    served: Mapped[bool] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)


class ModelScoreUser(_Sums, Base):
    """The sums of one model's scored predictions for one student (all time)."""

    __tablename__ = "model_score_users"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(40), primary_key=True)


def add_sums(into: dict[str, float], values: Mapping[Any, Any]) -> None:
    """Add sums (a mapping with the SUMS keys, e.g. a result row's ``_mapping``) into ``into``."""
    for name in SUMS:
        into[name] = into.get(name, 0) + (values[name] or 0)
