"""Fill a fresh StudySmart database with many completed answers quickly (bulk inserts, not the API).

Synthetic students answer (topic, difficulty) items with a simple Rasch-like truth; the training tracker's
sample count is set to match, as completions through the API would have left it.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import insert, update

from studysmart.core.config import Settings
from studysmart.core.db import transaction, utcnow
from studysmart.learning.context import make_context
from studysmart.learning.models import TrainingState
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users.models import User

TOPICS = ["Algebra", "Geometry", "Probability", "Calculus", "Statistics", "Linear algebra"]
SHIFT = {Difficulty.EASY: -0.8, Difficulty.MEDIUM: 0.0, Difficulty.HARD: 0.9}
BASE_SECONDS = {Difficulty.EASY: 180.0, Difficulty.MEDIUM: 420.0, Difficulty.HARD: 900.0}
CHUNK = 10_000


def bulk_answers(settings: Settings, *, answers: int, per_student: int = 300, seed: int = 11) -> int:
    """Insert ``answers`` completed tasks spread over ``answers / per_student`` students; returns the count."""
    rng = np.random.default_rng(seed)
    context = make_context(settings)
    now = utcnow()
    students = max(1, answers // per_student)
    try:
        with transaction(context.sessions) as session:
            topics = [tasks.get_or_create_topic(session=session, name=name) for name in TOPICS]
            session.flush()
            topic_ids = [t.id for t in topics]
            rows = [{"email": f"bulk{i}@bench.example", "display_name": f"Bulk {i}",
                     "password_hash": "!unusable", "created_at": now} for i in range(students)]
            session.execute(insert(User), rows)
        with context.sessions() as session:
            user_ids = [u.id for u in session.query(User.id).filter(User.email.like("bulk%@bench.example"))]
        ability = rng.normal(0, 1, len(user_ids))
        difficulties = list(Difficulty)
        start = now - timedelta(days=60)
        for offset in range(0, answers, CHUNK):
            n = min(CHUNK, answers - offset)
            who = rng.integers(0, len(user_ids), n)
            topic = rng.integers(0, len(topic_ids), n)
            level = rng.integers(0, 3, n)
            shift = np.array([SHIFT[difficulties[k]] for k in level])
            correct = rng.random(n) < 1 / (1 + np.exp(-(ability[who] - shift)))
            seconds = np.array([BASE_SECONDS[difficulties[k]] for k in level]) * np.exp(rng.normal(0, 0.4, n))
            when = np.sort(rng.uniform(0, 60 * 86400, n)) + offset  # roughly in insertion order
            batch = []
            for j in range(n):
                done = start + timedelta(seconds=float(when[j]))
                batch.append({
                    "owner_id": user_ids[who[j]], "topic_id": topic_ids[topic[j]], "title": "Bulk answer",
                    "difficulty": difficulties[level[j]], "status": TaskStatus.DONE, "created_at": done,
                    "started_at": done, "completed_at": done + timedelta(seconds=float(seconds[j])),
                    "correct": bool(correct[j]), "seconds_taken": float(round(seconds[j])),
                })
            with transaction(context.sessions) as session:
                session.execute(insert(Task), batch)
        with transaction(context.sessions) as session:
            session.execute(update(TrainingState).values(samples=TrainingState.samples + answers))
    finally:
        context.dispose()
    return answers
