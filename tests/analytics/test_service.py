"""Analytics of one student's answers: summaries, streaks, intervals, calibration, progress, weekly time, and
the per-model leaderboard computed from the prediction logs (checked against the metrics by hand)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from studysmart.analytics import service as analytics
from studysmart.predictions.models import PredictionLog
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task
from studysmart.users.models import User
from tests.factories import make_task, make_user

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # a Monday


def _answer(session: Session, user: User, *, when: datetime, topic: str = "Algebra", correct: bool = True,
            seconds: float = 300.0, difficulty: Difficulty = Difficulty.MEDIUM) -> None:
    task = make_task(session, user, now=when - timedelta(seconds=seconds), topic=topic, difficulty=difficulty)
    tasks.complete_task(session=session, user=user, task_id=task.id, correct=correct, seconds=seconds,
                        now=when)


def test_beta_interval_is_wide_with_few_answers_and_narrow_with_many() -> None:
    mean, low, high = analytics.beta_interval(3, 3)
    assert mean == pytest.approx(0.8) and high == pytest.approx(stats.beta(4, 1).ppf(0.9))
    assert high - low > 0.3
    _, low_many, high_many = analytics.beta_interval(300, 400)
    assert low_many < 0.75 < high_many and high_many - low_many < 0.07


@pytest.mark.parametrize(("days", "expected"), [
    ({date(2025, 3, 10), date(2025, 3, 9), date(2025, 3, 8)}, 3),
    ({date(2025, 3, 9), date(2025, 3, 8)}, 2),   # today is still open
    ({date(2025, 3, 10), date(2025, 3, 8)}, 1),
    ({date(2025, 3, 8)}, 0),
    (set(), 0),
])
def test_streak(days: set[date], expected: int) -> None:
    assert analytics.streak(days, date(2025, 3, 10)) == expected


def test_today_summary_counts_in_the_students_time_zone(session: Session) -> None:
    student = make_user(session, now=T0)
    other = make_user(session, now=T0)
    tokyo = ZoneInfo("Asia/Tokyo")  # T0 is 21:00 on 10 March there
    _answer(session, student, when=T0 - timedelta(hours=1), correct=True, seconds=120)    # 20:00 the 10th
    _answer(session, student, when=T0 - timedelta(hours=22), correct=False, seconds=60)  # 23:00 the 9th
    _answer(session, student, when=T0 - timedelta(days=9), correct=True)                  # outside the week
    _answer(session, other, when=T0, correct=True)
    planned = make_task(session, student, now=T0, title="Today")
    make_task(session, other, now=T0, title="Not mine")
    future = tasks.create_task(session=session, user=student, title="Later", topic="Algebra",
                               difficulty=Difficulty.EASY, due_date=date(2025, 3, 20), now=T0)
    summary = analytics.today_summary(session=session, user=student, now=T0, zone=tokyo)
    assert [t.title for t in summary.planned] == ["Today"]
    assert future.id not in [t.id for t in summary.planned]
    assert summary.planned_seconds == pytest.approx(planned.expected_seconds)
    assert (summary.done_today, summary.seconds_today) == (1, 120.0)
    assert summary.streak_days == 2
    assert (summary.week_correct, summary.week_answered) == (1, 2)
    assert summary.week_accuracy == 0.5
    assert summary.daily_goal_minutes == 60


def test_progress_per_day_then_per_week_over_a_trailing_window(session: Session) -> None:
    student = make_user(session, now=T0)
    _answer(session, student, when=T0, topic="Algebra", correct=True, seconds=100)
    _answer(session, student, when=T0, topic="Algebra", correct=False, seconds=300)
    _answer(session, student, when=T0 + timedelta(days=1), topic="Geometry", correct=True, seconds=50)
    _answer(session, student, when=T0 + timedelta(days=2), topic="Algebra", correct=True, seconds=80)
    daily = analytics.progress(session=session, user=student)
    assert daily.bucket == "day" and daily.periods == ["2025-03-10", "2025-03-11", "2025-03-12"]
    assert daily.accuracy == {"Algebra": [0.5, None, pytest.approx(2 / 3)], "Geometry": [None, 1.0, None]}
    assert daily.median_seconds["Algebra"] == [200.0, None, 100.0]
    assert daily.answered == {"Algebra": [1 + 1, 0, 1], "Geometry": [0, 1, 0]}

    narrow = analytics.progress(session=session, user=student, window=1)
    assert narrow.accuracy["Algebra"] == [0.0, None, 1.0]  # the last answer of the day only

    _answer(session, student, when=T0 + timedelta(days=60), topic="Algebra", correct=True)
    weekly = analytics.progress(session=session, user=student)
    assert weekly.bucket == "week" and weekly.periods == ["2025-03-10", "2025-05-05"]
    assert weekly.accuracy["Algebra"] == [pytest.approx(2 / 3), 0.75]


def test_calibration_bins_the_shown_predictions(session: Session) -> None:
    student = make_user(session, now=T0)
    for k in range(12):
        _answer(session, student, when=T0 + timedelta(minutes=k), correct=k % 3 != 0,
                difficulty=list(Difficulty)[k % 3])
    shown = session.scalars(select(Task).where(Task.owner_id == student.id)).all()
    bins = analytics.calibration(session=session, user=student)
    assert len(bins) == 10 and sum(b.count for b in bins) == 12
    for k, calibration_bin in enumerate(bins):
        inside = [t for t in shown if min(int((t.p_correct or 0) * 10), 9) == k]
        assert calibration_bin.count == len(inside)
        if not inside:
            assert calibration_bin.observed is None and calibration_bin.mean_predicted is None
            continue
        assert calibration_bin.low <= (calibration_bin.mean_predicted or -1) < calibration_bin.high
        assert calibration_bin.mean_predicted == pytest.approx(np.mean([t.p_correct for t in inside]))
        assert calibration_bin.observed == pytest.approx(np.mean([bool(t.correct) for t in inside]))
        assert (calibration_bin.observed_low or 0) < (calibration_bin.observed_high or 0)


def test_time_checks_and_weekly_minutes(session: Session) -> None:
    student = make_user(session, now=T0)
    _answer(session, student, when=T0, topic="Algebra", seconds=600)
    _answer(session, student, when=T0 + timedelta(days=7), topic="Geometry", seconds=120)
    _answer(session, student, when=T0 + timedelta(days=8), topic="Geometry", seconds=60)
    checks = analytics.time_checks(session=session, user=student)
    assert [c.actual_seconds for c in checks] == [600, 120, 60]
    assert all(c.seconds_low < c.expected_seconds < c.seconds_high for c in checks)
    assert checks[0].inside == (checks[0].seconds_low <= 600 <= checks[0].seconds_high)
    weekly = analytics.weekly_time(session=session, user=student)
    assert weekly.weeks == ["2025-03-10", "2025-03-17"]
    assert weekly.minutes == {"Algebra": [10.0, 0.0], "Geometry": [0.0, 3.0]}


def test_abilities_per_topic(session: Session) -> None:
    student = make_user(session, now=T0)
    for k in range(4):
        _answer(session, student, when=T0 + timedelta(minutes=k), topic="Algebra", correct=k != 0)
    _answer(session, student, when=T0, topic="Geometry", correct=False)
    rows = analytics.abilities(session=session, user=student, now=T0)
    assert [(r.topic, r.answered, r.correct) for r in rows] == [("Algebra", 4, 3), ("Geometry", 1, 0)]
    algebra, geometry = rows
    assert algebra.mean == pytest.approx(4 / 6)
    assert geometry.high - geometry.low > algebra.high - algebra.low - 0.05  # one answer: wide
    assert algebra.model == "shrinkage" and 0 < (algebra.predicted or 0) < 1
    assert (algebra.predicted or 0) > (geometry.predicted or 1)  # the model learnt from the answers too


def test_leaderboard_matches_the_metrics_of_the_logged_predictions(session: Session) -> None:
    student = make_user(session, now=T0)
    other = make_user(session, now=T0)
    for k in range(8):
        _answer(session, student, when=T0 + timedelta(minutes=k), correct=k % 2 == 0, seconds=60.0 * (k + 1),
                difficulty=list(Difficulty)[k % 3])
    _answer(session, other, when=T0, correct=False)
    make_task(session, student, now=T0)  # not answered: not scored
    board = analytics.leaderboard(session=session, user=student)
    assert board and all(row.n == 8 for row in board)
    assert [row.serving for row in board].count(True) == 1
    assert next(row for row in board if row.serving).model == "shrinkage"
    losses = [row.log_loss for row in board]
    assert losses == sorted(losses)  # type: ignore[type-var]

    logs = session.scalars(select(PredictionLog).where(PredictionLog.user_id == student.id,
                                                       PredictionLog.model == board[0].model,
                                                       PredictionLog.scored_at.is_not(None))).all()
    p = np.array([log.p_correct for log in logs])
    y = np.array([float(bool(log.correct)) for log in logs])
    mu = np.array([log.mean_log_time for log in logs])
    sd = np.array([log.sd_log_time for log in logs])
    t = np.array([log.log_time for log in logs])
    assert board[0].log_loss == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    assert board[0].brier == pytest.approx(np.mean((p - y) ** 2))
    assert board[0].mae_seconds == pytest.approx(np.mean(np.abs(np.exp(mu) - np.exp(t))))
    assert board[0].coverage80 == pytest.approx(np.mean(np.abs(t - mu) <= 1.2815515655446004 * sd))
    assert board[0].auc is None or 0 <= board[0].auc <= 1


def test_leaderboard_without_both_outcomes_has_no_auc(session: Session) -> None:
    student = make_user(session, now=T0)
    for k in range(3):
        _answer(session, student, when=T0 + timedelta(minutes=k), correct=True)
    board = analytics.leaderboard(session=session, user=student)
    assert board and all(row.auc is None for row in board)
    assert all(row.log_loss is not None and math.isfinite(row.log_loss) for row in board)


def test_user_topics_are_the_students_own(session: Session) -> None:
    student, other = make_user(session, now=T0), make_user(session, now=T0)
    # Not shared topics (migration 0005 creates "Algebra", ...): the first spelling a student used is the name.
    make_task(session, student, now=T0, topic="Number theory")
    make_task(session, student, now=T0, topic="linear maps")
    make_task(session, student, now=T0, topic="Linear maps")
    make_task(session, other, now=T0, topic="Secret topic")
    assert analytics.user_topics(session=session, user=student) == ["linear maps", "Number theory"]


def test_a_new_student_has_empty_analytics(session: Session) -> None:
    student = make_user(session, now=T0)
    assert analytics.user_topics(session=session, user=student) == []
    assert analytics.progress(session=session, user=student).periods == []
    assert analytics.leaderboard(session=session, user=student) == []
    assert analytics.abilities(session=session, user=student, now=T0) == []
    assert analytics.time_checks(session=session, user=student) == []
    assert all(b.count == 0 for b in analytics.calibration(session=session, user=student))
    summary = analytics.today_summary(session=session, user=student, now=T0)
    assert (summary.streak_days, summary.week_accuracy, summary.planned) == (0, None, [])
