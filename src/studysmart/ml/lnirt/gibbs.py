"""Gibbs sampler for van der Linden's joint model of accuracy and speed, as the R package LNIRT runs it.

Model (R package LNIRT 0.5.1 defaults: guess=FALSE, par1=FALSE, td=TRUE, WL=FALSE, ident=2):

    P(Y_ik = 1) = Phi(a_k theta_i - b_k)                      (probit, latent Z_ik ~ N(a_k theta_i - b_k, 1))
    log T_ik = lambda_k - phi_k zeta_i + e_ik,  e_ik ~ N(0, sigma2_k)
    (theta_i, zeta_i) ~ N2(mu_P, Sigma_P);   (a_k, b_k, phi_k, lambda_k) ~ N4(mu_I, Sigma_I)
    mu_P ~ N2(0, I);  Sigma_P ~ IW(N + 2, S_P + I)
    mu_I ~ N4((1, 0, 1, 0), diag(.05, .3, .05, .3));  Sigma_I ~ IW(K + 4, S_I + diag(.05, .3, .05, .3))
    sigma2_k | . = (SS_k + 10) / chi2(n_k)        (or, optionally, a pooled prior: see the end)

Each iteration updates, in the package's order: Z; theta (then re-centred); zeta (re-centred); a (made
positive, rescaled to prod(a) = 1); b; phi (positive, prod(phi) = 1); lambda; sigma2; mu_P; Sigma_P; mu_I;
Sigma_I. Every item parameter is drawn from its normal full conditional given the conditional prior from
N4(mu_I, Sigma_I) and the other three parameters of that item. The package imputes missing cells every
iteration; here only observed cells enter the sums, which integrates the missing cells out exactly (same
posterior under missingness at random) and scales with the sparse designs of the app. Two deliberate
differences: the package centres the prior of b on -E[b | a, phi, lambda] (a sign slip in its reuse of the
lambda sampler), here it is centred on +E[b | ...] as the model states; and the latent Z is drawn exactly
from its truncated normal even for extreme predictors (``kernels.draw_latent_numpy``).

The package's prior of the residual variances, (SS_k + 10) / chi2(n_k), suits its dense tests (hundreds of
times per item); with a handful of times per item, as in sparse app data, it has no finite mean (n_k <= 2)
and makes intervals far too wide. With ``sigma2_df`` = nu the residual variances instead share a scaled
inverse-chi2 prior with nu pseudo-observations at a common scale tau, itself drawn each iteration:
sigma2_k | . = (SS_k + nu tau) / chi2(n_k + nu), tau | . ~ Gamma(1 + K nu / 2, rate 1 + nu/2 sum 1/sigma2_k).

Two safeguards for data that do not identify every parameter (app data: items everyone gets right, times that
never vary): every item draw is clamped into a box of plausible values (``draws.ItemBox``), and cells may
carry weights (``Cells.weight``, from ``studysmart.ml.robust``) that temper their likelihood in the item
conditionals only, so implausible answers and a single heavy student cannot move item parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

import numpy as np
from scipy.special import ndtri

from studysmart.ml.base import Progress
from studysmart.ml.lnirt.draws import ItemBox, conditional_normal, inv_wishart, normal_mean, positive_unit_product
from studysmart.ml.lnirt.kernels import cell_flags, item_pass, item_pass_numpy, person_pass, person_pass_numpy

__all__ = ["Cells", "GibbsState", "Posterior", "initial_state", "prepare_cells", "run_gibbs"]

Backend = Literal["numba", "numpy"]

PERSON_MEAN0 = np.zeros(2)
PERSON_SCALE0 = np.eye(2)
ITEM_MEAN0 = np.array([1.0, 0.0, 1.0, 0.0])
ITEM_SCALE0 = np.diag([0.05, 0.3, 0.05, 0.3])
SIGMA2_SS0 = 10.0


@dataclass
class Cells:
    """Observed cells in long format, sorted by person (sequential memory access in the kernels).

    Attributes:
        person, item: int32 codes; y: 1/0/NaN; log_t: log-time or NaN.
        n_persons, n_items: vocabulary sizes (persons/items without cells are drawn from their priors).
        weight: per cell, the weight of its likelihood in the item parameters' conditionals (a tempered
            likelihood; None = 1; ``cell_weight`` holds it as an array). The person conditionals use every
            cell fully.
        person_weight: per person, the weight of their (theta, zeta) in the population: the centring and the
            draws of mu_P and Sigma_P (None = 1; ``robust.person_weights``).
        answer, timed: int8 codes of y and of an observed time for the Numba kernels (``cell_flags``).
        n_y, n_t: per item, weighted number of responses and of times; sum_t, sum_t2: per item weighted sums
            of log T, log T^2.
    """

    person: np.ndarray
    item: np.ndarray
    y: np.ndarray
    log_t: np.ndarray
    n_persons: int
    n_items: int
    weight: np.ndarray | None = None
    person_weight: np.ndarray | None = None
    cell_weight: np.ndarray = field(init=False)
    answer: np.ndarray = field(init=False)
    timed: np.ndarray = field(init=False)
    n_y: np.ndarray = field(init=False)
    n_t: np.ndarray = field(init=False)
    sum_t: np.ndarray = field(init=False)
    sum_t2: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.answer, self.timed = cell_flags(self.y, self.log_t)
        w = np.ones(self.person.shape[0]) if self.weight is None else self.weight
        self.cell_weight = np.ascontiguousarray(w, dtype=np.float64)
        has_t, has_y = ~np.isnan(self.log_t), ~np.isnan(self.y)
        it, lt, wt = self.item[has_t], self.log_t[has_t], self.cell_weight[has_t]
        self.n_y = np.bincount(self.item[has_y], weights=self.cell_weight[has_y], minlength=self.n_items)
        self.n_t = np.bincount(it, weights=wt, minlength=self.n_items)
        self.sum_t = np.bincount(it, weights=wt * lt, minlength=self.n_items)
        self.sum_t2 = np.bincount(it, weights=wt * lt * lt, minlength=self.n_items)


def prepare_cells(
    person: np.ndarray, item: np.ndarray, correct: np.ndarray, log_time: np.ndarray, *, n_persons: int,
    n_items: int, weight: np.ndarray | None = None, person_weight: np.ndarray | None = None,
) -> Cells:
    """Drop rows with neither a response nor a time and sort the rest by person.

    Args:
        person, item: int codes per row; correct: 1/0/NaN; log_time: log-seconds or NaN.
        n_persons, n_items: vocabulary sizes.
        weight: per-row weights of the item conditionals (None = 1; see ``Cells``).
        person_weight: per-person weights in the population (None = 1; see ``Cells``).

    Returns:
        Cells ready for ``run_gibbs``.
    """
    correct = np.asarray(correct, dtype=np.float64)
    log_time = np.asarray(log_time, dtype=np.float64)
    keep = ~(np.isnan(correct) & np.isnan(log_time))
    order = np.argsort(np.asarray(person)[keep], kind="stable")
    rows = np.flatnonzero(keep)[order]
    return Cells(
        person=np.ascontiguousarray(np.asarray(person)[rows], dtype=np.int32),
        item=np.ascontiguousarray(np.asarray(item)[rows], dtype=np.int32),
        y=np.ascontiguousarray(correct[rows]),
        log_t=np.ascontiguousarray(log_time[rows]),
        n_persons=int(n_persons),
        n_items=int(n_items),
        weight=None if weight is None else np.asarray(weight, dtype=np.float64)[rows],
        person_weight=None if person_weight is None else np.asarray(person_weight, dtype=np.float64),
    )


@dataclass
class GibbsState:
    """One draw of every parameter (the chain's current position)."""

    theta: np.ndarray
    zeta: np.ndarray
    a: np.ndarray
    b: np.ndarray
    phi: np.ndarray
    lam: np.ndarray
    sigma2: np.ndarray
    mu_p: np.ndarray
    sigma_p: np.ndarray
    mu_i: np.ndarray
    sigma_i: np.ndarray
    sigma2_scale: float = 1.0

    def items(self) -> np.ndarray:
        """Item parameters as a (K, 4) matrix: a, b, phi, lambda."""
        return np.column_stack([self.a, self.b, self.phi, self.lam])


def initial_state(cells: Cells, rng: np.random.Generator) -> GibbsState:
    """A moment-based starting point: b from item proportions correct, lambda and sigma2 from item log-times.

    Args:
        cells: the data; rng: random generator (persons start at small random values).

    Returns:
        A state close to the posterior mode for typical data, so burn-in is short.
    """
    k = cells.n_items
    has_y = ~np.isnan(cells.y)
    n_y = cells.n_y
    correct = np.bincount(cells.item[has_y], weights=cells.cell_weight[has_y] * cells.y[has_y], minlength=k)
    p_item = (correct + 0.5) / (n_y + 1.0)
    b = -ndtri(p_item)
    n_t = np.maximum(cells.n_t, 1.0)
    mean_t = np.where(cells.n_t > 0, cells.sum_t / n_t, np.nan)
    overall = np.nanmean(mean_t) if np.any(cells.n_t > 0) else 0.0
    lam = np.where(np.isnan(mean_t), overall, mean_t)
    var_t = np.where(cells.n_t > 1, cells.sum_t2 / n_t - np.nan_to_num(mean_t) ** 2, np.nan)
    typical = float(np.nanmedian(var_t)) if np.any(cells.n_t > 1) else 1.0
    sigma2 = np.where(np.isfinite(var_t) & (var_t > 1e-4), var_t, typical)
    return GibbsState(
        theta=0.1 * rng.standard_normal(cells.n_persons),
        zeta=0.1 * rng.standard_normal(cells.n_persons),
        a=np.ones(k),
        b=b,
        phi=np.ones(k),
        lam=lam,
        sigma2=np.asarray(sigma2, dtype=np.float64),
        mu_p=np.zeros(2),
        sigma_p=np.eye(2) * 0.5,
        mu_i=np.array([1.0, float(np.mean(b)), 1.0, float(np.mean(lam))]),
        sigma_i=np.diag([0.1, max(float(np.var(b)), 0.05), 0.05, max(float(np.var(lam)), 0.05)]),
        sigma2_scale=typical,
    )


def _person_chunks(person: np.ndarray, n_chunks: int) -> list[slice]:
    """Split person-sorted cells into about equal runs that never split a person."""
    n = person.shape[0]
    cuts = [0]
    for j in range(1, n_chunks):
        cut = int(np.searchsorted(person, person[min(j * n // n_chunks, n - 1)], side="left"))
        if cut > cuts[-1]:
            cuts.append(cut)
    cuts.append(n)
    return [slice(lo, hi) for lo, hi in pairwise(cuts) if hi > lo]


class _Sampler:
    """Work buffers and one-iteration update of the chain (the cell passes optionally in threads)."""

    def __init__(
        self, cells: Cells, state: GibbsState, rng: np.random.Generator, backend: Backend, n_threads: int = 1,
        sigma2_df: float | None = None,
    ) -> None:
        self.cells = cells
        self.box = ItemBox.for_times(cells.log_t)
        self.sigma2_df = sigma2_df
        self.state = state
        self.rng = rng
        self.backend = backend
        n = cells.person.shape[0]
        self.u = np.empty(n)
        self.z = np.empty(n)
        self.person_stats = np.empty((4, cells.n_persons))
        self.chunks = _person_chunks(cells.person, max(int(n_threads), 1)) if n else [slice(0, 0)]
        self.item_stats_parts = np.empty((len(self.chunks), 7, cells.n_items))
        self.item_stats = np.empty((7, cells.n_items))
        self.pool = ThreadPoolExecutor(len(self.chunks)) if len(self.chunks) > 1 else None

    def close(self) -> None:
        """Stop the worker threads (if any)."""
        if self.pool is not None:
            self.pool.shutdown()

    def _run(self, tasks: list[tuple[Callable[..., None], tuple[object, ...]]]) -> None:
        if self.pool is None:
            for fn, args in tasks:
                fn(*args)
        else:
            for future in [self.pool.submit(fn, *args) for fn, args in tasks]:
                future.result()

    def step(self) -> None:
        """One full Gibbs iteration (mutates ``self.state``)."""
        c, s, rng = self.cells, self.state, self.rng
        rng.random(out=self.u)
        inv_s2 = 1.0 / s.sigma2
        if self.backend == "numba":
            self.person_stats.fill(0.0)
            self._run([(person_pass, (c.person[ch], c.item[ch], c.answer[ch], c.timed[ch], c.log_t[ch],
                                      self.u[ch], s.a, s.b, s.theta, s.phi, s.lam, inv_s2, self.z[ch],
                                      self.person_stats))
                       for ch in self.chunks])
        else:
            self.z, self.person_stats = person_pass_numpy(
                c.person, c.item, c.y, c.log_t, self.u, s.a, s.b, s.theta, s.phi, s.lam, inv_s2, c.n_persons
            )
        self._draw_persons()
        if self.backend == "numba":
            self.item_stats_parts.fill(0.0)
            self._run([(item_pass, (c.person[ch], c.item[ch], c.answer[ch], c.timed[ch], self.z[ch],
                                    c.log_t[ch], s.theta, s.zeta, c.cell_weight[ch], part))
                       for ch, part in zip(self.chunks, self.item_stats_parts, strict=True)])
            np.sum(self.item_stats_parts, axis=0, out=self.item_stats)
        else:
            self.item_stats = item_pass_numpy(c.person, c.item, self.z, c.log_t, s.theta, s.zeta, c.n_items,
                                              c.cell_weight)
        self._draw_items()
        self._draw_hyper()

    def _draw_persons(self) -> None:
        s, rng, st = self.state, self.rng, self.person_stats
        persons = np.column_stack([s.theta, s.zeta])
        mean, var = conditional_normal(s.mu_p, s.sigma_p, persons, 0)
        prec = st[1] + 1.0 / var
        s.theta = (st[0] + mean / var) / prec + rng.standard_normal(prec.shape[0]) / np.sqrt(prec)
        s.theta -= self._population_mean(s.theta)
        persons[:, 0] = s.theta
        mean, var = conditional_normal(s.mu_p, s.sigma_p, persons, 1)
        prec = st[3] + 1.0 / var
        s.zeta = (st[2] + mean / var) / prec + rng.standard_normal(prec.shape[0]) / np.sqrt(prec)
        s.zeta -= self._population_mean(s.zeta)

    def _population_mean(self, values: np.ndarray) -> float:
        weight = self.cells.person_weight
        if weight is None:
            return float(values.mean())
        return float(np.sum(weight * values) / max(float(weight.sum()), 1e-12))

    def _draw_items(self) -> None:
        c, s, rng, st, box = self.cells, self.state, self.rng, self.item_stats, self.box
        k = c.n_items
        sum_theta, sum_theta2, sum_z_theta, sum_z, sum_zeta, sum_zeta2, sum_t_zeta = st
        ab = s.items()
        mean, var = conditional_normal(s.mu_i, s.sigma_i, ab, 0)
        prec = sum_theta2 + 1.0 / var
        a = (sum_z_theta + s.b * sum_theta + mean / var) / prec + rng.standard_normal(k) / np.sqrt(prec)
        s.a = np.clip(positive_unit_product(a), *box.discrimination)
        ab[:, 0] = s.a
        mean, var = conditional_normal(s.mu_i, s.sigma_i, ab, 1)
        prec = c.n_y + 1.0 / var
        s.b = (s.a * sum_theta - sum_z + mean / var) / prec + rng.standard_normal(k) / np.sqrt(prec)
        s.b = np.clip(s.b, *box.intercept)
        ab[:, 1] = s.b
        inv_s2 = 1.0 / s.sigma2
        mean, var = conditional_normal(s.mu_i, s.sigma_i, ab, 2)
        prec = sum_zeta2 * inv_s2 + 1.0 / var
        phi = ((s.lam * sum_zeta - sum_t_zeta) * inv_s2 + mean / var) / prec
        phi += rng.standard_normal(k) / np.sqrt(prec)
        s.phi = np.clip(positive_unit_product(phi), *box.discrimination)
        ab[:, 2] = s.phi
        mean, var = conditional_normal(s.mu_i, s.sigma_i, ab, 3)
        prec = c.n_t * inv_s2 + 1.0 / var
        s.lam = ((c.sum_t + s.phi * sum_zeta) * inv_s2 + mean / var) / prec
        s.lam += rng.standard_normal(k) / np.sqrt(prec)
        s.lam = np.clip(s.lam, *box.lam)
        ss = (c.sum_t2 + s.phi**2 * sum_zeta2 + c.n_t * s.lam**2 + 2.0 * s.phi * sum_t_zeta
              - 2.0 * s.lam * c.sum_t - 2.0 * s.phi * s.lam * sum_zeta)
        ss = np.maximum(ss, 0.0)
        if self.sigma2_df is None:  # the R package's prior
            timed = c.n_t > 0
            sigma2 = (ss + SIGMA2_SS0) / rng.chisquare(np.maximum(c.n_t, 1.0))
            if not timed.all():  # items never timed: no information; use the typical residual variance
                sigma2[~timed] = np.median(sigma2[timed]) if timed.any() else 1.0
        else:  # pooled: a common scaled inverse-chi2 prior
            nu = self.sigma2_df
            sigma2 = (ss + nu * s.sigma2_scale) / rng.chisquare(c.n_t + nu)
            rate = 1.0 + 0.5 * nu * float(np.sum(1.0 / sigma2))
            s.sigma2_scale = float(rng.gamma(1.0 + 0.5 * k * nu, 1.0 / rate))
        s.sigma2 = np.clip(sigma2, *box.sigma2)

    def _draw_hyper(self) -> None:
        s, rng = self.state, self.rng
        persons = np.column_stack([s.theta, s.zeta])
        weight = self.cells.person_weight
        s.mu_p = normal_mean(rng, persons, s.sigma_p, PERSON_MEAN0, PERSON_SCALE0, weight)
        dev = persons - s.mu_p
        if weight is None:
            s.sigma_p = inv_wishart(rng, persons.shape[0] + 2.0, dev.T @ dev + PERSON_SCALE0)
        else:
            s.sigma_p = inv_wishart(rng, float(weight.sum()) + 2.0, dev.T @ (weight[:, None] * dev) + PERSON_SCALE0)
        ab = s.items()
        s.mu_i = normal_mean(rng, ab, s.sigma_i, ITEM_MEAN0, ITEM_SCALE0)
        dev = ab - s.mu_i
        s.sigma_i = inv_wishart(rng, ab.shape[0] + 4.0, dev.T @ dev + ITEM_SCALE0)


_TRACKED = ("theta", "zeta", "a", "b", "phi", "lam", "sigma2", "mu_p", "sigma_p", "mu_i", "sigma_i")


def _accumulate(state: GibbsState, sums: dict[str, np.ndarray], squares: dict[str, np.ndarray]) -> None:
    for name in _TRACKED:
        value = getattr(state, name)
        if name in sums:
            sums[name] += value
            squares[name] += value * value
        else:
            sums[name] = value.astype(np.float64, copy=True)
            squares[name] = value * value


@dataclass
class Posterior:
    """Posterior means and standard deviations over the kept draws, plus the chain's last state.

    Attributes:
        mean, sd: parameter name (see GibbsState) -> array.
        last: the final state (to warm-start a later, shorter chain).
        n_draws: number of draws averaged.
    """

    mean: dict[str, np.ndarray]
    sd: dict[str, np.ndarray]
    last: GibbsState
    n_draws: int


def run_gibbs(
    cells: Cells,
    *,
    iterations: int,
    burn_in: float,
    seed: int | None,
    init: GibbsState | None = None,
    progress: Progress | None = None,
    backend: Backend = "numba",
    n_threads: int = 1,
    sigma2_df: float | None = None,
) -> Posterior:
    """Run the chain and summarise the draws after burn-in.

    Args:
        cells: observed data (``prepare_cells``).
        iterations: total iterations; burn_in: fraction of them discarded (at least one draw is kept).
        seed: seed of the NumPy generator; init: starting state (default ``initial_state``).
        progress: optional progress(done, total, message) callback, called about 100 times.
        backend: "numba" (fused kernels) or "numpy" (reference).
        n_threads: threads for the cell passes (numba backend); 1 leaves the other core to the web server.
        sigma2_df: None for the R package's prior of the residual variances, else the pseudo-observations of
            the pooled prior (see the module docstring).

    Returns:
        Posterior means and sds of every parameter.
    """
    rng = np.random.default_rng(seed)
    state = init if init is not None else initial_state(cells, rng)
    sampler = _Sampler(cells, state, rng, backend, n_threads, sigma2_df)
    iterations = max(int(iterations), 1)
    first_kept = min(round(iterations * burn_in), iterations - 1)
    sums: dict[str, np.ndarray] = {}
    squares: dict[str, np.ndarray] = {}
    every = max(iterations // 100, 1)
    try:
        for it in range(iterations):
            sampler.step()
            if it >= first_kept:
                _accumulate(sampler.state, sums, squares)
            if progress is not None and ((it + 1) % every == 0 or it + 1 == iterations):
                progress(it + 1, iterations, "gibbs")
    finally:
        sampler.close()
    n = iterations - first_kept
    mean = {name: sums[name] / n for name in _TRACKED}
    sd = {name: np.sqrt(np.maximum(squares[name] / n - mean[name] ** 2, 0.0)) for name in _TRACKED}
    return Posterior(mean=mean, sd=sd, last=sampler.state, n_draws=n)
