"""/dashboard/analytics: progress per topic over time, calibration of the predictions shown, predicted against
actual time, ability per topic with its uncertainty, time per topic per week, and the model leaderboard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui
from sqlalchemy.orm import Session

from studysmart.analytics import service as analytics
from studysmart.core.db import utcnow
from studysmart.learning import registry
from studysmart.users.models import User
from studysmart.web import auth
from studysmart.web.actions import perform
from studysmart.web.components import charts
from studysmart.web.components.format import duration, percent
from studysmart.web.layout import empty_state, frame, placeholder_until_connected

PATH = "/dashboard/analytics"
MIN_FOR_CALIBRATION = 10
GRID = "grid-cols-1 lg:grid-cols-2"
WIDE_ONLY = ("meaning", "n", "range")  # leaderboard columns hidden at phone width


@dataclass(frozen=True)
class AnalyticsData:
    progress: analytics.Progress
    calibration: list[analytics.CalibrationBin]
    times: list[analytics.TimeCheck]
    abilities: list[analytics.TopicAbility]
    weekly: analytics.WeeklyTime
    leaderboard: list[analytics.ModelScore]


def _load(zone: ZoneInfo) -> Callable[[Session, User], AnalyticsData]:
    def load(session: Session, user: User) -> AnalyticsData:
        done = analytics.done_rows(session=session, user=user)  # read once for every chart
        return AnalyticsData(
            progress=analytics.progress(session=session, user=user, zone=zone, done=done),
            calibration=analytics.calibration(session=session, user=user, done=done),
            times=analytics.time_checks(session=session, user=user, done=done),
            abilities=analytics.abilities(session=session, user=user, now=utcnow(), done=done),
            weekly=analytics.weekly_time(session=session, user=user, zone=zone, done=done),
            leaderboard=analytics.leaderboard(session=session, user=user),
        )
    return load


def _section(title: str, note: str) -> ui.card:
    card = ui.card().classes("ss-card gap-2")
    with card:
        ui.label(title).classes("text-lg font-semibold").props('role=heading aria-level="2"')
        ui.label(note).classes("text-sm ss-muted")
    return card


def right_words(auc: float | None) -> str:
    """How often a model told the student's right answers from the wrong ones, in words (its AUC: of one task
    answered right and one answered wrong, the chance it gave the right one the higher P(correct))."""
    if auc is None:
        return "not known yet (needs a right and a wrong answer)"
    return f"right about {percent(auc)} of the time"


def time_words(mae_seconds: float | None) -> str:
    """A model's typical time error (its mean absolute error), in words."""
    if mae_seconds is None:
        return "no timed answers yet"
    return f"off by about {duration(mae_seconds)}"


def range_words(coverage: float | None) -> str:
    """How often the actual time fell inside the model's 80% range, in words (about 8 in 10 is honest)."""
    if coverage is None:
        return "—"
    return f"held your time {round(10 * coverage):.0f} times in 10"


def leaderboard_rows(rows: list[analytics.ModelScore]) -> list[dict[str, object]]:
    """The leaderboard as a student reads it: plain names and meanings from the registry, scores in words (best
    first, as the analytics service ranks them)."""
    return [{
        "key": row.model,
        "model": f"{registry.plain_name(row.model)}{' (serving you now)' if row.serving else ''}",
        "meaning": registry.meaning(row.model), "n": row.n, "right": right_words(row.auc),
        "time": time_words(row.mae_seconds), "range": range_words(row.coverage80),
    } for row in rows]


def _leaderboard(rows: list[analytics.ModelScore]) -> None:
    columns = [
        {"name": "model", "label": "Predictions by", "field": "model", "align": "left"},
        {"name": "meaning", "label": "What it does", "field": "meaning", "align": "left"},
        {"name": "n", "label": "Your answers", "field": "n"},
        {"name": "right", "label": "Telling your right answers from wrong ones", "field": "right",
         "align": "left"},
        {"name": "time", "label": "Time", "field": "time", "align": "left"},
        {"name": "range", "label": "Time range", "field": "range", "align": "left"},
    ]
    for column in columns:  # a phone shows the name and the two scores; the rest from 600 px up
        if column["name"] in WIDE_ONLY:
            column.update(classes="gt-xs", headerClasses="gt-xs")
    ui.table(columns=columns, rows=leaderboard_rows(rows), row_key="key").props("flat dense wrap-cells") \
        .classes("w-full").mark("leaderboard")


