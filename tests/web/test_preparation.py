"""The preparation page on the planning service: add an exam through the form, see its readiness and plan, add
today's tasks, download the .ics, edit and delete, service errors as messages, nobody sees another's exams."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from nicegui.testing import User
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.planning import service as planning
from studysmart.planning.models import Exam
from studysmart.planning.schemas import ExamUpdate
from studysmart.tasks.models import Task
from studysmart.users.models import User as Account
from studysmart.web.pages import dashboard, preparation
from studysmart.web.pages.preparation import parse_dates, parse_topics
from tests.factories import make_user
from tests.web.conftest import BROWSER_ZONE, log_in, see

PATH = "/dashboard/preparation"


def _exams(sessions: sessionmaker[Session], owner: Account) -> list[Exam]:
    with sessions() as session:
        return list(session.scalars(select(Exam).where(Exam.owner_id == owner.id)))


def _add_exam(sessions: sessionmaker[Session], owner: Account, now: datetime, name: str = "Maths finals") -> int:
    with transaction(sessions) as session:
        account = session.get(Account, owner.id)
        assert account is not None
        return planning.create_exam(
            session=session, user=account, name=name, now=now,
            date=now.astimezone(ZoneInfo(BROWSER_ZONE)).date() + timedelta(days=6),
            topics=[{"topic": "Algebra", "weight": 2}, {"topic": "Geometry"}],
            minutes_per_weekday=[30] * 7, timezone=BROWSER_ZONE).id


def test_parsing_the_form_fields() -> None:
    assert parse_topics("Algebra: 2, Geometry ;Calculus:0.5") == [
        {"topic": "Algebra", "weight": 2.0}, {"topic": "Geometry", "weight": 1.0},
        {"topic": "Calculus", "weight": 0.5}]
    assert parse_topics(" , ") == []
    assert parse_dates("2025-03-05, 2025-03-07") == [date(2025, 3, 5), date(2025, 3, 7)]


async def test_add_an_exam_through_the_form(user: User, student: Account, sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "No exams yet")
    await see(user, marker="add-exam")  # the page builds after its exams load
    user.find(marker="add-exam").click()
    await see(user, marker="exam-name")
    user.find(marker="save-exam").click()
    await user.should_see("A name is needed.")
    user.find(marker="exam-name").type("Maths finals")
    user.find(marker="exam-topics").type("Algebra: 2, Geometry")
    user.find(marker="exam-target").type("80")
    user.find(marker="save-exam").click()
    await see(user, "Added “Maths finals”.")
    await see(user, marker="exam")
    await user.should_see("Expected score now")
    await see(user, marker="plan-week")
    [exam] = _exams(sessions, student)
    assert exam.name == "Maths finals" and exam.timezone == BROWSER_ZONE and exam.target_score == 0.8
    assert [(et.topic.name, et.weight) for et in exam.topics] == [("Algebra", 2.0), ("Geometry", 1.0)]
    assert exam.minutes_per_weekday == [60.0] * 7  # the student's daily goal
    assert exam.plan_record is not None  # creating the exam stored its first plan


async def test_service_errors_are_messages_and_the_form_stays(user: User, student: Account,
                                                              sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker="add-exam")  # the page builds after its exams load
    user.find(marker="add-exam").click()
    await see(user, marker="exam-name")
    user.find(marker="exam-name").type("Old exam")
    user.find(marker="exam-topics").type("Algebra")
    user.find(marker="exam-date").clear().type("2001-01-01")
    user.find(marker="save-exam").click()
    await see(user, "Exam date: the exam (2001-01-01) is in the past")
    await user.should_see(marker="save-exam")
    assert _exams(sessions, student) == []


async def test_add_todays_tasks_and_download_the_calendar(user: User, student: Account, now: datetime,
                                                          sessions: sessionmaker[Session]) -> None:
    _add_exam(sessions, student, now)
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "Maths finals")
    await see(user, marker="materialize")
    user.find(marker="materialize").click()
    await see(user, "for today to your task list.")
    await see(user, marker="materialized")
    with sessions() as session:
        made = list(session.scalars(select(Task).where(Task.owner_id == student.id)))
    assert made and all(t.p_correct is not None and " problem" in t.title and t.title.startswith(t.topic.name)
                        for t in made)
    user.find(marker="export-ics").click()
    response = await user.download.next(timeout=5)
    assert len(Calendar.from_ical(response.content).walk("VEVENT")) >= 1


async def test_edit_and_delete_an_exam(user: User, student: Account, now: datetime,
                                       sessions: sessionmaker[Session]) -> None:
    _add_exam(sessions, student, now)
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "Maths finals")
    user.find(marker="edit-exam").click()
    await see(user, marker="exam-name")
    user.find(marker="exam-name").clear().type("Finals")
    user.find(marker="exam-topics").clear().type("Geometry: 1, Calculus: 3")
    user.find(marker="save-exam").click()
    await see(user, "Saved.")
    [exam] = _exams(sessions, student)
    assert exam.name == "Finals" and [et.topic.name for et in exam.topics] == ["Geometry", "Calculus"]
    await see(user, "Calculus 75%")

    user.find(marker="delete-exam").click()
    await see(user, "Delete “Finals”?")
    user.find(marker="confirm-delete").click()
    await see(user, "No exams yet")
    assert _exams(sessions, student) == []


async def test_nobody_sees_another_students_exams(user: User, student: Account, now: datetime,
                                                  sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        other = make_user(session, now=now)
    _add_exam(sessions, other, now, name="Someone else's exam")
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "No exams yet")
    await user.should_not_see("Someone else's exam")
    await user.open("/dashboard")
    await see(user, marker="next-exam")
    await user.should_not_see("Someone else's exam")


async def test_the_dashboard_shows_the_next_exam_from_planning(user: User, student: Account, now: datetime,
                                                               sessions: sessionmaker[Session]) -> None:
    _add_exam(sessions, student, now)
    await log_in(user, student.email)
    await see(user, marker="next-exam")
    with user.scope(marker="next-exam"):
        await see(user, "Maths finals")
        await user.should_see("Expected score now")


async def test_a_page_left_open_past_midnight_does_not_add_yesterdays_tasks(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _add_exam(sessions, student, now)
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker="materialize")
    monkeypatch.setattr(preparation, "utcnow", lambda: now + timedelta(days=1))  # the clock passes midnight
    user.find(marker="materialize").click()
    await see(user, "Your plan has moved on to a new day")
    with sessions() as session:
        assert list(session.scalars(select(Task).where(Task.owner_id == student.id))) == []


async def test_a_past_exam_is_listed_last_can_be_renamed_and_is_not_the_next_exam(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    past_id = _add_exam(sessions, student, now - timedelta(days=9), name="Mock exam")  # its day was 3 days ago
    with transaction(sessions) as session:
        account = session.get(Account, student.id)
        assert account is not None
        planning.update_exam(session=session, user=account, exam_id=past_id, update=ExamUpdate(name="Mock exam 1"),
                             now=now)
        planning.update_exam(session=session, user=account, exam_id=past_id, update=ExamUpdate(target_score=0.5),
                             now=now)
    await log_in(user, student.email)
    await see(user, marker="next-exam")
    with user.scope(marker="next-exam"):
        await see(user, "No upcoming exams")
    _add_exam(sessions, student, now, name="Final exam")
    await user.open(PATH)
    await see(user, "Final exam")
    await user.should_see("3 days ago")
    [column] = user.find(marker="exams").elements
    cards = [e for e in column.descendants() if "exam" in e._markers]  # in page order
    assert len(cards) == 2
    texts = [" ".join(str(getattr(c, "text", "")) for c in card.descendants()) for card in cards]
    assert "Final exam" in texts[0] and "Mock exam 1" in texts[1]  # upcoming first, past last
    assert "on exam day" not in texts[1] and "target 50%" in texts[1]  # no forecast for a day that has passed


def _titles(user: User) -> list[str]:
    """Today's entries in the order shown (elements are numbered as they are made)."""
    return [label.text for label in sorted(user.find(marker="today-title").elements, key=lambda e: e.id)]


