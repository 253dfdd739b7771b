"""The retraining tracker."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from studysmart.core.db import Base, UTCDateTime, utcnow

TRACKER_ID = 1


class TrackerStatus(StrEnum):
    """What the retraining tracker is doing."""

    IDLE = "idle"
    QUEUED = "queued"
    RUNNING = "running"


class RunStatus(StrEnum):
    """The state of one training run (``interrupted``: handed back by a stopping worker, retried at once;
    ``reaped``: its worker died and the reaper failed it)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    REAPED = "reaped"


class TrainingState(Base):
    """The single row tracking completions since the last training (updated with atomic statements only)."""

    __tablename__ = "training_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    completed_since_training: Mapped[int] = mapped_column(default=0)
    samples: Mapped[int] = mapped_column(default=0)
    last_trained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=TrackerStatus.IDLE)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_id: Mapped[int | None]
    # Completions counted when the running job started; subtracted when it ends, keeping later arrivals.
    claimed_completions: Mapped[int] = mapped_column(default=0)
    serving_model: Mapped[str | None] = mapped_column(String(40))


class ModelVersion(Base):
    """One trained model: its serialised artifact, held-out metrics, and whether it is the champion of its name."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int]
    artifact: Mapped[bytes] = mapped_column(LargeBinary())
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    n_train: Mapped[int] = mapped_column(default=0)
    n_test: Mapped[int] = mapped_column(default=0)
    fit_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    code_version: Mapped[str] = mapped_column(String(40), default="")
    is_champion: Mapped[bool] = mapped_column(default=False)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id", ondelete="SET NULL"))


class TrainingRun(Base):
    """One training job: when, how it went, and a summary per model."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.QUEUED)
    trigger: Mapped[str] = mapped_column(String(20), default="threshold")
    attempt: Mapped[int] = mapped_column(default=1)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    n_samples: Mapped[int] = mapped_column(default=0)
    models: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    worker_pid: Mapped[int | None]
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Erasure(Base):
    """A deleted account's person label: its fitted parameters are dropped from serving at once (each process's
    cached models, at their next refresh) and from stored model versions by the next training (``applied_at``).

    Rows are kept (a label, no personal data): a process whose models predate the training that applied an
    erasure still applies it to its cached copy. ids are never reused (AUTOINCREMENT), so the largest id is a
    marker a process compares with the one its models have seen."""

    __tablename__ = "erasures"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    person: Mapped[str] = mapped_column(String(40))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
