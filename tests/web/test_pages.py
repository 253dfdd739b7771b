"""The dashboard, analytics and preparation pages with and without data (empty states that say what to do)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.learning import registry
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty
from studysmart.users.models import User as Account
from studysmart.web.components import exams
from tests.factories import make_task
from tests.web.conftest import browser_today, log_in, see


def _history(sessions: sessionmaker[Session], student: Account, now: datetime) -> None:
    """Eight answers over the last four days, and two planned tasks (one started)."""
    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        assert owner is not None
        for day in range(4):
            for topic, correct in (("Algebra", True), ("Geometry", day % 2 == 0)):
                when = now - timedelta(days=day, minutes=5)
                task = make_task(session, owner, now=when, topic=topic)
                tasks.complete_task(session=session, user=owner, task_id=task.id, correct=correct,
                                    seconds=240 + 30 * day, now=when + timedelta(minutes=1))
        make_task(session, owner, now=now, topic="Algebra", title="Planned practice")
        started = make_task(session, owner, now=now, topic="Geometry", title="Started practice",
                            difficulty=Difficulty.HARD)
        tasks.start_task(session=session, user=owner, task_id=started.id, now=now)


@pytest.fixture
def exam_source(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    exam = exams.ExamView(
        name="Maths final", day=browser_today() + timedelta(days=10),
        topics=(("Algebra", 0.6), ("Geometry", 0.4)),
        readiness=exams.ExamReadiness(expected_score=0.64, low=0.52, high=0.75, forecast_on_exam_day=0.78),
        plan=(exams.ExamPlanDay(browser_today(), 60, 45, ("3 × Algebra (medium)",)),),
        ics=lambda: b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
    )
    monkeypatch.setattr(exams, "planning_exams", lambda *, session, user, now: [exam])
    yield


async def test_dashboard_today_at_a_glance(user: User, student: Account, now: datetime,
                                           sessions: sessionmaker[Session]) -> None:
    _history(sessions, student, now)
    await log_in(user, student.email)
    await see(user, "Today's plan")
    with user.scope(marker="today-plan"):
        await user.should_see("Planned practice")
        await user.should_see("Started practice")
        await user.should_see(marker="timer")  # the started task's timer
    with user.scope(marker="stat-planned"):
        await user.should_see("2")
    with user.scope(marker="stat-streak"):
        await user.should_see("4 days")
    with user.scope(marker="stat-week"):
        await user.should_see("6 of 8 correct")
        await user.should_see("75%")
    await user.should_see("goal 60 min")
    await user.should_see("Your predictions learn from your 8 answers, the latest included.")
    await user.should_see("No exams yet")


async def test_dashboard_shows_the_next_exam_when_planning_provides_one(
        user: User, student: Account, exam_source: None) -> None:
    await log_in(user, student.email)
    await see(user, "Maths final")
    await user.should_see("Expected score now 64% (52%–75%)")
    await user.should_not_see("Day-by-day plan")  # the dashboard shows no days of the plan: no empty section


def test_the_readiness_line_compares_with_the_target() -> None:
    ready = exams.ExamReadiness(expected_score=0.64, low=0.52, high=0.75, forecast_on_exam_day=0.78, target=0.8)
    assert exams.readiness_line(ready).endswith("· target 80%: behind")
    assert exams.readiness_line(replace(ready, target=0.75)).endswith("· target 75%: on track")  # by exam day
    assert exams.readiness_line(replace(ready, forecast_on_exam_day=None, target=0.7)).endswith("target 70%: behind")
    flat = exams.readiness_line(replace(ready, forecast_on_exam_day=0.64, target=None, visible_gain=False))
    assert flat.endswith("on exam day 64% if you follow the plan (your predictions show no gain from this practice "
                         "yet)")
    assert "no gain" not in exams.readiness_line(ready)


async def test_dashboard_skips_exams_that_have_passed(user: User, student: Account,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def view(name: str, days: int) -> exams.ExamView:
        return exams.ExamView(name=name, day=browser_today() + timedelta(days=days), topics=(("Algebra", 1.0),))

    monkeypatch.setattr(exams, "planning_exams",
                        lambda *, session, user, now: [view("Mock exam", -2), view("Final exam", 5)])
    await log_in(user, student.email)
    await see(user, "Final exam")
    await user.should_see("in 5 days")
    await user.should_not_see("Mock exam")


def test_exam_days_read_naturally() -> None:
    today = date(2026, 3, 10)
    labels = [exams.when_label(today + timedelta(days=d), today) for d in (-5, -1, 0, 1, 3)]
    assert labels == ["5 days ago", "yesterday", "today", "tomorrow", "in 3 days"]


async def test_empty_analytics_say_what_to_do(user: User, student: Account) -> None:
    await log_in(user, student.email, path="/?next=/dashboard/analytics")
    await see(user, "No completed tasks yet")
    await user.should_see("Go to tasks")
    await user.should_not_see(kind=ui.echart)


async def test_analytics_with_history(user: User, student: Account, now: datetime,
                                      sessions: sessionmaker[Session]) -> None:
    _history(sessions, student, now)
    await log_in(user, student.email, path="/?next=/dashboard/analytics")
    await see(user, marker="chart-accuracy")
    for marker in ("chart-time", "chart-calibration", "chart-times", "chart-ability", "chart-weekly"):
        await user.should_see(marker=marker)
    accuracy = user.find(marker="chart-accuracy").elements.pop()
    assert isinstance(accuracy, ui.echart)
    series = {s["name"]: s["data"] for s in accuracy.options["series"]}
    assert series["Algebra"] == [100.0, 100.0, 100.0, 100.0]
    assert series["Geometry"] == [0.0, 50.0, 33.3, 50.0]  # F, T, F, T: the trailing share correct
    await user.should_see("answers so far; the bins become readable after 10")
    await user.should_see(marker="leaderboard")
    table = user.find(marker="leaderboard").elements.pop()
    assert isinstance(table, ui.table)
    serving = f"{registry.plain_name(registry.FALLBACK)} (serving you now)"
    assert serving in [row["model"] for row in table.rows]
    assert all(row["n"] == 8 for row in table.rows)


async def test_preparation_without_and_with_exams(user: User, student: Account,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    await log_in(user, student.email, path="/?next=/dashboard/preparation")
    await see(user, "No exams yet")
    monkeypatch.setattr(exams, "planning_exams", lambda *, session, user, now: [exams.ExamView(
        name="Maths final", day=browser_today() + timedelta(days=3), topics=(("Algebra", 1.0),),
        ics=lambda: b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")])
    await user.open("/dashboard/preparation")
    await see(user, "Maths final")
    await user.should_see("Readiness appears after your first answers")
    user.find("Export to calendar (.ics)").click()
    response = await user.download.next(timeout=5)
    assert response.content.startswith(b"BEGIN:VCALENDAR")
