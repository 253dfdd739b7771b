"""The vectorised online predictions (``predict_sequence``) of the shrinkage and LNIRT models equal one served
call per answer (``evaluate.served_predictions``), including persons and items the fit never saw, missing
outcomes or times, tied orders and data without topics."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from studysmart.ml import base
from studysmart.ml.data import Responses
from studysmart.ml.evaluate import SequentialPredictor, served_predictions
from tests.ml.test_baselines import simulate

MODELS = [("shrinkage", {}), ("lnirt", {"iterations": 60})]


def _awkward(features: bool, seed: int) -> tuple[Responses, Responses]:
    """A train/test partition where some test persons and items are new, some outcomes and times are missing,
    and orders tie."""
    data = simulate(n_persons=40, n_items=24, density=0.6, seed=seed, features=features)
    rng = np.random.default_rng(seed)
    correct, log_time = data.correct.copy(), data.log_time.copy()
    correct[rng.random(len(data)) < 0.1] = np.nan
    log_time[rng.random(len(data)) < 0.1] = np.nan
    order = np.floor(np.asarray(data.order) / 3.0)  # ties of three
    data = replace(data, correct=correct, log_time=log_time, order=order)
    late = order >= np.quantile(order, 0.7)
    test = late | (data.person < 4) | (data.item == 0)  # persons 0-3 and item 0: only in the test rows
    return data.subset(~test), data.subset(test)


@pytest.mark.parametrize(("name", "params"), MODELS)
@pytest.mark.parametrize("features", [True, False])
@pytest.mark.parametrize("sequential", [True, False])
def test_predict_sequence_equals_one_served_call_per_answer(name: str, params: dict[str, int], features: bool,
                                                             sequential: bool) -> None:
    train, test = _awkward(features, seed=3 if features else 4)
    model = base.create(name, **params).fit(train)
    assert isinstance(model, SequentialPredictor)
    fast = model.predict_sequence(train, test, sequential=sequential)
    served = served_predictions(model, train, test, sequential=sequential)
    for field in ("p_correct", "mean_log_time", "sd_log_time"):
        np.testing.assert_allclose(getattr(fast, field), getattr(served, field), rtol=0, atol=1e-9, err_msg=field)
    assert list(fast.source) == list(served.source)
    assert len(set(fast.source)) >= 2  # new persons or items reach the priors