def _words(user: User, marker: str) -> str:
    """The text of the one element with ``marker`` and of everything inside it."""
    [element] = user.find(marker=marker).elements
    return " ".join(str(e.text) for e in (element, *element.descendants()) if getattr(e, "text", ""))


async def test_todays_list_is_the_same_on_the_dashboard_and_the_preparation_page(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    _add_exam(sessions, student, now)
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker="prep-today")
    await see(user, marker="to-add")
    planned = _titles(user)
    assert planned and all(" problem" in title for title in planned)
    total = _words(user, "prep-today-total")
    await user.open("/dashboard")
    await see(user, marker="today-plan")
    await see(user, marker="today-title")
    shown = dashboard.SHOWN_PLANNED  # the dashboard shows the first 8 and "and N more"
    assert _titles(user) == planned[:shown]  # the dashboard showed only the task list before
    count, _, minutes = total.partition(" tasks · ")
    assert _words(user, "stat-planned").startswith(f"Planned today {count} {minutes}")
    await user.open(PATH)
    await see(user, marker="materialize")
    user.find(marker="materialize").click()
    await see(user, marker="materialized")
    await user.should_not_see(marker="to-add")  # every entry is on the list now
    added = _titles(user)
    assert added == planned
    await user.open("/dashboard")
    await see(user, marker="today-title")
    assert _titles(user) == added[:shown]


