"""The worker's read of every answer, columnar and streamed: the rows come from the database in chunks of
integer ids and numbers, go into NumPy arrays chunk by chunk, and become ``ml.Responses`` through integer codes
(``Responses.from_codes``), without a label string per row or the whole result as Python rows. The result is
the same as ``history.all_responses`` (same rows, order, labels and values), in a fraction of the memory.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from studysmart.learning.history import person_label
from studysmart.ml.data import Responses
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic, item_label

#: Rows fetched from the database at a time (each chunk briefly exists as Python rows).
CHUNK_ROWS = 20_000
_LEVELS = tuple(Difficulty)
_LEVEL_CODE = {level: code for code, level in enumerate(_LEVELS)}


def read_answers(session: Session, *, before: datetime | None = None, chunk: int = CHUNK_ROWS) -> Responses:
    """Every completed task of every student, in completion order: ``history.all_responses``, read in chunks
    of ``chunk`` rows into arrays."""
    topic_ids, topic_keys = _topics(session)
    stmt = (
        select(Task.owner_id, Task.topic_id, Task.difficulty, Task.correct, Task.seconds_taken, Task.completed_at)
        .where(Task.status == TaskStatus.DONE)
        .order_by(Task.completed_at, Task.id)
        .execution_options(yield_per=chunk)
    )
    if before is not None:
        stmt = stmt.where(Task.completed_at < before)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("owner", "topic", "level", "correct", "seconds", "order")}
    for rows in session.execute(stmt).partitions():
        owner, topic, level, correct, seconds, done = zip(*rows, strict=True)
        parts["owner"].append(np.fromiter(owner, dtype=np.int32, count=len(rows)))
        parts["topic"].append(np.fromiter(topic, dtype=np.int32, count=len(rows)))
        parts["level"].append(np.fromiter((_LEVEL_CODE[Difficulty(v)] for v in level), dtype=np.int8,
                                          count=len(rows)))
        parts["correct"].append(np.array(correct, dtype=np.float64))  # None -> NaN
        parts["seconds"].append(np.array(seconds, dtype=np.float64))
        parts["order"].append(np.fromiter((np.nan if d is None else d.timestamp() for d in done),
                                          dtype=np.float64, count=len(rows)))
    cols = {k: _joined(v) for k, v in parts.items()}
    owners, person = np.unique(cols.pop("owner"), return_inverse=True)
    # the item of a (topic, level) cell: topic position * levels + level
    item = (np.searchsorted(topic_ids, cols.pop("topic")) * len(_LEVELS) + cols.pop("level")).astype(np.int32)
    items = [item_label(key, level) for key in topic_keys for level in _LEVELS]
    return Responses.from_codes(
        person.astype(np.int32), [person_label(int(o)) for o in owners], item, items,
        cols["correct"], cols["seconds"], order=cols["order"],
        item_topic=[key for key in topic_keys for _ in _LEVELS],
        item_difficulty=[level.value for _ in topic_keys for level in _LEVELS],
    )


def _joined(chunks: list[np.ndarray]) -> np.ndarray:
    """The chunks end to end (the parts freed as they are copied: one column's memory twice at most)."""
    if not chunks:
        return np.zeros(0, dtype=np.int32)
    out = np.concatenate(chunks)
    chunks.clear()
    return out


def _topics(session: Session) -> tuple[np.ndarray, list[str]]:
    """Every topic's id (ascending) and key."""
    rows = session.execute(select(Topic.id, Topic.key).order_by(Topic.id)).all()
    return np.asarray([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]
