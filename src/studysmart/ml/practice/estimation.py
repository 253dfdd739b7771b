"""Estimation of the practice model's two parts from training rows (penalised likelihood, empirical Bayes).

Accuracy (logistic):  logit P = b_k + a_k (theta_i + theta_ic) + c_k psi_i + practice(x; w, u_topic, delta)
Log-time (normal):    log T = lambda_k + phi_k (s_i + s_ic) + d_k chi_i + practice(x; v, u_topic, delta)
                              + (1 - y) omega_k + e,   Var(e) = sigma2_k kappa_i

a_k, phi_k are the items' discriminations (prior mean 1), (psi_i, chi_i) a second latent factor of ability and
of slowness (prior N(0, 1)) with loadings c_k, d_k (prior mean 0): a multidimensional IRT part that picks up
item clusters the topics do not name (e.g. a compromised part of an exam); with small loadings it vanishes.

Both parts are fitted by alternating blocks, each vectorised over the long format with ``np.bincount``: the
persons and their person x topic cells jointly (the cell effects shrink toward the person's, which shrinks
toward the population; an arrow-shaped system, ``blocks.arrow_solve``), the items (toward their group's prior),
the pooled practice slopes and the forgetting rate (Gauss-Newton), the topics' slope deviations, and the
variance components (EM: the mean of squared posterior means plus posterior variances).

Row weights (``Rows.weight``, from ``Responses.weight``: ``studysmart.ml.robust``) multiply each row's likelihood
in every population-level estimate (items, groups, practice slopes, forgetting, residual variances); the persons'
own parameters use every row of theirs unweighted, as the online state does. Each person counts in the spread of
persons (the variance components) by ``Rows.person_weight`` (``robust.person_weights``), so rows of weight 0 move
nothing a new student is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from studysmart.ml.practice import kernels
from studysmart.ml.practice.blocks import arrow_solve, item_solve, person_sums
from studysmart.ml.practice.design import N_COLUMNS, TOPIC_SLOPES, Columns, linear_and_slope
from studysmart.ml.practice.groups import GroupPrior, fit_groups

__all__ = ["AccuracyFit", "Practice", "Rows", "TimeFit", "fit_accuracy", "fit_time", "fixed_step",
           "topic_deviation_step"]

_MIN_VAR = 1e-4
_SLOPE_PRIOR_VAR = 1.0  # pooled practice slopes ~ N(0, 1): weak
_DELTA_PRIOR = (0.0, 1.0)  # forgetting rate ~ N(0, 1) truncated at 0: weak
_MAX_DELTA = 3.0
_NU = 5.0  # pseudo-answers behind the pooled residual variance of an item / a person
_FIXED = 1e12  # prior precision of a parameter held at its prior mean


@dataclass
class Rows:
    """Training rows as integer codes (cells = person x topic; ``cell`` is None without topics, -1 for a row
    without a topic)."""

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
    person_weight: np.ndarray | None = None  # per person, their weight in the population (None: 1)

    def population_weights(self) -> np.ndarray:
        """Per person: their weight in the spread of persons (1 without person weights)."""
        return np.ones(self.n_persons) if self.person_weight is None else self.person_weight

    @property
    def n_cells(self) -> int:
        return int(self.cell_person.shape[0])


@dataclass
class AccuracyFit:
    """The fitted accuracy part (item arrays of length K, person arrays P, cell arrays C)."""

    b: np.ndarray
    a: np.ndarray
    c: np.ndarray
    b_var: np.ndarray
    a_var: np.ndarray
    c_var: np.ndarray
    b_seen: np.ndarray
    theta: np.ndarray
    psi: np.ndarray
    theta_c: np.ndarray
    w: np.ndarray
    u: np.ndarray
    delta: float
    var_person: float
    var_cell: float
    mean_a: float
    var_a: float
    var_c: float
    var_slope: float
    groups: GroupPrior
    theta_var: np.ndarray = field(default_factory=lambda: np.zeros(0))  # posterior variance of theta (fit rows)


@dataclass
class TimeFit:
    """The fitted log-time part (``s``: slowness; a positive value means slower than the population)."""

    lam: np.ndarray
    phi: np.ndarray
    d: np.ndarray
    lam_var: np.ndarray
    phi_var: np.ndarray
    d_var: np.ndarray
    lam_seen: np.ndarray
    omega: np.ndarray
    omega0: float
    var_omega: float
    s: np.ndarray
    chi: np.ndarray
    s_c: np.ndarray
    v: np.ndarray
    u: np.ndarray
    delta: float
    var_person: float
    var_cell: float
    mean_phi: float
    var_phi: float
    var_d: float
    var_slope: float
    sigma2: np.ndarray
    sigma2_pooled: float
    kappa: np.ndarray
    groups: GroupPrior
    s_var: np.ndarray = field(default_factory=lambda: np.zeros(0))  # posterior variance of s (fit rows)


def _count(codes: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=n).astype(np.float64)


def _spread(values: np.ndarray, weights: np.ndarray, fallback: float) -> float:
    """The weighted mean of ``values`` (second moments of persons or cells), at least _MIN_VAR; ``fallback``
    when no weight is left."""
    total = float(weights.sum())
    return max(float(np.sum(weights * values)) / total, _MIN_VAR) if total > 0 else fallback


def _weighted_mean(values: np.ndarray, weights: np.ndarray, fallback: float) -> float:
    total = float(weights.sum())
    return float(np.sum(weights * values)) / total if total > 0 else fallback


def topic_deviation_step(x: np.ndarray, g: np.ndarray, w: np.ndarray, topic: np.ndarray, n_topics: int,
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


def fixed_step(x: np.ndarray, slope: np.ndarray, g: np.ndarray, w: np.ndarray, weights: np.ndarray,
                delta: float, active: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """One Gauss-Newton step of the pooled slopes and the forgetting rate (weak priors); slopes of columns not
    ``active`` stay 0."""
    jac = np.column_stack([x, slope])
    slope_prec = np.full(N_COLUMNS, 1 / _SLOPE_PRIOR_VAR)
    if active is not None:
        slope_prec = np.where(active, slope_prec, _FIXED)
        weights = np.where(active, weights, 0.0)
    prior_prec = np.r_[slope_prec, 1 / _DELTA_PRIOR[1] ** 2]
    jac = np.ascontiguousarray(jac)
    grad = kernels.tdot(jac, np.ascontiguousarray(g)) - prior_prec * np.r_[weights, delta - _DELTA_PRIOR[0]]
    hess = kernels.gram(jac, np.ascontiguousarray(w)) + np.diag(prior_prec)
    step = np.clip(np.linalg.solve(hess, grad), -1, 1)
    return weights + step[:N_COLUMNS], float(np.clip(delta + step[N_COLUMNS], 0.0, _MAX_DELTA))


def _item_positions(item: np.ndarray, cols: Columns, n_items: int, seen: np.ndarray, weight: np.ndarray,
                    ) -> np.ndarray:
    """Per seen item: the weighted mean position of its rows in their topic (the group covariate of ``groups``)."""
    total = _count(item, n_items, weight)
    result: np.ndarray = (_count(item, n_items, weight * cols.position) / np.where(total > 0, total, 1.0))[seen]
    return result


def _prior_mean(groups: GroupPrior, rows: Rows, seen: np.ndarray, z: np.ndarray | None) -> np.ndarray:
    """Per item: its group's prior mean (at its own position in the topic when known)."""
    mean = groups.mean(rows.item_topic, rows.item_level)
    if z is not None:
        mean[seen] = groups.mean(rows.item_topic[seen], rows.item_level[seen], z)
    return mean