def _render(data: AnalyticsData) -> None:
    answered = sum(b.count for b in data.calibration)
    with ui.element("div").classes(f"w-full grid {GRID} gap-4"):
        with _section("Accuracy over time", f"Share correct of each topic's last {data.progress.window} "
                      f"answers, per {data.progress.bucket}."):
            charts.chart(charts.accuracy_over_time(data.progress), label="Accuracy per topic over time",
                         marker="chart-accuracy")
        with _section("Time over time", f"Median minutes of each topic's last {data.progress.window} "
                      f"answers, per {data.progress.bucket}."):
            charts.chart(charts.time_over_time(data.progress), label="Time per task per topic over time",
                         marker="chart-time")
        with _section("Calibration", "When we said 70%, were you right about 70% of the time? Per bin of "
                      "predictions: dashes, the mean prediction; dots and bands, what happened (80% interval); "
                      "grey bars, the number of answers (right axis)."):
            if answered < MIN_FOR_CALIBRATION:
                ui.label(f"{answered} answers so far; the bins become readable after "
                         f"{MIN_FOR_CALIBRATION}.") \
                    .classes("text-sm")
            charts.chart(charts.calibration(data.calibration), label="Calibration of predicted P(correct)",
                         marker="chart-calibration")
        with _section("Predicted against actual time", _coverage_note(data.times)):
            charts.chart(charts.time_checks(data.times), label="Predicted time range against actual time",
                         marker="chart-times")
        with _section("Ability per topic", "Your rate with its 80% interval (wide with few answers), and "
                      "what your predictions expect for a medium task now."):
            charts.chart(charts.abilities(data.abilities), label="Ability per topic with uncertainty",
                         marker="chart-ability")
        with _section("Time per topic per week", "Minutes spent, stacked by topic."):
            charts.chart(charts.weekly_time(data.weekly), label="Minutes per topic per week",
                         marker="chart-weekly")
    with _section("Model leaderboard", "Every model predicted each of your tasks before you answered; this is "
                  "how each did on your answers, best first. \"Right about 70% of the time\": of a task you got "
                  "right and one you got wrong, how often it gave the right one the higher chance (50% is a coin "
                  "toss)."):
        if data.leaderboard:
            _leaderboard(data.leaderboard)
        else:
            ui.label("No scored predictions yet.").classes("text-sm")


def _coverage_note(times: list[analytics.TimeCheck]) -> str:
    if not times:
        return "No timed tasks yet."
    inside = sum(check.inside for check in times)
    return (f"{inside} of {len(times)} actual times fell inside the predicted 80% range "
            f"({inside / len(times):.0%}; well calibrated is about 80%). Showing the latest 30.")


def register() -> None:
    """Register the page."""

    @ui.page(PATH)
    async def analytics_page(request: Request) -> RedirectResponse | None:
        checked = auth.require_user(request)
        if isinstance(checked, RedirectResponse):
            return checked
        user, who = checked
        with frame("Analytics", user=user, path=PATH):
            placeholder = await placeholder_until_connected(blocks=6, height="22rem", columns=GRID)
            outcome = await perform(who, _load(who.zone), path=PATH)
            placeholder.delete()
            if not outcome.ok or outcome.value is None:
                return None
            data = outcome.value
            if not data.progress.periods:
                empty_state("No completed tasks yet. Complete a task (start it, then mark it correct or "
                            "incorrect) and your progress, calibration and the model leaderboard "
                            "appear here.",
                            action="Go to tasks", target="/dashboard/tasks", icon="insights")
                return None
            _render(data)
        return None
