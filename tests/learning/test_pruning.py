"""Old model versions are pruned in the training's transaction: each model keeps its champion and its
``STUDYSMART_MODEL_VERSIONS_KEPT`` newest versions."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings, get_settings
from studysmart.core.db import transaction, utcnow
from studysmart.learning import tracker as training
from studysmart.learning import trainer as pipeline
from studysmart.learning.models import ModelVersion
from studysmart.learning.pruning import prune_versions
from tests.learning.test_pipeline import _history


def _versions(session: Session) -> dict[str, list[int]]:
    rows = session.execute(select(ModelVersion.model, ModelVersion.version).order_by(ModelVersion.version))
    out: dict[str, list[int]] = {}
    for model, version in rows:
        out.setdefault(model, []).append(version)
    return out


def _store(session: Session, model: str, versions: range, champion: int) -> None:
    for version in versions:
        session.add(ModelVersion(model=model, version=version, artifact=b"x", is_champion=version == champion,
                                 created_at=utcnow()))
    session.flush()


def test_pruning_keeps_each_champion_and_the_newest_versions(session: Session) -> None:
    _store(session, "a", range(1, 8), champion=2)
    _store(session, "b", range(1, 3), champion=2)
    assert prune_versions(session, keep=3) == {"a": 3}
    assert _versions(session) == {"a": [2, 5, 6, 7], "b": [1, 2]}
    assert prune_versions(session, keep=3) == {}


def test_each_training_prunes_to_the_setting(fast_models: Any, sessions: sessionmaker[Session],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDYSMART_MODEL_VERSIONS_KEPT", "2")
    get_settings.cache_clear()
    settings: Settings = get_settings()
    assert settings.model_versions_kept == 2
    user = _history(sessions)
    for _ in range(4):
        _history(sessions, n=3, user=user)
        with transaction(sessions) as session:
            training.mark_queued(session=session, now=utcnow())
        outcome = pipeline.run_training(sessions, settings)
        assert outcome is not None and outcome.status == "succeeded"
    with sessions() as session:
        versions = _versions(session)
        champions = dict(session.execute(select(ModelVersion.model, ModelVersion.version)
                                         .where(ModelVersion.is_champion.is_(True))).all())
    assert set(versions) == set(settings.enabled_models)
    for model, kept in versions.items():
        assert kept[-2:] == [3, 4], (model, kept)  # the two newest
        assert set(kept) == {3, 4} | {champions[model]}, (model, kept)  # and the champion, whichever it is
