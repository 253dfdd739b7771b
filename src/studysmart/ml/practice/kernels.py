"""The online update of one student in one fused pass: Numba kernels of ``person``'s posteriors.

``accuracy_posterior`` and ``time_posterior`` compute exactly what the NumPy reference in ``person`` computes
(``person.accuracy_posterior_numpy``, ``person.time_posterior_numpy``; tests compare them), over the first ``n``
rows of a student's time-sorted arrays, so the sequential evaluation can update a student after every answer
without copying, starting Newton from the previous answer's solution (``start``), and a served prediction is a
few microseconds of arithmetic. Rows have local cell codes by first appearance (-1: no topic), so the first
``n`` rows use cells 0..m-1 only.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["accuracy_posterior", "time_posterior"]

MAX_NEWTON = 50
TOLERANCE = 1e-10


@njit(cache=True)
def _solve(h00: float, h01: float, h11: float, r0: float, r1: float, gc: np.ndarray, hc: np.ndarray,
           x0: np.ndarray, x1: np.ndarray, m: int) -> tuple[float, float, float, float, float]:
    """Schur elimination of the cells: the person step and the person block of the inverse."""
    s00, s01, s11 = h00, h01, h11
    for c in range(m):
        s00 -= x0[c] * x0[c] / hc[c]
        s01 -= x0[c] * x1[c] / hc[c]
        s11 -= x1[c] * x1[c] / hc[c]
        r0 -= x0[c] * gc[c] / hc[c]
        r1 -= x1[c] * gc[c] / hc[c]
    det = s00 * s11 - s01 * s01
    if abs(det) < 1e-300:
        det = 1e-300
    c00, c01, c11 = s11 / det, -s01 / det, s00 / det
    return c00 * r0 + c01 * r1, c01 * r0 + c11 * r1, c00, c01, c11


@njit(cache=True)
def _cells_out(c00: float, c01: float, c11: float, hc: np.ndarray, x0: np.ndarray, x1: np.ndarray, m: int,
               cell_var: np.ndarray, cell_cov: np.ndarray) -> None:
    for c in range(m):
        a0 = c00 * x0[c] + c01 * x1[c]
        a1 = c01 * x0[c] + c11 * x1[c]
        cell_var[c] = 1.0 / hc[c] + (x0[c] * a0 + x1[c] * a1) / (hc[c] * hc[c])
        cell_cov[c, 0] = -a0 / hc[c]
        cell_cov[c, 1] = -a1 / hc[c]


@njit(cache=True)
def accuracy_posterior(base: np.ndarray, load: np.ndarray, factor: np.ndarray, y: np.ndarray, weight: np.ndarray,
                       cell: np.ndarray, n: int, m: int, var_p: float, var_c: float, start: np.ndarray,
                       cell_start: np.ndarray, prior_mean: float = 0.0,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Laplace posterior of (main, factor) and the m cells from rows [0, n) (logistic likelihood), with the
    main term's prior N(prior_mean, var_p).

    Returns:
        (mean (2,), cov (2, 2), cell_mean (m,), cell_var (m,), cell_cov (m, 2)).
    """
    mean = start.copy()
    cm = cell_start[:m].copy()
    gc, hc = np.zeros(m), np.zeros(m)
    x0, x1 = np.zeros(m), np.zeros(m)
    c00, c01, c11 = var_p, 0.0, 1.0
    for _ in range(MAX_NEWTON):
        gp0 = gp1 = h00 = h01 = h11 = 0.0
        gc[:] = 0.0
        hc[:] = 0.0
        x0[:] = 0.0
        x1[:] = 0.0
        for j in range(n):
            if math.isnan(y[j]):
                continue
            c = cell[j]
            main = mean[0] + (cm[c] if c >= 0 else 0.0)
            eta = base[j] + load[j] * main + factor[j] * mean[1]
            p = 1.0 / (1.0 + math.exp(-eta))
            g = weight[j] * (y[j] - p)
            h = weight[j] * p * (1.0 - p)
            gp0 += load[j] * g
            gp1 += factor[j] * g
            h00 += load[j] * load[j] * h
            h01 += load[j] * factor[j] * h
            h11 += factor[j] * factor[j] * h
            if c >= 0:
                gc[c] += load[j] * g
                x0[c] += load[j] * load[j] * h
                x1[c] += load[j] * factor[j] * h
        gp0 -= (mean[0] - prior_mean) / var_p
        gp1 -= mean[1]
        h00 += 1.0 / var_p
        h11 += 1.0
        for c in range(m):
            gc[c] -= cm[c] / var_c
            hc[c] = x0[c] + 1.0 / var_c
        d0, d1, c00, c01, c11 = _solve(h00, h01, h11, gp0, gp1, gc, hc, x0, x1, m)
        biggest = max(abs(d0), abs(d1))
        mean[0] += min(max(d0, -1.0), 1.0)
        mean[1] += min(max(d1, -1.0), 1.0)
        for c in range(m):
            dc = (gc[c] - x0[c] * d0 - x1[c] * d1) / hc[c]
            biggest = max(biggest, abs(dc))
            cm[c] += min(max(dc, -1.0), 1.0)
        if biggest < TOLERANCE:
            break
    cov = np.array([[c00, c01], [c01, c11]])
    cell_var, cell_cov = np.zeros(m), np.zeros((m, 2))
    _cells_out(c00, c01, c11, hc, x0, x1, m, cell_var, cell_cov)
    return mean, cov, cm, cell_var, cell_cov


