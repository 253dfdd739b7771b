"""Before the first training, a process fits the fallback itself, on a bounded number of answers: all of a small
app's (it serves at once, from every answer), only the most recent ones of a large database (a request never pays
for a fit that grows with the data; the worker's training fits on all of them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from studysmart.learning import cache, registry
from studysmart.learning.cache import ModelCache
from studysmart.learning.history import person_label, recent_responses
from studysmart.ml.data import Responses
from studysmart.tasks import service as tasks
from tests.factories import make_task, make_user

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _answers(session: Session, count: int, start: int) -> str:
    """``count`` completed tasks of a new student, the k-th at T0 + (start + k) minutes; the student's label."""
    user = make_user(session, now=T0)
    for k in range(count):
        when = T0 + timedelta(minutes=start + k)
        task = make_task(session, user, now=when)
        tasks.complete_task(session=session, user=user, task_id=task.id, correct=k % 2 == 0, seconds=60.0,
                            now=when)
    session.flush()
    return person_label(user.id)


def _fitted_on(monkeypatch: pytest.MonkeyPatch) -> list[Responses]:
    seen: list[Responses] = []
    real = cache.with_robust_weights

    def spy(data: Responses) -> Responses:
        seen.append(data)
        return real(data)

    monkeypatch.setattr(cache, "with_robust_weights", spy)
    return seen


def test_a_small_app_fits_the_fallback_on_every_answer(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = _answers(session, 6, 0), _answers(session, 4, 100)
    seen = _fitted_on(monkeypatch)
    entry = ModelCache(refresh_seconds=0).get(session, registry.FALLBACK)
    assert entry is not None and entry.version is None
    assert len(seen) == 1 and len(seen[0]) == 10
    assert set(seen[0].persons) == {first, second}


def test_a_large_database_fits_the_fallback_on_its_most_recent_answers_only(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "FALLBACK_FIT_LIMIT", 5)
    older, newer = _answers(session, 8, 0), _answers(session, 5, 100)
    seen = _fitted_on(monkeypatch)
    entry = ModelCache(refresh_seconds=0).get(session, registry.FALLBACK)
    assert entry is not None and entry.version is None
    assert len(seen) == 1 and len(seen[0]) == 5
    assert set(seen[0].persons) == {newer}  # the older student's answers were not read
    assert older not in set(seen[0].persons)


def test_recent_responses_are_the_newest_in_completion_order(session: Session) -> None:
    _answers(session, 7, 0)
    recent = recent_responses(session, limit=3)
    assert recent.order is not None
    assert list(recent.order) == [(T0 + timedelta(minutes=k)).timestamp() for k in (4, 5, 6)]
