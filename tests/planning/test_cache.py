"""The in-process plan cache: least recently used entries go, an exam keeps one entry, and an edit is never
answered from the cache, even one made at the same instant as the cached read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from studysmart.planning import service
from studysmart.planning.cache import PlanCache
from studysmart.planning.engine import Plan, Readiness
from studysmart.planning.schemas import ExamUpdate
from tests.factories import make_user

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def _entry(n: int) -> tuple[Plan, Readiness]:
    plan = Plan(created_on=date(2025, 3, 3), exam_date=date(2025, 3, 10), days=(), expected_gain=float(n))
    ready = Readiness(expected_score=0.5, low=0.4, high=0.6, forecast_on_exam_day=0.7, forecast_low=0.6,
                      forecast_high=0.8)
    return plan, ready


def test_least_recently_used_entries_go_and_an_exam_keeps_its_newest() -> None:
    cache = PlanCache(size=2)
    cache.put((1, "a"), _entry(1))
    cache.put((2, "a"), _entry(2))
    assert cache.get((1, "a")) == _entry(1)  # exam 1 is now the most recently used
    cache.put((3, "a"), _entry(3))
    assert cache.get((2, "a")) is None and cache.get((1, "a")) == _entry(1) and len(cache) == 2
    cache.put((1, "b"), _entry(4))  # a new stamp for exam 1 replaces its old entry
    assert cache.get((1, "a")) is None and cache.get((1, "b")) == _entry(4) and len(cache) == 2


def test_an_edit_at_the_same_instant_is_not_answered_from_the_cache(session: Session) -> None:
    user = make_user(session, now=NOW)
    exam = service.create_exam(session=session, user=user, name="Finals", date=NOW.date() + timedelta(days=4),
                               topics=[{"topic": "Algebra"}], minutes_per_weekday=[30] * 7, now=NOW)
    session.commit()
    cache = PlanCache()
    before = service.exam_state(session=session, user=user, exam_id=exam.id, now=NOW, cache=cache).plan
    assert {d.minutes_available for d in before.days} == {30}
    service.update_exam(session=session, user=user, exam_id=exam.id, update=ExamUpdate(minutes_per_weekday=[20] * 7),
                        now=NOW)
    session.commit()
    after = service.exam_state(session=session, user=user, exam_id=exam.id, now=NOW, cache=cache).plan
    assert {d.minutes_available for d in after.days} == {20}
    assert all(d.minutes_planned <= 20 for d in after.days)
