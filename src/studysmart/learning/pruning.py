"""Old model versions leave the database: each model keeps its champion and its most recent versions."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from studysmart.learning.models import ModelVersion


def prune_versions(session: Session, *, keep: int) -> dict[str, int]:
    """Delete every model's versions other than its champion and its ``keep`` newest (in the caller's transaction).

    Returns:
        model name -> how many of its versions were deleted (models with none deleted left out).
    """
    ranked = select(
        ModelVersion.id,
        ModelVersion.is_champion,
        func.row_number().over(partition_by=ModelVersion.model, order_by=ModelVersion.version.desc()).label("rank"),
    ).subquery()
    doomed = select(ranked.c.id).where(ranked.c.rank > keep, ranked.c.is_champion.is_(False))
    deleted = session.execute(delete(ModelVersion).where(ModelVersion.id.in_(doomed))
                              .returning(ModelVersion.model)).scalars().all()
    counts: dict[str, int] = {}
    for model in deleted:
        counts[model] = counts.get(model, 0) + 1
    return counts
