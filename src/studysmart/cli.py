"""The ``studysmart`` command: serve, worker, status, demo, db, evaluate, train, models, plan.

Heavy modules (the app, numpy models, torch) are imported inside the commands that need them, so
``studysmart status`` answers quickly.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

app = typer.Typer(help="StudySmart: an adaptive study planner.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


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
    uvicorn.run("studysmart.asgi:app", host=host, port=port, workers=workers,
                log_level=settings.log_level.lower(), proxy_headers=True)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Users, topics, tasks, and the training tracker (n/N since the last training)."""
    from studysmart.core.config import get_settings
    from studysmart.core.db import make_engine, make_sessionmaker
    from studysmart.operations import collect_status, render_status

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            report = collect_status(session)
    except Exception as exc:  # a missing or unmigrated database is an operator error, not a crash
        raise fail(f"cannot read the database ({type(exc).__name__}); run `studysmart db upgrade`") from None
    finally:
        engine.dispose()
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
    from studysmart.core.db import make_engine, make_sessionmaker
    from studysmart.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        created = load_demo(make_sessionmaker(engine), students=students, seed=seed, only_if_empty=if_empty)
    finally:
        engine.dispose()
    typer.echo(("loaded demo data: " + created) if created else "demo data already present")
    typer.echo(f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")


def main() -> None:  # pragma: no cover
    sys.exit(app())
