"""Held-out metrics of accuracy predictions (P(correct)) and of log-time predictions (a normal per row).

Every function skips rows whose target is NaN and returns NaN when no row is left (or, for the AUC, when only
one class is present). ``all_metrics`` computes them all from a Prediction.
"""

from __future__ import annotations

import math

import numpy as np

from studysmart.ml.base import Z80, Prediction

__all__ = [
    "ACCURACY_METRICS",
    "METRICS",
    "TIME_METRICS",
    "accuracy",
    "all_metrics",
    "auc",
    "average_ranks",
    "brier",
    "coverage80",
    "ece",
    "log_density",
    "log_loss",
    "mae_log_time",
    "mae_seconds",
    "mape",
    "rmse_log_time",
]

ACCURACY_METRICS = ("auc", "log_loss", "brier", "ece", "accuracy")
TIME_METRICS = ("mae_seconds", "mape", "rmse_log_time", "mae_log_time", "coverage80", "log_density")
#: Every metric name, in report order.
METRICS = ACCURACY_METRICS + TIME_METRICS
_EPS = 1e-15


def _observed(target: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    target = np.asarray(target, dtype=np.float64)
    keep = ~np.isnan(target)
    return (target[keep], *(np.asarray(a, dtype=np.float64)[keep] for a in arrays))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, ties sharing the mean of their ranks (scipy's ``rankdata``, average method;
    all NaN if any value is NaN)."""
    values = np.asarray(values, dtype=np.float64)
    if np.isnan(values).any():
        return np.full(values.shape, np.nan)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])  # each run of ties, and the end
    mean_rank = (starts[:-1] + starts[1:] + 1) / 2  # of positions starts[i] .. starts[i + 1] - 1, 1-based
    ranks = np.empty(values.shape[0], dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, np.diff(starts))
    return ranks


def auc(p_correct: np.ndarray, correct: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    y, p = _observed(correct, p_correct)
    n_pos = int(np.sum(y == 1))
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = average_ranks(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(p_correct: np.ndarray, correct: np.ndarray) -> float:
    """Mean negative log-likelihood of the outcomes (probabilities clipped to [1e-15, 1 - 1e-15])."""
    y, p = _observed(correct, p_correct)
    if not y.size:
        return math.nan
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def brier(p_correct: np.ndarray, correct: np.ndarray) -> float:
    """Mean squared error of the probabilities."""
    y, p = _observed(correct, p_correct)
    return float(np.mean((p - y) ** 2)) if y.size else math.nan


def ece(p_correct: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |mean p - rate| over equal-width probability bins, weighted by count."""
    y, p = _observed(correct, p_correct)
    if not y.size:
        return math.nan
    which = np.clip((p * bins).astype(int), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    predicted = np.bincount(which, weights=p, minlength=bins)
    gap = np.abs(predicted - np.bincount(which, weights=y, minlength=bins))
    return float(gap.sum() / count.sum())


def accuracy(p_correct: np.ndarray, correct: np.ndarray) -> float:
    """Share of outcomes predicted right by thresholding P(correct) at 0.5."""
    y, p = _observed(correct, p_correct)
    return float(np.mean((p >= 0.5) == (y == 1))) if y.size else math.nan


def mae_seconds(mean_log_time: np.ndarray, log_time: np.ndarray) -> float:
    """Mean absolute error in seconds of the median prediction exp(mean log-time)."""
    t, mu = _observed(log_time, mean_log_time)
    return float(np.mean(np.abs(np.exp(mu) - np.exp(t)))) if t.size else math.nan


def mape(mean_log_time: np.ndarray, log_time: np.ndarray) -> float:
    """Mean absolute percentage error of exp(mean log-time) against the observed seconds (a fraction)."""
    t, mu = _observed(log_time, mean_log_time)
    return float(np.mean(np.abs(np.exp(mu - t) - 1))) if t.size else math.nan


def rmse_log_time(mean_log_time: np.ndarray, log_time: np.ndarray) -> float:
    """Root mean squared error of log-time."""
    t, mu = _observed(log_time, mean_log_time)
    return float(np.sqrt(np.mean((mu - t) ** 2))) if t.size else math.nan


def mae_log_time(mean_log_time: np.ndarray, log_time: np.ndarray) -> float:
    """Mean absolute error of log-time."""
    t, mu = _observed(log_time, mean_log_time)
    return float(np.mean(np.abs(mu - t))) if t.size else math.nan


def coverage80(mean_log_time: np.ndarray, sd_log_time: np.ndarray, log_time: np.ndarray) -> float:
    """Share of observed log-times inside the central 80% interval mean +- 1.2816 sd (ideal: 0.80)."""
    t, mu, sd = _observed(log_time, mean_log_time, sd_log_time)
    return float(np.mean(np.abs(t - mu) <= Z80 * sd)) if t.size else math.nan


def log_density(mean_log_time: np.ndarray, sd_log_time: np.ndarray, log_time: np.ndarray) -> float:
    """Mean log predictive density of the observed log-times under N(mean, sd^2) (higher is better)."""
    t, mu, sd = _observed(log_time, mean_log_time, sd_log_time)
    if not t.size:
        return math.nan
    return float(np.mean(-0.5 * ((t - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)))


def all_metrics(prediction: Prediction, correct: np.ndarray, log_time: np.ndarray) -> dict[str, float]:
    """Every metric of METRICS for one prediction against observed outcomes and log-times (NaN = missing).

    Args:
        prediction: the model's predictions, one row per target row.
        correct: observed outcomes (1.0 / 0.0 / NaN).
        log_time: observed log-seconds (NaN = missing).

    Returns:
        metric name -> value, in METRICS order.
    """
    p, mu, sd = prediction.p_correct, prediction.mean_log_time, prediction.sd_log_time
    return {
        "auc": auc(p, correct),
        "log_loss": log_loss(p, correct),
        "brier": brier(p, correct),
        "ece": ece(p, correct),
        "accuracy": accuracy(p, correct),
        "mae_seconds": mae_seconds(mu, log_time),
        "mape": mape(mu, log_time),
        "rmse_log_time": rmse_log_time(mu, log_time),
        "mae_log_time": mae_log_time(mu, log_time),
        "coverage80": coverage80(mu, sd, log_time),
        "log_density": log_density(mu, sd, log_time),
    }
