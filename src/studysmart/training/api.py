"""Training status API: the retraining tracker."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from studysmart.core.deps import CurrentUser, SessionDep
from studysmart.training import service

router = APIRouter(prefix="/training", tags=["training"])


class TrainingStatusRead(BaseModel):
    completed_since_training: int
    threshold: int
    last_trained_at: datetime | None
    samples: int
    running: bool


@router.get("/status", response_model=TrainingStatusRead)
def training_status(session: SessionDep, user: CurrentUser) -> TrainingStatusRead:
    state = service.get_status(session=session)
    return TrainingStatusRead(completed_since_training=state.completed_since_training, threshold=state.threshold,
                              last_trained_at=state.last_trained_at, samples=state.samples, running=state.running)
