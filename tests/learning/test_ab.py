"""A/B serving: the configured share of students, chosen by a stable hash, gets the challenger; the rest the
champion."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from studysmart.learning import registry, serving
from studysmart.learning.context import AppContext
from studysmart.learning.models import ModelVersion
from tests.conftest import reconfigured

STUDENTS = 600


def _arms(context: AppContext, monkeypatch: pytest.MonkeyPatch, share: float) -> dict[int, tuple[str, str]]:
    context = reconfigured(context, ab_challenger_share=share)
    champion, challenger = registry.FALLBACK, registry.servable()[0]
    assert champion != challenger
    # Both models have a version here; no other model does.
    monkeypatch.setattr(context.models, "get",
                        lambda _session, name: object() if name in (champion, challenger) else None)
    students: list[Any] = [SimpleNamespace(id=i, preference=lambda _key: registry.AUTO) for i in range(1, STUDENTS)]
    with context.sessions() as session:
        return {s.id: serving.choose_model(session, s) for s in students}


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3])
def test_the_challenger_serves_the_configured_share_of_students(context: AppContext,
                                                                monkeypatch: pytest.MonkeyPatch, share: float) -> None:
    arms = _arms(context, monkeypatch, share)
    challenged = [student for student, (_, arm) in arms.items() if arm == "challenger"]
    assert {name for name, arm in arms.values() if arm == "champion"} == {registry.FALLBACK}
    assert {name for name, arm in arms.values() if arm == "challenger"} <= {registry.servable()[0]}
    # Binomial(599, share): within 4 standard deviations.
    expected, sd = share * len(arms), (share * (1 - share) * len(arms)) ** 0.5
    assert abs(len(challenged) - expected) <= 4 * sd + 1e-9
    assert _arms(context, monkeypatch, share) == arms  # a student's arm never changes between requests


def test_the_challenger_is_the_runner_up_by_held_out_log_loss(context: AppContext,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    context = reconfigured(context, ab_challenger_share=1.0)
    servable = registry.servable()
    first, better = servable[0], servable[1]  # the registry's first is not the best here
    session = context.sessions()  # closed with the test's engine
    for name, loss in ((first, 0.70), (better, 0.55)):
        session.add(ModelVersion(model=name, version=1, artifact=b"", metrics={"log_loss": loss}, is_champion=True))
    session.flush()
    monkeypatch.setattr(context.models, "get", lambda _session, name: object())
    student: Any = SimpleNamespace(id=1, preference=lambda _key: registry.AUTO)
    assert serving.choose_model(session, student) == (better, "challenger")
    monkeypatch.setattr(context.models, "get", lambda _session, name: None if name == better else object())
    assert serving.choose_model(session, student) == (first, "challenger")  # the best one this process can serve
