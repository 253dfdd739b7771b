"""Train/test splits and the evaluation harness: fit each registered model on the training rows, predict the
held-out rows, and score them with ``studysmart.ml.metrics``.

Splits:
* ``heldout``: the rows of the given (person, item) cells are the test set (e.g. the R reference's cells);
* ``random``: a random ``fraction`` (default 10%) of the (person, item) cells, all rows of a chosen cell;
* ``temporal``: the last ``fraction`` (default 20%) of each person's responses by the order column.

The harness never looks at test outcomes before predicting, and never scores training rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from studysmart.ml import base
from studysmart.ml.data import DataError, Responses
from studysmart.ml.metrics import all_metrics

__all__ = ["SPLITS", "Split", "evaluate_model", "evaluate_models", "split_heldout", "split_random",
           "split_temporal"]

SPLITS = ("heldout", "random", "temporal")


@dataclass(frozen=True)
class Split:
    """A named train/test partition of one data set (both keep the full person and item vocabularies)."""

    name: str
    train: Responses
    test: Responses


def _cell_codes(persons: np.ndarray, items: np.ndarray) -> np.ndarray:
    return np.char.add(np.char.add(persons.astype(str), "\x1f"), items.astype(str))


def split_heldout(data: Responses, persons: Sequence[object] | np.ndarray,
                  items: Sequence[object] | np.ndarray) -> Split:
    """Test = every row whose (person, item) labels are among the given cells; train = the rest.

    Raises:
        DataError: none of the cells occurs in the data (wrong file or label format).
    """
    cells = np.unique(_cell_codes(np.asarray(persons, dtype=object), np.asarray(items, dtype=object)))
    rows = _cell_codes(data.persons[data.person], data.items[data.item])
    test = np.isin(rows, cells)
    if cells.size and not test.any():
        raise DataError("none of the held-out cells occurs in the data (do the person/item labels match?)")
    return Split("heldout", data.subset(~test), data.subset(test))


def split_random(data: Responses, *, fraction: float = 0.1, seed: int = 0) -> Split:
    """Test = all rows of a random ``fraction`` of the observed (person, item) cells."""
    cell = data.person.astype(np.int64) * max(data.n_items, 1) + data.item
    unique, inverse = np.unique(cell, return_inverse=True)
    rng = np.random.default_rng(seed)
    chosen = np.zeros(unique.size, dtype=bool)
    chosen[rng.permutation(unique.size)[: int(round(fraction * unique.size))]] = True
    test = chosen[inverse]
    return Split("random", data.subset(~test), data.subset(test))


def split_temporal(data: Responses, *, fraction: float = 0.2) -> Split:
    """Test = the last ``fraction`` of each person's responses by ``data.order`` (rounded half up; rows
    without an order value stay in training; ties keep file order).

    Raises:
        DataError: the data has no order column.
    """
    if data.order is None:
        raise DataError("a temporal split needs an order column (timestamp, order, position or time_point)")
    ordered = ~np.isnan(data.order)
    rows = np.flatnonzero(ordered)
    rows = rows[np.lexsort((rows, data.order[rows], data.person[rows]))]  # by person, then order, then row
    person = data.person[rows]
    counts = np.bincount(person, minlength=data.n_persons)
    n_test = np.floor(fraction * counts + 0.5).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(rows.size) - starts[person]  # position within the person's ordered rows
    test = np.zeros(len(data), dtype=bool)
    test[rows[rank >= counts[person] - n_test[person]]] = True
    return Split("temporal", data.subset(~test), data.subset(test))


def evaluate_model(name: str, split: Split, *, params: Mapping[str, Any] | None = None,
                   progress: base.Progress | None = None) -> dict[str, float]:
    """Fit the registered model ``name`` on ``split.train`` and score its predictions of ``split.test``.

    Args:
        name: a registered model name (``base.MODELS``).
        split: the train/test partition.
        params: hyperparameters for ``base.create``.
        progress: passed to ``fit``.

    Returns:
        every metric of ``metrics.METRICS`` plus fit_seconds and predict_us_per_row.
    """
    model = base.create(name, **dict(params or {}))
    start = time.perf_counter()
    model.fit(split.train, progress=progress)
    fit_seconds = time.perf_counter() - start
    queries = split.test.to_queries()
    start = time.perf_counter()
    prediction = model.predict(queries)
    predict_seconds = time.perf_counter() - start
    if len(prediction) != len(split.test):
        raise RuntimeError(f"{name} returned {len(prediction)} predictions for {len(split.test)} rows")
    result = all_metrics(prediction, split.test.correct, split.test.log_time)
    result["fit_seconds"] = fit_seconds
    result["predict_us_per_row"] = predict_seconds / max(len(split.test), 1) * 1e6
    return result


def evaluate_models(names: Sequence[str], split: Split, *,
                    params: Mapping[str, Mapping[str, Any]] | None = None,
                    on_result: Callable[[str, dict[str, float]], None] | None = None,
                    ) -> dict[str, dict[str, float]]:
    """``evaluate_model`` for each name, in order; ``on_result(name, result)`` is called after each."""
    results: dict[str, dict[str, float]] = {}
    for name in names:
        results[name] = evaluate_model(name, split, params=(params or {}).get(name))
        if on_result:
            on_result(name, results[name])
    return results
