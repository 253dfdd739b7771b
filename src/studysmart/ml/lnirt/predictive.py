"""LNIRT after fitting: item priors from topic/difficulty groups, online person update, predictive moments.

- ``ItemGroups``: a new item takes the mean of its (topic, difficulty) group, else its topic group, else its
  difficulty group, else the population of items; each group mean is shrunk toward the population mean by
  its size (``n / (n + strength)``), and the spread of items around their group is the parameter uncertainty.
- ``person_posterior``: MAP and Laplace covariance of one student's (theta, zeta) given fixed item parameters,
  the bivariate normal population prior and that student's responses (Newton steps on a 2-D log-concave
  posterior; well under a millisecond for a typical history).
- ``predictive``: P(correct) averaged over parameter uncertainty, Phi(E[eta] / sqrt(1 + Var[eta])), and the
  mean and sd of log-time, whose variance adds the residual sigma2_k to the parameters' uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr, ndtr

__all__ = ["ItemGroups", "PersonEstimate", "person_posterior", "predictive"]

_MISSING_LABELS = frozenset({"", "none", "nan", "null"})
_LOG_SQRT_2PI = 0.9189385332046727


def _clean(labels: np.ndarray | None, n: int) -> np.ndarray:
    """Labels as str with missing ones as ""."""
    if labels is None:
        return np.full(n, "", dtype=object)
    cleaned = ["" if str(v).strip().lower() in _MISSING_LABELS else str(v) for v in labels]
    return np.asarray(cleaned, dtype=object)


def _pair(topic: str, difficulty: str) -> str:
    return f"{topic}\x1f{difficulty}" if topic and difficulty else ""


@dataclass(frozen=True)
class ItemPrior:
    """Prior of unknown items: mean (n, 4) of (a, b, phi, lambda), covariance (n, 4, 4), sigma2 (n,)."""

    mean: np.ndarray
    cov: np.ndarray
    sigma2: np.ndarray


class ItemGroups:
    """Group means of fitted item parameters by topic and difficulty, for pricing unknown items.

    Args:
        params: (K, 4) posterior means of a, b, phi, lambda; sigma2: (K,) residual variances.
        topic, difficulty: per-item labels (or None); population_cov: Sigma_I, the spread of all items.
        strength: pseudo-count of the population mean in each group mean.
    """

    def __init__(
        self,
        params: np.ndarray,
        sigma2: np.ndarray,
        topic: np.ndarray | None,
        difficulty: np.ndarray | None,
        population_cov: np.ndarray,
        strength: float = 1.0,
    ) -> None:
        k = params.shape[0]
        self._values = np.column_stack([params, sigma2])  # (K, 5): a, b, phi, lambda, sigma2
        self._population = self._values.mean(axis=0)
        self._population_cov = population_cov
        self._strength = strength
        topic_l, diff_l = _clean(topic, k), _clean(difficulty, k)
        both = np.asarray([_pair(t, d) for t, d in zip(topic_l, diff_l, strict=True)], dtype=object)
        self._levels = [self._level(both), self._level(topic_l), self._level(diff_l)]

    def _level(self, labels: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Shrunken group means by label, and the pooled within-group covariance of the 4 parameters."""
        means: dict[str, np.ndarray] = {}
        scatter = np.zeros((4, 4))
        dof = 0
        for label in sorted(set(labels) - {""}):
            rows = self._values[labels == label]
            n = rows.shape[0]
            raw = rows.mean(axis=0)
            means[label] = (n * raw + self._strength * self._population) / (n + self._strength)
            dev = rows[:, :4] - raw[:4]
            scatter += dev.T @ dev
            dof += n - 1
        if dof < 8:  # too few items in groups to estimate the spread within them
            return means, self._population_cov
        cov = scatter / dof
        # a group's items are still uncertain around it: variances never below a tenth of the population's
        floor = np.maximum(0.1 * np.diag(self._population_cov) - np.diag(cov), 0.0)
        return means, cov + np.diag(floor)

    def prior(self, topic: np.ndarray | None, difficulty: np.ndarray | None, n: int) -> ItemPrior:
        """Prior of n unknown items with these labels (missing labels fall through to coarser groups).

        Args:
            topic, difficulty: per-row labels or None; n: number of rows.

        Returns:
            ItemPrior with one row per query.
        """
        topic_l, diff_l = _clean(topic, n), _clean(difficulty, n)
        mean = np.tile(self._population, (n, 1))
        cov = np.tile(self._population_cov, (n, 1, 1))
        for row in range(n):
            t, d = topic_l[row], diff_l[row]
            keys = (_pair(t, d), t, d)
            for (means, level_cov), key in zip(self._levels, keys, strict=True):
                if key and key in means:
                    mean[row] = means[key]
                    cov[row] = level_cov
                    break
        return ItemPrior(mean=mean[:, :4], cov=cov, sigma2=mean[:, 4])


