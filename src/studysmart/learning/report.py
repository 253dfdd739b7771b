"""The models' report for operators and the API: champion versions, the live leaderboard over 7 and 30 days, the
A/B arms, the queue and the last trainings (with tables for the terminal). Never imports torch."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from studysmart.core.db import utcnow
from studysmart.learning import tracker as training
from studysmart.learning.context import context_of
from studysmart.learning.leaderboard import LEADERBOARD_METRICS, RecentOutcomes, leaderboard
from studysmart.learning.models import ModelVersion, RunStatus


def fmt(value: Any) -> str:
    """A cell of a terminal table."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def collect_models(session: Session) -> dict[str, Any]:
    """Champion versions and the live leaderboard over 7 and 30 days, plus tables for the terminal."""
    now = utcnow()
    champions = session.execute(
        select(ModelVersion.model, ModelVersion.version, ModelVersion.n_train, ModelVersion.fit_seconds,
               ModelVersion.metrics, ModelVersion.promoted_at)
        .where(ModelVersion.is_champion.is_(True)).order_by(ModelVersion.model)
    ).all()
    versions = [{"model": c.model, "version": c.version, "n_train": c.n_train, "fit_seconds": c.fit_seconds,
                 "heldout": c.metrics, "promoted_at": c.promoted_at} for c in champions]
    # each model's latest outcomes, read once for the three boards
    recent = RecentOutcomes(session, since=now - timedelta(days=30), within=[now - timedelta(days=7)])
    boards = {f"{days}d": leaderboard(session, now=now, days=days, recent=recent) for days in (7, 30)}
    arms = leaderboard(session, now=now, days=30, served_only=True, by_arm=True, recent=recent)
    tables = [{
        "title": "Champion versions (held-out metrics at training)",
        "columns": ["model", "version", "n_train", "fit s", "log_loss", "auc", "rmse_log_time", "coverage80"],
        "rows": [[v["model"], v["version"], v["n_train"], fmt(v["fit_seconds"]),
                  *[fmt((v["heldout"] or {}).get(m)) for m in ("log_loss", "auc", "rmse_log_time", "coverage80")]]
                 for v in versions],
    }]
    for window, board in boards.items():
        tables.append({
            "title": f"Live leaderboard, last {window} (scored completions)",
            "columns": ["model", "n", *LEADERBOARD_METRICS],
            "rows": [[name, row["n"], *[fmt(row[m]) for m in LEADERBOARD_METRICS]] for name, row in board.items()],
        })
    return {"champions": versions, "leaderboard": boards, "ab_arms": arms, "tables": tables}


def collect_training(session: Session) -> dict[str, Any]:
    """Queue depth, the running job, and the last runs with durations and metrics."""
    try:
        depth: int | str = context_of(session).jobs.depth()
    except Exception as exc:  # Redis down: say so, do not fail the whole status
        depth = f"unavailable ({type(exc).__name__})"
    runs = training.recent_runs(session=session, limit=5)
    rows = []
    for run in runs:
        duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
        best = {name: (info.get("metrics") or {}).get("log_loss") for name, info in (run.models or {}).items()}
        rows.append([run.id, run.status, run.trigger, run.attempt, fmt(run.started_at), fmt(duration),
                     run.n_samples, ", ".join(f"{n} {fmt(v)}" for n, v in best.items()) or (run.error or "")[:60]])
    running = next(({"id": r.id, "started_at": r.started_at, "pid": r.worker_pid} for r in runs
                     if r.status == RunStatus.RUNNING), None)
    return {
        "queue_depth": depth,
        "running": running,
        "runs": [{"id": r.id, "status": r.status, "trigger": r.trigger, "attempt": r.attempt,
                  "started_at": r.started_at, "finished_at": r.finished_at, "n_samples": r.n_samples,
                  "error": r.error, "models": r.models} for r in runs],
        "table": {"title": "Recent trainings", "rows": rows,
                  "columns": ["run", "status", "trigger", "attempt", "started", "seconds", "samples",
                              "held-out log loss"]},
    }
