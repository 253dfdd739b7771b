"""Small conjugate draws of the LNIRT sampler: conditional normals, normal means, inverse-Wishart covariances,
and the box of plausible item parameters the draws are kept in."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["ItemBox", "conditional_normal", "inv_wishart", "normal_mean", "positive_unit_product", "psd_root"]

#: The smallest residual variance of log-time (an sd of 1% of the time): items whose times never vary.
SIGMA2_FLOOR = 1e-4


@dataclass(frozen=True)
class ItemBox:
    """Plausible ranges of the item parameters; the sampler clamps its draws into them.

    Where the data do not identify an item's parameters the joint posterior is (nearly) improper: an item
    everyone answers correctly pushes b toward -infinity, and items whose times never vary drive phi toward 0,
    which the product constraint of ``positive_unit_product`` turns into huge phi elsewhere. Unbounded, such a
    chain wandered to phi ~ 1e9, lambda ~ 1e7 and sigma2 ~ 1e14, and the inverse-Wishart draw of Sigma_I
    then failed ("Matrix is not positive definite"). The box never binds on data that identify the parameters
    (CredentialForm1's estimates lie well inside it), so there the chain is unchanged.

    Attributes:
        discrimination: range of a and phi (after the product-one rescaling).
        intercept: range of b (probit units).
        lam: range of lambda: the observed log-times widened by their range (at least 1) on each side.
        sigma2: range of the residual variances: SIGMA2_FLOOR up to ten times the variance of all log-times
            (at least 1).
    """

    discrimination: tuple[float, float]
    intercept: tuple[float, float]
    lam: tuple[float, float]
    sigma2: tuple[float, float]

    @classmethod
    def for_times(cls, log_t: np.ndarray) -> ItemBox:
        """The box for data with these log-times (NaN = missing)."""
        observed = log_t[np.isfinite(log_t)]
        low, high = (float(observed.min()), float(observed.max())) if observed.size else (0.0, 0.0)
        margin = max(high - low, 1.0)
        spread = float(np.var(observed)) if observed.size > 1 else 0.0
        return cls(discrimination=(0.05, 20.0), intercept=(-10.0, 10.0), lam=(low - margin, high + margin),
                   sigma2=(SIGMA2_FLOOR, max(10.0 * spread, 1.0)))


def psd_root(matrix: np.ndarray) -> np.ndarray:
    """A square root M of a symmetric positive (semi)definite matrix, M @ M.T == matrix.

    The Cholesky factor when it exists; otherwise (rounding left the matrix barely indefinite) the symmetric
    eigen-root of the symmetrised matrix with its eigenvalues floored at 1e-12 of the largest. Either root
    gives the same distribution in the draws below.
    """
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
        floor = max(float(values.max()), 1e-300) * 1e-12
        result: np.ndarray = vectors * np.sqrt(np.maximum(values, floor))
        return result


@functools.cache
def _others(d: int, j: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The coordinates other than j of a d-vector, and the index of their block of a (d, d) matrix (the
    sampler asks for the same few thousands of times)."""
    others = np.array([c for c in range(d) if c != j])
    rows, cols = np.ix_(others, others)
    return others, (rows, cols)


@functools.cache
def _below_diagonal(m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(m, -1)


def conditional_normal(
    mu: np.ndarray, sigma: np.ndarray, values: np.ndarray, j: int
) -> tuple[np.ndarray, float]:
    """The conditional prior of coordinate j of N(mu, sigma) given the other coordinates.

    Args:
        mu, sigma: mean (d,) and covariance (d, d); values: (n, d) rows; j: the coordinate.

    Returns:
        Conditional mean per row (n,) and the (common) conditional variance.
    """
    others, block = _others(mu.shape[0], j)
    s_oo = sigma[block]
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
    chol = psd_root(np.linalg.inv(scale))
    bartlett = np.diag(np.sqrt(rng.chisquare(df - np.arange(m))))
    bartlett[_below_diagonal(m)] = rng.standard_normal(m * (m - 1) // 2)
    factor = chol @ bartlett
    inv_factor = np.linalg.inv(factor)
    return inv_factor.T @ inv_factor


def normal_mean(
    rng: np.random.Generator, values: np.ndarray, sigma: np.ndarray, mean0: np.ndarray, scale0: np.ndarray,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Draw the mean of iid N(mu, sigma) rows under the prior mu ~ N(mean0, scale0).

    Args:
        rng: random generator; values: (n, d) rows; sigma: their covariance; mean0, scale0: the prior.
        weight: optional (n,) weights of the rows' likelihoods (a tempered likelihood; None = 1).

    Returns:
        A (d,) draw of mu from its normal full conditional.
    """
    count = float(values.shape[0]) if weight is None else float(weight.sum())
    total = values.sum(axis=0) if weight is None else (weight[:, None] * values).sum(axis=0)
    prec_data = count * np.linalg.inv(sigma)
    prec0 = np.linalg.inv(scale0)
    cov = np.linalg.inv(prec_data + prec0)
    mean = cov @ (np.linalg.solve(sigma, total) + prec0 @ mean0)
    result: np.ndarray = mean + psd_root(cov) @ rng.standard_normal(mean.shape[0])
    return result


def positive_unit_product(values: np.ndarray) -> np.ndarray:
    """|values| rescaled to geometric mean 1 (the package's ident=2 for a and phi).

    Args:
        values: discriminations as drawn.

    Returns:
        Positive values with product 1.
    """
    out = np.abs(values)
    result: np.ndarray = out / np.exp(np.mean(np.log(np.maximum(out, 1e-300))))
    return result
