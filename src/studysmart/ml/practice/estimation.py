"""Estimation of the practice model's two parts from training rows (penalised likelihood, empirical Bayes).

Accuracy (logistic): logit P = b_k + theta_i + theta_ic + practice(x; w, u_topic, delta).
Log-time (normal): log T = lambda_k + s_i + s_ic + practice(x; v, u_topic, delta) + (1 - y) omega_k + e,
Var(e) = sigma2_k * phi_i.

Both are fitted by alternating blocks, each vectorised over the long format with ``np.bincount``: the persons
and their person x topic cells jointly (the cell effects shrink toward the person's, which shrinks toward the
population; an arrow-shaped system solved exactly per person), the items (toward their group's prior), the
pooled practice slopes and the forgetting rate (Gauss-Newton), the topics' slope deviations, and the variance
components (EM: the mean of squared posterior means plus posterior variances). Per-row weights (None = 1)
multiply each row's likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from studysmart.ml.practice.design import N_COLUMNS, TOPIC_SLOPES, Columns, linear_and_slope
from studysmart.ml.practice.groups import GroupPrior, fit_groups

__all__ = ["AccuracyFit", "Rows", "TimeFit", "fit_accuracy", "fit_time", "nested_normal"]

_MIN_VAR = 1e-4
_SLOPE_PRIOR_VAR = 1.0  # pooled practice slopes ~ N(0, 1): weak
_DELTA_PRIOR = (0.0, 1.0)  # forgetting rate ~ N(0, 1) truncated at 0: weak
_MAX_DELTA = 3.0
_NU = 5.0  # pseudo-answers behind the pooled residual variance of an item / a person


@dataclass
class Rows:
    """Training rows as integer codes (cells = person x topic; ``cell`` is None without topics)."""

    person: np.ndarray
    item: np.ndarray
    topic: np.ndarray
    cell: np.ndarray | None
    cell_person: np.ndarray
    item_topic: np.ndarray
    item_level: np.ndarray
    cols: Columns
    correct: np.ndarray
    log_time: np.ndarray
    weight: np.ndarray
    n_persons: int
    n_items: int
    n_topics: int
    n_levels: int
    practice: bool  # the data have an order: practice features are informative

    @property
    def n_cells(self) -> int:
        return int(self.cell_person.shape[0])


@dataclass
class AccuracyFit:
    """The fitted accuracy part."""

    b: np.ndarray
    b_var: np.ndarray
    b_seen: np.ndarray
    theta: np.ndarray
    theta_c: np.ndarray
    w: np.ndarray
    u: np.ndarray
    delta: float
    var_person: float
    var_cell: float
    var_slope: float
    groups: GroupPrior


@dataclass
class TimeFit:
    """The fitted log-time part (``s``: slowness; a positive value means slower than the population)."""

    lam: np.ndarray
    lam_var: np.ndarray
    lam_seen: np.ndarray
    omega: np.ndarray
    omega0: float
    var_omega: float
    s: np.ndarray
    s_c: np.ndarray
    v: np.ndarray
    u: np.ndarray
    delta: float
    var_person: float
    var_cell: float
    var_slope: float
    sigma2: np.ndarray
    sigma2_pooled: float
    phi: np.ndarray
    groups: GroupPrior
    p0: float = field(default=0.7)


def _count(codes: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=n).astype(np.float64)


def nested_solve(g_person: np.ndarray, h_person: np.ndarray, g_cell: np.ndarray, h_cell: np.ndarray,
                 a_cell: np.ndarray, cell_person: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve the arrow system [[H_p, A^T], [A, diag(H_c)]] [d_p; d_c] = [g_p; g_c] per person.

    Returns (d_person, d_cell, var_person, var_cell): the solution and the diagonal of the inverse.
    """
    n = g_person.shape[0]
    schur = h_person - _count(cell_person, n, a_cell**2 / h_cell)
    rhs = g_person - _count(cell_person, n, a_cell * g_cell / h_cell)
    schur = np.maximum(schur, 1e-12)
    d_person = rhs / schur
    var_person = 1.0 / schur
    ratio = a_cell / h_cell
    d_cell = (g_cell - a_cell * d_person[cell_person]) / h_cell
    var_cell = 1.0 / h_cell + ratio**2 * var_person[cell_person]
    return d_person, d_cell, var_person, var_cell


