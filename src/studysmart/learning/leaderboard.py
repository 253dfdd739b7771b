"""The live leaderboard: how each model's logged predictions scored on completed tasks, over a time window.

Log loss, Brier score, mean absolute error in seconds and the 80% coverage come from running sums
(``studysmart.learning.scores``, kept by the database in the scoring transaction): whole UTC hours from the
hourly sums, the part of the window's first hour from the logs themselves, so the figures equal those computed
over every log of the window. The AUC, a rank statistic without running sums, is computed over each model's
latest ``AUC_WINDOW`` scored predictions in the window (all of them while there are fewer; for an A/B arm, the
served ones among them): a leaderboard request reads a bounded number of rows however many logs there are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from studysmart.learning.logs import PredictionLog
from studysmart.learning.scores import SUMS, ModelScoreHour, ModelScoreUser, add_sums
from studysmart.ml import metrics
from studysmart.ml.base import Z80, Prediction

LEADERBOARD_METRICS = ("log_loss", "auc", "brier", "mae_seconds", "coverage80")
#: How many of a model's latest scored predictions its AUC is computed over (its standard error there is about
#: 0.015: enough to rank models, and a leaderboard reads a bounded number of rows).
AUC_WINDOW = 1000
_EPS = 1e-15

Sums = dict[str, float]
#: (p_correct, correct, served, arm, inside each shorter window?...) of a model's latest scored predictions with
#: an outcome, newest first
Outcomes = list[tuple[Any, ...]]


class RecentOutcomes:
    """Each model's latest ``AUC_WINDOW`` scored predictions with an outcome since ``since`` (None: ever), read
    once per model from an index alone, and shared by leaderboards over the shorter windows starting at
    ``within`` (the latest rows of a shorter window are among them); and each window's sums, read once."""

    def __init__(self, session: Session, *, since: datetime | None, user_id: int | None = None,
                 within: Sequence[datetime] = ()) -> None:
        self.session, self.since, self.user_id, self.within = session, since, user_id, tuple(within)
        self._rows: dict[str, Outcomes] = {}
        self._sums: dict[datetime, dict[tuple[str, str, bool], Sums]] = {}

    def window_sums(self, since: datetime) -> dict[tuple[str, str, bool], Sums]:
        """Per (model, arm, served): the sums of every log scored at or after ``since`` (read once per window)."""
        if since not in self._sums:
            self._sums[since] = _window_sums(self.session, since)
        return self._sums[since]

    def rows(self, model: str, since: datetime | None = None) -> Outcomes:
        """The model's latest outcomes scored at or after ``since``: this reader's own window (None or its
        ``since``) or one of ``within``."""
        if model not in self._rows:
            log = PredictionLog
            marks = [case((log.scored_at >= start, True), else_=False) for start in self.within]
            # a student's reads take only what their index holds (no A/B arms there)
            arms = (literal(False), literal(None)) if self.user_id is not None else (log.served, log.arm)
            stmt = (select(log.p_correct, log.correct, *arms, *marks)
                    .where(log.model == model, log.scored_at.is_not(None), log.correct.is_not(None))
                    .order_by(log.scored_at.desc()).limit(AUC_WINDOW))
            if self.since is not None:
                stmt = stmt.where(log.scored_at >= self.since)
            if self.user_id is not None:
                stmt = stmt.where(log.user_id == self.user_id)
            self._rows[model] = list(self.session.execute(stmt).all())
        rows = self._rows[model]
        if since is None or since == self.since:
            return rows
        if since not in self.within:
            raise ValueError("a window this reader was not made for")
        k = 4 + self.within.index(since)
        return [row for row in rows if row[k]]


def _row_sums(rows: Iterable[Any]) -> Sums:
    """The SUMS of logs read as rows with p_correct, correct, mean_log_time, sd_log_time, log_time (the same
    terms the database triggers add)."""
    out: Sums = dict.fromkeys(SUMS, 0.0)
    for row in rows:
        out["n"] += 1
        if row.correct is not None:
            p = min(max(float(row.p_correct), _EPS), 1 - _EPS)
            out["n_outcome"] += 1
            out["sum_log_loss"] -= math.log(p) if row.correct else math.log1p(-p)
            out["sum_brier"] += (float(row.p_correct) - float(row.correct)) ** 2
        if row.log_time is not None:
            out["n_time"] += 1
            out["sum_abs_seconds"] += abs(math.exp(min(row.mean_log_time, 700.0)) - math.exp(min(row.log_time, 700.0)))
            out["n_covered"] += int(abs(row.log_time - row.mean_log_time) <= Z80 * row.sd_log_time)
    return out


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def board_row(sums: Sums, outcomes: Outcomes, digits: int | None) -> dict[str, Any]:
    """The leaderboard entry of a model (n and LEADERBOARD_METRICS) from its sums and its recent outcomes."""
    auc = math.nan
    if outcomes:
        auc = metrics.auc(np.array([o[0] for o in outcomes], dtype=np.float64),
                          np.array([float(o[1]) for o in outcomes], dtype=np.float64))
    values = {"log_loss": _ratio(sums["sum_log_loss"], sums["n_outcome"]), "auc": auc,
              "brier": _ratio(sums["sum_brier"], sums["n_outcome"]),
              "mae_seconds": _ratio(sums["sum_abs_seconds"], sums["n_time"]),
              "coverage80": _ratio(sums["n_covered"], sums["n_time"])}
    out: dict[str, Any] = {"n": int(sums["n"])}
    for name in LEADERBOARD_METRICS:
        value = values[name]
        out[name] = (round(value, digits) if digits is not None else value) if math.isfinite(value) else None
    return out


