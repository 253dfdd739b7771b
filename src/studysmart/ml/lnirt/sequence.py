"""``LNIRT.predict_sequence``: the online predictions of many rows in one vectorised pass.

A served call ``predict(query, history=H)`` re-estimates the person's (theta, zeta) from H by damped Newton
steps (``predictive.person_posterior``) and prices the query with them. Here every query's history is laid out
as (query, history row) pairs (``ml.sequence``) and the Newton steps of all queries run together, each query
stopping where its own iteration would. The sums over a history are ``np.bincount``s rather than ``np.sum``'s
pairwise sums, so estimates agree with the served call's to rounding (about 1e-15).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import log_ndtr

from studysmart.ml.base import SOURCE_ITEM_PRIOR, SOURCE_MODEL, Prediction
from studysmart.ml.data import Responses
from studysmart.ml.lnirt.predictive import _LOG_SQRT_2PI, predictive
from studysmart.ml.sequence import start

if TYPE_CHECKING:
    from studysmart.ml.lnirt.model import _LNIRTBase

__all__ = ["predict_sequence"]


def predict_sequence(model: _LNIRTBase, history: Responses, rows: Responses, *, sequential: bool) -> Prediction:
    """Online predictions of ``rows`` (``ml.evaluate.SequentialPredictor``): each row as ``model.predict`` serves
    it with the person's rows of ``history`` and, when ``sequential``, their earlier rows of ``rows`` (by order,
    then position) as the history."""
    lay, out, primed = start(model, history, rows, sequential=sequential)
    combined = lay.combined
    labels = combined.items[combined.item]
    item_mean, item_cov, sigma2, known_i = model._items_for(labels, combined.row_topic(), combined.row_difficulty())
    for chunk, local, hist_row in lay.pairs(primed):
        x, cov = _posteriors(local, chunk.size, item_mean[hist_row], sigma2[hist_row], combined.correct[hist_row],
                             combined.log_time[hist_row], model.mu_p_, model.sigma_p_)
        query_row = lay.seq[chunk]
        where = lay.row_of(chunk)
        out.p[where], out.mean[where], out.sd[where] = predictive(x[:, 0], x[:, 1], cov, item_mean[query_row],
                                                                  item_cov[query_row], sigma2[query_row])
        out.source[where] = np.where(known_i[query_row], SOURCE_MODEL, SOURCE_ITEM_PRIOR)  # the person is known
    return out.prediction()


def _posteriors(local: np.ndarray, n: int, params: np.ndarray, sigma2: np.ndarray, correct: np.ndarray,
                log_time: np.ndarray, mu_p: np.ndarray, sigma_p: np.ndarray, *, max_steps: int = 50,
                tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """``person_posterior`` of n persons at once, person ``local[j]`` owning pair j: MAPs (n, 2) and Laplace
    covariances (n, 2, 2)."""
    prec_p = np.linalg.inv(sigma_p)
    has_y, has_t = ~np.isnan(correct), ~np.isnan(log_time)
    y_of = local[has_y]
    a, b = params[has_y, 0], params[has_y, 1]
    sign = 2.0 * correct[has_y] - 1.0
    phi_t, lam_t, inv_s2 = params[has_t, 2], params[has_t, 3], 1.0 / sigma2[has_t]
    t = log_time[has_t]
    time_prec = np.bincount(local[has_t], weights=phi_t * phi_t * inv_s2, minlength=n)
    time_lin = np.bincount(local[has_t], weights=phi_t * (lam_t - t) * inv_s2, minlength=n)
    x = np.tile(np.asarray(mu_p, dtype=np.float64), (n, 1))
    hess = np.tile(-prec_p, (n, 1, 1))
    active = np.ones(n, dtype=bool)
    pair_active = np.ones(y_of.size, dtype=bool)
    for _ in range(max_steps):
        idx = np.flatnonzero(active)
        on = pair_active
        q = y_of[on]
        s_eta = sign[on] * (a[on] * x[q, 0] - b[on])
        mills = np.exp(-0.5 * s_eta * s_eta - _LOG_SQRT_2PI - log_ndtr(s_eta))
        sum_grad = np.bincount(q, weights=sign[on] * a[on] * mills, minlength=n)[idx]
        sum_hess = np.bincount(q, weights=a[on] * a[on] * mills * (mills + s_eta), minlength=n)[idx]
        dev = x[idx] - mu_p
        grad = -(dev @ prec_p.T)
        grad[:, 0] += sum_grad
        grad[:, 1] += time_lin[idx] - time_prec[idx] * x[idx, 1]
        h = np.tile(-prec_p, (idx.size, 1, 1))
        h[:, 0, 0] -= sum_hess
        h[:, 1, 1] -= time_prec[idx]
        hess[idx] = h
        det = h[:, 0, 0] * h[:, 1, 1] - h[:, 0, 1] * h[:, 1, 0]
        step = np.column_stack([h[:, 1, 1] * grad[:, 0] - h[:, 0, 1] * grad[:, 1],
                                h[:, 0, 0] * grad[:, 1] - h[:, 1, 0] * grad[:, 0]]) / det[:, None]
        step = np.clip(step, -2.0, 2.0)
        x[idx] = x[idx] - step
        done = np.max(np.abs(step), axis=1) < tol
        if done.all():
            break
        active[idx[done]] = False
        pair_active = active[y_of]
    return x, np.linalg.inv(-hess)
