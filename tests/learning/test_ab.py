"""A/B serving: the configured share of students, chosen by a stable hash, gets the challenger; the rest the
champion."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.orm import Session

from studysmart.core.config import get_settings
from studysmart.learning import registry, serving
from studysmart.learning.models import ModelVersion

STUDENTS = 600


def _arms(session: Session, monkeypatch: pytest.MonkeyPatch, share: float) -> dict[int, tuple[str, str]]:
    monkeypatch.setenv("STUDYSMART_AB_CHALLENGER_SHARE", str(share))
    get_settings.cache_clear()
    champion, challenger = registry.FALLBACK, registry.servable()[0]
    assert champion != challenger
    # Both models have a version here; no other model does.
    monkeypatch.setattr(serving.CACHE, "get",
                        lambda _session, name: object() if name in (champion, challenger) else None)
    students: list[Any] = [SimpleNamespace(id=i, preference=lambda _key: registry.AUTO) for i in range(1, STUDENTS)]
    return {s.id: serving.choose_model(session, s) for s in students}


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3])
def test_the_challenger_serves_the_configured_share_of_students(session: Session, monkeypatch: pytest.MonkeyPatch,
                                                                share: float) -> None:
    arms = _arms(session, monkeypatch, share)
    challenged = [student for student, (_, arm) in arms.items() if arm == "challenger"]
    assert {name for name, arm in arms.values() if arm == "champion"} == {registry.FALLBACK}
    assert {name for name, arm in arms.values() if arm == "challenger"} <= {registry.servable()[0]}
    # Binomial(599, share): within 4 standard deviations.
    expected, sd = share * len(arms), (share * (1 - share) * len(arms)) ** 0.5
    assert abs(len(challenged) - expected) <= 4 * sd + 1e-9
    assert _arms(session, monkeypatch, share) == arms  # a student's arm never changes between requests


def test_the_challenger_is_the_runner_up_by_held_out_log_loss(session: Session,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    servable = registry.servable()
    first, better = servable[0], servable[1]  # the registry's first is not the best here
    for name, loss in ((first, 0.70), (better, 0.55)):
        session.add(ModelVersion(model=name, version=1, artifact=b"", metrics={"log_loss": loss}, is_champion=True))
    session.flush()
    monkeypatch.setenv("STUDYSMART_AB_CHALLENGER_SHARE", "1")
    get_settings.cache_clear()
    monkeypatch.setattr(serving.CACHE, "get", lambda _session, name: object())
    student: Any = SimpleNamespace(id=1, preference=lambda _key: registry.AUTO)
    assert serving.choose_model(session, student) == (better, "challenger")
    monkeypatch.setattr(serving.CACHE, "get", lambda _session, name: None if name == better else object())
    assert serving.choose_model(session, student) == (first, "challenger")  # the best one this process can serve
