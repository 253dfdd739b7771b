"""What ``studysmart status`` reports: accounts, content, the training tracker (and, with the pipeline, runs,
model versions and the live leaderboard). Never imports torch."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import utcnow
from studysmart.predictions.leaderboard import LEADERBOARD_METRICS, leaderboard
from studysmart.tasks.models import Task, TaskStatus, Topic
from studysmart.training import service as training
from studysmart.training.models import ModelVersion
from studysmart.users.models import User


def collect_status(session: Session, *, brief: bool = False) -> dict[str, Any]:
    """A JSON-able snapshot of the installation (``brief``: without queue, runs, versions and leaderboard)."""
    tracker = training.get_status(session=session)
    by_status = dict(session.execute(select(Task.status, func.count()).group_by(Task.status)).all())
    report: dict[str, Any] = {
        "users": session.scalar(select(func.count()).select_from(User)) or 0,
        "topics": session.scalar(select(func.count()).select_from(Topic)) or 0,
        "tasks": {s.value: int(by_status.get(s, 0)) for s in TaskStatus},
        "training": {
            "completed_since_training": tracker.completed_since_training,
            "threshold": tracker.threshold,
            "last_trained_at": tracker.last_trained_at,
            "samples": tracker.samples,
            "running": tracker.running,
            "status": tracker.status,
            "serving_model": tracker.serving_model,
        },
    }
    if not brief:
        jobs = collect_training(session)
        models = collect_models(session)
        report.update(queue_depth=jobs["queue_depth"], running_job=jobs["running"], runs=jobs["runs"],
                      champions=models["champions"], leaderboard=models["leaderboard"])
        report["tables"] = [jobs["table"], *models["tables"]]
    return report


def render_status(report: dict[str, Any], console: Console | None = None, *, sections_only: bool = False) -> None:
    """Print the snapshot as the prototype's status script did, with rich tables."""
    console = console or Console()
    if sections_only:
        _render_tables(report, console)
        return
    tasks = report["tasks"]
    console.print(f"[bold]Users[/] {report['users']}   [bold]Topics[/] {report['topics']}   "
                  f"[bold]Tasks[/] {sum(tasks.values())} ({', '.join(f'{k} {v}' for k, v in tasks.items())})")
    t = report["training"]
    last = t["last_trained_at"].strftime("%Y-%m-%d %H:%M UTC") if t["last_trained_at"] else "never"
    console.print(f"[bold]Training[/] {t['completed_since_training']}/{t['threshold']} since last training, "
                  f"last trained {last}, {t['samples']} samples, status {t['status']}")
    if "queue_depth" in report:
        job = report.get("running_job")
        console.print(f"[bold]Queue[/] depth {report['queue_depth']}   [bold]Running[/] "
                      + (f"run {job['id']} since {_fmt(job['started_at'])} (pid {job['pid']})" if job else "none")
                      + f"   [bold]Serving[/] {t.get('serving_model') or 'shrinkage (fallback)'}")
    _render_tables(report, console)


def _render_tables(report: dict[str, Any], console: Console) -> None:
    for section in report.get("tables", []):
        table = Table(title=section["title"])
        for column in section["columns"]:
            table.add_column(column)
        for row in section["rows"]:
            table.add_row(*[str(cell) for cell in row])
        console.print(table)


def _fmt(value: Any) -> str:
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
    boards = {f"{days}d": leaderboard(session, now=now, days=days) for days in (7, 30)}
    arms = leaderboard(session, now=now, days=30, served_only=True, by_arm=True)
    tables = [{
        "title": "Champion versions (held-out metrics at training)",
        "columns": ["model", "version", "n_train", "fit s", "log_loss", "auc", "rmse_log_time", "coverage80"],
        "rows": [[v["model"], v["version"], v["n_train"], _fmt(v["fit_seconds"]),
                  *[_fmt((v["heldout"] or {}).get(m)) for m in ("log_loss", "auc", "rmse_log_time", "coverage80")]]
                 for v in versions],
    }]
    for window, board in boards.items():
        tables.append({
            "title": f"Live leaderboard, last {window} (scored completions)",
            "columns": ["model", "n", *LEADERBOARD_METRICS],
            "rows": [[name, row["n"], *[_fmt(row[m]) for m in LEADERBOARD_METRICS]] for name, row in board.items()],
        })
    return {"champions": versions, "leaderboard": boards, "ab_arms": arms, "tables": tables}


def collect_training(session: Session) -> dict[str, Any]:
    """Queue depth, the running job, and the last runs with durations and metrics."""
    from studysmart.training.jobs import get_jobs  # noqa: PLC0415 - huey only, no torch

    try:
        depth: int | str = get_jobs().depth()
    except Exception as exc:  # Redis down: say so, do not fail the whole status
        depth = f"unavailable ({type(exc).__name__})"
    runs = training.recent_runs(session=session, limit=5)
    rows = []
    for run in runs:
        duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at and run.started_at else None
        best = {name: (info.get("metrics") or {}).get("log_loss") for name, info in (run.models or {}).items()}
        rows.append([run.id, run.status, run.trigger, run.attempt, _fmt(run.started_at), _fmt(duration),
                     run.n_samples, ", ".join(f"{n} {_fmt(v)}" for n, v in best.items()) or (run.error or "")[:60]])
    running = next(({"id": r.id, "started_at": r.started_at, "pid": r.worker_pid} for r in runs
                     if r.status == "running"), None)
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


def watch_status(sessions: sessionmaker[Session], *, interval: float) -> None:
    """Redraw the status until interrupted (``studysmart status --watch``)."""
    from rich.live import Live  # noqa: PLC0415

    console = Console()
    with Live(console=console, refresh_per_second=4, screen=False) as live:
        while True:
            with sessions() as session:
                report = collect_status(session)
            capture = Console(record=True, width=console.width)
            with capture.capture():
                render_status(report, capture)
            live.update(Text.from_ansi(capture.export_text(styles=True)))
            time.sleep(interval)
