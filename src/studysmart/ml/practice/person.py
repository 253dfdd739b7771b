"""A student's state from their answers (the online update) and the pricing of their next tasks.

Given the fitted population (items, practice slopes, forgetting rates, variance components), a student's
ability and slowness, student-wide and per topic, have a posterior from their own answers only:

* accuracy: the Laplace approximation of (theta_i, theta_ic for each topic answered), Newton's method on the
  arrow-shaped system (a few steps, warm-started at 0, to a tolerance of 1e-10);
* log-time: the exact normal posterior of (s_i, s_ic), after a first pass that estimates the student's
  residual-variance factor phi_i (pulled toward 1 by NU pseudo-answers).

A task is then priced by integrating that posterior and the item's uncertainty (a new item's: its group's)
into P(correct) (logistic-normal, probit approximation) and the mixture over the outcome of log-time normals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from studysmart.ml.practice.design import Columns, linear
from studysmart.ml.practice.estimation import nested_solve

__all__ = ["Coded", "PersonState", "Population", "person_state", "price"]

NU = 5.0  # pseudo-answers pulling a student's residual-variance factor toward 1
_PI_8 = np.pi / 8.0


@dataclass(frozen=True)
class Population:
    """What pricing needs of the fitted model (``topic`` codes >= n_topics are topics it never saw)."""

    n_topics: int
    acc_w: np.ndarray
    acc_u: np.ndarray
    acc_delta: float
    acc_var_person: float
    acc_var_cell: float
    time_v: np.ndarray
    time_u: np.ndarray
    time_delta: float
    time_var_person: float
    time_var_cell: float
    practice: bool


@dataclass(frozen=True)
class Coded:
    """Rows of one student, coded: item parameters per row (already looked up, new items from their group),
    local topic codes (0..m-1 over this student's topics), practice columns, outcomes."""

    b: np.ndarray
    b_var: np.ndarray
    lam: np.ndarray
    lam_var: np.ndarray
    omega: np.ndarray
    sigma2: np.ndarray
    topic: np.ndarray  # model topic code (or >= n_topics: unknown; -1: none) for the slope deviations
    cell: np.ndarray  # local cell code 0..m-1 (-1: no topic)
    cols: Columns
    correct: np.ndarray
    log_time: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return int(self.b.shape[0])


@dataclass(frozen=True)
class PersonState:
    """Posterior of one student: ability and slowness (student-wide mean/var; per local cell mean, var and
    covariance with the student-wide part) and the residual-variance factor."""

    theta: float
    theta_var: float
    theta_c: np.ndarray
    theta_c_var: np.ndarray
    theta_cov: np.ndarray
    s: float
    s_var: float
    s_c: np.ndarray
    s_c_var: np.ndarray
    s_cov: np.ndarray
    phi: float
    n: int


def _slopes(u: np.ndarray, topic: np.ndarray, n_topics: int) -> tuple[np.ndarray | None, np.ndarray]:
    """Topic deviations usable for these rows (topics the model never saw have none)."""
    known = (topic >= 0) & (topic < n_topics)
    return u, np.where(known, topic, -1)


def practice_terms(pop: Population, coded: Coded) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the accuracy (logit) and log-time practice terms."""
    if not pop.practice or len(coded) == 0:
        return np.zeros(len(coded)), np.zeros(len(coded))
    u_a, t = _slopes(pop.acc_u, coded.topic, pop.n_topics)
    u_t, _ = _slopes(pop.time_u, coded.topic, pop.n_topics)
    return (linear(coded.cols, pop.acc_w, pop.acc_delta, u_a, t),
            linear(coded.cols, pop.time_v, pop.time_delta, u_t, t))


def _empty_state(n_cells: int, pop: Population) -> PersonState:
    zeros = np.zeros(n_cells)
    return PersonState(0.0, pop.acc_var_person, zeros, np.full(n_cells, pop.acc_var_cell), zeros.copy(),
                       0.0, pop.time_var_person, zeros.copy(), np.full(n_cells, pop.time_var_cell),
                       zeros.copy(), 1.0, 0)


def person_state(pop: Population, coded: Coded, n_cells: int) -> PersonState:
    """The student's posterior from their coded history (``n_cells`` local topic cells)."""
    if len(coded) == 0:
        return _empty_state(n_cells, pop)
    acc_term, time_term = practice_terms(pop, coded)
    one = np.zeros(len(coded), dtype=np.int64)
    has_cell = coded.cell >= 0
    cell = np.where(has_cell, coded.cell, 0)
    theta, theta_c, theta_var, theta_c_var = _accuracy_posterior(pop, coded, acc_term, one, cell, has_cell, n_cells)
    ratio_a = np.zeros(n_cells)
    known = ~np.isnan(coded.correct)
    if n_cells:
        p = expit(coded.b + acc_term + theta + np.where(has_cell, theta_c[cell], 0.0))
        h = np.bincount(cell[known & has_cell], (coded.weight * p * (1 - p))[known & has_cell], n_cells)
        ratio_a = h / (h + 1 / pop.acc_var_cell)
    s, s_c, s_var, s_c_var, ratio_s, phi = _time_posterior(pop, coded, time_term, cell, has_cell, n_cells)
    return PersonState(theta, theta_var, theta_c, theta_c_var, -ratio_a * theta_var, s, s_var, s_c, s_c_var,
                       -ratio_s * s_var, phi, len(coded))


def _accuracy_posterior(pop: Population, coded: Coded, acc_term: np.ndarray, one: np.ndarray, cell: np.ndarray,
                        has_cell: np.ndarray, n_cells: int) -> tuple[float, np.ndarray, float, np.ndarray]:
    known = ~np.isnan(coded.correct)
    y, wt = coded.correct[known], coded.weight[known]
    base = (coded.b + acc_term)[known]
    c_rows, c_has = cell[known], has_cell[known]
    theta, theta_c = 0.0, np.zeros(n_cells)
    var_p, var_c = pop.acc_var_person, pop.acc_var_cell
    v_p, v_c = var_p, np.full(n_cells, var_c)
    for _ in range(50):
        p = expit(base + theta + np.where(c_has, theta_c[c_rows], 0.0))
        g, h = wt * (y - p), wt * p * (1 - p)
        g_p = np.array([g.sum() - theta / var_p])
        h_p = np.array([h.sum() + 1 / var_p])
        if n_cells:
            a_c = np.bincount(c_rows[c_has], h[c_has], n_cells)
            g_c = np.bincount(c_rows[c_has], g[c_has], n_cells) - theta_c / var_c
            d_p, d_c, vp, v_c = nested_solve(g_p, h_p, g_c, a_c + 1 / var_c, a_c, np.zeros(n_cells, np.int64))
        else:
            d_p, d_c, vp = g_p / h_p, np.zeros(0), 1 / h_p
        step = float(np.clip(d_p[0], -1, 1))
        theta += step
        theta_c = theta_c + np.clip(d_c, -1, 1)
        v_p = float(vp[0])
        if abs(step) < 1e-10 and (not n_cells or np.max(np.abs(d_c)) < 1e-10):
            break
    return theta, theta_c, v_p, v_c


def _time_posterior(pop: Population, coded: Coded, time_term: np.ndarray, cell: np.ndarray, has_cell: np.ndarray,
                    n_cells: int) -> tuple[float, np.ndarray, float, np.ndarray, np.ndarray, float]:
    known = ~np.isnan(coded.log_time)
    wrong = np.where(np.isnan(coded.correct), 0.5, 1 - np.nan_to_num(coded.correct))[known]
    r = (coded.log_time - coded.lam - time_term)[known] - wrong * coded.omega[known]
    sigma2, wt = coded.sigma2[known], coded.weight[known]
    c_rows, c_has = cell[known], has_cell[known]
    phi = 1.0
    for _ in range(2):  # means with the current variance factor, then the factor from their residuals
        q = wt / (sigma2 * phi)
        g_p, h_p = np.array([np.sum(q * r)]), np.array([q.sum() + 1 / pop.time_var_person])
        if n_cells:
            a_c = np.bincount(c_rows[c_has], q[c_has], n_cells)
            g_c = np.bincount(c_rows[c_has], (q * r)[c_has], n_cells)
            d_p, s_c, vp, v_c = nested_solve(g_p, h_p, g_c, a_c + 1 / pop.time_var_cell, a_c,
                                             np.zeros(n_cells, np.int64))
            ratio = a_c / (a_c + 1 / pop.time_var_cell)
        else:
            d_p, s_c, vp, v_c, ratio = g_p / h_p, np.zeros(0), 1 / h_p, np.zeros(0), np.zeros(0)
        s = float(d_p[0])
        fitted = s + np.where(c_has, s_c[c_rows] if n_cells else 0.0, 0.0)
        phi = float((np.sum(wt * (r - fitted) ** 2 / sigma2) + NU) / (wt.sum() + NU))
    return s, s_c, float(vp[0]), v_c, ratio, phi


def price(pop: Population, state: PersonState, query: Coded) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """Raw predictive P(correct), log-time mean and variance of the query rows (before calibration), and the
    variance of the logit (for the calibration's record).

    ``query.cell`` are local cell codes of the state (-1 or >= len(state cells): a topic not yet answered).
    """
    acc_term, time_term = practice_terms(pop, query)
    n_cells = state.theta_c.shape[0]
    in_cell = (query.cell >= 0) & (query.cell < n_cells)
    c = np.where(in_cell, query.cell, 0)

    def part(mean: float, var: float, cell_mean: np.ndarray, cell_var: np.ndarray, cov: np.ndarray,
             prior_cell: float) -> tuple[np.ndarray, np.ndarray]:
        if n_cells:
            m = mean + np.where(in_cell, cell_mean[c], 0.0)
            v = var + np.where(in_cell, cell_var[c] + 2 * cov[c], prior_cell)
        else:
            m, v = np.full(len(query), mean), np.full(len(query), var + prior_cell)
        return m, v

    has_topic = query.cell >= 0
    prior_acc = np.where(has_topic, pop.acc_var_cell, 0.0)
    prior_time = np.where(has_topic, pop.time_var_cell, 0.0)
    ability, ability_var = part(state.theta, state.theta_var, state.theta_c, state.theta_c_var, state.theta_cov,
                                0.0)
    ability_var = ability_var + np.where(in_cell, 0.0, prior_acc)
    eta = query.b + acc_term + ability
    eta_var = query.b_var + ability_var
    p = expit(eta / np.sqrt(1 + _PI_8 * eta_var))
    slowness, slowness_var = part(state.s, state.s_var, state.s_c, state.s_c_var, state.s_cov, 0.0)
    slowness_var = slowness_var + np.where(in_cell, 0.0, prior_time)
    mu1 = query.lam + time_term + slowness
    mean = mu1 + (1 - p) * query.omega
    var = query.sigma2 * state.phi + query.lam_var + slowness_var + p * (1 - p) * query.omega**2
    return p, mean, var, eta_var
