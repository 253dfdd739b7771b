"""The learning API: the retraining tracker's status and the models' report (champions, live leaderboard, A/B
arms)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from studysmart.core.deps import SessionDep
from studysmart.learning import registry
from studysmart.learning import tracker as service
from studysmart.learning.report import collect_models
from studysmart.users.deps import CurrentUser

router = APIRouter(prefix="/training", tags=["training"])


class LastRun(BaseModel):
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    models: dict[str, Any]


class TrainingStatusRead(BaseModel):
    completed_since_training: int
    threshold: int  # new answers the retraining rule needs now: max(threshold, growth share of all answers)
    last_trained_at: datetime | None
    not_before: datetime | None = None  # the end of the time floor after the last training
    samples: int
    running: bool
    queued: bool
    serving_model: str | None
    last_run: LastRun | None


@router.get("/status", response_model=TrainingStatusRead)
def training_status(session: SessionDep, user: CurrentUser) -> TrainingStatusRead:
    state = service.get_status(session=session)
    runs = service.recent_runs(session=session, limit=1)
    last = None
    if runs:
        run = runs[0]
        last = LastRun(started_at=run.started_at, finished_at=run.finished_at, status=run.status,
                       models={name: {"version": info.get("version"), "promoted": info.get("promoted"),
                                      "metrics": info.get("metrics"), "error": info.get("error")}
                               for name, info in (run.models or {}).items()})
    return TrainingStatusRead(completed_since_training=state.completed_since_training, threshold=state.threshold,
                              last_trained_at=state.last_trained_at, not_before=state.not_before,
                              samples=state.samples, running=state.running,
                              queued=state.queued, serving_model=state.serving_model or registry.FALLBACK,
                              last_run=last)


models_router = APIRouter(prefix="/models", tags=["models"])


@models_router.get("")
def models(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Champion versions with their held-out metrics, the live leaderboard over 7 and 30 days, the A/B arms."""
    report = collect_models(session)
    report.pop("tables", None)
    report["serving_model"] = service.get_status(session=session).serving_model or registry.FALLBACK
    return report
