"""Practice slopes and forgetting rates estimated the way the model is used: prequentially.

A student's ability and slowness are recomputed online from their earlier answers (``person``), so the practice
terms must add what that online state does not already know. Fitted in-sample, next to person x topic effects
estimated from ALL of a student's answers, the slopes of the practice counts pick up the opposite of learning
(a student's later answers are compared with an ability that already includes them). Here, every training
answer is predicted from the student's state after their earlier answers only (``kernels.prequential_time``,
``prequential_accuracy``), and the practice slopes, their per-topic deviations and the forgetting rate are fitted to
those predictions (logistic regression with the online person part as an offset, attenuated by its uncertainty;
weighted least squares for log-time); the items are then refitted with the new slopes, twice. The online person
state uses every row of the student (as served); the regressions weigh each row by its weight (``Rows.weight``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import expit

from studysmart.ml.practice import kernels
from studysmart.ml.practice.design import Columns, linear_and_slope
from studysmart.ml.practice.estimation import (
    AccuracyFit,
    Rows,
    TimeFit,
    fit_accuracy,
    fit_time,
    fixed_step,
    topic_deviation_step,
)

__all__ = ["Structure", "choose_coupling", "coupling", "fit_parts"]

ROUNDS = 2
PRACTICE_STEPS = 6
NU = 5.0  # as person.NU
_MIN_VAR = 1e-4


@dataclass(frozen=True)
class Structure:
    """Which item structure each part has: (discrimination, second factor) for accuracy and for time, and which
    practice columns each part uses (None: all)."""

    accuracy: tuple[bool, bool]
    time: tuple[bool, bool]
    accuracy_columns: np.ndarray | None = None
    time_columns: np.ndarray | None = None


def _starts(person: np.ndarray) -> np.ndarray:
    """Run boundaries of a person-sorted array."""
    result: np.ndarray = np.r_[0, np.flatnonzero(np.diff(person)) + 1, person.size].astype(np.int64)
    return result


def _local_cells(rows: Rows, starts: np.ndarray) -> np.ndarray:
    """Per row: its cell's rank among the student's cells by first appearance (-1: no cell)."""
    n = rows.person.shape[0]
    if rows.cell is None:
        return np.full(n, -1, dtype=np.int64)
    has = rows.cell >= 0
    first = np.full(rows.n_cells, n, dtype=np.int64)
    np.minimum.at(first, rows.cell[has], np.flatnonzero(has))
    order = np.lexsort((first, rows.cell_person))
    rank = np.empty(rows.n_cells, dtype=np.int64)
    person_of = rows.cell_person[order]
    bounds = np.r_[0, np.flatnonzero(np.diff(person_of)) + 1]
    position = np.arange(order.size) - np.repeat(bounds, np.diff(np.r_[bounds, order.size]))
    rank[order] = position
    return np.where(has, rank[np.maximum(rows.cell, 0)], -1)


def coupling(rows: Rows, acc: AccuracyFit, time: TimeFit) -> tuple[float, float]:
    """(beta, Var(ability | slowness)): the person-level regression of ability on slowness (van der Linden's
    correlation of ability and speed), from the fitted person effects of students with both outcomes and times.
    Their posterior means are shrunk, each by its reliability lambda = 1 - posterior var / population var, so
    E[theta_hat s_hat] = lambda_theta lambda_s Cov: the covariance is sum(theta_hat s_hat) / sum(lambda_theta
    lambda_s), each student counted by their weight in the population (``Rows.person_weight``). (0, var) when
    there are fewer than 20 such students."""
    both = (np.bincount(rows.person[~np.isnan(rows.correct)], minlength=rows.n_persons) > 0) & (
        np.bincount(rows.person[~np.isnan(rows.log_time)], minlength=rows.n_persons) > 0)
    both &= rows.population_weights() > 0
    if both.sum() < 20 or time.var_person <= 0 or acc.theta_var.size != both.size or time.s_var.size != both.size:
        return 0.0, acc.var_person
    weight = rows.population_weights()[both]
    reliability = weight * (np.clip(1 - acc.theta_var[both] / acc.var_person, 0, 1)
                            * np.clip(1 - time.s_var[both] / time.var_person, 0, 1))
    if reliability.sum() <= 1.0:
        return 0.0, acc.var_person
    cov = float(np.sum(weight * acc.theta[both] * time.s[both]) / reliability.sum())
    beta = cov / time.var_person
    conditional = acc.var_person - beta * beta * time.var_person
    if conditional < 0.1 * acc.var_person:  # the moments overstate the coupling: cap the correlation at 0.95
        beta = float(np.sign(beta) * np.sqrt(0.9 * acc.var_person / time.var_person))
        conditional = 0.1 * acc.var_person
    return beta, conditional


#: Correlations of ability and slowness tried by ``choose_coupling``, on at most COUPLING_ROWS answers of weight
#: > 0 (whole students, the first ones of the person-sorted rows: the person codes carry no order of their own).
RHO_GRID = np.round(np.linspace(-0.9, 0.9, 13), 2)
COUPLING_ROWS = 30_000


def choose_coupling(rows: Rows, acc: AccuracyFit, time: TimeFit) -> tuple[float, float]:
    """(beta, Var(ability | slowness)) with the correlation of ability and slowness that predicts the training
    answers best prequentially (each from the student's earlier answers and times; grid RHO_GRID): the
    moments of shrunk estimates (``coupling``) understate it where students have few answers."""
    if time.var_person <= 0 or acc.var_person <= 0:
        return 0.0, acc.var_person
    counted = np.cumsum(rows.weight > 0)
    if counted.size and counted[-1] > COUPLING_ROWS:
        rows = _first_rows(rows, int(rows.person[np.searchsorted(counted, COUPLING_ROWS + 1)]))
    starts = _starts(rows.person)
    cells = _local_cells(rows, starts)
    p0 = _base_rate(rows)
    wrong = np.where(np.isnan(rows.correct), 1 - p0, 1 - np.nan_to_num(rows.correct))
    known = ~np.isnan(rows.correct)
    k = rows.item
    base = acc.b[k] + (linear_and_slope(rows.cols, acc.w, acc.delta, acc.u, rows.topic)[0] if rows.practice else 0)
    best = (np.inf, 0.0, acc.var_person)
    ratio = float(np.sqrt(acc.var_person / time.var_person))
    slow_mean, slow_var = _online_time(rows, time, wrong, starts, cells)[3:]  # the same for every coupling
    a_base, a_load, a_factor, a_y, a_weight = _accuracy_inputs(rows, acc)
    for rho in RHO_GRID:
        beta, conditional = float(rho * ratio), float(acc.var_person * (1 - rho**2))
        a_mean, a_var = kernels.prequential_accuracy(a_base, a_load, a_factor, a_y, a_weight, cells, starts,
                                                     conditional, acc.var_cell, beta, slow_mean, slow_var)
        p = expit((base + a_mean) / np.sqrt(1 + np.pi / 8 * (a_var + acc.b_var[k])))
        p = np.clip(p[known], 1e-12, 1 - 1e-12)
        y, w = rows.correct[known], rows.weight[known]
        loss = float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log1p(-p))))
        if loss < best[0]:
            best = (loss, beta, conditional)
    return best[1], best[2]


def _base_rate(rows: Rows) -> float:
    """The weighted share of correct answers (0.7 without any): the expected outcome of a row without one."""
    known = ~np.isnan(rows.correct)
    total = float(rows.weight[known].sum())
    return float(np.sum(rows.weight[known] * rows.correct[known])) / total if total > 0 else 0.7


def _first_rows(rows: Rows, stop_person: int) -> Rows:
    """The rows of the persons before ``stop_person`` (rows sorted by person)."""
    n = int(np.searchsorted(rows.person, stop_person))
    keep = np.arange(n)
    cell = None if rows.cell is None else rows.cell[keep]
    return replace(rows, person=rows.person[keep], item=rows.item[keep], topic=rows.topic[keep], cell=cell,
                   cols=rows.cols.take(keep), correct=rows.correct[keep], log_time=rows.log_time[keep],
                   weight=rows.weight[keep])


def _online_moments(rows: Rows, acc: AccuracyFit, time: TimeFit, wrong: np.ndarray, starts: np.ndarray,
                    cells: np.ndarray) -> tuple[np.ndarray, ...]:
    """The kernel's per-row online moments of the person parts under the current fits and the moment estimate
    of the coupling: (acc_mean, acc_var, time_mean, time_var, kappa)."""
    time_mean, time_var, kappa, slow_mean, slow_var = _online_time(rows, time, wrong, starts, cells)
    beta, conditional = coupling(rows, acc, time)
    a_base, a_load, a_factor, a_y, a_weight = _accuracy_inputs(rows, acc)
    acc_mean, acc_var = kernels.prequential_accuracy(a_base, a_load, a_factor, a_y, a_weight, cells, starts,
                                                     conditional, acc.var_cell, beta, slow_mean, slow_var)
    return acc_mean, acc_var, time_mean, time_var, kappa


def _practice_term(rows: Rows, weights: np.ndarray, delta: float, u: np.ndarray) -> np.ndarray:
    term = linear_and_slope(rows.cols, weights, delta, u, rows.topic)[0]
    return term if rows.practice else np.zeros_like(term)


_Five = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _accuracy_inputs(rows: Rows, acc: AccuracyFit) -> _Five:
    """(base, load, factor, y, weight) of ``kernels.prequential_accuracy`` under the accuracy fit."""
    k = rows.item
    return (np.ascontiguousarray(acc.b[k] + _practice_term(rows, acc.w, acc.delta, acc.u)),
            np.ascontiguousarray(acc.a[k]), np.ascontiguousarray(acc.c[k]), np.ascontiguousarray(rows.correct),
            np.ones(rows.person.shape[0]))


def _online_time(rows: Rows, time: TimeFit, wrong: np.ndarray, starts: np.ndarray,
                 cells: np.ndarray) -> _Five:
    """``kernels.prequential_time`` under the time fit: (time_mean, time_var, kappa, slowness mean, slowness
    variance) per row."""
    k = rows.item
    resid = rows.log_time - time.lam[k] - _practice_term(rows, time.v, time.delta, time.u) - wrong * time.omega[k]
    return kernels.prequential_time(
        np.ascontiguousarray(resid), np.ascontiguousarray(time.phi[k]), np.ascontiguousarray(time.d[k]),
        np.ascontiguousarray(time.sigma2[k]), np.ones(rows.person.shape[0]), cells, starts, time.var_person,
        time.var_cell, NU)


def _refit(cols: Columns, topic: np.ndarray, n_topics: int, offset: np.ndarray, scale: np.ndarray,
           target: np.ndarray, weight: np.ndarray, logistic: bool, w: np.ndarray, u: np.ndarray, delta: float,
           var_u: float, active: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Practice slopes, topic deviations and forgetting rate given per-row offsets (Newton / Gauss-Newton).

    Logistic: P = expit(scale (offset + practice)); normal: target ~ N(offset + practice, 1 / weight)."""
    u_var = np.zeros_like(u)
    for _ in range(PRACTICE_STEPS):
        term, slope, x = linear_and_slope(cols, w, delta, u, topic)
        if logistic:
            p = expit(scale * (offset + term))
            g, h = weight * (target - p) * scale, weight * p * (1 - p) * scale**2
        else:
            g, h = weight * (target - offset - term), weight
        w, delta = fixed_step(x, slope, g, h, w, delta, active)
        if n_topics:
            term, slope, x = linear_and_slope(cols, w, delta, u, topic)
            if logistic:
                p = expit(scale * (offset + term))
                g, h = weight * (target - p) * scale, weight * p * (1 - p) * scale**2
            else:
                g = weight * (target - offset - term)
            u, u_var = topic_deviation_step(x, g, h, topic, n_topics, u, var_u)
            used = np.bincount(topic[topic >= 0], weight[topic >= 0], minlength=n_topics) > 0
            if used.sum() >= 2:
                var_u = max(float(np.mean(u[used] ** 2 + u_var[used])), _MIN_VAR)
    return w, u, delta, var_u


def fit_parts(rows: Rows, structure: Structure, *, sweeps: int = 30, rounds: int = ROUNDS,
              ) -> tuple[AccuracyFit, TimeFit]:
    """Fit both parts: in-sample sweeps (practice slopes included, as a start), then ``rounds`` of prequential
    practice fits each followed by item refits.

    ``rows`` must be sorted by person, then time."""
    p0 = _base_rate(rows)
    p_row = np.full(rows.person.shape[0], p0)
    acc = fit_accuracy(rows, sweeps=sweeps, discrimination=structure.accuracy[0], factor=structure.accuracy[1],
                       active=structure.accuracy_columns)
    time = fit_time(rows, p_row, sweeps=sweeps, discrimination=structure.time[0], factor=structure.time[1],
                    active=structure.time_columns)
    if not rows.practice:
        return acc, time
    starts = _starts(rows.person)
    cells = _local_cells(rows, starts)
    wrong = np.where(np.isnan(rows.correct), 1 - p0, 1 - np.nan_to_num(rows.correct))
    y_rows, t_rows = ~np.isnan(rows.correct), ~np.isnan(rows.log_time)
    for _ in range(rounds):
        a_mean, a_var, t_mean, t_var, kappa = _online_moments(rows, acc, time, wrong, starts, cells)
        k = rows.item
        sel = np.flatnonzero(y_rows)
        cols = rows.cols.take(sel)
        w, u, delta, var_u = _refit(cols, rows.topic[sel], rows.n_topics, (acc.b[k] + a_mean)[sel],
                                    1 / np.sqrt(1 + np.pi / 8 * (a_var[sel] + acc.b_var[k][sel])), rows.correct[sel],
                                    rows.weight[sel], True, acc.w.copy(), acc.u.copy(), acc.delta, acc.var_slope,
                                    structure.accuracy_columns)
        acc = fit_accuracy(rows, sweeps=max(sweeps // 3, 5), discrimination=structure.accuracy[0],
                           factor=structure.accuracy[1], practice_given=(w, u, delta), start=acc)
        acc.var_slope = var_u
        sel = np.flatnonzero(t_rows)
        cols = rows.cols.take(sel)
        offset = (time.lam[k] + t_mean + wrong * time.omega[k])[sel]
        weight = rows.weight[sel] / (time.sigma2[k][sel] * kappa[sel] + t_var[sel])
        v, u, delta, var_u = _refit(cols, rows.topic[sel], rows.n_topics, offset, np.ones(sel.size),
                                    rows.log_time[sel], weight, False, time.v.copy(), time.u.copy(), time.delta,
                                    time.var_slope, structure.time_columns)
        time = fit_time(rows, p_row, sweeps=max(sweeps // 3, 5), discrimination=structure.time[0],
                        factor=structure.time[1], practice_given=(v, u, delta), start=time)
        time.var_slope = var_u
    return acc, time

