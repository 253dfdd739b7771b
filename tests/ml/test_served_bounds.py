"""Served predictions are finite and within the served ranges, whatever a model computed."""

from __future__ import annotations

import math

import numpy as np

from studysmart.ml.base import SERVED_P_CORRECT, SERVED_SD_LOG_TIME, SERVED_SECONDS, Prediction


def test_bounded_predictions_are_finite_and_within_the_served_ranges() -> None:
    raw = Prediction(
        p_correct=np.array([np.nan, 0.0, 1.0, 0.6, 0.5]),
        mean_log_time=np.array([-744.4, np.inf, np.nan, 4.0, 1e6]),
        sd_log_time=np.array([1e3, np.nan, np.inf, 0.5, 0.0]),
        source=np.array(["model"] * 5, dtype=object),
    )
    served = raw.bounded()
    assert np.all(np.isfinite(served.p_correct)) and np.all(np.isfinite(served.expected_seconds))
    assert np.all((served.p_correct >= SERVED_P_CORRECT[0]) & (served.p_correct <= SERVED_P_CORRECT[1]))
    assert np.all((served.expected_seconds >= SERVED_SECONDS[0] - 1e-9)
                  & (served.expected_seconds <= SERVED_SECONDS[1] * (1 + 1e-12)))
    assert np.all((served.sd_log_time >= SERVED_SD_LOG_TIME[0]) & (served.sd_log_time <= SERVED_SD_LOG_TIME[1]))
    low, high = served.served_interval()
    assert np.all(SERVED_SECONDS[0] <= low) and np.all(low <= served.expected_seconds + 1e-9)
    assert np.all(high <= SERVED_SECONDS[1]) and np.all(np.isfinite(high))
    # an ordinary prediction is left alone, and NaN falls back to the population prior
    assert served.p_correct[3] == 0.6 and served.mean_log_time[3] == 4.0 and served.sd_log_time[3] == 0.5
    assert served.p_correct[0] == 0.7 and served.mean_log_time[2] == math.log(60.0)
    assert list(served.source) == list(raw.source)
