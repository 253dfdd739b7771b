"""Per-row weights that keep implausible answers and any single student from shaping item parameters.

Every model estimates its item-level parameters (item, topic|difficulty group, difficulty and population
numbers) with these weights; person-level estimates still use all of a person's rows. A row's weight is the
product of two factors:

* **Distinct students** (the design effect of clustered samples): the ``n`` answers one student gave to one
  item are correlated through that student, so together they tell about the item what
  ``n / (1 + (n - 1) rho)`` independent students' answers would (Kish's effective sample size). Each of those
  rows weighs ``1 / (1 + (n - 1) rho)``: one answer counts fully, and however many answers a student gives to
  an item they never count for more than ``1 / rho`` answers (10 with the default rho = 0.1). Ten students
  with five answers each (3.6 effective answers each, 36 in all) outweigh one student with fifty (8.5).
* **Plausible log-times** (a redescending M-estimator): each log-time is compared with a robust fit of
  item + person effects (two rounds of weighted median polish; each person's speed offset is their median
  residual shrunk by ``n / (n + 2)``). The residual is standardised by the item's robust scale (1.4826 x the
  weighted median absolute residual, pooled with the data set's by SCALE_PSEUDO_ROWS, never below
  SCALE_FLOOR) and weighted by Hampel's three-part function with (a, b, r) = HAMPEL: full weight within 4
  robust sds, then a / |z|, falling linearly in influence to zero at 12 robust sds; beyond that the row takes
  no part in item-level estimation. The person's offset is judged the same way among the other students'
  offsets (Hampel's weight of its distance from their median in robust sds), so a student who always answers
  in one second is not "plausibly" that fast: all their rows take that factor too.

Rows without a time keep the first factor only. A student's weight in the population of students (the prior of
a new student, where a model has one: LNIRT's mu_P, Sigma_P and centring) is the share of their rows' weight the
second factor keeps (``person_weights``). On clean data almost every row keeps weight 1 (the
sampler still reproduces the R package on CredentialForm1, where each student answers each item once).
"""

from __future__ import annotations

import numpy as np

from studysmart.ml.data import Responses

__all__ = [
    "CELL_CORRELATION",
    "HAMPEL",
    "SCALE_FLOOR",
    "hampel_weight",
    "person_weights",
    "residual_weights",
    "robust_weights",
    "student_weights",
    "weighted_medians",
    "with_robust_weights",
]

#: rho of the design effect: the share of an answer's variation that belongs to the student, not the item.
CELL_CORRELATION = 0.1
#: Hampel's (a, b, r), in robust standard deviations of the log-time residual.
HAMPEL = (4.0, 8.0, 12.0)
#: Pseudo-rows of the data set's residual scale in each item's scale; the smallest scale (log units).
SCALE_PSEUDO_ROWS = 10.0
SCALE_FLOOR = 0.05
_MAD = 1.482602218505602  # MAD -> sd of a normal distribution
_PERSON_SHRINK = 2.0  # pseudo-rows pulling a student's offset toward 0
_MIN_PERSONS = 5  # students with >= 3 times needed to estimate the spread of offsets


def student_weights(data: Responses, rho: float = CELL_CORRELATION) -> np.ndarray:
    """Per row: 1 / (1 + (n - 1) rho), with n the number of rows of the same (person, item) cell.

    Args:
        data: the responses.
        rho: the within-student correlation of the design effect (0 = every row counts fully).

    Returns:
        Weights in (0, 1], one per row.
    """
    if not len(data):
        return np.ones(0)
    cell = data.person.astype(np.int64) * max(data.n_items, 1) + data.item
    _, inverse, counts = np.unique(cell, return_inverse=True, return_counts=True)
    return 1.0 / (1.0 + (counts[inverse] - 1) * rho)


def weighted_medians(groups: np.ndarray, values: np.ndarray, weights: np.ndarray, n_groups: int) -> np.ndarray:
    """The weighted median of ``values`` per group (NaN values and zero weights ignored; NaN for empty groups).

    At an exact tie of the cumulative weight with half the total, the mean of the two middle values.
    """
    out = np.full(n_groups, np.nan)
    ok = np.isfinite(values) & (weights > 0)
    if not ok.any():
        return out
    g, v, w = groups[ok], values[ok], weights[ok]
    order = np.lexsort((v, g))
    g, v, w = g[order], v[order], w[order]
    totals = np.bincount(g, weights=w, minlength=n_groups)
    before = np.concatenate([[0.0], np.cumsum(totals)])[g]
    within = np.cumsum(w) - before  # cumulative weight inside the group, inclusive
    half = totals[g] / 2
    hit = np.flatnonzero(within >= half * (1 - 1e-12))
    first = hit[np.unique(g[hit], return_index=True)[1]]
    median = v[first]
    nxt = np.minimum(first + 1, g.size - 1)
    tie = (np.abs(within[first] - half[first]) <= 1e-12 * totals[g[first]]) & (g[nxt] == g[first]) \
        & (nxt > first)
    median = np.where(tie, (median + v[nxt]) / 2, median)
    out[g[first]] = median
    return out