async def test_the_plan_shows_every_day_a_week_at_a_time_and_a_day_can_be_skipped_moved_and_restored(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        account = session.get(Account, student.id)
        assert account is not None
        exam_id = planning.create_exam(session=session, user=account, name="Long exam", now=now,
                                       date=now.date() + timedelta(days=17), topics=[{"topic": "Algebra"}],
                                       minutes_per_weekday=[30] * 7, timezone="UTC").id
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, marker="plan-week")
    today = now.date()
    assert len(user.find(marker="plan-day").elements) == 7
    await user.should_see(f"{today:%a %d %b} – {today + timedelta(days=6):%a %d %b}")
    user.find(marker="next-week").click()
    await see(user, f"{today + timedelta(days=7):%a %d %b} – {today + timedelta(days=13):%a %d %b}")
    user.find(marker="next-week").click()
    await see(user, "week 3 of 3")
    assert len(user.find(marker="plan-day").elements) == 3  # the last 3 days before the exam
    user.find(marker="prev-week").click()
    await see(user, "week 2 of 3")
    user.find(marker="prev-week").click()
    await see(user, "week 1 of 3")
    assert len(user.find(marker="skip-day").elements) == 7  # every day of the week can be skipped
    tomorrow, after = (today + timedelta(days=k) for k in (1, 2))
    user.find(marker=f"skip-day-{tomorrow.isoformat()}").click()
    await see(user, "Skipped: its work moved to other days.")
    with sessions() as session:
        stored = session.get(Exam, exam_id)
        assert stored is not None and stored.day_changes == {(today + timedelta(days=1)).isoformat(): None}
    await see(user, marker=f"undo-day-{tomorrow.isoformat()}")
    user.find(marker=f"undo-day-{tomorrow.isoformat()}").click()
    await see(user, "is back in the plan.")
    await see(user, marker=f"move-day-{after.isoformat()}")
    user.find(marker=f"move-day-{after.isoformat()}").click()
    await see(user, f"Moved to {after + timedelta(days=1):%a %d %b}.")
    await see(user, "(with")  # the next day has the moved day's minutes too
    with sessions() as session:
        stored = session.get(Exam, exam_id)
        assert stored is not None and stored.day_changes == {after.isoformat(): (after + timedelta(days=1)).isoformat()}


def test_a_day_past_its_minutes_by_work_done_does_not_read_as_an_overbooked_plan():
    from studysmart.web.components.exams import day_minutes

    assert day_minutes(23.0, 30.0) == "23 of 30 min"
    assert day_minutes(30.2, 30.0) == "30 of 30 min"
    assert day_minutes(81.0, 30.0) == "81 min (day: 30)"  # before: "81 of 30 min"


def test_an_empty_today_says_no_tasks_not_zero_seconds():
    from studysmart.web.components.today import total_line

    assert total_line(planning.TodayPlan(day=date(2025, 3, 3), entries=[])) == "No tasks"  # before: "0 tasks · ~0 s"
