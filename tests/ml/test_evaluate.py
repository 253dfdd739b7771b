"""Splits (held-out cells, random cells, per-person temporal) and the harness on small synthetic data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from studysmart.ml.base import Prediction
from studysmart.ml.baselines import GlobalAverage, Shrinkage
from studysmart.ml.data import DataError, Queries, Responses
from studysmart.ml.evaluate import (
    evaluate_model,
    evaluate_models,
    online_predictions,
    score_model,
    split_heldout,
    split_random,
    split_temporal,
)
from studysmart.ml.metrics import METRICS
from studysmart.ml.robust import with_robust_weights
from tests.ml.test_baselines import simulate
from tests.ml.test_robust import attacked


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


class _Spy(GlobalAverage):
    """``avg`` that records every served call: the query rows and the history it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Queries, Responses | None]] = []

    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        self.calls.append((queries, history))
        return super().predict(queries, history=history)


def _shuffled(data: Responses, seed: int) -> Responses:
    """The same rows in a random file order with distinct, shuffled order values (time is not file order)."""
    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(data))
    shuffled = data.subset(rows)
    return replace(shuffled, order=rng.permutation(len(data)).astype(float))


def test_online_history_is_every_earlier_row_of_the_person_and_nothing_else() -> None:
    data = _shuffled(simulate(n_persons=20, seed=3), seed=4)
    split = split_temporal(data)
    spy = _Spy().fit(split.train)
    prediction = online_predictions(spy, split)
    assert len(prediction) == len(split.test) and len(spy.calls) == len(split.test)  # one served call per row
    assert data.order is not None
    for queries, history in spy.calls:
        assert history is not None and len(queries) == 1
        person, when = queries.person[0], queries.order[0]
        mine = data.persons[data.person] == person
        expected = sorted(data.order[mine & (data.order < when)])
        assert history.order is not None
        assert sorted(history.order) == expected  # all earlier rows (train and test), never its own or later
        assert set(history.persons[history.person]) <= {person}


def test_online_without_an_order_uses_the_persons_training_rows() -> None:
    data = simulate(n_persons=20, seed=5)
    split = split_random(data, fraction=0.2, seed=1)
    spy = _Spy().fit(split.train)
    online_predictions(spy, split)
    persons = split.test.persons[split.test.person]
    assert len(spy.calls) == np.unique(persons).size  # one call per person
    for queries, history in spy.calls:
        assert history is not None
        person = queries.person[0]
        assert set(queries.person) == {person}
        assert sorted(history.order) == sorted(split.train.order[split.train.persons[split.train.person] == person])
        assert len(queries) == int(np.sum(persons == person))


def test_frozen_mode_predicts_all_test_rows_at_once_without_history() -> None:
    split = split_temporal(simulate(n_persons=20, seed=6))
    spy = _Spy().fit(split.train)
    assert score_model(spy, split, mode="frozen")["log_loss"] > 0
    assert len(spy.calls) == 1 and spy.calls[0][1] is None and len(spy.calls[0][0]) == len(split.test)
    with pytest.raises(ValueError, match="unknown mode"):
        score_model(spy, split, mode="sideways")


def test_online_shrinkage_follows_the_students_test_answers() -> None:
    """A student who answers everything right in the test part: online, each answer raises the next
    prediction; frozen, the prediction stays at the training estimate."""
    data = simulate(n_persons=40, seed=7)
    split = split_temporal(data)
    test = split.test
    star = test.person == test.person[0]
    test = replace(test, correct=np.where(star, 1.0, test.correct))
    split = replace(split, test=test)
    model = Shrinkage().fit(split.train)
    online = online_predictions(model, split).p_correct[star]
    frozen = model.predict(test.to_queries()).p_correct[star]
    assert online[-1] > frozen[-1]


def test_the_harness_fits_with_the_robust_weights_as_the_training_pipeline_does() -> None:
    split = split_temporal(attacked(simulate(n_persons=40, seed=8)))  # one account's 50 implausible answers
    weighted = score_model(Shrinkage().fit(with_robust_weights(split.train)), split)
    plain = score_model(Shrinkage().fit(split.train), split)
    result = evaluate_model("shrinkage", split)
    assert result["log_loss"] == weighted["log_loss"] and result["rmse_log_time"] == weighted["rmse_log_time"]
    assert result["rmse_log_time"] != plain["rmse_log_time"]
    unweighted = evaluate_model("shrinkage", split, robust=False)
    assert unweighted["rmse_log_time"] == plain["rmse_log_time"]
