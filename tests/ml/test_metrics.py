"""Metrics on hand-checked cases, NaN targets skipped, and the R reference's own numbers reproduced from its
per-cell predictions."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from scipy import stats

from studysmart.ml import metrics
from studysmart.ml.base import SOURCE_MODEL, Prediction
from tests.paths import LNIRT_PEER, needs_shared


def prediction(p: list[float], mu: list[float], sd: list[float]) -> Prediction:
    return Prediction(np.asarray(p, float), np.asarray(mu, float), np.asarray(sd, float),
                      np.full(len(p), SOURCE_MODEL, dtype=object))


def test_accuracy_metrics_by_hand() -> None:
    p = np.array([0.9, 0.8, 0.3, 0.3, np.nan])
    y = np.array([1.0, 0.0, 1.0, 0.0, np.nan])
    p[4] = 0.5  # the target is NaN, so this row is skipped whatever its prediction
    assert metrics.auc(p, y) == pytest.approx(0.625)  # pairs: (0.9>0.8), (0.9>0.3), (0.3 vs 0.8: lost), tie
    assert metrics.log_loss(p, y) == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.3, 0.7])))
    assert metrics.brier(p, y) == pytest.approx(np.mean([0.01, 0.64, 0.49, 0.09]))
    assert metrics.accuracy(p, y) == pytest.approx(0.5)
    # bins: 0.9 -> bin 9 (gap 0.1), 0.8 -> bin 8 (gap 0.8), 0.3 x2 -> bin 3 (|0.6 - 1| = 0.4)
    assert metrics.ece(p, y) == pytest.approx((0.1 + 0.8 + 0.4) / 4)


@pytest.mark.parametrize("seed", range(5))
def test_average_ranks_equal_scipys_rankdata(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.choice([0.0, 0.25, 0.5, 1.0, -np.inf, np.inf, *rng.uniform(0, 1, 20)], size=300)
    assert np.array_equal(metrics.average_ranks(values), stats.rankdata(values))
    values[7] = np.nan
    assert np.isnan(metrics.average_ranks(values)).all() and np.isnan(stats.rankdata(values)).all()
    assert metrics.average_ranks(np.zeros(0)).shape == (0,)
    y = (rng.random(300) < 0.5).astype(float)
    values[7] = 0.5
    by_scipy = (stats.rankdata(values)[y == 1].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (300 - y.sum()))
    assert metrics.auc(values, y) == by_scipy


def test_degenerate_inputs_give_nan() -> None:
    assert math.isnan(metrics.auc(np.array([0.2, 0.4]), np.array([1.0, 1.0])))
    assert math.isnan(metrics.log_loss(np.array([0.2]), np.array([np.nan])))
    assert math.isnan(metrics.rmse_log_time(np.array([1.0]), np.array([np.nan])))


def test_time_metrics_by_hand() -> None:
    mu = np.log([10.0, 20.0, 40.0])
    t = np.log([20.0, 20.0, np.nan])
    sd = np.array([0.5, 0.5, 0.5])
    assert metrics.mae_seconds(mu, t) == pytest.approx(5.0)
    assert metrics.mape(mu, t) == pytest.approx(0.25)
    assert metrics.rmse_log_time(mu, t) == pytest.approx(math.log(2) / math.sqrt(2))
    assert metrics.mae_log_time(mu, t) == pytest.approx(math.log(2) / 2)
    assert metrics.coverage80(mu, sd, t) == pytest.approx(0.5)  # log 2 = 0.69 > 1.28 * 0.5 = 0.64
    expected = np.mean([-0.5 * (math.log(2) / 0.5) ** 2, 0.0]) - math.log(0.5) - 0.5 * math.log(2 * math.pi)
    assert metrics.log_density(mu, sd, t) == pytest.approx(expected)


def test_all_metrics_has_every_name() -> None:
    result = metrics.all_metrics(prediction([0.7, 0.2], [3.0, 3.5], [0.4, 0.4]),
                                 np.array([1.0, 0.0]), np.array([3.1, np.nan]))
    assert tuple(result) == metrics.METRICS
    assert result["auc"] == 1.0 and result["coverage80"] == 1.0


@needs_shared(LNIRT_PEER / "r_predictions.csv")
def test_reproduces_the_r_reference_metrics_from_its_predictions() -> None:
    with (LNIRT_PEER / "r_predictions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    col = {k: np.array([float(r[k]) for r in rows]) for k in
           ("p_correct", "mean_log_time", "sd_log_time", "correct", "log_time")}
    pred = prediction(col["p_correct"], col["mean_log_time"], col["sd_log_time"])  # type: ignore[arg-type]
    result = metrics.all_metrics(pred, col["correct"], col["log_time"])
    expected = {"auc": 0.753125, "log_loss": 0.501302, "brier": 0.165866, "accuracy": 0.753703,
                "rmse_log_time": 0.506979, "mae_log_time": 0.398969, "mae_seconds": 24.176090,
                "coverage80": 0.810262, "log_density": -0.718946}  # r_metrics.txt, plug-in
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=2e-6), name
