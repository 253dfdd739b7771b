"""Deleted accounts leave the stored models: the training after an account's deletion strips its person from
every champion version (their fitted parameters fall back to the prior) and drops the artifacts of the other
versions (rows and metrics stay; only champions are ever loaded). The versions this run writes never saw them:
the run reads its data after the erasure was committed, together with the deletion of the answers.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.logging import kv
from studysmart.ml import base as ml
from studysmart.ml.data import Responses
from studysmart.training.models import Erasure, ModelVersion

log = logging.getLogger("studysmart.training")


def forget(name: str, model: ml.Model, persons: list[str]) -> ml.Model:
    """A copy of ``model`` in which each of ``persons`` is re-estimated from no answers (the prior); the original
    is left untouched (it may be serving other requests meanwhile)."""
    copy = ml.load(name, model.to_bytes())
    for person in persons:
        copy.update_person(person, Responses.empty())
    return copy


def strip_champions(sessions: sessionmaker[Session], persons: list[str]) -> dict[int, bytes]:
    """Each current champion's artifact without ``persons``: ModelVersion.id -> bytes (computed outside any write
    transaction; a champion that cannot be stripped is left out, and its erasures stay pending)."""
    with sessions() as session:
        champions = session.execute(select(ModelVersion.id, ModelVersion.model, ModelVersion.artifact)
                                    .where(ModelVersion.is_champion.is_(True))).all()
    stripped = {}
    for version_id, name, blob in champions:
        try:
            stripped[version_id] = forget(name, ml.load(name, blob), persons).to_bytes()
        except Exception as exc:  # retried by the next training; the champion keeps serving meanwhile
            log.error(kv("training.erasure.failed", model=name, version=version_id,
                         error=f"{type(exc).__name__}: {exc}"), exc_info=exc)
    return stripped


def apply_erasures(session: Session, *, run_id: int, erasures: list[int], stripped: dict[int, bytes],
                   now: datetime) -> bool:
    """After this run stored its versions (same transaction): write the stripped champions, drop the artifacts
    of every other older version, and mark ``erasures`` applied. False (nothing marked) when a champion could
    not be stripped."""
    champions = session.execute(select(ModelVersion.id, ModelVersion.run_id)
                                .where(ModelVersion.is_champion.is_(True))).all()
    older = [version_id for version_id, version_run in champions if version_run != run_id]
    if any(version_id not in stripped for version_id in older):
        return False
    for version_id in older:
        session.execute(update(ModelVersion).where(ModelVersion.id == version_id)
                        .values(artifact=stripped[version_id]))
    dropped = len(session.execute(
        update(ModelVersion)
        .where(ModelVersion.is_champion.is_(False), ModelVersion.run_id.is_distinct_from(run_id),
               func.length(ModelVersion.artifact) > 0)
        .values(artifact=b"").returning(ModelVersion.id)).all())
    session.execute(update(Erasure).where(Erasure.id.in_(erasures)).values(applied_at=now))
    log.info(kv("training.erasures.applied", run=run_id, erasures=len(erasures), champions=len(older),
                artifacts_dropped=dropped))
    return True