@dataclass(frozen=True)
class PersonEstimate:
    """(theta, zeta) MAP and its Laplace covariance (2, 2)."""

    mean: np.ndarray
    cov: np.ndarray


def person_posterior(
    params: np.ndarray,
    sigma2: np.ndarray,
    correct: np.ndarray,
    log_time: np.ndarray,
    mu_p: np.ndarray,
    sigma_p: np.ndarray,
    *,
    max_steps: int = 50,
    tol: float = 1e-10,
) -> PersonEstimate:
    """MAP and Laplace covariance of one person's (theta, zeta) given fixed item parameters.

    Args:
        params: (n, 4) a, b, phi, lambda of the answered items (one row per response).
        sigma2: (n,) residual variances of log-time; correct: (n,) 1/0/NaN; log_time: (n,) or NaN.
        mu_p, sigma_p: the population prior N2(mu_p, sigma_p).
        max_steps, tol: Newton iteration limits.

    Returns:
        PersonEstimate (the prior itself when there are no usable responses).
    """
    prec_p = np.linalg.inv(sigma_p)
    has_y = ~np.isnan(correct)
    has_t = ~np.isnan(log_time)
    a, b = params[has_y, 0], params[has_y, 1]
    sign = 2.0 * correct[has_y] - 1.0
    phi_t, lam_t, inv_s2 = params[has_t, 2], params[has_t, 3], 1.0 / sigma2[has_t]
    t = log_time[has_t]
    # the time part is Gaussian in zeta: its precision and linear term are constants
    time_prec = float(np.sum(phi_t * phi_t * inv_s2))
    time_lin = float(np.sum(phi_t * (lam_t - t) * inv_s2))
    x = np.asarray(mu_p, dtype=np.float64).copy()
    hess = -prec_p.copy()
    for _ in range(max_steps):
        s_eta = sign * (a * x[0] - b)
        mills = np.exp(-0.5 * s_eta * s_eta - _LOG_SQRT_2PI - log_ndtr(s_eta))  # phi(s eta) / Phi(s eta)
        grad = -prec_p @ (x - mu_p)
        grad[0] += float(np.sum(sign * a * mills))
        grad[1] += time_lin - time_prec * x[1]
        hess = -prec_p.copy()
        hess[0, 0] -= float(np.sum(a * a * mills * (mills + s_eta)))
        hess[1, 1] -= time_prec
        det = hess[0, 0] * hess[1, 1] - hess[0, 1] * hess[1, 0]
        step = np.array([
            hess[1, 1] * grad[0] - hess[0, 1] * grad[1],
            hess[0, 0] * grad[1] - hess[1, 0] * grad[0],
        ]) / det  # fmt: skip
        step = np.clip(step, -2.0, 2.0)  # damped Newton: the posterior is log-concave
        x = x - step
        if float(np.max(np.abs(step))) < tol:
            break
    return PersonEstimate(mean=x, cov=np.linalg.inv(-hess))


def predictive(
    theta: np.ndarray,
    zeta: np.ndarray,
    person_cov: np.ndarray,
    item_mean: np.ndarray,
    item_cov: np.ndarray,
    sigma2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictive P(correct), mean and sd of log-time per row, averaging over parameter uncertainty.

    Person and item parameters are independent a posteriori here (a first-order approximation).

    Args:
        theta, zeta: (n,) person means; person_cov: (n, 2, 2) their covariance.
        item_mean: (n, 4) a, b, phi, lambda means; item_cov: (n, 4, 4); sigma2: (n,) residual variances.

    Returns:
        p_correct, mean_log_time, sd_log_time.
    """
    a, b, phi, lam = item_mean.T
    v_th, v_ze = person_cov[:, 0, 0], person_cov[:, 1, 1]
    v_a, v_b, v_phi, v_lam = item_cov[:, 0, 0], item_cov[:, 1, 1], item_cov[:, 2, 2], item_cov[:, 3, 3]
    c_ab, c_phi_lam = item_cov[:, 0, 1], item_cov[:, 2, 3]
    eta = a * theta - b
    var_eta = a * a * v_th + theta * theta * v_a + v_a * v_th + v_b - 2.0 * theta * c_ab
    p = ndtr(eta / np.sqrt(1.0 + np.maximum(var_eta, 0.0)))
    mean = lam - phi * zeta
    var = sigma2 + v_lam + phi * phi * v_ze + zeta * zeta * v_phi + v_phi * v_ze - 2.0 * zeta * c_phi_lam
    return p, mean, np.sqrt(np.maximum(var, 1e-12))
