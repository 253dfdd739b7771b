"""What ``studysmart status`` reports: accounts, content, the training tracker (and, with the pipeline, runs,
model versions and the live leaderboard). Never imports torch."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from studysmart.tasks.models import Task, TaskStatus, Topic
from studysmart.training import service as training
from studysmart.users.models import User


def collect_status(session: Session) -> dict[str, Any]:
    """A JSON-able snapshot of the installation."""
    tracker = training.get_status(session=session)
    by_status = dict(session.execute(select(Task.status, func.count()).group_by(Task.status)).all())
    return {
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
        },
    }


def render_status(report: dict[str, Any], console: Console | None = None) -> None:
    """Print the snapshot as the prototype's status script did, with rich tables."""
    console = console or Console()
    tasks = report["tasks"]
    console.print(f"[bold]Users[/] {report['users']}   [bold]Topics[/] {report['topics']}   "
                  f"[bold]Tasks[/] {sum(tasks.values())} ({', '.join(f'{k} {v}' for k, v in tasks.items())})")
    t = report["training"]
    last = t["last_trained_at"].strftime("%Y-%m-%d %H:%M UTC") if t["last_trained_at"] else "never"
    console.print(f"[bold]Training[/] {t['completed_since_training']}/{t['threshold']} since last training, "
                  f"last trained {last}, {t['samples']} samples, status {t['status']}")
    for section in report.get("tables", []):
        table = Table(title=section["title"])
        for column in section["columns"]:
            table.add_column(column)
        for row in section["rows"]:
            table.add_row(*[str(cell) for cell in row])
        console.print(table)
