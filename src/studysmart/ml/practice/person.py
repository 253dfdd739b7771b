"""A student's state from their answers (the online update) and the pricing of their next tasks.

Given the fitted population (items, practice slopes, forgetting rates, variance components), a student's
ability and slowness, student-wide and per topic, have a posterior from their own answers only:

* accuracy: the Laplace approximation of (theta_i, psi_i, theta_ic for each topic answered), Newton's method on
  the arrow-shaped system (``blocks.arrow_solve``) from 0 to a step below 1e-10;
* log-time: the exact normal posterior of (s_i, chi_i, s_ic), after a first pass that estimates the student's
  residual-variance factor kappa_i (pulled toward 1 by NU pseudo-answers).

A task is then priced by integrating that posterior and the item's uncertainty (a new item's: its group's)
into P(correct) (logistic-normal, probit approximation) and the mixture over the outcome of log-time normals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from studysmart.ml.practice import kernels
from studysmart.ml.practice.blocks import arrow_solve, person_sums
from studysmart.ml.practice.design import Columns, linear

__all__ = ["Coded", "Inputs", "PersonState", "Population", "Priced", "accuracy_posterior_numpy",
           "first_appearance", "inputs", "person_state", "price", "price_rows", "priced_inputs",
           "time_posterior_numpy"]

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
    beta: float = 0.0  # regression of ability on slowness (van der Linden's person-level correlation)
    acc_var_conditional: float = 0.0  # Var(ability | slowness); acc_var_person = it + beta^2 time_var_person


@dataclass(frozen=True)
class Coded:
    """Rows of one student, coded: item parameters per row (already looked up, new items from their group) as
    (n, 3) arrays of (intercept, discrimination, second loading) with their variances, local cell codes
    (0..m-1 over this student's topics by first appearance, -1: no topic), practice columns and outcomes."""

    acc: np.ndarray
    acc_var: np.ndarray
    time: np.ndarray
    time_var: np.ndarray
    omega: np.ndarray
    sigma2: np.ndarray
    topic: np.ndarray  # model topic code (or >= n_topics: unknown; -1: none) for the slope deviations
    cell: np.ndarray
    cols: Columns
    correct: np.ndarray
    log_time: np.ndarray
    novel: np.ndarray  # a new item of a known topic (calibrated on its own)

    def __len__(self) -> int:
        return int(self.acc.shape[0])


@dataclass(frozen=True)
class Part:
    """Posterior of one part (ability or slowness): the person 2-vector (main, factor) with its covariance,
    and per local cell its mean, variance and covariance with the person vector."""

    mean: np.ndarray
    cov: np.ndarray
    cell_mean: np.ndarray
    cell_var: np.ndarray
    cell_cov: np.ndarray


@dataclass(frozen=True)
class PersonState:
    """Posterior of one student: ability, slowness, and the residual-variance factor of their log-times."""

    ability: Part
    slowness: Part
    kappa: float
    n: int


def practice_terms(pop: Population, coded: Coded) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the accuracy (logit) and log-time practice terms."""
    if not pop.practice or len(coded) == 0:
        return np.zeros(len(coded)), np.zeros(len(coded))
    t = np.where((coded.topic >= 0) & (coded.topic < pop.n_topics), coded.topic, -1)
    return (linear(coded.cols, pop.acc_w, pop.acc_delta, pop.acc_u, t),
            linear(coded.cols, pop.time_v, pop.time_delta, pop.time_u, t))


def _prior_part(n_cells: int, var_person: float, var_cell: float) -> Part:
    return Part(np.zeros(2), np.diag([var_person, 1.0]), np.zeros(n_cells), np.full(n_cells, var_cell),
                np.zeros((n_cells, 2)))


def first_appearance(topics: np.ndarray) -> np.ndarray:
    """Local cell codes 0, 1, ... of topic codes in order of first appearance (-1 stays -1)."""
    out = np.full(topics.shape[0], -1, dtype=np.int64)
    seen: dict[int, int] = {}
    for j, t in enumerate(topics.tolist()):
        if t >= 0:
            out[j] = seen.setdefault(t, len(seen))
    return out


@dataclass(frozen=True)
class Inputs:
    """The kernels' per-row arrays of a student's time-sorted rows (see ``kernels``)."""

    base: np.ndarray
    load: np.ndarray
    factor: np.ndarray
    correct: np.ndarray
    weight: np.ndarray  # 1: a student's own state uses every answer (row weights are for the population)
    cell: np.ndarray
    resid: np.ndarray
    time_load: np.ndarray
    time_factor: np.ndarray
    sigma2: np.ndarray
    cells_before: np.ndarray  # per row: the number of cells among the rows before it

    def __len__(self) -> int:
        return int(self.base.shape[0])


def inputs(pop: Population, coded: Coded) -> Inputs:
    """Kernel inputs of coded rows: the population part of each linear predictor and each residual."""
    acc_term, time_term = practice_terms(pop, coded)
    wrong = np.where(np.isnan(coded.correct), 0.5, 1 - np.nan_to_num(coded.correct))
    resid = coded.log_time - coded.time[:, 0] - time_term - wrong * coded.omega
    cell = coded.cell.astype(np.int64)
    before = np.maximum.accumulate(np.r_[0, cell + 1])[:-1] if cell.size else np.zeros(0, np.int64)
    return Inputs(np.ascontiguousarray(coded.acc[:, 0] + acc_term), np.ascontiguousarray(coded.acc[:, 1]),
                  np.ascontiguousarray(coded.acc[:, 2]), np.ascontiguousarray(coded.correct, dtype=np.float64),
                  np.ones(len(coded)), cell, np.ascontiguousarray(resid),
                  np.ascontiguousarray(coded.time[:, 1]), np.ascontiguousarray(coded.time[:, 2]),
                  np.ascontiguousarray(coded.sigma2), before.astype(np.int64))


def person_state(pop: Population, data: Inputs, n: int | None = None, start: PersonState | None = None,
                 ) -> PersonState:
    """The student's posterior from the first ``n`` rows (all by default) of their kernel inputs; ``start``:
    the state after fewer rows, where Newton starts (the result is the same to 1e-10)."""
    n = len(data) if n is None else n
    m = int(data.cells_before[n]) if n < len(data) else int(data.cell.max(initial=-1)) + 1
    if n == 0:
        return PersonState(_prior_part(m, pop.acc_var_person, pop.acc_var_cell),
                           _prior_part(m, pop.time_var_person, pop.time_var_cell), 1.0, 0)
    cell_start = np.zeros(m)
    mean_start = np.zeros(2)
    if start is not None:
        mean_start = start.ability.mean.copy()
        k = start.ability.cell_mean.shape[0]
        cell_start[:k] = start.ability.cell_mean
    *slowness, kappa = kernels.time_posterior(data.resid, data.time_load, data.time_factor, data.sigma2,
                                              data.weight, data.cell, n, m, pop.time_var_person,
                                              pop.time_var_cell, NU)
    prior_mean, prior_var = _ability_prior(pop, slowness[0][0], slowness[1][0, 0])
    ability = Part(*kernels.accuracy_posterior(data.base, data.load, data.factor, data.correct, data.weight,
                                               data.cell, n, m, prior_var, pop.acc_var_cell, mean_start,
                                               cell_start, prior_mean))
    return PersonState(ability, Part(*slowness), float(kappa), n)


def _ability_prior(pop: Population, slowness: float, slowness_var: float) -> tuple[float, float]:
    """The ability's prior given the slowness posterior (the person-level correlation of the two)."""
    if pop.beta == 0.0:
        return 0.0, pop.acc_var_person
    return pop.beta * slowness, pop.acc_var_conditional + pop.beta**2 * slowness_var


# -- NumPy reference of the kernels (tests) ---------------------------------------------------------------
def _system(cell: np.ndarray, n_cells: int, g: np.ndarray, h: np.ndarray, load: np.ndarray, factor: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    has = cell >= 0
    zero = np.zeros(g.shape[0], dtype=np.int64)
    g_p, h_p, _, _, _ = person_sums(zero, 1, None, 0, g, h, load, factor)
    if not n_cells:
        return g_p, h_p, np.zeros(0), np.zeros(0), np.zeros((0, 2))
    _, _, g_c, h_c, cross = person_sums(zero[has], 1, cell[has], n_cells, g[has], h[has], load[has], factor[has])
    return g_p, h_p, g_c, h_c, cross


def accuracy_posterior_numpy(pop: Population, data: Inputs, n_cells: int, prior_mean: float = 0.0,
                             prior_var: float | None = None) -> Part:
    """NumPy reference of ``kernels.accuracy_posterior`` over all rows (from 0)."""
    known = ~np.isnan(data.correct)
    y, wt = data.correct[known], data.weight[known]
    base, load, factor = data.base[known], data.load[known], data.factor[known]
    cell = data.cell[known]
    has = cell >= 0
    c_idx = np.where(has, cell, 0)
    var_p = pop.acc_var_person if prior_var is None else prior_var
    var_c = pop.acc_var_cell
    mean, cell_mean = np.zeros(2), np.zeros(n_cells)
    cells_of = np.zeros(n_cells, dtype=np.int64)
    for _ in range(kernels.MAX_NEWTON):
        main = mean[0] + (np.where(has, cell_mean[c_idx], 0.0) if n_cells else 0.0)
        p = expit(base + load * main + factor * mean[1])
        g_p, h_p, g_c, h_c, cross = _system(cell, n_cells, wt * (y - p), wt * p * (1 - p), load, factor)
        g_p[0] -= [(mean[0] - prior_mean) / var_p, mean[1]]
        h_p[0] += np.diag([1 / var_p, 1.0])
        d_p, d_c, cov, v_c, cov_c = arrow_solve(g_p, h_p, g_c - cell_mean / var_c, h_c + 1 / var_c, cross,
                                                cells_of)
        mean = mean + np.clip(d_p[0], -1, 1)
        cell_mean = cell_mean + np.clip(d_c, -1, 1)
        if max(np.max(np.abs(d_p)), np.max(np.abs(d_c), initial=0.0)) < kernels.TOLERANCE:
            break
    return Part(mean, cov[0], cell_mean, v_c, cov_c)


def time_posterior_numpy(pop: Population, data: Inputs, n_cells: int) -> tuple[Part, float]:
    """NumPy reference of ``kernels.time_posterior`` over all rows."""
    known = ~np.isnan(data.resid)
    r, load, factor = data.resid[known], data.time_load[known], data.time_factor[known]
    sigma2, wt, cell = data.sigma2[known], data.weight[known], data.cell[known]
    has = cell >= 0
    c_idx = np.where(has, cell, 0)
    kappa = 1.0
    part = _prior_part(n_cells, pop.time_var_person, pop.time_var_cell)
    for _ in range(2):  # means with the current variance factor, then the factor from their residuals
        q = wt / (sigma2 * kappa)
        g_p, h_p, g_c, h_c, cross = _system(cell, n_cells, q * r, q, load, factor)
        h_p[0] += np.diag([1 / pop.time_var_person, 1.0])
        d_p, d_c, cov, v_c, cov_c = arrow_solve(g_p, h_p, g_c, h_c + 1 / pop.time_var_cell, cross,
                                                np.zeros(n_cells, dtype=np.int64))
        part = Part(d_p[0], cov[0], d_c, v_c, cov_c)
        main = d_p[0, 0] + (np.where(has, d_c[c_idx], 0.0) if n_cells else 0.0)
        fitted = load * main + factor * d_p[0, 1]
        kappa = float((np.sum(wt * (r - fitted) ** 2 / sigma2) + NU) / (wt.sum() + NU))
    return part, kappa


def _moments(part: Part, cell: np.ndarray, n_cells: int, prior_cell: float,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per query: mean and variance of the main term (person + cell), of the factor, and their covariance."""
    n = cell.shape[0]
    in_cell = (cell >= 0) & (cell < n_cells)
    c = np.where(in_cell, cell, 0)
    main, main_var = np.full(n, part.mean[0]), np.full(n, part.cov[0, 0])
    cov = np.full(n, part.cov[0, 1])
    if n_cells:
        main = main + np.where(in_cell, part.cell_mean[c], 0.0)
        main_var = main_var + np.where(in_cell, part.cell_var[c] + 2 * part.cell_cov[c, 0], 0.0)
        cov = cov + np.where(in_cell, part.cell_cov[c, 1], 0.0)
    main_var = main_var + np.where((cell >= 0) & ~in_cell, prior_cell, 0.0)
    return main, main_var, np.full(n, part.mean[1]), np.full(n, part.cov[1, 1]), cov


def _linear_moments(params: np.ndarray, params_var: np.ndarray, moments: tuple[np.ndarray, ...],
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of intercept + load * main + loading * factor, parameters and person independent."""
    main, main_var, factor, factor_var, cov = moments
    mean = params[:, 0] + params[:, 1] * main + params[:, 2] * factor
    var = (params[:, 1] ** 2 * main_var + params[:, 2] ** 2 * factor_var + 2 * params[:, 1] * params[:, 2] * cov
           + params_var[:, 0] + params_var[:, 1] * (main**2 + main_var) + params_var[:, 2] * (factor**2 + factor_var))
    return mean, var


@dataclass(frozen=True)
class Priced:
    """The pricing kernel's per-row arrays: item parameters (n, 3) with the practice term in column 0."""

    acc: np.ndarray
    acc_var: np.ndarray
    time: np.ndarray
    time_var: np.ndarray
    omega: np.ndarray
    sigma2: np.ndarray
    cell: np.ndarray
    novel: np.ndarray


def priced_inputs(pop: Population, coded: Coded) -> Priced:
    """Pricing inputs of coded rows."""
    acc_term, time_term = practice_terms(pop, coded)
    acc, time = coded.acc.copy(), coded.time.copy()
    acc[:, 0] += acc_term
    time[:, 0] += time_term
    return Priced(acc, np.ascontiguousarray(coded.acc_var), time, np.ascontiguousarray(coded.time_var),
                  np.ascontiguousarray(coded.omega), np.ascontiguousarray(coded.sigma2),
                  coded.cell.astype(np.int64), coded.novel)


def price_rows(pop: Population, state: PersonState, rows: Priced, start: int = 0, stop: int | None = None,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw predictive P(correct), log-time mean and variance of rows [start, stop) (``kernels.price``)."""
    a, t = state.ability, state.slowness
    return kernels.price(rows.acc, rows.acc_var, rows.time, rows.time_var, rows.omega, rows.sigma2, rows.cell, start,
                         len(rows.omega) if stop is None else stop, a.mean, a.cov, a.cell_mean, a.cell_var,
                         a.cell_cov, t.mean, t.cov, t.cell_mean, t.cell_var, t.cell_cov, state.kappa,
                         pop.acc_var_cell, pop.time_var_cell)


def price(pop: Population, state: PersonState, query: Coded) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """NumPy reference of ``kernels.price``: raw predictive P(correct), log-time mean and variance of the query
    rows (before calibration), and the variance of the logit.

    ``query.cell`` are local cell codes of the state (-1: no topic; >= the state's cells: a topic the student has
    not answered yet, whose cell is priced from its prior).
    """
    acc_term, time_term = practice_terms(pop, query)
    n_cells = state.ability.cell_mean.shape[0]
    eta, eta_var = _linear_moments(query.acc, query.acc_var,
                                   _moments(state.ability, query.cell, n_cells, pop.acc_var_cell))
    eta = eta + acc_term
    p = expit(eta / np.sqrt(1 + _PI_8 * eta_var))
    mu, mu_var = _linear_moments(query.time, query.time_var,
                                 _moments(state.slowness, query.cell, n_cells, pop.time_var_cell))
    mean = mu + time_term + (1 - p) * query.omega
    var = query.sigma2 * state.kappa + mu_var + p * (1 - p) * query.omega**2
    return p, mean, var, eta_var
