"""Small conjugate draws of the LNIRT sampler: conditional normals, normal means, inverse-Wishart covariances."""

from __future__ import annotations

import numpy as np

__all__ = ["conditional_normal", "inv_wishart", "normal_mean", "positive_unit_product"]


def conditional_normal(
    mu: np.ndarray, sigma: np.ndarray, values: np.ndarray, j: int
) -> tuple[np.ndarray, float]:
    """The conditional prior of coordinate j of N(mu, sigma) given the other coordinates.

    Args:
        mu, sigma: mean (d,) and covariance (d, d); values: (n, d) rows; j: the coordinate.

    Returns:
        Conditional mean per row (n,) and the (common) conditional variance.
    """
    others = [c for c in range(mu.shape[0]) if c != j]
    s_oo = sigma[np.ix_(others, others)]
    s_oj = sigma[others, j]
    w = np.linalg.solve(s_oo, s_oj)
    mean = mu[j] + (values[:, others] - mu[others]) @ w
    var = float(sigma[j, j] - s_oj @ w)
    return mean, var


def inv_wishart(rng: np.random.Generator, df: float, scale: np.ndarray) -> np.ndarray:
    """A draw of IW(df, scale) by Bartlett's decomposition of the Wishart(df, scale^-1) precision.

    Args:
        rng: random generator; df: degrees of freedom; scale: (m, m) scale matrix.

    Returns:
        An (m, m) covariance matrix with mean scale / (df - m - 1).
    """
    m = scale.shape[0]
    chol = np.linalg.cholesky(np.linalg.inv(scale))
    bartlett = np.diag(np.sqrt(rng.chisquare(df - np.arange(m))))
    bartlett[np.tril_indices(m, -1)] = rng.standard_normal(m * (m - 1) // 2)
    factor = chol @ bartlett
    inv_factor = np.linalg.inv(factor)
    return inv_factor.T @ inv_factor


def normal_mean(
    rng: np.random.Generator, values: np.ndarray, sigma: np.ndarray, mean0: np.ndarray, scale0: np.ndarray
) -> np.ndarray:
    """Draw the mean of iid N(mu, sigma) rows under the prior mu ~ N(mean0, scale0).

    Args:
        rng: random generator; values: (n, d) rows; sigma: their covariance; mean0, scale0: the prior.

    Returns:
        A (d,) draw of mu from its normal full conditional.
    """
    prec_data = values.shape[0] * np.linalg.inv(sigma)
    prec0 = np.linalg.inv(scale0)
    cov = np.linalg.inv(prec_data + prec0)
    mean = cov @ (np.linalg.solve(sigma, values.sum(axis=0)) + prec0 @ mean0)
    return mean + np.linalg.cholesky(cov) @ rng.standard_normal(mean.shape[0])


def positive_unit_product(values: np.ndarray) -> np.ndarray:
    """|values| rescaled to geometric mean 1 (the package's ident=2 for a and phi).

    Args:
        values: discriminations as drawn.

    Returns:
        Positive values with product 1.
    """
    out = np.abs(values)
    return out / np.exp(np.mean(np.log(np.maximum(out, 1e-300))))
