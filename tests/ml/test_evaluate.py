"""Splits (held-out cells, random cells, per-person temporal) and the harness on small synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from studysmart.ml.data import DataError, Responses
from studysmart.ml.evaluate import evaluate_models, split_heldout, split_random, split_temporal
from studysmart.ml.metrics import METRICS
from tests.ml.test_baselines import simulate


def cells(data: Responses) -> set[tuple[str, str]]:
    return set(zip(data.persons[data.person], data.items[data.item], strict=True))


def test_heldout_split_takes_exactly_the_given_cells() -> None:
    data = simulate(n_persons=30, seed=1)
    chosen = sorted(cells(data))[:7]
    split = split_heldout(data, [c[0] for c in chosen], [c[1] for c in chosen])
    assert cells(split.test) == set(chosen) and not cells(split.train) & set(chosen)
    assert len(split.train) + len(split.test) == len(data)
    with pytest.raises(DataError, match="none of the held-out cells"):
        split_heldout(data, ["nobody"], ["nothing"])


def test_random_split_holds_out_whole_cells_reproducibly() -> None:
    rows = Responses.from_columns(["a", "a", "a", "b"] * 25, [str(k // 4) for k in range(100)],
                                  [1.0] * 100, [10.0] * 100)  # a repeats each item 3 times
    split = split_random(rows, fraction=0.2, seed=4)
    assert not cells(split.train) & cells(split.test)
    assert len(cells(split.test)) == 10  # 20% of the 50 cells
    again = split_random(rows, fraction=0.2, seed=4)
    assert cells(again.test) == cells(split.test)
    assert cells(split_random(rows, fraction=0.2, seed=5).test) != cells(split.test)


def test_temporal_split_holds_out_each_persons_last_responses() -> None:
    order = [5.0, 1.0, 3.0, 2.0, 4.0, 9.0, 8.0, 7.0, 6.0, 10.0]
    rows = Responses.from_columns(["a"] * 5 + ["b"] * 5, [str(k) for k in range(10)], [1.0] * 10,
                                  [10.0] * 10, order=order)
    split = split_temporal(rows, fraction=0.4)
    assert split.test.order is not None
    assert sorted(split.test.order) == [4.0, 5.0, 9.0, 10.0]  # the two latest of each person
    with pytest.raises(DataError, match="order column"):
        split_temporal(Responses.from_columns(["a"], ["1"], [1.0], [3.0]))


def test_harness_reports_every_metric_and_timings() -> None:
    split = split_random(simulate(seed=2), seed=0)
    seen: list[str] = []
    results = evaluate_models(["avg", "shrinkage"], split, on_result=lambda name, _: seen.append(name))
    assert seen == ["avg", "shrinkage"]
    for result in results.values():
        assert set(result) == {*METRICS, "fit_seconds", "predict_us_per_row"}
        assert result["fit_seconds"] >= 0 and result["predict_us_per_row"] > 0
    assert results["avg"]["auc"] == pytest.approx(0.5)
    assert results["shrinkage"]["auc"] > 0.65
    assert results["shrinkage"]["log_loss"] < results["avg"]["log_loss"]
    assert 0.7 < results["shrinkage"]["coverage80"] < 0.9
    assert np.isfinite(results["shrinkage"]["log_density"])
