"""The ``studysmart`` command: serve, worker, status, demo, db, users, evaluate, train, models, plan.

Heavy modules (the app, numpy models, torch) are imported inside the commands that need them, so
``studysmart status`` answers quickly.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="StudySmart: an adaptive study planner.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
users_app = typer.Typer(help="Account commands.", no_args_is_help=True)
app.add_typer(users_app, name="users")


def fail(message: str) -> typer.Exit:
    """Print one line to stderr and give the exit code for bad input (2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every database migration (creates the SQLite file on the embedded default)."""
    from studysmart.core.config import get_settings
    from studysmart.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")


@users_app.command("reset-link")
def users_reset_link(
    email: Annotated[str, typer.Argument(help="The account's email.")],
) -> None:
    """Print a single-use password reset link (valid 30 minutes) for the account of EMAIL, to pass on to its owner
    (its earlier links stop working)."""
    from sqlalchemy import select

    from studysmart.core.config import get_settings
    from studysmart.core.db import transaction, utcnow
    from studysmart.learning.context import make_context
    from studysmart.users.models import User
    from studysmart.users.reset import create_reset_link
    from studysmart.users.service import normalize_email

    settings = get_settings()
    context = make_context(settings)
    try:
        with transaction(context.sessions) as session:
            user = session.scalar(select(User).where(User.email == normalize_email(email)))
            if user is None:
                raise fail(f"no account has the email {email!r}")
            link = create_reset_link(session=session, user=user, public_url=settings.public_url, now=utcnow())
    finally:
        context.dispose()
    typer.echo(link.url)


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="The backup file to write (replaced if it exists).")],
) -> None:
    """Back up the database to PATH while the app runs (SQLite online backup API, or pg_dump -Fc)."""
    from studysmart import backup as backups

    _with_database(backups.backup, path)
    typer.echo(f"backed up to {path}")


def _with_database(operation: Callable[..., None], path: Path) -> None:
    """Run a backup or a restore on the configured database; a BackupError exits 2 with its one line."""
    from studysmart import backup as backups
    from studysmart.core.config import get_settings

    try:
        operation(database_url=get_settings().database_url, path=path)
    except backups.BackupError as exc:
        raise fail(str(exc)) from None


@app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="A backup made by `studysmart backup`.")],
) -> None:
    """Restore the database from PATH (migrated to this release); every token and web session issued before is
    refused afterwards."""
    from studysmart import backup as backups

    _with_database(backups.restore, path)
    typer.echo(f"restored from {path}; every earlier token and web session is now refused")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", envvar="PORT")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Web server processes.")] = 1,
) -> None:
    """Serve the API and the web UI (the database comes from STUDYSMART_DATABASE_URL)."""
    import uvicorn

    from studysmart.core.config import get_settings

    settings = get_settings()
    typer.echo(f"StudySmart on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    # Forwarded headers are the app's business (STUDYSMART_FORWARDED_ALLOW_IPS): uvicorn's own would trust
    # 127.0.0.1, letting any local caller claim another address.
    uvicorn.run("studysmart.asgi:app", host=host, port=port, workers=workers,
                log_level=settings.log_level.lower(), proxy_headers=False)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh every --interval seconds until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes with --watch.")] = 2.0,
) -> None:
    """Users, tasks, the training tracker (n/N), queue depth, the running job, recent runs and versions."""
    from studysmart.core.config import get_settings
    from studysmart.learning.context import make_context
    from studysmart.operations import collect_status, render_status, watch_status

    context = make_context(get_settings())
    sessions = context.sessions
    try:
        if watch:
            watch_status(sessions, interval=interval)
            return
        with sessions() as session:
            report = collect_status(session)
    except KeyboardInterrupt:
        return
    except Exception as exc:  # a missing or unmigrated database is an operator error, not a crash
        raise fail(f"cannot read the database ({type(exc).__name__}); run `studysmart db upgrade`") from None
    finally:
        context.dispose()
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        render_status(report)


@app.command()
def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only load when the database has no users.")] = False,
    students: Annotated[int, typer.Option(min=1, max=500, help="Demo students to create.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Load demo students with realistic histories (idempotent) and print the demo login."""
    from studysmart.core.config import get_settings
    from studysmart.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo
    from studysmart.learning.context import make_context

    context = make_context(get_settings())
    try:
        created = load_demo(context.sessions, students=students, seed=seed, only_if_empty=if_empty)
    finally:
        context.dispose()
    typer.echo(("loaded demo data: " + created) if created else "demo data already present")
    typer.echo(f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")


@app.command()
def worker(
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes.")] = 1,
) -> None:
    """Run training workers (needed with STUDYSMART_REDIS_URL; the embedded default runs one in the server)."""
    from studysmart.core.config import get_settings
    from studysmart.core.logging import setup_logging
    from studysmart.learning.jobs import run_standalone_worker

    setup_logging(get_settings().log_level)
    run_standalone_worker(workers=workers)


@app.command()
def train(
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the training has finished.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait at most with --wait.")] = 1800.0,
) -> None:
    """Queue a training now (it coalesces with one already queued or running)."""
    import time

    from studysmart.core.config import get_settings
    from studysmart.core.db import utcnow
    from studysmart.learning import tracker as training
    from studysmart.learning.jobs import Jobs
    from studysmart.learning.models import RunStatus, TrackerStatus

    jobs = Jobs(get_settings())
    queued_at = utcnow()
    if jobs.request_training(trigger="manual"):
        typer.echo("training queued")
    else:
        typer.echo("a training is already queued or running; this request joins it")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with jobs.sessions()() as session:  # a new short transaction per poll (never hold SQLite's lock)
            runs = training.recent_runs(session=session, limit=1)
            state = training.get_status(session=session)
        finished = runs and runs[0].finished_at and runs[0].finished_at >= queued_at
        settled = runs and (runs[0].status == RunStatus.SUCCEEDED or state.status == TrackerStatus.IDLE)
        if finished and state.status != TrackerStatus.RUNNING and settled:
            typer.echo(f"training {runs[0].status} (run {runs[0].id})")
            if runs[0].status != RunStatus.SUCCEEDED:
                raise typer.Exit(code=1)
            return
        time.sleep(1.0)
    raise fail(f"no training finished within {timeout:.0f} s (is a worker running? `studysmart worker`)")


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Model versions, champions and the live leaderboard (last 7 and 30 days)."""
    from studysmart.core.config import get_settings
    from studysmart.learning.context import make_context
    from studysmart.learning.report import collect_models
    from studysmart.operations import render_status

    context = make_context(get_settings())
    try:
        with context.sessions() as session:
            report = collect_models(session)
    finally:
        context.dispose()
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        render_status({"tables": report["tables"]}, sections_only=True)


def _register_commands() -> None:
    from studysmart.commands.evaluate import evaluate
    from studysmart.commands.plan import plan

    app.command("evaluate")(evaluate)
    app.command("plan")(plan)


_register_commands()


def main() -> None:  # pragma: no cover
    sys.exit(app())
