"""Linear algebra of the practice model's person and item blocks, vectorised over persons / items.

A person's unknowns are a 2-vector (the main ability or slowness and a second latent factor) plus one scalar
per person x topic cell, which enters the linear predictor like the main one. Its Newton system is therefore
arrow-shaped: a 2 x 2 person block coupled to a diagonal of cells. ``arrow_solve`` eliminates the cells
(Schur complement) and returns the step and the posterior (co)variances. Items solve small dense systems
(``item_solve``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["arrow_solve", "inv2", "item_solve", "person_sums"]


def inv2(m: np.ndarray) -> np.ndarray:
    """Inverses of a stack of 2 x 2 matrices (..., 2, 2)."""
    det = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    det = np.where(np.abs(det) < 1e-300, 1e-300, det)
    out = np.empty_like(m)
    out[..., 0, 0] = m[..., 1, 1] / det
    out[..., 1, 1] = m[..., 0, 0] / det
    out[..., 0, 1] = -m[..., 0, 1] / det
    out[..., 1, 0] = -m[..., 1, 0] / det
    return out


def _count(codes: np.ndarray, n: int, weights: np.ndarray) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=n).astype(np.float64)


def person_sums(person: np.ndarray, n_persons: int, cell: np.ndarray | None, n_cells: int, g: np.ndarray,
                h: np.ndarray, a: np.ndarray, c: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Data parts of the arrow system: row gradients ``g`` and curvatures ``h`` of a linear predictor that holds
    a * (main + cell) + c * factor.

    Returns:
        (G_p (P, 2), H_p (P, 2, 2), g_cell (C,), h_cell (C,), cross_cell (C, 2)), without priors.
    """
    g_p = np.column_stack([_count(person, n_persons, a * g), _count(person, n_persons, c * g)])
    h_p = np.empty((n_persons, 2, 2))
    h_p[:, 0, 0] = _count(person, n_persons, a * a * h)
    h_p[:, 1, 1] = _count(person, n_persons, c * c * h)
    h_p[:, 0, 1] = h_p[:, 1, 0] = _count(person, n_persons, a * c * h)
    if cell is None:
        return g_p, h_p, np.zeros(0), np.zeros(0), np.zeros((0, 2))
    has = cell >= 0  # rows without a topic have no cell
    if not has.all():
        cell, g, h, a, c = cell[has], g[has], h[has], a[has], c[has]
    g_c = _count(cell, n_cells, a * g)
    h_c = _count(cell, n_cells, a * a * h)
    cross = np.column_stack([h_c, _count(cell, n_cells, a * c * h)])
    return g_p, h_p, g_c, h_c, cross


def arrow_solve(g_p: np.ndarray, h_p: np.ndarray, g_c: np.ndarray, h_c: np.ndarray, cross: np.ndarray,
                cell_person: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve [[H_p, X^T], [X, diag(h_c)]] [d_p; d_c] = [g_p; g_c] for every person (priors included).

    Returns:
        (d_p (P, 2), d_c (C,), cov_p (P, 2, 2), var_c (C,), cov_pc (C, 2)): the step and the diagonal blocks
        of the inverse (the posterior covariance at the optimum) with the person-cell covariances.
    """
    n = g_p.shape[0]
    schur = h_p.copy()
    rhs = g_p.copy()
    if g_c.size:
        ratio = cross / h_c[:, None]
        for j in range(2):
            rhs[:, j] -= np.bincount(cell_person, ratio[:, j] * g_c, minlength=n)
            for k in range(2):
                schur[:, j, k] -= np.bincount(cell_person, ratio[:, j] * cross[:, k], minlength=n)
    cov_p = inv2(schur)
    d_p = np.einsum("pjk,pk->pj", cov_p, rhs)
    if not g_c.size:
        return d_p, np.zeros(0), cov_p, np.zeros(0), np.zeros((0, 2))
    d_c = (g_c - np.einsum("cj,cj->c", cross, d_p[cell_person])) / h_c
    cov_pc = -np.einsum("cjk,ck->cj", cov_p[cell_person], cross) / h_c[:, None]
    var_c = 1.0 / h_c + np.einsum("cj,cjk,ck->c", cross, cov_p[cell_person], cross) / h_c**2
    return d_p, d_c, cov_p, var_c, cov_pc


def item_solve(item: np.ndarray, n_items: int, x: np.ndarray, g: np.ndarray, h: np.ndarray,
               prior_mean: np.ndarray, prior_prec: np.ndarray, current: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray]:
    """One Newton step per item for parameters entering as ``x @ params`` (x: (n, m) regressors per row),
    Gaussian priors (``prior_mean``: (K, m), ``prior_prec``: (m,)), at ``current`` (K, m).

    Returns:
        (step (K, m), posterior variances (K, m)).
    """
    m = x.shape[1]
    grad = np.column_stack([_count(item, n_items, x[:, j] * g) for j in range(m)])
    grad -= (current - prior_mean) * prior_prec
    hess = np.empty((n_items, m, m))
    for j in range(m):
        for k in range(j, m):
            hess[:, j, k] = hess[:, k, j] = _count(item, n_items, x[:, j] * x[:, k] * h)
    hess += np.diag(prior_prec)
    inv = np.linalg.inv(hess)
    return np.einsum("kjl,kl->kj", inv, grad), np.diagonal(inv, axis1=1, axis2=2).copy()
