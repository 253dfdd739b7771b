"""The live leaderboard: how each model's logged predictions scored on completed tasks, over a time window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from studysmart.learning.logs import PredictionLog
from studysmart.ml import metrics
from studysmart.ml.base import Prediction

LEADERBOARD_METRICS = ("log_loss", "auc", "brier", "mae_seconds", "coverage80")


def leaderboard(session: Session, *, now: datetime, days: int, user_id: int | None = None,
                served_only: bool = False, by_arm: bool = False) -> dict[str, dict[str, Any]]:
    """Per model (or per model and A/B arm): n and the metrics of its predictions scored in the last ``days``."""
    stmt = select(PredictionLog.model, PredictionLog.arm, PredictionLog.p_correct, PredictionLog.mean_log_time,
                  PredictionLog.sd_log_time, PredictionLog.correct, PredictionLog.log_time).where(
        PredictionLog.scored_at.is_not(None), PredictionLog.scored_at >= now - timedelta(days=days))
    if user_id is not None:
        stmt = stmt.where(PredictionLog.user_id == user_id)
    if served_only:
        stmt = stmt.where(PredictionLog.served.is_(True))
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for row in session.execute(stmt):
        key = f"{row.model}/{row.arm or 'champion'}" if by_arm else row.model
        groups.setdefault(key, []).append(tuple(row)[2:])
    return {key: score_rows(rows) for key, rows in sorted(groups.items())}


def score_rows(rows: list[tuple[Any, ...]], digits: int | None = 4) -> dict[str, Any]:
    """Metrics of (p_correct, mean_log_time, sd_log_time, correct, log_time) rows (rounded to ``digits``;
    None: not rounded). Missing and NaN metrics are None."""
    arr = np.array([[np.nan if v is None else float(v) for v in row] for row in rows], dtype=np.float64)
    pred = Prediction(p_correct=arr[:, 0], mean_log_time=arr[:, 1], sd_log_time=arr[:, 2],
                      source=np.full(len(arr), "model", dtype=object))
    scores = metrics.all_metrics(pred, arr[:, 3], arr[:, 4])
    out: dict[str, Any] = {"n": len(arr)}
    for name in LEADERBOARD_METRICS:
        value = scores.get(name, float("nan"))
        finite = value is not None and np.isfinite(value)
        out[name] = (round(float(value), digits) if digits is not None else float(value)) if finite else None
    return out