@njit(cache=True)
def time_posterior(resid: np.ndarray, load: np.ndarray, factor: np.ndarray, sigma2: np.ndarray,
                   weight: np.ndarray, cell: np.ndarray, n: int, m: int, var_p: float, var_c: float, nu: float,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Normal posterior of (main, factor) and the m cells from rows [0, n) (``resid``: log-time minus the
    population part, NaN = no time), after estimating the residual-variance factor kappa (two passes).

    Returns:
        (mean (2,), cov (2, 2), cell_mean (m,), cell_var (m,), cell_cov (m, 2), kappa).
    """
    kappa = 1.0
    mean, cov = np.zeros(2), np.array([[var_p, 0.0], [0.0, 1.0]])
    cm, cell_var, cell_cov = np.zeros(m), np.full(m, var_c), np.zeros((m, 2))
    gc, hc = np.zeros(m), np.zeros(m)
    x0, x1 = np.zeros(m), np.zeros(m)
    for _ in range(2):
        gp0 = gp1 = h00 = h01 = h11 = 0.0
        gc[:] = 0.0
        x0[:] = 0.0
        x1[:] = 0.0
        for j in range(n):
            if math.isnan(resid[j]):
                continue
            q = weight[j] / (sigma2[j] * kappa)
            c = cell[j]
            gp0 += load[j] * q * resid[j]
            gp1 += factor[j] * q * resid[j]
            h00 += load[j] * load[j] * q
            h01 += load[j] * factor[j] * q
            h11 += factor[j] * factor[j] * q
            if c >= 0:
                gc[c] += load[j] * q * resid[j]
                x0[c] += load[j] * load[j] * q
                x1[c] += load[j] * factor[j] * q
        h00 += 1.0 / var_p
        h11 += 1.0
        for c in range(m):
            hc[c] = x0[c] + 1.0 / var_c
        d0, d1, c00, c01, c11 = _solve(h00, h01, h11, gp0, gp1, gc, hc, x0, x1, m)
        mean[0], mean[1] = d0, d1
        cov[0, 0], cov[0, 1], cov[1, 0], cov[1, 1] = c00, c01, c01, c11
        for c in range(m):
            cm[c] = (gc[c] - x0[c] * d0 - x1[c] * d1) / hc[c]
        _cells_out(c00, c01, c11, hc, x0, x1, m, cell_var, cell_cov)
        ss = 0.0
        total = 0.0
        for j in range(n):
            if math.isnan(resid[j]):
                continue
            c = cell[j]
            fitted = load[j] * (d0 + (cm[c] if c >= 0 else 0.0)) + factor[j] * d1
            ss += weight[j] * (resid[j] - fitted) ** 2 / sigma2[j]
            total += weight[j]
        kappa = (ss + nu) / (total + nu)
    return mean, cov, cm, cell_var, cell_cov, kappa


@njit(cache=True)
def _part_moments(mean: np.ndarray, cov: np.ndarray, cell_mean: np.ndarray, cell_var: np.ndarray,
                  cell_cov: np.ndarray, c: int, prior_cell: float) -> tuple[float, float, float, float, float]:
    """Mean and variance of the main term (person + cell) and of the factor, and their covariance."""
    main, main_var, cov_mf = mean[0], cov[0, 0], cov[0, 1]
    m = cell_mean.shape[0]
    if 0 <= c < m:
        main += cell_mean[c]
        main_var += cell_var[c] + 2.0 * cell_cov[c, 0]
        cov_mf += cell_cov[c, 1]
    elif c >= m:
        main_var += prior_cell
    return main, main_var, mean[1], cov[1, 1], cov_mf


@njit(cache=True)
def _linear(params: np.ndarray, params_var: np.ndarray, j: int, main: float, main_var: float, factor: float,
            factor_var: float, cov_mf: float) -> tuple[float, float]:
    load, loading = params[j, 1], params[j, 2]
    mean = params[j, 0] + load * main + loading * factor
    var = (load * load * main_var + loading * loading * factor_var + 2.0 * load * loading * cov_mf
           + params_var[j, 0] + params_var[j, 1] * (main * main + main_var)
           + params_var[j, 2] * (factor * factor + factor_var))
    return mean, var


@njit(cache=True)
def price(acc: np.ndarray, acc_var: np.ndarray, time: np.ndarray, time_var: np.ndarray, omega: np.ndarray,
          sigma2: np.ndarray, cell: np.ndarray, start: int, stop: int, a_mean: np.ndarray, a_cov: np.ndarray,
          a_cell_mean: np.ndarray, a_cell_var: np.ndarray, a_cell_cov: np.ndarray, t_mean: np.ndarray,
          t_cov: np.ndarray, t_cell_mean: np.ndarray, t_cell_var: np.ndarray, t_cell_cov: np.ndarray, kappa: float,
          acc_prior_cell: float, time_prior_cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw predictive P(correct), log-time mean and variance of rows [start, stop) (``acc`` / ``time``: (n, 3)
    item parameters with the practice term already in column 0). NumPy reference: ``person.price``."""
    n = stop - start
    p_out, mean_out, var_out = np.empty(n), np.empty(n), np.empty(n)
    for k in range(n):
        j = start + k
        c = cell[j]
        mm, mv, fm, fv, cv = _part_moments(a_mean, a_cov, a_cell_mean, a_cell_var, a_cell_cov, c, acc_prior_cell)
        eta, eta_var = _linear(acc, acc_var, j, mm, mv, fm, fv, cv)
        p = 1.0 / (1.0 + math.exp(-eta / math.sqrt(1.0 + math.pi / 8.0 * eta_var)))
        mm, mv, fm, fv, cv = _part_moments(t_mean, t_cov, t_cell_mean, t_cell_var, t_cell_cov, c, time_prior_cell)
        mu, mu_var = _linear(time, time_var, j, mm, mv, fm, fv, cv)
        p_out[k] = p
        mean_out[k] = mu + (1.0 - p) * omega[j]
        var_out[k] = sigma2[j] * kappa + mu_var + p * (1.0 - p) * omega[j] * omega[j]
    return p_out, mean_out, var_out


@njit(cache=True)
def prequential_time(resid: np.ndarray, time_load: np.ndarray, time_factor: np.ndarray, sigma2: np.ndarray,
                     weight: np.ndarray, cell: np.ndarray, starts: np.ndarray, time_var_p: float,
                     time_var_c: float, nu: float,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every row, the student's time posterior from their earlier rows only: the mean and variance of the
    person part of the log-time predictor at that row (load (main + cell) + factor), the residual-variance
    factor kappa, and the posterior mean and variance of the slowness (the main term; the population prior's
    before any row), which condition the ability's prior in ``prequential_accuracy``. Students are the runs
    [starts[i], starts[i + 1]) of the time-sorted rows, ``cell`` their local cell codes by first appearance.
    (Apart from the accuracy part, which a search over couplings repeats, this part is computed once.)

    Returns:
        (time_mean, time_var, kappa, slowness mean, slowness variance) per row.
    """
    n_rows = resid.shape[0]
    time_mean, time_var, kappa_out = np.zeros(n_rows), np.zeros(n_rows), np.ones(n_rows)
    slow_mean, slow_var = np.zeros(n_rows), np.full(n_rows, time_var_p)
    for i in range(starts.shape[0] - 1):
        lo, hi = starts[i], starts[i + 1]
        m = 0
        for r in range(lo, hi):
            n = r - lo
            if n > 0:
                t_mean, t_cov, t_cm, t_cv, t_cc, kappa = time_posterior(
                    resid[lo:hi], time_load[lo:hi], time_factor[lo:hi], sigma2[lo:hi], weight[lo:hi], cell[lo:hi],
                    n, m, time_var_p, time_var_c, nu)
                slow_mean[r], slow_var[r] = t_mean[0], t_cov[0, 0]
            else:
                t_mean, t_cov = np.zeros(2), np.array([[time_var_p, 0.0], [0.0, 1.0]])
                t_cm, t_cv, t_cc, kappa = np.zeros(0), np.zeros(0), np.zeros((0, 2)), 1.0
            c = cell[r]
            mm, mv, fm, fv, cv = _part_moments(t_mean, t_cov, t_cm, t_cv, t_cc, c, time_var_c)
            time_mean[r] = time_load[r] * mm + time_factor[r] * fm
            time_var[r] = time_load[r] ** 2 * mv + time_factor[r] ** 2 * fv + 2 * time_load[r] * time_factor[r] * cv
            kappa_out[r] = kappa
            if c >= m:
                m = c + 1
    return time_mean, time_var, kappa_out, slow_mean, slow_var


@njit(cache=True)
def prequential_accuracy(base: np.ndarray, load: np.ndarray, factor: np.ndarray, y: np.ndarray,
                         weight: np.ndarray, cell: np.ndarray, starts: np.ndarray, var_p: float, var_c: float,
                         beta: float, slow_mean: np.ndarray, slow_var: np.ndarray,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """For every row, the student's accuracy posterior from their earlier rows only, as the mean and variance of
    the person part of the linear predictor (load (main + cell) + factor psi), the ability's prior conditional
    on the slowness posterior of ``prequential_time`` (``beta``: the regression of ability on slowness;
    ``var_p``: the conditional variance), as ``person.person_state``.

    Returns:
        (acc_mean, acc_var) per row.
    """
    n_rows = base.shape[0]
    acc_mean, acc_var = np.zeros(n_rows), np.zeros(n_rows)
    for i in range(starts.shape[0] - 1):
        lo, hi = starts[i], starts[i + 1]
        m_all = 0
        for j in range(lo, hi):
            m_all = max(m_all, cell[j] + 1)
        mean = np.zeros(2)
        cm = np.zeros(m_all)
        m = 0
        for r in range(lo, hi):
            n = r - lo
            if n > 0:
                mean, cov, cmean, cvar, ccov = accuracy_posterior(
                    base[lo:hi], load[lo:hi], factor[lo:hi], y[lo:hi], weight[lo:hi], cell[lo:hi], n, m,
                    var_p + beta * beta * slow_var[r], var_c, mean, cm, beta * slow_mean[r])
                cm[:m] = cmean
            else:
                cov = np.array([[var_p + beta * beta * slow_var[r], 0.0], [0.0, 1.0]])
                cmean, cvar, ccov = np.zeros(0), np.zeros(0), np.zeros((0, 2))
            c = cell[r]
            mm, mv, fm, fv, cv = _part_moments(mean, cov, cmean, cvar, ccov, c, var_c)
            acc_mean[r] = load[r] * mm + factor[r] * fm
            acc_var[r] = load[r] ** 2 * mv + factor[r] ** 2 * fv + 2 * load[r] * factor[r] * cv
            if c >= m:
                m = c + 1
    return acc_mean, acc_var


@njit(cache=True)
def sequential(base: np.ndarray, load: np.ndarray, factor: np.ndarray, y: np.ndarray, weight: np.ndarray,
               cell: np.ndarray, resid: np.ndarray, time_load: np.ndarray, time_factor: np.ndarray,
               sigma2: np.ndarray, acc: np.ndarray, acc_var: np.ndarray, time: np.ndarray, time_var: np.ndarray,
               omega: np.ndarray, starts: np.ndarray, target: np.ndarray, var_p: float, var_c: float,
               time_var_p: float, time_var_c: float, nu: float, beta: float,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Online prices of the ``target`` rows of time-sorted students (runs [starts[i], starts[i + 1])): each
    from the student's posterior after their earlier rows (``person.person_state``), priced as ``price``.

    Returns:
        (p, mean, var, earlier) per row (NaN for rows that are not targets; ``earlier``: rows before it).
    """
    n_rows = base.shape[0]
    p_out, mean_out, var_out = np.full(n_rows, np.nan), np.full(n_rows, np.nan), np.full(n_rows, np.nan)
    earlier = np.zeros(n_rows)
    for i in range(starts.shape[0] - 1):
        lo, hi = starts[i], starts[i + 1]
        m_all = 0
        for j in range(lo, hi):
            m_all = max(m_all, cell[j] + 1)
        a_mean = np.zeros(2)
        cm = np.zeros(m_all)
        m = 0
        for r in range(lo, hi):
            if target[r]:
                n = r - lo
                earlier[r] = n
                if n > 0:
                    t_mean, t_cov, t_cm, t_cv, t_cc, kappa = time_posterior(
                        resid[lo:hi], time_load[lo:hi], time_factor[lo:hi], sigma2[lo:hi], weight[lo:hi],
                        cell[lo:hi], n, m, time_var_p, time_var_c, nu)
                    a_mean, a_cov, a_cm, a_cv, a_cc = accuracy_posterior(
                        base[lo:hi], load[lo:hi], factor[lo:hi], y[lo:hi], weight[lo:hi], cell[lo:hi], n, m,
                        var_p + beta * beta * t_cov[0, 0], var_c, a_mean, cm, beta * t_mean[0])
                    cm[:m] = a_cm
                else:
                    a_cov = np.array([[var_p + beta * beta * time_var_p, 0.0], [0.0, 1.0]])
                    a_cm, a_cv, a_cc = np.zeros(0), np.zeros(0), np.zeros((0, 2))
                    t_mean, t_cov = np.zeros(2), np.array([[time_var_p, 0.0], [0.0, 1.0]])
                    t_cm, t_cv, t_cc, kappa = np.zeros(0), np.zeros(0), np.zeros((0, 2)), 1.0
                ps, means, vs = price(acc, acc_var, time, time_var, omega, sigma2, cell, r, r + 1, a_mean, a_cov,
                                      a_cm, a_cv, a_cc, t_mean, t_cov, t_cm, t_cv, t_cc, kappa, var_c, time_var_c)
                p_out[r], mean_out[r], var_out[r] = ps[0], means[0], vs[0]
            if cell[r] >= m:
                m = cell[r] + 1
    return p_out, mean_out, var_out, earlier


@njit(cache=True)
def gram(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x^T diag(w) x in one thread (the shared BLAS's threads spin on a busy machine: 20x slower here)."""
    n, k = x.shape
    out = np.zeros((k, k))
    for r in range(n):
        wr = w[r]
        for i in range(k):
            xi = x[r, i] * wr
            if xi != 0.0:
                for j in range(i, k):
                    out[i, j] += xi * x[r, j]
    for i in range(k):
        for j in range(i):
            out[i, j] = out[j, i]
    return out


@njit(cache=True)
def tdot(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """x^T g in one thread."""
    n, k = x.shape
    out = np.zeros(k)
    for r in range(n):
        for i in range(k):
            out[i] += x[r, i] * g[r]
    return out


@njit(cache=True)
def matvec(x: np.ndarray, v: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """x[:, lo:hi] @ v[lo:hi] in one thread."""
    n = x.shape[0]
    out = np.zeros(n)
    for r in range(n):
        total = 0.0
        for j in range(lo, hi):
            total += x[r, j] * v[j]
        out[r] = total
    return out
