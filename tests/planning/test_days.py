"""Skipping and moving days of the plan (service and API, SQLite and PostgreSQL), and the planning options
(productive band, tasks per day) through the API: the plan re-flows within every day's minutes and task limit,
changes are stored and can be undone, and bad days are a 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from studysmart.planning import service
from studysmart.planning.engine import PlanningError
from studysmart.planning.schemas import exam_update
from studysmart.users.models import User
from tests.factories import make_user, register

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday morning
TODAY = NOW.date()
EXAMS = "/api/v1/exams"


@pytest.fixture
def student(session: Session) -> User:
    user = make_user(session, now=NOW)
    session.commit()
    return user


def _exam(session: Session, user: User, **kw: Any) -> int:
    exam = service.create_exam(session=session, user=user, name="Finals", date=TODAY + timedelta(days=7),
                               topics=[{"topic": "Algebra", "weight": 2.0}, {"topic": "Geometry", "weight": 1.0}],
                               minutes_per_weekday=kw.pop("minutes", [30] * 7), now=NOW, **kw)
    session.commit()
    return exam.id


def _within_limits(plan, max_tasks: int) -> None:
    for day in plan.days:
        assert day.minutes_planned <= day.minutes_available + 1e-9, day
        assert sum(i.count for i in day.items) <= max_tasks, day


def _problems(plan) -> int:
    return sum(i.count for d in plan.days for i in d.items)


def test_a_skipped_day_has_no_minutes_and_its_work_re_flows(session: Session, student: User) -> None:
    exam_id = _exam(session, student, minutes=[40] * 7)
    before = service.exam_plan(session=session, user=student, exam_id=exam_id, now=NOW)
    skipped = TODAY + timedelta(days=2)
    assert before.day(skipped).items  # type: ignore[union-attr]
    service.skip_day(session=session, user=student, exam_id=exam_id, day=skipped, now=NOW)
    session.commit()
    session.expire_all()  # read back what was stored
    after = service.exam_plan(session=session, user=student, exam_id=exam_id, now=NOW)
    day = after.day(skipped)
    assert day is not None and day.minutes_available == 0 and not day.items
    _within_limits(after, 12)
    assert _problems(after) >= _problems(before) - sum(i.count for i in before.day(skipped).items)  # type: ignore
    topics = {i.topic for d in after.days for i in d.items}
    assert topics == {"Algebra", "Geometry"}
    service.restore_day(session=session, user=student, exam_id=exam_id, day=skipped, now=NOW)
    session.commit()
    assert service.exam_plan(session=session, user=student, exam_id=exam_id, now=NOW).day(skipped) == \
        before.day(skipped)


def test_a_moved_days_minutes_go_to_the_day_it_moved_to(session: Session, student: User) -> None:
    exam_id = _exam(session, student, minutes=[20] * 7)
    before = service.exam_plan(session=session, user=student, exam_id=exam_id, now=NOW)
    day, to = TODAY + timedelta(days=1), TODAY + timedelta(days=2)
    exam = service.move_day(session=session, user=student, exam_id=exam_id, day=day, to=to, now=NOW)
    session.commit()
    assert exam.moves() == {day: to}
    after = service.exam_plan(session=session, user=student, exam_id=exam_id, now=NOW)
    moved, target = after.day(day), after.day(to)
    assert moved is not None and moved.minutes_available == 0 and not moved.items
    assert target is not None and target.minutes_available == 40
    assert target.minutes_planned > before.day(to).minutes_planned  # type: ignore[union-attr]
    _within_limits(after, 12)


def test_the_task_limit_and_the_band_come_from_the_exam(session: Session, student: User) -> None:
    exam_id = _exam(session, student, minutes=[90] * 7, max_tasks_per_day=3, productive_band=(0.3, 0.95))
    plan = service.exam_plan(session=session, user=student, exam_id=exam_id, now=NOW)
    assert any(d.items for d in plan.days)
    _within_limits(plan, 3)
    service.update_exam(session=session, user=student, exam_id=exam_id,
                        update=exam_update({"max_tasks_per_day": 1}), now=NOW)
    session.commit()
    _within_limits(service.exam_plan(session=session, user=student, exam_id=exam_id, now=NOW), 1)


@pytest.mark.parametrize(
    ("offset", "to", "field"),
    [
        (-1, None, "date"),  # past
        (7, None, "date"),  # the exam day
        (30, None, "date"),  # after the exam
        (3, None, "date"),  # a day off
        (1, 1, "to"),  # to itself
        (1, 7, "to"),  # to the exam day
        (1, -1, "to"),  # to the past
        (1, 3, "to"),  # to a day off
    ],
)
def test_days_outside_the_plan_name_the_field(session: Session, student: User, offset: int, to: int | None,
                                              field: str) -> None:
    exam_id = _exam(session, student, days_off=[TODAY + timedelta(days=3)])
    day = TODAY + timedelta(days=offset)
    with pytest.raises(PlanningError) as caught:
        if to is None:
            service.skip_day(session=session, user=student, exam_id=exam_id, day=day, now=NOW)
        else:
            service.move_day(session=session, user=student, exam_id=exam_id, day=day,
                             to=TODAY + timedelta(days=to), now=NOW)
    assert caught.value.field == field


def test_a_day_with_its_tasks_on_the_list_or_other_days_moved_to_it_stays(session: Session,
                                                                         student: User) -> None:
    exam_id = _exam(session, student)
    service.materialize_day(session=session, user=student, exam_id=exam_id, day=TODAY, now=NOW)
    tomorrow, later = TODAY + timedelta(days=1), TODAY + timedelta(days=2)
    service.move_day(session=session, user=student, exam_id=exam_id, day=tomorrow, to=later, now=NOW)
    session.commit()
    for call in (lambda: service.skip_day(session=session, user=student, exam_id=exam_id, day=TODAY, now=NOW),
                 lambda: service.skip_day(session=session, user=student, exam_id=exam_id, day=later, now=NOW),
                 lambda: service.move_day(session=session, user=student, exam_id=exam_id, day=later,
                                          to=TODAY + timedelta(days=4), now=NOW),
                 lambda: service.restore_day(session=session, user=student, exam_id=exam_id, day=later, now=NOW)):
        with pytest.raises(PlanningError) as caught:
            call()
        assert caught.value.field == "date"
    with pytest.raises(PlanningError) as caught:  # onto a day that moved away itself
        service.move_day(session=session, user=student, exam_id=exam_id, day=later + timedelta(days=1),
                         to=tomorrow, now=NOW)
    assert caught.value.field == "to"


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_the_api_skips_moves_and_restores_days(client: TestClient) -> None:
    headers = register(client)
    start = datetime.now(UTC).date()
    body = {"name": "Finals", "date": (start + timedelta(days=7)).isoformat(), "topics": [{"topic": "Algebra"}],
            "minutes_per_weekday": [30] * 7, "productive_band": [0.5, 0.85], "max_tasks_per_day": 4}
    created = client.post(EXAMS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    exam = created.json()
    assert exam["productive_band"] == [0.5, 0.85] and exam["max_tasks_per_day"] == 4 and exam["day_changes"] == []
    base = f"{EXAMS}/{exam['id']}/plan"
    day1, day2, day3 = ((start + timedelta(days=k)).isoformat() for k in (1, 2, 3))
    skipped = client.post(f"{base}/{day1}/skip", headers=headers)
    assert skipped.status_code == 200, skipped.text
    moved = client.post(f"{base}/{day2}/move", json={"to": day3}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["day_changes"] == [{"date": day1, "moved_to": None}, {"date": day2, "moved_to": day3}]
    plan = {d["date"]: d for d in client.get(base, headers=headers).json()["days"]}
    assert plan[day1]["minutes_available"] == 0 and plan[day2]["minutes_available"] == 0
    assert plan[day3]["minutes_available"] == 60
    assert all(sum(i["count"] for i in d["items"]) <= 4 for d in plan.values())
    restored = client.delete(f"{base}/{day1}/change", headers=headers)
    assert restored.status_code == 200 and restored.json()["day_changes"] == [{"date": day2, "moved_to": day3}]
    patched = client.patch(f"{EXAMS}/{exam['id']}", json={"productive_band": [0.6, 0.8], "max_tasks_per_day": 50},
                           headers=headers)
    assert patched.status_code == 200 and patched.json()["productive_band"] == [0.6, 0.8]
    assert patched.json()["max_tasks_per_day"] == 50
    past = (start - timedelta(days=1)).isoformat()
    for method, url, json, loc in (
            ("POST", f"{base}/{past}/skip", None, ["path", "date"]),
            ("POST", f"{base}/{exam['date']}/skip", None, ["path", "date"]),
            ("POST", f"{base}/{day1}/move", {"to": past}, ["body", "to"]),
            ("POST", f"{base}/{day1}/move", {"to": exam["date"]}, ["body", "to"]),
            ("POST", f"{base}/{day1}/move", {}, ["body", "to"]),
            ("POST", f"{base}/{day1}/move", {"to": "soon"}, ["body", "to"]),
            ("DELETE", f"{base}/{day1}/change", None, ["path", "date"]),
            ("POST", f"{base}/not-a-date/skip", None, ["path", "date"])):
        response = client.request(method, url, json=json, headers=headers)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["detail"][0]["loc"] == loc, (url, response.text)
    assert client.get(f"{EXAMS}/{exam['id']}", headers=headers).json()["day_changes"] == \
        [{"date": day2, "moved_to": day3}]  # refused changes changed nothing
