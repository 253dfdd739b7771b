"""The retraining tracker: count completions atomically and report the training status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from studysmart.core.config import get_settings
from studysmart.training.models import TRACKER_ID, TrainingState


@dataclass(frozen=True)
class CompletionCount:
    completed_since_training: int
    samples: int
    training_due: bool


@dataclass(frozen=True)
class TrainingStatus:
    completed_since_training: int
    threshold: int
    last_trained_at: datetime | None
    samples: int
    running: bool
    status: str


def ensure_tracker(*, session: Session) -> None:
    """Create the tracker row if missing (migrations create it; tests on bare schemas rely on this)."""
    if session.get(TrainingState, TRACKER_ID) is None:
        try:
            with session.begin_nested():
                session.execute(insert(TrainingState).values(id=TRACKER_ID, completed_since_training=0, samples=0,
                                                             status="idle"))
        except IntegrityError:
            pass


def count_completion(*, session: Session) -> CompletionCount:
    """Add one completion to the tracker with one atomic statement (no lost updates under concurrency)."""
    ensure_tracker(session=session)
    row = session.execute(
        update(TrainingState)
        .where(TrainingState.id == TRACKER_ID)
        .values(completed_since_training=TrainingState.completed_since_training + 1,
                samples=TrainingState.samples + 1)
        .returning(TrainingState.completed_since_training, TrainingState.samples)
    ).one()
    threshold = get_settings().retrain_threshold
    return CompletionCount(completed_since_training=row[0], samples=row[1], training_due=row[0] >= threshold)


def get_status(*, session: Session) -> TrainingStatus:
    """The tracker as the prototype showed it: n/N since the last training, when, on how many samples."""
    state = session.scalar(select(TrainingState).where(TrainingState.id == TRACKER_ID))
    threshold = get_settings().retrain_threshold
    if state is None:
        return TrainingStatus(0, threshold, None, 0, False, "idle")
    return TrainingStatus(
        completed_since_training=state.completed_since_training,
        threshold=threshold,
        last_trained_at=state.last_trained_at,
        samples=state.samples,
        running=state.status == "running",
        status=state.status,
    )
