"""Issue 13's done-when criteria on the shared data sets: the online ``auto`` evaluation (the training pipeline's
own choice of model on the training rows, scored as the app serves) against the reference bar.

Slow (the pipeline fits every default training model, the neural one included, on each data set). Criteria the
model does not meet yet are marked xfail(strict=True) with the measured value in the reason, so a change that
meets one makes the test fail until the mark is removed (see docs/models.md for the measurements).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studysmart.commands.evaluate import evaluate_auto
from studysmart.ml.data import read_cells, read_responses
from studysmart.ml.evaluate import Split, split_heldout, split_temporal
from tests.paths import DATA, LNIRT_PEER, needs_shared

#: (reference log loss, reference RMSE of log-time, extra AUC bar): the issue's table, or the reproduced
#: reference (benchmarks.reference) where that is stricter.
BARS = {
    "credential": (0.5013, 0.5070, 0.755),
    "assistments": (0.6439, 1.2682, None),
    "chess": (0.6355, 0.5602, None),
    "junyi": (0.3966, 0.7614, None),
}
FILES = {
    "credential": LNIRT_PEER / "credentialform1_long.csv",
    "assistments": DATA / "assistments2017_abroca_sample" / "data.csv",
    "chess": DATA / "lnirt_amsterdam_chess" / "data.csv",
    "junyi": DATA / "junyi_fkt_subset" / "data.csv",
}
#: Criteria not met (measured on the online auto evaluation, see docs/models.md).
SHORT = {
    ("chess", "ece"): "ECE 0.093: the 8 test items are all new; even the global average has 0.044, and an exactly "
                      "calibrated predictor with these p has ECE 0.023 on average from sampling noise alone",
    ("junyi", "coverage80"): "coverage80 0.822 (the blend; its practice member 0.811): the intervals the inner "
                             "hold-outs ask for are a little wider than the test needs",
}
CRITERIA = ("log_loss", "rmse_log_time", "auc", "coverage80", "ece")
_cache: dict[str, dict[str, Any]] = {}


def _split(name: str) -> Split:
    if name == "credential":
        data = read_responses(FILES[name])
        return split_heldout(data, *read_cells(LNIRT_PEER / "heldout_cells.csv"))
    return split_temporal(read_responses(FILES[name], order="timestamp" if name == "junyi" else None))


def _auto(name: str) -> dict[str, Any]:
    if name not in _cache:
        _cache[name] = evaluate_auto(_split(name))
    return _cache[name]


def _cases() -> list[Any]:
    cases = []
    for name in BARS:
        for criterion in CRITERIA:
            if criterion == "auc" and BARS[name][2] is None:
                continue
            marks = [needs_shared(Path(FILES[name]))]
            if (name, criterion) in SHORT:
                marks.append(pytest.mark.xfail(strict=True, reason=SHORT[(name, criterion)]))
            cases.append(pytest.param(name, criterion, marks=marks, id=f"{name}-{criterion}"))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize(("name", "criterion"), _cases())
def test_online_auto_meets_the_bar(name: str, criterion: str) -> None:
    result = _auto(name)
    reference_ll, reference_rmse, auc_bar = BARS[name]
    value = result[criterion]
    chosen = result["chosen"]
    if criterion == "log_loss":
        assert value < reference_ll, f"{chosen}: log loss {value:.4f} >= {reference_ll}"
    elif criterion == "rmse_log_time":
        assert value < reference_rmse, f"{chosen}: rmse {value:.4f} >= {reference_rmse}"
    elif criterion == "auc":
        assert auc_bar is not None and value >= auc_bar, f"{chosen}: auc {value:.4f}"
    elif criterion == "coverage80":
        assert 0.78 <= value <= 0.82, f"{chosen}: coverage80 {value:.4f}"
    else:
        assert value <= 0.02, f"{chosen}: ece {value:.4f}"