def nested_normal(q: np.ndarray, r: np.ndarray, rows: Rows, var_person: float, var_cell: float,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Posterior means and variances of person and cell offsets of normal residuals ``r`` with precisions ``q``."""
    n_p = rows.n_persons
    g_p, h_p = _count(rows.person, n_p, q * r), _count(rows.person, n_p, q) + 1.0 / var_person
    if rows.cell is None:
        return g_p / h_p, np.zeros(0), 1.0 / h_p, np.zeros(0)
    g_c = _count(rows.cell, rows.n_cells, q * r)
    a_c = _count(rows.cell, rows.n_cells, q)
    return nested_solve(g_p, h_p, g_c, a_c + 1.0 / var_cell, a_c, rows.cell_person)


def _topic_deviation_step(x: np.ndarray, g: np.ndarray, w: np.ndarray, topic: np.ndarray, n_topics: int,
                          u: np.ndarray, var_slope: float) -> tuple[np.ndarray, np.ndarray]:
    """One Newton step of the topics' slope deviations (2 per topic, prior N(0, var_slope)); returns (u, var)."""
    known = topic >= 0
    t = topic[known]
    x0, x1 = x[known, TOPIC_SLOPES[0]], x[known, TOPIC_SLOPES[1]]
    gk, wk = g[known], w[known]
    h00 = _count(t, n_topics, wk * x0 * x0) + 1 / var_slope
    h11 = _count(t, n_topics, wk * x1 * x1) + 1 / var_slope
    h01 = _count(t, n_topics, wk * x0 * x1)
    g0 = _count(t, n_topics, gk * x0) - u[:, 0] / var_slope
    g1 = _count(t, n_topics, gk * x1) - u[:, 1] / var_slope
    det = h00 * h11 - h01**2
    step = np.column_stack([(h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det])
    return u + np.clip(step, -1, 1), np.column_stack([h11 / det, h00 / det])


def _fixed_step(x: np.ndarray, slope: np.ndarray, g: np.ndarray, w: np.ndarray, weights: np.ndarray,
                delta: float) -> tuple[np.ndarray, float]:
    """One Gauss-Newton step of the pooled slopes and the forgetting rate (weak priors)."""
    jac = np.column_stack([x, slope])
    prior_prec = np.r_[np.full(N_COLUMNS, 1 / _SLOPE_PRIOR_VAR), 1 / _DELTA_PRIOR[1] ** 2]
    grad = jac.T @ g - prior_prec * np.r_[weights, delta - _DELTA_PRIOR[0]]
    hess = (jac * w[:, None]).T @ jac + np.diag(prior_prec)
    step = np.clip(np.linalg.solve(hess, grad), -1, 1)
    return weights + step[:N_COLUMNS], float(np.clip(delta + step[N_COLUMNS], 0.0, _MAX_DELTA))


def _item_positions(item: np.ndarray, cols: Columns, n_items: int, seen: np.ndarray) -> np.ndarray:
    """Per seen item: the mean sequence position of its rows (the group covariate of ``groups``)."""
    return (_count(item, n_items, cols.position) / np.maximum(_count(item, n_items), 1))[seen]


def _prior_mean(groups: GroupPrior, rows: Rows, seen: np.ndarray, z: np.ndarray | None) -> np.ndarray:
    """Per item: its group's prior mean (at its own sequence position when known)."""
    mean = groups.mean(rows.item_topic, rows.item_level)
    if z is not None:
        mean[seen] = groups.mean(rows.item_topic[seen], rows.item_level[seen], z)
    return mean


def fit_accuracy(rows: Rows, *, sweeps: int = 30, tol: float = 1e-4) -> AccuracyFit:
    """Fit the accuracy part by alternating Newton blocks (see the module docstring)."""
    known = ~np.isnan(rows.correct)
    y = rows.correct[known]
    wt = rows.weight[known]
    person, item, topic = rows.person[known], rows.item[known], rows.topic[known]
    cell = None if rows.cell is None else rows.cell[known]
    cols = rows.cols.take(np.flatnonzero(known))
    n_p, n_k, n_t = rows.n_persons, rows.n_items, rows.n_topics
    seen = _count(item, n_k) > 0
    z = _item_positions(item, cols, n_k, seen) if rows.practice else None
    rate = (_count(item, n_k, wt * y) + 1.0) / (_count(item, n_k, wt) + 2.0)
    b = np.log(rate / (1 - rate))
    groups = fit_groups(b[seen], np.zeros(int(seen.sum())), rows.item_topic[seen], rows.item_level[seen], n_t,
                        rows.n_levels, z=z)
    theta, theta_c = np.zeros(n_p), np.zeros(rows.n_cells)
    w, u, delta = np.zeros(N_COLUMNS), np.zeros((n_t, len(TOPIC_SLOPES))), 0.1
    var_p, var_c, var_u = 0.5, 0.2, 0.05
    b_var = np.full(n_k, groups.sd_item2)
    for _ in range(sweeps):
        old = np.r_[b, theta, w, delta]
        practice, slope, x = linear_and_slope(cols, w, delta, u, topic) if rows.practice else (0.0, None, None)
        base = b[item] + practice

        def eta() -> np.ndarray:
            return base + theta[person] + (theta_c[cell] if cell is not None else 0.0)

        p = expit(eta())
        g, h = wt * (y - p), wt * p * (1 - p)
        g_p, h_p = _count(person, n_p, g) - theta / var_p, _count(person, n_p, h) + 1 / var_p
        if cell is not None:
            a_c = _count(cell, rows.n_cells, h)
            g_c = _count(cell, rows.n_cells, g) - theta_c / var_c
            d_p, d_c, v_p, v_c = nested_solve(g_p, h_p, g_c, a_c + 1 / var_c, a_c, rows.cell_person)
            theta_c = theta_c + np.clip(d_c, -1, 1)
            var_c = max(float(np.mean(theta_c**2 + v_c)), _MIN_VAR)
        else:
            d_p, v_p = g_p / h_p, 1 / h_p
        theta = theta + np.clip(d_p, -1, 1)
        var_p = max(float(np.mean(theta**2 + v_p)), _MIN_VAR)
        p = expit(eta())
        g, h = wt * (y - p), wt * p * (1 - p)
        prior_mean = _prior_mean(groups, rows, seen, z)
        h_k = _count(item, n_k, h) + 1 / groups.sd_item2
        b = b + np.clip((_count(item, n_k, g) - (b - prior_mean) / groups.sd_item2) / h_k, -1, 1)
        b_var = 1 / h_k
        groups = fit_groups(b[seen], b_var[seen], rows.item_topic[seen], rows.item_level[seen], n_t,
                            rows.n_levels, z=z, previous=groups, iterations=3)
        if rows.practice and x is not None and slope is not None:
            base = b[item] + theta[person] + (theta_c[cell] if cell is not None else 0.0)
            p = expit(base + practice)
            g, h = wt * (y - p), wt * p * (1 - p)
            w, delta = _fixed_step(x, slope, g, h, w, delta)
            if n_t:
                u, u_var = _topic_deviation_step(x, g, h, topic, n_t, u, var_u)
                used = _count(topic[topic >= 0], n_t) > 0
                if used.sum() >= 2:
                    var_u = max(float(np.mean(u[used] ** 2 + u_var[used])), _MIN_VAR)
        if np.max(np.abs(np.r_[b, theta, w, delta] - old), initial=0.0) < tol:
            break
    b = np.where(seen, b, groups.mean(rows.item_topic, rows.item_level))
    b_var = np.where(seen, b_var, groups.new_item_var(rows.item_topic, rows.item_level))
    return AccuracyFit(b, b_var, seen, theta, theta_c, w, u, delta, var_p, var_c, var_u, groups)


def fit_time(rows: Rows, p_correct: np.ndarray, *, sweeps: int = 30, tol: float = 1e-4) -> TimeFit:
    """Fit the log-time part (see the module docstring); ``p_correct`` prices rows without an outcome."""
    known = ~np.isnan(rows.log_time)
    lt, wt = rows.log_time[known], rows.weight[known]
    person, item, topic = rows.person[known], rows.item[known], rows.topic[known]
    sub = Rows(person, item, topic, None if rows.cell is None else rows.cell[known], rows.cell_person,
               rows.item_topic, rows.item_level, rows.cols.take(np.flatnonzero(known)), rows.correct[known], lt, wt,
               rows.n_persons, rows.n_items, rows.n_topics, rows.n_levels, rows.practice)
    wrong = np.where(np.isnan(sub.correct), 1 - p_correct[known], 1 - np.nan_to_num(sub.correct))
    n_p, n_k, n_t = rows.n_persons, rows.n_items, rows.n_topics
    seen = _count(item, n_k) > 0
    z = _item_positions(item, sub.cols, n_k, seen) if rows.practice else None
    pooled = float(np.var(lt)) if lt.size > 1 else 1.0
    lam = (_count(item, n_k, wt * lt) + float(np.mean(lt) if lt.size else 0.0)) / (_count(item, n_k, wt) + 1.0)
    groups = fit_groups(lam[seen], np.zeros(int(seen.sum())), rows.item_topic[seen], rows.item_level[seen], n_t,
                        rows.n_levels, z=z)
    s, s_c = np.zeros(n_p), np.zeros(rows.n_cells)
    v, u, delta = np.zeros(N_COLUMNS), np.zeros((n_t, len(TOPIC_SLOPES))), 0.1
    omega, omega0, var_omega = np.zeros(n_k), 0.0, 0.1
    var_p, var_c, var_u = 0.2, 0.05, 0.01
    sigma2, phi = np.full(n_k, pooled), np.ones(n_p)
    lam_var = np.full(n_k, groups.sd_item2)
    for _ in range(sweeps):
        old = np.r_[lam, s, v, delta]
        practice, slope, x = linear_and_slope(sub.cols, v, delta, u, topic) if rows.practice else (0.0, None, None)
        cell_part = s_c[sub.cell] if sub.cell is not None else 0.0
        q = wt / (sigma2[item] * phi[person])
        r = lt - lam[item] - practice - wrong * omega[item]
        s, s_c, v_p, v_c = nested_normal(q, r, sub, var_p, var_c)
        var_p = max(float(np.mean(s**2 + v_p)), _MIN_VAR)
        if sub.cell is not None:
            var_c = max(float(np.mean(s_c**2 + v_c)), _MIN_VAR)
        cell_part = s_c[sub.cell] if sub.cell is not None else 0.0
        r = lt - s[person] - cell_part - practice - wrong * omega[item]
        prior_mean = _prior_mean(groups, rows, seen, z)
        h_k = _count(item, n_k, q) + 1 / groups.sd_item2
        lam = (_count(item, n_k, q * r) + prior_mean / groups.sd_item2) / h_k
        lam_var = 1 / h_k
        groups = fit_groups(lam[seen], lam_var[seen], rows.item_topic[seen], rows.item_level[seen], n_t,
                            rows.n_levels, z=z, previous=groups, iterations=3)
        r = lt - s[person] - cell_part - practice - lam[item]
        h_w = _count(item, n_k, q * wrong**2) + 1 / var_omega
        omega = (_count(item, n_k, q * wrong * r) + omega0 / var_omega) / h_w
        has_wrong = _count(item, n_k, wrong) > 0
        if has_wrong.any():
            omega0 = float(np.mean(omega[has_wrong]))
            var_omega = max(float(np.mean((omega[has_wrong] - omega0) ** 2 + 1 / h_w[has_wrong])), _MIN_VAR)
        omega = np.where(has_wrong, omega, omega0)
        if rows.practice and x is not None and slope is not None:
            r = lt - s[person] - cell_part - lam[item] - wrong * omega[item]
            v, delta = _fixed_step(x, slope, q * (r - practice), q, v, delta)
            if n_t:
                u, u_var = _topic_deviation_step(x, q * (r - practice), q, topic, n_t, u, var_u)
                used = _count(topic[topic >= 0], n_t) > 0
                if used.sum() >= 2:
                    var_u = max(float(np.mean(u[used] ** 2 + u_var[used])), _MIN_VAR)
            practice = linear_and_slope(sub.cols, v, delta, u, topic)[0]
        resid2 = (lt - lam[item] - s[person] - cell_part - practice - wrong * omega[item]) ** 2
        pooled = float(np.sum(wt * resid2) / max(wt.sum(), 1e-12))
        sigma2 = (_count(item, n_k, wt * resid2 / phi[person]) + _NU * pooled) / (_count(item, n_k, wt) + _NU)
        phi = (_count(person, n_p, wt * resid2 / sigma2[item]) + _NU) / (_count(person, n_p, wt) + _NU)
        if np.max(np.abs(np.r_[lam, s, v, delta] - old), initial=0.0) < tol:
            break
    lam = np.where(seen, lam, groups.mean(rows.item_topic, rows.item_level))
    lam_var = np.where(seen, lam_var, groups.new_item_var(rows.item_topic, rows.item_level))
    return TimeFit(lam, lam_var, seen, omega, omega0, var_omega, s, s_c, v, u, delta, var_p, var_c, var_u, sigma2,
                   pooled, phi, groups)