def _initial_loadings(n_items: int, seed: int) -> np.ndarray:
    """Small random loadings of the second factor (a start away from the saddle at zero)."""
    return np.random.default_rng(seed).normal(0.0, 0.1, n_items)


@dataclass
class _Sub:
    """The rows of one part (those with an outcome, or with a time) as plain arrays."""

    person: np.ndarray
    item: np.ndarray
    topic: np.ndarray
    cell: np.ndarray | None
    cols: Columns
    weight: np.ndarray


def _sub(rows: Rows, keep: np.ndarray) -> _Sub:
    idx = np.flatnonzero(keep)
    return _Sub(rows.person[idx], rows.item[idx], rows.topic[idx], None if rows.cell is None else rows.cell[idx],
                rows.cols.take(idx), rows.weight[idx])


def _cell_value(values: np.ndarray, sub: _Sub) -> np.ndarray | float:
    if sub.cell is None:
        return 0.0
    return np.where(sub.cell >= 0, values[np.maximum(sub.cell, 0)], 0.0) if values.size else 0.0




Practice = tuple[np.ndarray, np.ndarray, float]  # pooled slopes, topic deviations, forgetting rate


def fit_accuracy(rows: Rows, *, sweeps: int = 30, tol: float = 1e-4, seed: int = 0, discrimination: bool = True,  # noqa: PLR0915 - one block-coordinate sweep per iteration, in the module docstring's order
                 factor: bool = True, practice_given: Practice | None = None,
                 start: AccuracyFit | None = None, active: np.ndarray | None = None) -> AccuracyFit:
    """Fit the accuracy part by alternating Newton blocks (see the module docstring).

    ``practice_given``: hold the practice slopes and forgetting rate at these values (see ``prequential``);
    ``start``: warm start from an earlier fit of the same rows; ``active``: the practice columns used (all)."""
    known = ~np.isnan(rows.correct)
    sub = _sub(rows, known)
    y, wt, person, item, topic = rows.correct[known], sub.weight, sub.person, sub.item, sub.topic
    n_p, n_k, n_t, n_c = rows.n_persons, rows.n_items, rows.n_topics, rows.n_cells
    seen = _count(item, n_k, wt) > 0  # items with weight: rows of weight 0 alone leave an item to its group
    z = _item_positions(item, sub.cols, n_k, seen, wt) if rows.practice else None
    rate = (_count(item, n_k, wt * y) + 1.0) / (_count(item, n_k, wt) + 2.0)
    b = np.log(rate / (1 - rate))
    a = np.full(n_k, 0.7 if discrimination else 1.0)
    c = _initial_loadings(n_k, seed) if factor else np.zeros(n_k)
    groups = fit_groups(b[seen], np.zeros(int(seen.sum())), rows.item_topic[seen], rows.item_level[seen], n_t,
                        rows.n_levels, z=z)
    theta, psi, theta_c = np.zeros(n_p), np.zeros(n_p), np.zeros(n_c)
    w, u, delta = np.zeros(N_COLUMNS), np.zeros((n_t, len(TOPIC_SLOPES))), 0.1
    var_p, var_cell, var_a, var_c, var_u = (1.0 if discrimination else 0.5), 0.2, 0.1, 0.05, 0.05
    mean_a = 1.0 if not discrimination else 0.7
    item_var = np.column_stack([np.full(n_k, groups.sd_item2), np.full(n_k, var_a), np.full(n_k, var_c)])
    in_population = np.where(_count(person, n_p) > 0, rows.population_weights(), 0.0)
    cell_weight = in_population[rows.cell_person]
    tracked = in_population > 0  # the convergence check follows the persons who count in the population
    practice: np.ndarray | float = 0.0
    if practice_given is not None:
        w, u, delta = practice_given[0].copy(), practice_given[1].copy(), practice_given[2]
    if start is not None:
        b, a, c, theta, psi, theta_c = (x.copy() for x in (start.b, start.a, start.c, start.theta, start.psi,
                                                            start.theta_c))
        var_p, var_cell, mean_a, var_a, var_c, var_u = (start.var_person, start.var_cell, start.mean_a,
                                                        start.var_a or var_a, start.var_c or var_c, start.var_slope)
        groups = start.groups
    for _ in range(sweeps):
        old = np.r_[b, a, theta[tracked], w, delta]
        x = slope = None
        if rows.practice:
            practice, slope, x = linear_and_slope(sub.cols, w, delta, u, topic)
        ability = theta[person] + _cell_value(theta_c, sub)
        p = expit(b[item] + a[item] * ability + c[item] * psi[person] + practice)
        g_p, h_p, g_c, h_c, cross = person_sums(person, n_p, sub.cell, n_c, y - p, p * (1 - p), a[item], c[item])
        g_p -= np.column_stack([theta / var_p, psi])
        h_p[:, 0, 0] += 1 / var_p
        h_p[:, 1, 1] += 1.0
        d_p, d_c, cov_p, v_c, _ = arrow_solve(g_p, h_p, g_c - theta_c / var_cell, h_c + 1 / var_cell, cross,
                                              rows.cell_person)
        theta, psi = theta + np.clip(d_p[:, 0], -1, 1), psi + np.clip(d_p[:, 1], -1, 1)
        if not discrimination:  # with discriminations, theta ~ N(0, 1) fixes the scale (the a_k carry it)
            var_p = _spread(theta**2 + cov_p[:, 0, 0], in_population, var_p)
        if sub.cell is not None:
            theta_c = theta_c + np.clip(d_c, -1, 1)
            var_cell = _spread(theta_c**2 + v_c, cell_weight, var_cell)
        ability = theta[person] + _cell_value(theta_c, sub)
        p = expit(b[item] + a[item] * ability + c[item] * psi[person] + practice)
        g, h = wt * (y - p), wt * p * (1 - p)
        prior_mean = np.column_stack([_prior_mean(groups, rows, seen, z), np.full(n_k, mean_a), np.zeros(n_k)])
        prec = np.array([1 / groups.sd_item2, 1 / var_a if discrimination else _FIXED,
                         1 / var_c if factor else _FIXED])
        step, item_var = item_solve(item, n_k, np.column_stack([np.ones_like(g), ability, psi[person]]), g, h,
                                    prior_mean, prec, np.column_stack([b, a, c]))
        step = np.clip(step, -1, 1)
        b, a, c = b + step[:, 0], a + step[:, 1], c + step[:, 2]
        if discrimination and seen.any():
            mean_a = float(np.mean(a[seen]))
            var_a = max(float(np.mean((a[seen] - mean_a) ** 2 + item_var[seen, 1])), _MIN_VAR)
        var_c = max(float(np.mean(c[seen] ** 2 + item_var[seen, 2])), _MIN_VAR)
        groups = fit_groups(b[seen], item_var[seen, 0], rows.item_topic[seen], rows.item_level[seen], n_t,
                            rows.n_levels, z=z, previous=groups, iterations=3)
        if x is not None and slope is not None and practice_given is None:
            base = b[item] + a[item] * ability + c[item] * psi[person]
            p = expit(base + practice)
            g, h = wt * (y - p), wt * p * (1 - p)
            w, delta = fixed_step(x, slope, g, h, w, delta, active)
            if n_t:
                u, u_var = topic_deviation_step(x, g, h, topic, n_t, u, var_u)
                used = _count(topic[topic >= 0], n_t, wt[topic >= 0]) > 0
                if used.sum() >= 2:
                    var_u = max(float(np.mean(u[used] ** 2 + u_var[used])), _MIN_VAR)
        if np.max(np.abs(np.r_[b, a, theta[tracked], w, delta] - old), initial=0.0) < tol:
            break
    new_mean = groups.mean(rows.item_topic, rows.item_level)
    b = np.where(seen, b, new_mean)
    b_var = np.where(seen, item_var[:, 0], groups.new_item_var(rows.item_topic, rows.item_level))
    a_var = np.where(seen, item_var[:, 1], var_a if discrimination else 0.0)
    c_var = np.where(seen, item_var[:, 2], var_c if factor else 0.0)
    a, c = np.where(seen, a, mean_a), np.where(seen, c, 0.0)
    return AccuracyFit(b, a, c, b_var, a_var, c_var, seen, theta, psi, theta_c, w, u, delta, var_p, var_cell,
                       mean_a, var_a if discrimination else 0.0, var_c if factor else 0.0, var_u, groups,
                       cov_p[:, 0, 0].copy())


