"""What ``studysmart status`` reports: accounts, content, the training tracker (and, with the pipeline, runs,
model versions and the live leaderboard). Never imports torch."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.learning import tracker as training
from studysmart.learning.report import collect_models, collect_training, fmt
from studysmart.tasks.models import Task, TaskStatus, Topic
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
            "not_before": tracker.not_before,
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
                      + (f"run {job['id']} since {fmt(job['started_at'])} (pid {job['pid']})" if job else "none")
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


def watch_status(sessions: sessionmaker[Session], *, interval: float) -> None:
    """Redraw the status until interrupted (``studysmart status --watch``)."""
    from rich.live import Live

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
