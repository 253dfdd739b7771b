"""The arithmetic of a stacked blend: coefficients that combine several models' predictions, fitted on a hold-out.

A blend predicts, for one row with member predictions ``(p_m, mu_m, sd_m)``:

* accuracy: ``logit p = a_0 + sum_m a_m logit p_m`` (a logistic regression on the members' logits);
* time: ``mu = c_0 + sum_m c_m mu_m`` (a ridge least-squares fit of the observed log-times), and
  ``sd = s * sqrt(sum_m u_m sd_m^2)`` with ``u`` the positive part of ``c`` normalised to sum 1 (the members'
  own predictive spread, mixed as the means are) and ``s`` the scale that makes 80% of the hold-out's
  standardised residuals fall inside the 80% interval, pulled toward 1 by SPREAD_PRIOR_ROWS pseudo-rows (the
  members' own spreads are calibrated by their design; a small hold-out should move them only a little).

Both regressions are penalised toward the plain average (intercept 0, every weight 1/M) with a penalty chosen
from PENALTIES by cross-validation over folds of *items* (or of persons when the hold-out has fewer than two
items): the blend has to predict items it was not fitted on, as served predictions do. Where one member alone
predicts the hold-out better than the cross-fitted blend (its log loss for accuracy, its squared error for
time), that member alone is used for that part (``Blend.alone``), so the blend is never worse on the hold-out
than its best member. ``fit_blend`` returns the blend fitted on the whole hold-out and the cross-fitted
predictions of the hold-out (each row predicted by a blend fitted without its fold) that score it honestly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logit

from studysmart.ml.base import Z80, Prediction

__all__ = ["FOLDS", "PENALTIES", "SPREAD_PRIOR_ROWS", "Blend", "combine", "fit_blend"]

#: Candidate penalties (sum of squared deviations from the plain average, in units of the hold-out's summed
#: log loss / squared error); the cross-validated best is used.
PENALTIES = (3.0, 30.0, 300.0, 3000.0)
FOLDS = 5
SPREAD_PRIOR_ROWS = 1000.0
_P_CLIP = 1e-6


@dataclass(frozen=True)
class Blend:
    """Fitted coefficients: ``accuracy`` and ``time`` are (intercept, weight per member); ``spread`` is (scale,
    variance weight per member); ``penalties`` the (accuracy, time) penalties chosen by cross-validation;
    ``alone`` the member that serves a part by itself because it beat the cross-fitted blend (-1: none)."""

    accuracy: np.ndarray
    time: np.ndarray
    spread: np.ndarray
    penalties: tuple[float, float] = (0.0, 0.0)
    alone: tuple[int, int] = (-1, -1)  # (accuracy, time): the member used alone for that part, -1 = the blend

    @property
    def n_members(self) -> int:
        """How many member predictions it combines."""
        return int(self.accuracy.shape[0]) - 1

    @property
    def lead(self) -> int:
        """The member with the largest accuracy weight (whose sources a prediction takes)."""
        return int(np.argmax(self.accuracy[1:]))

    def uses(self, member: int) -> bool:
        """Whether a prediction depends on this member: a weight in some part, or its sources (``lead``)."""
        return member == self.lead or any(bool(part[1 + member]) for part in (self.accuracy, self.time,
                                                                                self.spread))


def _logits(preds: Sequence[Prediction]) -> np.ndarray:
    p = np.column_stack([q.p_correct for q in preds])
    # np.clip(np.nan_to_num(p, nan=0.5), ...) in two ufuncs each (the served call combines one row: numpy's
    # wrappers cost more than the arithmetic)
    p = np.minimum(np.maximum(np.where(np.isnan(p), 0.5, p), _P_CLIP), 1 - _P_CLIP)
    out: np.ndarray = logit(p)
    return out


def _means(preds: Sequence[Prediction]) -> np.ndarray:
    return np.column_stack([p.mean_log_time for p in preds])


def _variances(preds: Sequence[Prediction]) -> np.ndarray:
    out: np.ndarray = np.square(np.column_stack([p.sd_log_time for p in preds]))
    return out


def _prior(n_members: int) -> np.ndarray:
    return np.concatenate([[0.0], np.full(n_members, 1.0 / n_members)])


def _fit_accuracy(logits: np.ndarray, correct: np.ndarray, penalty: float) -> np.ndarray:
    """Penalised logistic regression of ``correct`` on [1, logits] (rows with a missing outcome are ignored)."""
    prior = _prior(logits.shape[1])
    ok = np.isfinite(correct)
    if not ok.any():
        return prior
    design = np.column_stack([np.ones(int(ok.sum())), logits[ok]])
    y = correct[ok]

    def objective(coef: np.ndarray) -> tuple[float, np.ndarray]:
        z = design @ coef
        gap = coef - prior
        loss = float(np.sum(np.logaddexp(0.0, z) - y * z) + penalty * gap @ gap)
        return loss, design.T @ (expit(z) - y) + 2.0 * penalty * gap

    result = minimize(objective, prior, jac=True, method="L-BFGS-B")
    coef: np.ndarray = result.x
    return coef


def _fit_time(means: np.ndarray, log_time: np.ndarray, penalty: float) -> np.ndarray:
    """Ridge regression of ``log_time`` on [1, means] toward the plain average (closed form)."""
    prior = _prior(means.shape[1])
    ok = np.isfinite(log_time) & np.isfinite(means).all(axis=1)
    if not ok.any():
        return prior
    design = np.column_stack([np.ones(int(ok.sum())), means[ok]])
    gram = design.T @ design + penalty * np.eye(design.shape[1])
    coef: np.ndarray = np.linalg.solve(gram, design.T @ log_time[ok] + penalty * prior)
    return coef


def _variance_weights(time_coef: np.ndarray) -> np.ndarray:
    weights = np.clip(time_coef[1:], 0.0, None)
    total = weights.sum()
    return weights / total if total > 0 else np.full(weights.size, 1.0 / weights.size)


def _fit_spread(means: np.ndarray, variances: np.ndarray, log_time: np.ndarray, time_coef: np.ndarray,
                ) -> np.ndarray:
    """(scale, variance weights): the scale that puts 80% of the standardised residuals inside +-Z80, pulled
    toward 1 in log by SPREAD_PRIOR_ROWS pseudo-rows."""
    weights = _variance_weights(time_coef)
    mean = time_coef[0] + means @ time_coef[1:]
    sd = np.sqrt(variances @ weights)
    ok = np.isfinite(log_time) & np.isfinite(mean) & (sd > 0)
    n = int(ok.sum())
    scale = 1.0
    if n >= 10:
        observed = float(np.quantile(np.abs(log_time[ok] - mean[ok]) / sd[ok], 0.8)) / Z80
        if observed > 0:
            scale = float(np.exp(np.log(observed) * n / (n + SPREAD_PRIOR_ROWS)))
    return np.concatenate([[scale], weights])


def combine(blend: Blend, preds: Sequence[Prediction | None]) -> Prediction:
    """The blended prediction of the rows the members predicted (same rows, same order); None for a member the
    blend does not use (``Blend.uses``: its weights are all 0, so it is left out of the sums).

    Returns:
        a Prediction whose ``source`` is that of the member with the largest accuracy weight.
    """
    if len(preds) != blend.n_members:
        raise ValueError(f"the blend combines {blend.n_members} members, got {len(preds)} predictions")
    if any(p is None and blend.uses(k) for k, p in enumerate(preds)):
        raise ValueError("a member the blend uses has no prediction")
    used = [k for k, p in enumerate(preds) if p is not None]
    given = [p for p in preds if p is not None]
    z = blend.accuracy[0] + _logits(given) @ blend.accuracy[1:][used]
    mean = blend.time[0] + _means(given) @ blend.time[1:][used]
    sd = blend.spread[0] * np.sqrt(_variances(given) @ blend.spread[1:][used])
    source = given[used.index(blend.lead)].source  # the lead is used
    return Prediction(p_correct=expit(z), mean_log_time=mean, sd_log_time=sd, source=source)


def _fit_with(preds: Sequence[Prediction], correct: np.ndarray, log_time: np.ndarray,
              penalties: tuple[float, float]) -> Blend:
    means = _means(preds)
    time_coef = _fit_time(means, log_time, penalties[1])
    return Blend(accuracy=_fit_accuracy(_logits(preds), correct, penalties[0]), time=time_coef,
                 spread=_fit_spread(means, _variances(preds), log_time, time_coef), penalties=penalties)


def _take(pred: Prediction, rows: np.ndarray) -> Prediction:
    return Prediction(pred.p_correct[rows], pred.mean_log_time[rows], pred.sd_log_time[rows], pred.source[rows])


def _fold_of(groups: np.ndarray, seed: int) -> np.ndarray:
    labels, codes = np.unique(groups, return_inverse=True)
    folds = min(FOLDS, labels.size)
    return np.asarray(np.random.default_rng(seed).permutation(labels.size) % folds)[codes]


def _cross_fitted(preds: Sequence[Prediction], correct: np.ndarray, log_time: np.ndarray, fold: np.ndarray,
                  penalties: tuple[float, float]) -> Prediction:
    n = correct.size
    p, mean, sd = np.empty(n), np.empty(n), np.empty(n)
    source = np.empty(n, dtype=object)
    for k in np.unique(fold):
        out, into = fold != k, fold == k
        blend = _fit_with([_take(q, out) for q in preds], correct[out], log_time[out], penalties)
        part = combine(blend, [_take(q, into) for q in preds])
        p[into], mean[into], sd[into], source[into] = (part.p_correct, part.mean_log_time, part.sd_log_time,
                                                       part.source)
    return Prediction(p, mean, sd, source)


def _log_loss(p: np.ndarray, correct: np.ndarray) -> float:
    ok = np.isfinite(correct)
    q = np.clip(p[ok], _P_CLIP, 1 - _P_CLIP)
    return float(-np.mean(correct[ok] * np.log(q) + (1 - correct[ok]) * np.log(1 - q))) if ok.any() else 0.0


def _squared_error(mean: np.ndarray, log_time: np.ndarray) -> float:
    ok = np.isfinite(log_time) & np.isfinite(mean)
    return float(np.mean(np.square(log_time[ok] - mean[ok]))) if ok.any() else 0.0


def fit_blend(preds: Sequence[Prediction], correct: np.ndarray, log_time: np.ndarray, *, items: np.ndarray,
              persons: np.ndarray, seed: int = 0) -> tuple[Blend, Prediction]:
    """Fit a blend of the members' hold-out predictions ``preds`` (one per member, the same rows) to the observed
    ``correct`` and ``log_time`` of those rows.

    Args:
        preds: each member's predictions of the hold-out rows (made without seeing those outcomes).
        correct, log_time: the hold-out's outcomes (NaN = missing).
        items, persons: per row, the item and person (codes or labels): the cross-validation folds are items
            (persons when there are fewer than two items).
        seed: of the assignment of items to folds.

    Returns:
        the blend fitted on every row with the penalties chosen by cross-validation, and the cross-fitted
        predictions of the rows at those penalties (the blend's honest hold-out predictions).

    Raises:
        ValueError: fewer than two members, or rows that cannot be split into two folds.
    """
    if len(preds) < 2:
        raise ValueError("a blend needs at least two members")
    groups = items if np.unique(items).size >= 2 else persons
    if np.unique(groups).size < 2:
        raise ValueError("a blend needs a hold-out of at least two items or two persons")
    fold = _fold_of(groups, seed)
    by_accuracy, by_time = [], []
    for penalty in PENALTIES:
        crossed = _cross_fitted(preds, correct, log_time, fold, (penalty, penalty))
        by_accuracy.append((_log_loss(crossed.p_correct, correct), penalty))
        by_time.append((_squared_error(crossed.mean_log_time, log_time), penalty))
    penalties = (min(by_accuracy)[1], min(by_time)[1])
    blend = _fit_with(preds, correct, log_time, penalties)
    crossed = _cross_fitted(preds, correct, log_time, fold, penalties)
    return _best_member_where_better(blend, crossed, preds, correct, log_time)


def _alone(n_members: int, member: int) -> np.ndarray:
    coef = np.zeros(n_members + 1)
    coef[member + 1] = 1.0
    return coef


def _best_member_where_better(blend: Blend, crossed: Prediction, preds: Sequence[Prediction], correct: np.ndarray,
                              log_time: np.ndarray) -> tuple[Blend, Prediction]:
    """The blend with each part replaced by the best member alone where that member's own hold-out predictions
    (made without any fitting to the hold-out) beat the blend's cross-fitted ones, and the matching predictions."""
    p, mean = crossed.p_correct, crossed.mean_log_time
    source = crossed.source
    loss, member = min((_log_loss(q.p_correct, correct), m) for m, q in enumerate(preds))
    if loss <= _log_loss(p, correct):
        blend = replace(blend, accuracy=_alone(blend.n_members, member), alone=(member, blend.alone[1]))
        p, source = preds[member].p_correct, preds[member].source
    error, member = min((_squared_error(q.mean_log_time, log_time), m) for m, q in enumerate(preds))
    if error <= _squared_error(mean, log_time):
        time_coef = _alone(blend.n_members, member)
        blend = replace(blend, time=time_coef, alone=(blend.alone[0], member),
                        spread=_fit_spread(_means(preds), _variances(preds), log_time, time_coef))
        mean = preds[member].mean_log_time
    sd = combine(blend, preds).sd_log_time if blend.alone[1] >= 0 else crossed.sd_log_time
    return blend, Prediction(p, mean, sd, source)
