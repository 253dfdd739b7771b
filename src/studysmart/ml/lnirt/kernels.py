"""The per-cell passes of the LNIRT Gibbs sampler: a fused Numba kernel and its NumPy reference.

One Gibbs iteration touches every observed cell twice:

1. ``person_pass``: draw the latent probit variable Z of every cell with a response (Albert's data
   augmentation; see ``draw_latent_numpy``) and accumulate, per person, the sufficient statistics of the
   ability and speed full conditionals.
2. ``item_pass``: with the new person parameters, accumulate per item the sufficient statistics of the
   item parameters' full conditionals.

Everything else in an iteration is O(persons + items) and stays in NumPy (``gibbs``). The uniforms
for the Z draws come from the caller's NumPy generator, so both implementations are deterministic
functions of their inputs and the tests compare them number for number. Missing values are NaN: a cell
with no response takes no part in the accuracy sums, one with no time takes no part in the time sums.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.special import ndtr, ndtri

__all__ = [
    "ITEM_STATS",
    "PERSON_STATS",
    "cell_flags",
    "draw_latent_numpy",
    "item_pass",
    "item_pass_numpy",
    "person_pass",
    "person_pass_numpy",
]

#: Rows of the per-person statistics: sum a (Z + b), sum a^2, sum phi (lambda - log T) / sigma2,
#: sum phi^2 / sigma2.
PERSON_STATS = ("theta_num", "theta_prec", "zeta_num", "zeta_prec")
#: Rows of the per-item statistics (accuracy cells: theta sums and Z sums; time cells: zeta sums, log T zeta).
ITEM_STATS = ("sum_theta", "sum_theta2", "sum_z_theta", "sum_z", "sum_zeta", "sum_zeta2", "sum_t_zeta")

_TINY = 1e-300


def cell_flags(y: np.ndarray, log_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' int8 codes of a cell: answer (1 right, -1 wrong, 0 missing) and timed (1 if a time)."""
    answer = np.where(np.isnan(y), 0, np.where(y > 0.5, 1, -1)).astype(np.int8)
    return answer, (~np.isnan(log_t)).astype(np.int8)