def fit_time(rows: Rows, p_correct: np.ndarray, *, sweeps: int = 30, tol: float = 1e-4, seed: int = 1,  # noqa: PLR0912, PLR0915 - one block-coordinate sweep per iteration, in the module docstring's order
             discrimination: bool = True, factor: bool = True, practice_given: Practice | None = None,
             start: TimeFit | None = None, active: np.ndarray | None = None) -> TimeFit:
    """Fit the log-time part (see the module docstring); ``p_correct`` prices rows without an outcome;
    ``practice_given`` and ``start`` as in ``fit_accuracy``."""
    known = ~np.isnan(rows.log_time)
    sub = _sub(rows, known)
    lt, wt, person, item, topic = rows.log_time[known], sub.weight, sub.person, sub.item, sub.topic
    correct = rows.correct[known]
    wrong = np.where(np.isnan(correct), 1 - p_correct[known], 1 - np.nan_to_num(correct))
    n_p, n_k, n_t, n_c = rows.n_persons, rows.n_items, rows.n_topics, rows.n_cells
    seen = _count(item, n_k, wt) > 0
    z = _item_positions(item, sub.cols, n_k, seen, wt) if rows.practice else None
    mean_lt = _weighted_mean(lt, wt, float(np.mean(lt)) if lt.size else 0.0)
    pooled = max(_weighted_mean((lt - mean_lt) ** 2, wt, 1.0), _MIN_VAR) if lt.size > 1 else 1.0
    lam = (_count(item, n_k, wt * lt) + mean_lt) / (_count(item, n_k, wt) + 1.0)
    phi = np.full(n_k, 0.3 if discrimination else 1.0)
    d = _initial_loadings(n_k, seed) if factor else np.zeros(n_k)
    mean_phi = 0.3 if discrimination else 1.0
    groups = fit_groups(lam[seen], np.zeros(int(seen.sum())), rows.item_topic[seen], rows.item_level[seen], n_t,
                        rows.n_levels, z=z)
    s, chi, s_c = np.zeros(n_p), np.zeros(n_p), np.zeros(n_c)
    v, u, delta = np.zeros(N_COLUMNS), np.zeros((n_t, len(TOPIC_SLOPES))), 0.1
    omega, omega0, var_omega = np.zeros(n_k), 0.0, 0.1
    var_p, var_cell, var_phi, var_d, var_u = (1.0 if discrimination else 0.2), 0.05, 0.05, 0.02, 0.01
    sigma2, kappa = np.full(n_k, pooled), np.ones(n_p)
    item_var = np.column_stack([np.full(n_k, groups.sd_item2), np.full(n_k, var_phi), np.full(n_k, var_d)])
    in_population = np.where(_count(person, n_p) > 0, rows.population_weights(), 0.0)
    cell_weight = in_population[rows.cell_person]
    tracked = in_population > 0
    practice: np.ndarray | float = 0.0
    if practice_given is not None:
        v, u, delta = practice_given[0].copy(), practice_given[1].copy(), practice_given[2]
    if start is not None:
        lam, phi, d, s, chi, s_c, omega = (x.copy() for x in (start.lam, start.phi, start.d, start.s, start.chi,
                                                              start.s_c, start.omega))
        omega0, var_omega, groups = start.omega0, start.var_omega, start.groups
        var_p, var_cell, mean_phi = start.var_person, start.var_cell, start.mean_phi
        var_phi, var_d, var_u = start.var_phi or var_phi, start.var_d or var_d, start.var_slope
        sigma2, kappa = start.sigma2.copy(), start.kappa.copy()
    for _ in range(sweeps):
        old = np.r_[lam, phi, s[tracked], v, delta]
        x = slope = None
        if rows.practice:
            practice, slope, x = linear_and_slope(sub.cols, v, delta, u, topic)
        q_own = 1.0 / (sigma2[item] * kappa[person])  # the persons' blocks: every row of theirs
        q = wt * q_own  # the population's blocks: weighted rows
        r = lt - lam[item] - practice - wrong * omega[item]
        g_p, h_p, g_c, h_c, cross = person_sums(person, n_p, sub.cell, n_c, q_own * r, q_own, phi[item], d[item])
        h_p[:, 0, 0] += 1 / var_p
        h_p[:, 1, 1] += 1.0
        sol, s_c, cov_p, v_c, _ = arrow_solve(g_p, h_p, g_c, h_c + 1 / var_cell, cross, rows.cell_person)
        s, chi = sol[:, 0], sol[:, 1]
        if sub.cell is None:
            s_c = np.zeros(0)
        if not discrimination:  # with discriminations, s ~ N(0, 1) fixes the scale (the phi_k carry it)
            var_p = _spread(s**2 + cov_p[:, 0, 0], in_population, var_p)
        if sub.cell is not None:
            var_cell = _spread(s_c**2 + v_c, cell_weight, var_cell)
        slowness = s[person] + _cell_value(s_c, sub)
        r = lt - practice - wrong * omega[item]
        regressors = np.column_stack([np.ones_like(r), slowness, chi[person]])
        current = np.column_stack([lam, phi, d])
        prior_mean = np.column_stack([_prior_mean(groups, rows, seen, z), np.full(n_k, mean_phi), np.zeros(n_k)])
        prec = np.array([1 / groups.sd_item2, 1 / var_phi if discrimination else _FIXED,
                         1 / var_d if factor else _FIXED])
        fitted = np.einsum("nj,nj->n", regressors, current[item])
        step, item_var = item_solve(item, n_k, regressors, q * (r - fitted), q, prior_mean, prec, current)
        lam, phi, d = lam + step[:, 0], phi + step[:, 1], d + step[:, 2]
        if discrimination and seen.any():
            mean_phi = float(np.mean(phi[seen]))
            var_phi = max(float(np.mean((phi[seen] - mean_phi) ** 2 + item_var[seen, 1])), _MIN_VAR)
        var_d = max(float(np.mean(d[seen] ** 2 + item_var[seen, 2])), _MIN_VAR)
        groups = fit_groups(lam[seen], item_var[seen, 0], rows.item_topic[seen], rows.item_level[seen], n_t,
                            rows.n_levels, z=z, previous=groups, iterations=3)
        person_part = phi[item] * slowness + d[item] * chi[person]
        r = lt - lam[item] - person_part - practice
        h_w = _count(item, n_k, q * wrong**2) + 1 / var_omega
        omega = (_count(item, n_k, q * wrong * r) + omega0 / var_omega) / h_w
        has_wrong = _count(item, n_k, wt * wrong) > 0
        if has_wrong.any():
            omega0 = float(np.mean(omega[has_wrong]))
            var_omega = max(float(np.mean((omega[has_wrong] - omega0) ** 2 + 1 / h_w[has_wrong])), _MIN_VAR)
        omega = np.where(has_wrong, omega, omega0)
        if x is not None and slope is not None and practice_given is None:
            r = lt - lam[item] - person_part - wrong * omega[item]
            v, delta = fixed_step(x, slope, q * (r - practice), q, v, delta, active)
            if n_t:
                u, u_var = topic_deviation_step(x, q * (r - practice), q, topic, n_t, u, var_u)
                used = _count(topic[topic >= 0], n_t, wt[topic >= 0]) > 0
                if used.sum() >= 2:
                    var_u = max(float(np.mean(u[used] ** 2 + u_var[used])), _MIN_VAR)
            practice = linear_and_slope(sub.cols, v, delta, u, topic)[0]
        resid2 = (lt - lam[item] - person_part - practice - wrong * omega[item]) ** 2
        pooled = max(_weighted_mean(resid2, wt, pooled), _MIN_VAR)
        sigma2 = (_count(item, n_k, wt * resid2 / kappa[person]) + _NU * pooled) / (_count(item, n_k, wt) + _NU)
        kappa = (_count(person, n_p, resid2 / sigma2[item]) + _NU) / (_count(person, n_p) + _NU)  # own rows
        if np.max(np.abs(np.r_[lam, phi, s[tracked], v, delta] - old), initial=0.0) < tol:
            break
    lam = np.where(seen, lam, groups.mean(rows.item_topic, rows.item_level))
    lam_var = np.where(seen, item_var[:, 0], groups.new_item_var(rows.item_topic, rows.item_level))
    var_phi, var_d = (var_phi if discrimination else 0.0), (var_d if factor else 0.0)
    phi_var, d_var = np.where(seen, item_var[:, 1], var_phi), np.where(seen, item_var[:, 2], var_d)
    phi, d = np.where(seen, phi, mean_phi), np.where(seen, d, 0.0)
    return TimeFit(lam, phi, d, lam_var, phi_var, d_var, seen, omega, omega0, var_omega, s, chi, s_c, v, u, delta,
                   var_p, var_cell, mean_phi, var_phi, var_d, var_u, sigma2, pooled, kappa, groups,
                   cov_p[:, 0, 0].copy())
