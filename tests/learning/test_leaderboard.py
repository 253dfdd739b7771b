"""The leaderboards read running sums kept by the database: the same figures as computing over every log (on a
random log set, after scoring, unscoring, rescoring and deleting logs), while reading a bounded number of rows."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.orm import Session

from studysmart.analytics import service as analytics
from studysmart.learning import leaderboard as board
from studysmart.learning.logs import PredictionLog
from studysmart.ml import metrics
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task
from studysmart.users.models import User
from tests.factories import make_user

NOW = datetime(2026, 11, 30, 15, 37, 12, 345678, tzinfo=UTC)
MODELS = ["avg", "shrinkage", "irt2pl"]


def _random_logs(session: Session, rng: np.random.Generator, users: list[User], n: int) -> None:
    """``n`` logs over 40 days (some unscored, some without outcome or time, some around the windows' first
    hours), each on its own task."""
    topic = tasks.get_or_create_topic(session=session, name="Algebra")
    session.flush()
    owners = [users[i] for i in rng.integers(0, len(users), n)]
    task_ids = [session.execute(insert(Task).values(
        owner_id=user.id, topic_id=topic.id, title="t", difficulty=Difficulty.MEDIUM, created_at=NOW)
        .returning(Task.id)).scalar_one() for user in owners]
    ages = rng.uniform(0, 40 * 86400, n)
    edges = rng.choice([7, 30], n)  # a fifth of the logs within two hours of a window's start
    near = rng.random(n) < 0.2
    ages[near] = edges[near] * 86400 + rng.uniform(-7200, 7200, int(near.sum()))
    rows = []
    for j in range(n):
        scored = rng.random() < 0.85
        served = rng.random() < 0.4
        rows.append({
            "task_id": task_ids[j], "user_id": owners[j].id, "model": MODELS[j % len(MODELS)],
            "model_version": 1, "served": served, "arm": rng.choice([None, "challenger"]) if served else None,
            "p_correct": float(rng.choice([rng.uniform(0, 1), 0.0, 1.0, 0.5], p=[0.85, 0.05, 0.05, 0.05])),
            "mean_log_time": float(rng.normal(5.5, 0.7)), "sd_log_time": float(rng.uniform(0.2, 1.0)),
            "source": "model", "created_at": NOW - timedelta(seconds=float(ages[j]) + 60),
            "correct": (None if rng.random() < 0.1 else bool(rng.random() < 0.6)) if scored else None,
            "log_time": (None if rng.random() < 0.15 else float(rng.normal(5.5, 0.8))) if scored else None,
            "scored_at": NOW - timedelta(seconds=float(ages[j])) if scored else None,
        })
    session.execute(insert(PredictionLog), rows)
    session.flush()


def _old_leaderboard(session: Session, *, days: int, served_only: bool = False, by_arm: bool = False,
                     user_id: int | None = None) -> dict[str, dict[str, Any]]:
    """The computation before the running sums: every scored log of the window, in Python."""
    log = PredictionLog
    stmt = select(log.model, log.arm, log.p_correct, log.mean_log_time, log.sd_log_time, log.correct,
                  log.log_time).where(log.scored_at.is_not(None))
    if days:
        stmt = stmt.where(log.scored_at >= NOW - timedelta(days=days))
    if user_id is not None:
        stmt = stmt.where(log.user_id == user_id)
    if served_only:
        stmt = stmt.where(log.served.is_(True))
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for row in session.execute(stmt):
        key = f"{row.model}/{row.arm or 'champion'}" if by_arm else row.model
        groups.setdefault(key, []).append(tuple(row)[2:])
    return {key: board.score_rows(rows, digits=None) for key, rows in sorted(groups.items())}


def _assert_same(new: dict[str, dict[str, Any]], old: dict[str, dict[str, Any]]) -> None:
    assert list(new) == list(old)
    for key in old:
        assert new[key]["n"] == old[key]["n"], key
        for name in board.LEADERBOARD_METRICS:
            if old[key][name] is None:
                assert new[key][name] is None, (key, name)
            else:
                assert new[key][name] == pytest.approx(old[key][name], rel=1e-9, abs=1e-12), (key, name)


def _assert_boards_match(session: Session, users: list[User]) -> None:
    for days in (7, 30):
        _assert_same(board.leaderboard(session, now=NOW, days=days, digits=None), _old_leaderboard(session, days=days))
    _assert_same(board.leaderboard(session, now=NOW, days=30, served_only=True, by_arm=True, digits=None),
                 _old_leaderboard(session, days=30, served_only=True, by_arm=True))
    for user in users:
        _assert_same(board.user_scores(session, user_id=user.id), _old_leaderboard(session, days=0, user_id=user.id))


def test_leaderboards_equal_the_computation_over_every_log(session: Session) -> None:
    rng = np.random.default_rng(16)
    users = [make_user(session, now=NOW) for _ in range(3)]
    _random_logs(session, rng, users, 900)
    session.commit()
    _assert_boards_match(session, users)
    # unscore some, rescore others with new outcomes, delete some, erase a student: the sums follow
    ids = list(session.scalars(select(PredictionLog.id).order_by(PredictionLog.id)))
    session.execute(update(PredictionLog).where(PredictionLog.id.in_(ids[::7]))
                    .values(correct=None, log_time=None, scored_at=None))
    session.execute(update(PredictionLog).where(PredictionLog.id.in_(ids[3::11]))
                    .values(correct=True, log_time=4.0, scored_at=NOW - timedelta(hours=1)))
    session.execute(delete(PredictionLog).where(PredictionLog.id.in_(ids[5::13])))
    session.delete(users[2])
    session.commit()
    _assert_boards_match(session, users[:2])


def test_the_auc_is_over_each_models_latest_scored_predictions(session: Session,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    users = [make_user(session, now=NOW)]
    _random_logs(session, rng, users, 300)
    session.commit()
    monkeypatch.setattr(board, "AUC_WINDOW", 40)
    got = board.leaderboard(session, now=NOW, days=30, digits=None)
    for model in MODELS:
        latest = session.execute(
            select(PredictionLog.p_correct, PredictionLog.correct)
            .where(PredictionLog.model == model, PredictionLog.correct.is_not(None),
                   PredictionLog.scored_at >= NOW - timedelta(days=30))
            .order_by(PredictionLog.scored_at.desc()).limit(40)).all()
        assert len(latest) == 40
        expected = metrics.auc(np.array([p for p, _ in latest]), np.array([float(y) for _, y in latest]))
        assert got[model]["auc"] == pytest.approx(expected)


@contextmanager
def _rows_read_from_logs(session: Session) -> Iterator[list[int]]:
    """Count the rows each SELECT on prediction_logs returns (re-running it on a second cursor)."""
    counts: list[int] = []
    engine = session.get_bind()

    def count(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM prediction_logs" in statement:
            again = connection.connection.cursor()
            again.execute(statement, parameters)
            counts.append(len(again.fetchall()))
            again.close()

    event.listen(engine, "after_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "after_cursor_execute", count)


def test_the_models_report_and_a_students_leaderboard_read_a_bounded_number_of_logs(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from studysmart.learning.report import collect_models

    rng = np.random.default_rng(5)
    users = [make_user(session, now=NOW)]
    _random_logs(session, rng, users, 1500)
    session.commit()
    monkeypatch.setattr(board, "AUC_WINDOW", 50, raising=False)  # (absent before the sums)
    monkeypatch.setattr("studysmart.learning.report.utcnow", lambda: NOW)
    with _rows_read_from_logs(session) as counts:
        report = collect_models(session)
    assert report["leaderboard"]["30d"]
    window_edge = 2 * 90  # at most two hours of logs (the 7- and 30-day windows' first hours), 1500 over 40 days
    assert sum(counts) <= len(MODELS) * 50 + window_edge, counts
    with _rows_read_from_logs(session) as counts:
        scores = analytics.leaderboard(session=session, user=users[0])
    assert scores and all(math.isfinite(s.log_loss or math.nan) for s in scores)
    assert sum(counts) <= len(MODELS) * 50, counts