def _window_sums(session: Session, since: datetime) -> dict[tuple[str, str, bool], Sums]:
    """Per (model, arm, served): the sums of the logs scored at or after ``since``."""
    first = since.replace(minute=0, second=0, microsecond=0)
    full = first + timedelta(hours=1)
    hours = ModelScoreHour
    out: dict[tuple[str, str, bool], Sums] = {}
    stmt = (select(hours.model, hours.arm, hours.served, *[func.sum(getattr(hours, c)).label(c) for c in SUMS])
            .where(hours.hour >= full).group_by(hours.model, hours.arm, hours.served))
    for row in session.execute(stmt):
        add_sums(out.setdefault((row.model, row.arm, bool(row.served)), {}), row._mapping)
    models = list(session.scalars(select(hours.model).where(hours.hour == first).distinct()))
    if models:  # the window's first, partial hour: from the logs themselves
        log = PredictionLog
        rows = session.execute(
            select(log.model, log.arm, log.served, log.p_correct, log.correct, log.mean_log_time, log.sd_log_time,
                   log.log_time)
            .where(log.model.in_(models), log.scored_at >= since, log.scored_at < full))
        grouped: dict[tuple[str, str, bool], list[Any]] = {}
        for row in rows:
            grouped.setdefault((row.model, row.arm or "", bool(row.served)), []).append(row)
        for key, group in grouped.items():
            add_sums(out.setdefault(key, {}), _row_sums(group))
    return {key: sums for key, sums in out.items() if sums.get("n")}


def leaderboard(session: Session, *, now: datetime, days: int, served_only: bool = False, by_arm: bool = False,
                digits: int | None = 4, recent: RecentOutcomes | None = None) -> dict[str, dict[str, Any]]:
    """Per model (or per model and A/B arm): n and the metrics of its predictions scored in the last ``days``.

    ``recent``: a reader of recent outcomes over this window or a longer one, to share between leaderboards."""
    since = now - timedelta(days=days)
    recent = recent or RecentOutcomes(session, since=since)
    merged: dict[str, Sums] = {}
    for (model, arm, served), sums in recent.window_sums(since).items():
        if served_only and not served:
            continue
        key = f"{model}/{arm or 'champion'}" if by_arm else model
        add_sums(merged.setdefault(key, {}), sums)
    out = {}
    for key, sums in sorted(merged.items()):
        model, _, arm = key.partition("/")
        rows = recent.rows(model, since)
        if served_only:
            rows = [r for r in rows if r[2]]
        if by_arm:
            rows = [r for r in rows if (r[3] or "champion") == arm]
        out[key] = board_row(sums, rows, digits)
    return out


def user_scores(session: Session, *, user_id: int, digits: int | None = None) -> dict[str, dict[str, Any]]:
    """Per model: n and the metrics of its scored predictions for one student (all of them; the AUC over the
    latest ``AUC_WINDOW``)."""
    stmt = (select(ModelScoreUser).where(ModelScoreUser.user_id == user_id, ModelScoreUser.n > 0)
            .order_by(ModelScoreUser.model))
    recent = RecentOutcomes(session, since=None, user_id=user_id)
    out = {}
    for row in session.scalars(stmt):
        sums = {name: getattr(row, name) for name in SUMS}
        out[row.model] = board_row(sums, recent.rows(row.model), digits)
    return out


def score_rows(rows: list[tuple[Any, ...]], digits: int | None = 4) -> dict[str, Any]:
    """Metrics of (p_correct, mean_log_time, sd_log_time, correct, log_time) rows over all of them (rounded to
    ``digits``; None: not rounded). Missing and NaN metrics are None. The definition the leaderboards match."""
    arr = np.array([[np.nan if v is None else float(v) for v in row] for row in rows], dtype=np.float64)
    pred = Prediction(p_correct=arr[:, 0], mean_log_time=arr[:, 1], sd_log_time=arr[:, 2],
                      source=np.full(len(arr), "model", dtype=object))
    scores = metrics.all_metrics(pred, arr[:, 3], arr[:, 4])
    out: dict[str, Any] = {"n": len(arr)}
    for name in LEADERBOARD_METRICS:
        value = scores.get(name, float("nan"))
        finite = value is not None and np.isfinite(value)
        out[name] = (round(float(value), digits) if digits is not None else float(value)) if finite else None
    return out
