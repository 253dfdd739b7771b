"""``studysmart plan EXAM_ID``: an exam's readiness and day-by-day plan as a table (or JSON).

Usage::

    studysmart plan EXAM_ID [--days N] [--json] [--recompute]

The plan is the one the student sees (computed from the stored exam; reading it writes nothing). An unknown
exam prints one line to stderr and exits 2.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

__all__ = ["plan", "render_plan"]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def render_plan(report: dict[str, Any], *, days: int | None = None) -> None:
    """Print the exam, its readiness and its plan days as rich tables.

    Args:
        report: ``{"exam": {...}, "readiness": {...}, "plan": {"days": [...]}}`` as built by ``plan``.
        days: show at most this many days (None = every day).
    """
    from rich.console import Console  # only the table output needs rich
    from rich.table import Table

    console = Console()
    exam, ready = report["exam"], report["readiness"]
    console.print(f"[bold]{exam['name']}[/bold] on {exam['date']} (exam {exam['id']}, "
                  f"topics: {', '.join(t['topic'] for t in exam['topics'])})")
    console.print(f"Expected score now {ready['expected_score']:.0%} ({ready['low']:.0%}-{ready['high']:.0%}), "
                  f"on exam day {ready['forecast_on_exam_day']:.0%} if the plan is followed")
    table = Table(title="Plan")
    for column, justify in (("date", "left"), ("minutes", "right"), ("tasks", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    shown = report["plan"]["days"] if days is None else report["plan"]["days"][:days]
    for day in shown:
        items = "; ".join(f"{i['count']} x {i['topic']} ({i['difficulty']})" for i in day["items"]) or "-"
        table.add_row(day["date"], f"{day['minutes_planned']:g} / {day['minutes_available']:g}", items)
    console.print(table)


def plan(
    exam_id: Annotated[int, typer.Argument(help="The exam's id.")],
    days: Annotated[int | None, typer.Option(min=1, help="Show at most this many days.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    recompute: Annotated[bool, typer.Option("--recompute", help="Recompute even if a cached plan is current.")] = False,
) -> None:
    """Show an exam's readiness and its day-by-day plan (the database comes from STUDYSMART_DATABASE_URL)."""
    from studysmart.core.config import get_settings  # keep `studysmart --help` fast
    from studysmart.core.db import transaction, utcnow
    from studysmart.learning.context import make_context
    from studysmart.planning import service
    from studysmart.planning.schemas import PlanRead, ReadinessRead, exam_read

    context = make_context(get_settings())
    try:
        with transaction(context.sessions) as session:
            owner = service.exam_owner(session=session, exam_id=exam_id)
            state = service.exam_state(session=session, user=owner, exam_id=exam_id, now=utcnow(), force=recompute)
            report = {
                "exam": exam_read(state.exam).model_dump(mode="json"),
                "readiness": ReadinessRead.model_validate(state.readiness).model_dump(mode="json"),
                "plan": PlanRead.model_validate(state.plan).model_dump(mode="json"),
            }
    except service.ExamNotFound:
        raise _fail(f"no exam with id {exam_id}") from None
    finally:
        context.dispose()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        render_plan(report, days=days)
