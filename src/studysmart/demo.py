"""Demo data: students with realistic histories drawn from a model of learning (``ml.synthetic.LearningProcess``:
accuracy and speed grow with practice on a topic and fade with time away), so a newcomer sees a living app.
Idempotent: demo accounts are recognised by their email domain."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction, utcnow
from studysmart.ml.synthetic import LearningProcess, learning_truth
from studysmart.planning import service as planning
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty
from studysmart.users import service as users
from studysmart.users.demo_account import DEMO_DOMAIN, DEMO_EMAIL, DEMO_PASSWORD, demo_account_exists
from studysmart.users.models import User

__all__ = ["DEMO_DOMAIN", "DEMO_EMAIL", "DEMO_PASSWORD", "load_demo"]
TOPICS = ["Algebra", "Geometry", "Probability", "Calculus", "Statistics", "Linear algebra"]
DIFFICULTY_SHIFT = {Difficulty.EASY: -0.8, Difficulty.MEDIUM: 0.0, Difficulty.HARD: 0.9}
TITLES = {Difficulty.EASY: "Warm-up exercises", Difficulty.MEDIUM: "Practice set",
          Difficulty.HARD: "Challenge problems"}


def _has_demo(session: Session) -> bool:
    return demo_account_exists(session=session)


def load_demo(sessions: sessionmaker[Session], *, students: int = 12, seed: int = 7,
              only_if_empty: bool = False) -> str:
    """Create demo students and their histories (once). Returns a summary, or "" when nothing was created."""
    with sessions() as session:
        if _has_demo(session):
            return ""
        if only_if_empty and (session.scalar(select(func.count()).select_from(User)) or 0) > 0:
            return ""
    rng = np.random.default_rng(seed)
    now = utcnow()
    # One item per (topic, difficulty) cell, as in the app; students learn and forget (ml.synthetic).
    cells = [(topic, difficulty) for topic in TOPICS for difficulty in Difficulty]
    truth = learning_truth(students, len(TOPICS), len(Difficulty), rng)
    easiness = -np.array([DIFFICULTY_SHIFT[d] for _, d in cells]) + rng.normal(0.4, 0.3, len(cells))
    intensity = np.log(np.array([{Difficulty.EASY: 180, Difficulty.MEDIUM: 420, Difficulty.HARD: 900}[d]
                                 for _, d in cells])) + rng.normal(0, 0.15, len(cells))
    process = LearningProcess(replace(truth, easiness=easiness, time_intensity=intensity), rng)
    n_done = 0
    for index in range(students):
        email = DEMO_EMAIL if index == 0 else f"student{index}@{DEMO_DOMAIN}"
        with transaction(sessions) as session:
            user = users.register(session=session, email=email, password=DEMO_PASSWORD,
                                  display_name="Demo student" if index == 0 else f"Student {index}", now=now)
            session.flush()
            favourite = rng.choice(len(TOPICS), size=3, replace=False)
            history = int(rng.integers(25, 70))
            for step in range(history):
                topic = TOPICS[int(rng.choice(favourite))]
                difficulty = list(Difficulty)[int(rng.choice(3, p=[0.35, 0.45, 0.2]))]
                k = cells.index((topic, difficulty))
                when = now - timedelta(days=30) + timedelta(days=30 * step / history, hours=float(rng.uniform(0, 6)))
                task = tasks.create_task(session=session, user=user, title=TITLES[difficulty], topic=topic,
                                         difficulty=difficulty, now=when)
                answer = process.answer(index, k, when.timestamp())
                seconds = float(np.clip(answer.seconds, 20, 7200))
                task.started_at = when
                tasks.complete_task(session=session, user=user, task_id=task.id, correct=bool(answer.correct),
                                    seconds=float(round(seconds)), now=when + timedelta(seconds=seconds))
                n_done += 1
            if index == 0:  # the demo login prepares for an exam in three weeks
                planning.create_exam(
                    session=session, user=user, name="Mathematics final", date=(now + timedelta(days=21)).date(),
                    topics=[{"topic": TOPICS[int(k)], "weight": w} for k, w in zip(favourite, (0.5, 0.3, 0.2),
                                                                                   strict=True)],
                    minutes_per_weekday=[45, 45, 45, 45, 30, 90, 0], target_score=0.75, now=now)
            for _ in range(3):  # a few planned tasks for today
                topic = TOPICS[int(rng.choice(favourite))]
                tasks.create_task(session=session, user=user, title="Review", topic=topic,
                                  difficulty=Difficulty.MEDIUM, now=now)
    return f"{students} students, {n_done} completed tasks"