def hampel_weight(z: np.ndarray, limits: tuple[float, float, float] | None = None) -> np.ndarray:
    """Hampel's three-part redescending weight psi(z) / z: 1 up to a, a / |z| up to b, then
    a (r - |z|) / ((r - b) |z|) down to 0 at r, and 0 beyond ((a, b, r) = ``limits``, default HAMPEL)."""
    a, b, r = HAMPEL if limits is None else limits
    x = np.abs(np.asarray(z, dtype=np.float64))
    safe = np.maximum(x, 1e-300)
    out = np.ones_like(x)
    out = np.where(x > a, a / safe, out)
    out = np.where(x > b, a * (r - x) / ((r - b) * safe), out)
    return np.where(x >= r, 0.0, out)


def _person_offsets(data: Responses, residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per person: their median residual shrunk toward 0 (their speed offset), and how plausible that offset is
    among the other students' (Hampel's weight of its distance from the typical offset in robust sds)."""
    timed = np.isfinite(residual)
    n = np.bincount(data.person[timed], minlength=data.n_persons).astype(np.float64)
    offset = weighted_medians(data.person, residual, np.ones(len(data)), data.n_persons)
    offset = np.where(n > 0, np.nan_to_num(offset) * n / (n + _PERSON_SHRINK), 0.0)
    plausible = np.ones(data.n_persons)
    informative = n >= 3
    if informative.sum() >= _MIN_PERSONS:
        typical = float(np.median(offset[informative]))
        spread = max(_MAD * float(np.median(np.abs(offset[informative] - typical))), SCALE_FLOOR)
        plausible = hampel_weight((offset - typical) / spread)
    return offset, plausible


def residual_weights(data: Responses, cell_weight: np.ndarray | None = None) -> np.ndarray:
    """Per row: Hampel's weight of the log-time residual against a robust item + person fit (1 without a time),
    times Hampel's weight of the person's speed offset among the other students' offsets.

    Args:
        data: the responses.
        cell_weight: per-row weights of the item medians and scales (``student_weights``), default 1.

    Returns:
        Weights in [0, 1], one per row.
    """
    t = data.log_time
    timed = np.isfinite(t)
    out = np.ones(len(data))
    if timed.sum() < 2:
        return out
    w = np.ones(len(data)) if cell_weight is None else cell_weight
    person = np.zeros(len(data))
    for _ in range(2):  # median polish: items given persons, persons given items
        item = weighted_medians(data.item, t - person, w, data.n_items)[data.item]
        offset, plausible = _person_offsets(data, t - item)
        person = offset[data.person]
    residual = np.where(timed, t - item - person, np.nan)
    absolute = np.abs(residual)
    overall = _MAD * float(weighted_medians(np.zeros(len(data), dtype=np.int64), absolute, w, 1)[0])
    per_item = _MAD * weighted_medians(data.item, absolute, w, data.n_items)
    rows = np.bincount(data.item[timed], weights=w[timed], minlength=data.n_items)
    scale2 = (rows * np.nan_to_num(per_item) ** 2 + SCALE_PSEUDO_ROWS * overall**2) / (rows + SCALE_PSEUDO_ROWS)
    scale = np.maximum(np.sqrt(scale2), SCALE_FLOOR)[data.item]
    out[timed] = hampel_weight(residual[timed] / scale[timed])
    result: np.ndarray = out * plausible[data.person]
    return result


def person_weights(data: Responses) -> np.ndarray:
    """Per person: the share of their data the row weights keep beyond the distinct-student factor,
    sum(weight) / sum(student_weights), in [0, 1] (1 when ``data`` has no weights or the person no rows).

    A student whose times are all plausible weighs 1 in the population of students (the prior of a new one);
    one whose times are not, toward 0. Their own estimates still use all their rows.
    """
    out = np.ones(data.n_persons)
    if data.weight is None or not len(data):
        return out
    kept = np.bincount(data.person, weights=data.weight, minlength=data.n_persons)
    cap = np.bincount(data.person, weights=student_weights(data), minlength=data.n_persons)
    has = cap > 0
    out[has] = np.clip(kept[has] / cap[has], 0.0, 1.0)
    return out


def robust_weights(data: Responses, *, rho: float = CELL_CORRELATION) -> np.ndarray:
    """Per-row weights for item-level estimation: distinct-student weight x plausible-time weight.

    Args:
        data: the responses (any existing ``weight`` is ignored here).
        rho: see ``student_weights``.

    Returns:
        Weights in [0, 1], one per row.
    """
    cell = student_weights(data, rho)
    result: np.ndarray = cell * residual_weights(data, cell)
    return result


def with_robust_weights(data: Responses) -> Responses:
    """``data`` with ``robust_weights`` (multiplied into any weights it already carries)."""
    weight = robust_weights(data)
    if data.weight is not None:
        weight = weight * data.weight
    return data.weighted(weight)
