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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Integer, Select, bindparam, case, func, literal, select
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


@dataclass(frozen=True)
class Outcomes:
    """A model's latest scored predictions with an outcome, newest first, as columns."""

    p_correct: np.ndarray  # float64
    correct: np.ndarray  # float64, 1.0 for correct
    served: np.ndarray  # bool
    arm: np.ndarray  # the A/B arm's name, "champion" for none
    marks: np.ndarray  # bool, (rows, shorter windows): scored inside each of the reader's ``within`` windows

    @classmethod
    def of_rows(cls, rows: Sequence[Sequence[Any]], windows: int) -> Outcomes:
        """From (p_correct, correct, served, arm, inside each shorter window...) rows."""
        if not rows:
            return cls(np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0, dtype=object),
                       np.zeros((0, windows), dtype=bool))
        columns = list(zip(*rows, strict=True))
        return cls(np.array(columns[0], dtype=np.float64), np.array(columns[1], dtype=np.float64),
                   np.array(columns[2], dtype=bool), np.array([a or "champion" for a in columns[3]], dtype=object),
                   np.array(columns[4:], dtype=bool).reshape(windows, len(rows)).T)

    def where(self, keep: np.ndarray) -> Outcomes:
        """The rows where ``keep`` holds."""
        return Outcomes(self.p_correct[keep], self.correct[keep], self.served[keep], self.arm[keep],
                        self.marks[keep])

    def __len__(self) -> int:
        return int(self.p_correct.shape[0])


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
            stmt = _latest_stmt(len(self.within), self.since is not None, self.user_id is not None)
            params: dict[str, Any] = {"model": model, "since": self.since, "user_id": self.user_id,
                                      "limit": AUC_WINDOW}
            params.update({f"within_{k}": start for k, start in enumerate(self.within)})
            # plain rows through the session's connection: the ORM's row handling cost as much as the read
            rows = self.session.connection().execute(stmt, params).all()
            self._rows[model] = Outcomes.of_rows(rows, len(self.within))
        outcomes = self._rows[model]
        if since is None or since == self.since:
            return outcomes
        if since not in self.within:
            raise ValueError("a window this reader was not made for")
        return outcomes.where(outcomes.marks[:, self.within.index(since)])


@cache
def _latest_stmt(windows: int, since: bool, by_user: bool) -> Select[*tuple[Any, ...]]:
    """The select of a model's latest outcomes (built once: parameters model, limit, since, user_id and each
    shorter window's within_k)."""
    log = PredictionLog
    scored_at = log.scored_at
    marks = [case((scored_at >= bindparam(f"within_{k}", type_=scored_at.type), True), else_=False)
             for k in range(windows)]
    # a student's reads take only what their index holds (no A/B arms there)
    arms = (literal(False), literal(None)) if by_user else (log.served, log.arm)
    stmt: Select[*tuple[Any, ...]] = (select(log.p_correct, log.correct, *arms, *marks)
            .where(log.model == bindparam("model"), scored_at.is_not(None), log.correct.is_not(None))
            .order_by(scored_at.desc()).limit(bindparam("limit", type_=Integer)))
    if since:
        stmt = stmt.where(scored_at >= bindparam("since", type_=scored_at.type))
    if by_user:
        stmt = stmt.where(log.user_id == bindparam("user_id"))
    return stmt


@cache
def _partial_hour_stmt(dialect: str) -> Select[*tuple[Any, ...]]:
    """Per (model, arm, served): the SUMS of the logs of ``models`` scored in [since, until), as the database
    triggers add them (migration 0009). Built once per dialect; parameters models, since, until."""
    log = PredictionLog
    least, greatest = (func.min, func.max) if dialect == "sqlite" else (func.least, func.greatest)
    p = greatest(least(log.p_correct, literal(1 - _EPS)), literal(_EPS))
    y = case((log.correct.is_(True), 1.0), else_=0.0)
    covered = case((log.log_time.is_not(None) & (func.abs(log.log_time - log.mean_log_time)
                                                 <= literal(Z80) * log.sd_log_time), 1), else_=0)
    cap = literal(700.0)
    seconds = func.abs(func.exp(least(log.mean_log_time, cap)) - func.exp(least(log.log_time, cap)))
    terms = {
        "n": func.count(),
        "n_outcome": func.count(log.correct),
        "sum_log_loss": func.sum(case((log.correct.is_(None), 0.0), (log.correct.is_(True), -func.ln(p)),
                                      else_=-func.ln(literal(1.0) - p))),
        "sum_brier": func.sum(case((log.correct.is_(None), 0.0), else_=(log.p_correct - y) * (log.p_correct - y))),
        "n_time": func.count(log.log_time),
        "sum_abs_seconds": func.sum(case((log.log_time.is_(None), 0.0), else_=seconds)),
        "n_covered": func.sum(covered),
    }
    scored_at = log.scored_at
    return (select(log.model, func.coalesce(log.arm, "").label("arm"), log.served,
                   *[terms[name].label(name) for name in SUMS])
            # model IN (...): the range is read from the (model, scored_at) index
            .where(log.model.in_(bindparam("models", expanding=True)),
                   scored_at >= bindparam("since", type_=scored_at.type),
                   scored_at < bindparam("until", type_=scored_at.type))
            .group_by(log.model, log.arm, log.served))  # a NULL and a '' arm: two rows, added together


@cache
def _hour_stmts() -> tuple[Select[*tuple[Any, ...]], Select[*tuple[Any, ...]]]:
    """The sums of the whole hours from ``full`` on, and the models with sums in the hour ``first``."""
    hours = ModelScoreHour
    whole = (select(hours.model, hours.arm, hours.served, *[func.sum(getattr(hours, c)).label(c) for c in SUMS])
             .where(hours.hour >= bindparam("full", type_=hours.hour.type))
             .group_by(hours.model, hours.arm, hours.served))
    first = select(hours.model).where(hours.hour == bindparam("first", type_=hours.hour.type)).distinct()
    return whole, first


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def board_row(sums: Sums, outcomes: Outcomes, digits: int | None) -> dict[str, Any]:
    """The leaderboard entry of a model (n and LEADERBOARD_METRICS) from its sums and its recent outcomes."""
    auc = metrics.auc(outcomes.p_correct, outcomes.correct) if len(outcomes) else math.nan
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
    connection = session.connection()
    out: dict[tuple[str, str, bool], Sums] = {}
    whole, first_models = _hour_stmts()
    for row in connection.execute(whole, {"full": full}):
        add_sums(out.setdefault((row.model, row.arm, bool(row.served)), {}), row._mapping)
    models = list(connection.execute(first_models, {"first": first}).scalars())
    if models:  # the window's first, partial hour: summed by the database from the logs themselves
        rows = connection.execute(_partial_hour_stmt(session.get_bind().dialect.name),
                                  {"models": models, "since": since, "until": full})
        for row in rows:
            add_sums(out.setdefault((row.model, row.arm, bool(row.served)), {}), row._mapping)
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
            rows = rows.where(rows.served)
        if by_arm:
            rows = rows.where(rows.arm == arm)
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