# -- NumPy reference -------------------------------------------------------------------------------------
def draw_latent_numpy(eta: np.ndarray, positive: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Z ~ N(eta, 1) truncated to Z > 0 where ``positive`` (a correct answer), else to Z <= 0.

    Inverse-CDF draws written on the side of the normal the answer allows: Z = eta - Phi^-1(Phi(eta) u) for a
    correct answer, Z = eta + Phi^-1(Phi(-eta) u) for a wrong one, with Phi(+-eta) from the smaller tail so
    they stay accurate far out. (The R package draws Phi^-1 of a probability clipped to [1e-5, 1 - 1e-5],
    which puts Z on the wrong side of 0 when |eta| > 4.26 against the answer; here Z always agrees.)

    Args:
        eta: linear predictors a theta - b; positive: boolean outcomes; u: uniforms in [0, 1).

    Returns:
        The latent draws.
    """
    small = ndtr(-np.abs(eta))  # the smaller of P(Z <= 0) = Phi(-eta) and P(Z > 0) = Phi(eta)
    above = np.where(eta >= 0.0, 1.0 - small, small)
    below = np.where(eta >= 0.0, small, 1.0 - small)
    tail = ndtri(np.maximum(np.where(positive, above, below) * u, _TINY))
    result: np.ndarray = np.where(positive, eta - tail, eta + tail)
    return result


def person_pass_numpy(
    person: np.ndarray,
    item: np.ndarray,
    y: np.ndarray,
    log_t: np.ndarray,
    u: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    theta: np.ndarray,
    phi: np.ndarray,
    lam: np.ndarray,
    inv_sigma2: np.ndarray,
    n_persons: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw Z for the response cells and sum the person statistics (reference implementation).

    Args:
        person, item: int codes per cell.
        y: 1.0 / 0.0 / NaN per cell; log_t: log-time or NaN per cell.
        u: uniforms in (0, 1), one per cell (used only where y is observed).
        a, b, phi, lam, inv_sigma2: item parameters; theta: abilities.
        n_persons: number of persons.

    Returns:
        z: latent variable per cell (NaN where y is missing);
        stats: array (4, n_persons) in PERSON_STATS order.
    """
    has_y = ~np.isnan(y)
    has_t = ~np.isnan(log_t)
    z = np.full(y.shape[0], np.nan)
    py, iy = person[has_y], item[has_y]
    a_c = a[iy]
    eta = a_c * theta[py] - b[iy]
    zy = draw_latent_numpy(eta, y[has_y] > 0.5, u[has_y])
    z[has_y] = zy
    stats = np.empty((4, n_persons))
    stats[0] = np.bincount(py, weights=a_c * (zy + b[iy]), minlength=n_persons)
    stats[1] = np.bincount(py, weights=a_c * a_c, minlength=n_persons)
    pt, it = person[has_t], item[has_t]
    w = phi[it] * inv_sigma2[it]
    stats[2] = np.bincount(pt, weights=w * (lam[it] - log_t[has_t]), minlength=n_persons)
    stats[3] = np.bincount(pt, weights=w * phi[it], minlength=n_persons)
    return z, stats


def item_pass_numpy(
    person: np.ndarray,
    item: np.ndarray,
    z: np.ndarray,
    log_t: np.ndarray,
    theta: np.ndarray,
    zeta: np.ndarray,
    n_items: int,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Per-item sums for the item full conditionals (reference implementation).

    Args:
        person, item: int codes per cell; z: latent variable (NaN = no response); log_t: log-time or NaN.
        theta, zeta: person parameters; n_items: number of items.
        weight: per-cell weight of its terms in the sums (the tempered likelihood; default 1).

    Returns:
        Array (7, n_items) in ITEM_STATS order.
    """
    has_y = ~np.isnan(z)
    has_t = ~np.isnan(log_t)
    w = np.ones(person.shape[0]) if weight is None else weight
    stats = np.empty((7, n_items))
    iy, th, wy = item[has_y], theta[person[has_y]], w[has_y]
    zy = z[has_y]
    stats[0] = np.bincount(iy, weights=wy * th, minlength=n_items)
    stats[1] = np.bincount(iy, weights=wy * th * th, minlength=n_items)
    stats[2] = np.bincount(iy, weights=wy * zy * th, minlength=n_items)
    stats[3] = np.bincount(iy, weights=wy * zy, minlength=n_items)
    it, ze, wt = item[has_t], zeta[person[has_t]], w[has_t]
    stats[4] = np.bincount(it, weights=wt * ze, minlength=n_items)
    stats[5] = np.bincount(it, weights=wt * ze * ze, minlength=n_items)
    stats[6] = np.bincount(it, weights=wt * log_t[has_t] * ze, minlength=n_items)
    return stats


# -- Numba kernels ---------------------------------------------------------------------------------------
# Rational approximations, coefficients highest degree first. Phi: Cephes ndtr (the algorithm behind scipy's
# ndtr); Phi^-1: Wichura's AS241 PPND16. Both agree with scipy to ~1e-16 (tests check).
_ERF_NUM = (9.60497373987051638749, 90.0260197203842689217, 2232.00534594684319226, 7003.32514112805075473,
            55592.3013010394962768)
_ERF_DEN = (1.0, 33.5617141647503099647, 521.357949780152679795, 4594.32382970980127987,
            22629.0000613890934246, 49267.3942608635921086)
_ERFC_NUM = (2.46196981473530512524e-10, 0.564189564831068821977, 7.46321056442269912687,
             48.6371970985681366614, 196.520832956077098242, 526.445194995477358631, 934.528527171957607540,
             1027.55188689515710272, 557.535335369399327526)
_ERFC_DEN = (1.0, 13.2281951154744992508, 86.7072140885989742329, 354.937778887819891062,
             975.708501743205489753, 1823.90916687909736289, 2246.33760818710981792, 1656.66309194161350182,
             557.535340817727675546)
_ERFC_NUM_TAIL = (0.564189583547755073984, 1.27536670759978104416, 5.01905042251180477414,
                  6.16021097993053585195, 7.40974269950448939160, 2.97886665372100240670)
_ERFC_DEN_TAIL = (1.0, 2.26052863220117276590, 9.39603524938001434673, 12.0489539808096656605,
                  17.0814450747565897222, 9.60896809063285878198, 3.36907645100081516050)
_Q_NUM = (2509.0809287301226727, 33430.575583588128105, 67265.770927008700853, 45921.953931549871457,
          13731.693765509461125, 1971.5909503065514427, 133.14166789178437745, 3.387132872796366608)
_Q_DEN = (5226.495278852545925, 28729.085735721942674, 39307.89580009271061, 21213.794301586595867,
          5394.1960214247511077, 687.1870074920579083, 42.313330701600911252, 1.0)
_R_NUM = (7.7454501427834140764e-4, 0.0227238449892691845833, 0.24178072517745061177,
          1.27045825245236838258, 3.64784832476320460504, 5.7694972214606914055, 4.6303378461565452959,
          1.42343711074968357734)
_R_DEN = (1.05075007164441684324e-9, 5.475938084995344946e-4, 0.0151986665636164571966,
          0.14810397642748007459, 0.68976733498510000455, 1.6763848301838038494, 2.05319162663775882187, 1.0)
_S_NUM = (2.01033439929228813265e-7, 2.71155556874348757815e-5, 0.0012426609473880784386,
          0.026532189526576123093, 0.29656057182850489123, 1.7848265399172913358, 5.4637849111641143699,
          6.6579046435011037772)
_S_DEN = (2.04426310338993978564e-15, 1.4215117583164458887e-7, 1.8463183175100546818e-5,
          7.868691311456132591e-4, 0.0148753612908506148525, 0.13692988092273580531, 0.59983220655588793769,
          1.0)


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp"})
def _horner(x: float, coefficients: tuple[float, ...]) -> float:  # pragma: no cover - compiled
    total = 0.0
    for c in coefficients:
        total = total * x + c
    return total


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp"})
def _ndtr(x: float) -> float:  # pragma: no cover - compiled
    """Standard normal CDF (Cephes: erf for |x| < sqrt 2, else exp(-x^2/2) times a rational function)."""
    w = x * 0.7071067811865476
    aw = abs(w)
    if aw < 1.0:
        z = w * w
        return 0.5 + 0.5 * w * _horner(z, _ERF_NUM) / _horner(z, _ERF_DEN)
    if aw < 8.0:
        ratio = _horner(aw, _ERFC_NUM) / _horner(aw, _ERFC_DEN)
    else:
        ratio = _horner(aw, _ERFC_NUM_TAIL) / _horner(aw, _ERFC_DEN_TAIL)
    half_erfc = 0.5 * math.exp(-aw * aw) * ratio
    return 1.0 - half_erfc if w > 0.0 else half_erfc


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp"})
def _ndtri(p: float) -> float:  # pragma: no cover - compiled
    """Inverse standard normal CDF (Wichura 1988, AS241 PPND16)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _horner(r, _Q_NUM) / _horner(r, _Q_DEN)
    r = p if q < 0.0 else 1.0 - p
    if r <= 0.0:
        return -np.inf if q < 0.0 else np.inf
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        x = _horner(r - 1.6, _R_NUM) / _horner(r - 1.6, _R_DEN)
    else:
        x = _horner(r - 5.0, _S_NUM) / _horner(r - 5.0, _S_DEN)
    return -x if q < 0.0 else x


_BLOCK = 256  # cells per block: the elementwise loops over a block vectorise (AVX2 / AVX-512)


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp"})
def person_pass(  # noqa: PLR0912 - a numba kernel: one jitted pass over the rows, kept whole for speed
    person: np.ndarray,
    item: np.ndarray,
    answer: np.ndarray,
    timed: np.ndarray,
    log_t: np.ndarray,
    u: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    theta: np.ndarray,
    phi: np.ndarray,
    lam: np.ndarray,
    inv_sigma2: np.ndarray,
    z: np.ndarray,
    stats: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested against person_pass_numpy
    """Fused Numba version of ``person_pass_numpy``: writes ``z`` per cell, ADDS into ``stats`` (4, N).

    ``answer`` (int8: 1 right, -1 wrong, 0 missing) and ``timed`` (int8: 1 if log_t is observed) replace the
    NaN tests of the reference. Cells go in blocks: Phi and Phi^-1 are first evaluated for the whole block
    with their central rational approximations, branch-free so that the loops vectorise, and the few cells
    in the tails (|eta| > sqrt 2, or a probability beyond [0.075, 0.925]) are then redone with the exp/log
    branches. Cells must be sorted by person: sums stay in registers while the person does not change. The
    caller zeroes ``stats``; chunks with disjoint persons may run in parallel threads (the GIL is released).
    """
    n = person.shape[0]
    eta = np.empty(_BLOCK)
    sign = np.empty(_BLOCK)
    small = np.empty(_BLOCK)
    prob = np.empty(_BLOCK)
    draw = np.empty(_BLOCK)
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        for j in range(m):
            k = item[start + j]
            eta[j] = a[k] * theta[person[start + j]] - b[k]
            sign[j] = float(answer[start + j])
        for j in range(m):  # Phi(-|eta|), the smaller side, by the erf branch of _ndtr
            w = abs(eta[j]) * 0.7071067811865476
            w2 = w * w
            small[j] = 0.5 - 0.5 * w * _horner(w2, _ERF_NUM) / _horner(w2, _ERF_DEN)
        for j in range(m):
            if abs(eta[j]) * 0.7071067811865476 >= 1.0:
                small[j] = _ndtr(-abs(eta[j]))
        for j in range(m):  # the probability of the side of 0 the answer allows, times the uniform
            side = 1.0 - small[j] if sign[j] * eta[j] >= 0.0 else small[j]
            prob[j] = max(side * u[start + j], _TINY)
        for j in range(m):  # Phi^-1 by the central branch of _ndtri
            q = prob[j] - 0.5
            r = 0.180625 - q * q
            draw[j] = q * _horner(r, _Q_NUM) / _horner(r, _Q_DEN)
        for j in range(m):
            if abs(prob[j] - 0.5) > 0.425:
                draw[j] = _ndtri(prob[j])
        j = 0
        while j < m:
            i = person[start + j]
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            while j < m and person[start + j] == i:
                c = start + j
                k = item[c]
                if answer[c] != 0:
                    zc = eta[j] - sign[j] * draw[j]  # Z = eta -+ Phi^-1(...), see draw_latent_numpy
                    z[c] = zc
                    s0 += a[k] * (zc + b[k])
                    s1 += a[k] * a[k]
                else:
                    z[c] = np.nan
                if timed[c] != 0:
                    w = phi[k] * inv_sigma2[k]
                    s2 += w * (lam[k] - log_t[c])
                    s3 += w * phi[k]
                j += 1
            stats[0, i] += s0
            stats[1, i] += s1
            stats[2, i] += s2
            stats[3, i] += s3


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract", "arcp"})
def item_pass(
    person: np.ndarray,
    item: np.ndarray,
    answer: np.ndarray,
    timed: np.ndarray,
    z: np.ndarray,
    log_t: np.ndarray,
    theta: np.ndarray,
    zeta: np.ndarray,
    weight: np.ndarray,
    stats: np.ndarray,
) -> None:  # pragma: no cover - compiled; tested against item_pass_numpy
    """Fused Numba version of ``item_pass_numpy`` (``weight``: one per cell, 1 = unweighted): ADDS into
    ``stats`` (7, n_items); the caller zeroes it."""
    for c in range(person.shape[0]):
        i = person[c]
        k = item[c]
        wc = weight[c]
        if answer[c] != 0:
            zc = z[c]
            th = wc * theta[i]
            stats[0, k] += th
            stats[1, k] += th * theta[i]
            stats[2, k] += zc * th
            stats[3, k] += wc * zc
        if timed[c] != 0:
            tc = log_t[c]
            ze = wc * zeta[i]
            stats[4, k] += ze
            stats[5, k] += ze * zeta[i]
            stats[6, k] += tc * ze
