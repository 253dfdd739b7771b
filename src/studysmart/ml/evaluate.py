"""Train/test splits and the evaluation harness: fit each registered model on the training rows, predict the
held-out rows, and score them with ``studysmart.ml.metrics``.

Modes:
* ``online`` (as the app serves): model-level parameters come from the training rows only; each test row is
  predicted through ``model.predict(query, history=...)``, the call the app makes, with the person's earlier
  answers as ``history``: on a temporal split all their training rows and their test rows before it (by the
  order column, then file order); on other splits (no meaningful order) their training rows;
* ``frozen``: one ``predict`` of every test row from the fitted state, without any history.

Splits:
* ``heldout``: the rows of the given (person, item) cells are the test set (e.g. the R reference's cells);
* ``random``: a random ``fraction`` (default 10%) of the (person, item) cells, all rows of a chosen cell;
* ``temporal``: the last ``fraction`` (default 20%) of each person's responses by the order column.

Models are fitted as the training pipeline fits them: on the training rows with ``robust.with_robust_weights``
(computed from those rows only), so the harness and the worker fit alike; the history a prediction reads is the
rows as stored (a student's own state uses every answer, as in the app).

The harness never looks at test outcomes before predicting, and never scores training rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np

from studysmart.ml import base
from studysmart.ml.data import DataError, Responses
from studysmart.ml.metrics import all_metrics
from studysmart.ml.robust import with_robust_weights

__all__ = ["MODES", "SPLITS", "SequentialPredictor", "Split", "evaluate_model", "evaluate_models",
           "online_metrics", "online_predictions", "score_model", "served_predictions", "split_heldout",
           "split_random", "split_temporal"]

SPLITS = ("heldout", "random", "temporal")
MODES = ("online", "frozen")
#: Per-row arrays of Responses (the others are per-person or per-item vocabularies and features).
_ROW_FIELDS = ("person", "item", "correct", "log_time", "order", "weight")


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
    chosen[rng.permutation(unique.size)[: round(fraction * unique.size)]] = True
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


@runtime_checkable
class SequentialPredictor(Protocol):
    """A model that can compute the online predictions of many rows in one vectorised pass.

    ``predict_sequence(history, rows, sequential=...)`` must return, for each row of ``rows``, exactly what
    ``predict(query of that row, history=<the person's rows of history, plus, when sequential, their rows of
    rows before it by (order, position)>)`` returns (tests check this against ``served_predictions``).
    """

    def predict_sequence(self, history: Responses, rows: Responses, *, sequential: bool) -> base.Prediction:
        """Online predictions of ``rows`` (see the class docstring)."""
        ...


def _concat(first: Responses, second: Responses) -> Responses:
    """The rows of ``first`` then ``second`` (two subsets of one data set: same vocabularies)."""
    changes: dict[str, Any] = {}
    for name in _ROW_FIELDS:
        if not hasattr(first, name):
            continue
        a, b = getattr(first, name), getattr(second, name)
        if a is None and b is None:
            continue
        if a is None or b is None:  # e.g. per-row weights on one side only: the missing side counts 1
            fill = np.nan if name == "order" else 1.0
            a = np.full(len(first), fill) if a is None else a
            b = np.full(len(second), fill) if b is None else b
        changes[name] = np.concatenate([a, b])
    return replace(first, **changes)


def _sequential(split: Split) -> bool:
    return split.name == "temporal" and split.test.order is not None


def _test_sequence(test: Responses) -> np.ndarray:
    """Test row indices by person, then order, then position (rows without an order first)."""
    order = np.zeros(len(test)) if test.order is None else np.nan_to_num(test.order, nan=-np.inf)
    return np.lexsort((np.arange(len(test)), order, test.person))


def served_predictions(model: base.Model, history: Responses, rows: Responses, *,
                       sequential: bool) -> base.Prediction:
    """The online predictions of ``rows``, one served call (``model.predict(query, history=...)``) per row
    (per person when not sequential), with the person's rows of ``history`` plus, when ``sequential``, their
    rows of ``rows`` before it (by order, then position) as the history. Never shows a row its own outcome
    or a later one. ``history`` and ``rows`` must share vocabularies (two subsets of one data set).

    Returns:
        one prediction per row of ``rows``, in the order of ``rows``.
    """
    n = len(rows)
    p, mu, sd = np.empty(n), np.empty(n), np.empty(n)
    source = np.empty(n, dtype=object)
    combined = _concat(history, rows)
    offset = len(history)
    seq = _test_sequence(rows)
    hist_rows = np.argsort(history.person, kind="stable")
    hist_bounds = np.searchsorted(history.person[hist_rows], np.arange(history.n_persons + 1))
    persons, starts = np.unique(rows.person[seq], return_index=True)
    ends = np.append(starts[1:], n)
    queries = rows.to_queries()

    def put(where: np.ndarray, pred: base.Prediction) -> None:
        p[where], mu[where], sd[where], source[where] = (pred.p_correct, pred.mean_log_time,
                                                         pred.sd_log_time, pred.source)

    for person, lo, hi in zip(persons, starts, ends, strict=True):
        own = hist_rows[hist_bounds[person]:hist_bounds[person + 1]]
        mine = seq[lo:hi]
        if not sequential:
            put(mine, model.predict(_take(queries, mine), history=combined.subset(own)))
            continue
        for j, row in enumerate(mine):
            rows_before = np.concatenate([own, offset + mine[:j]])
            put(np.array([row]), model.predict(_take(queries, np.array([row])), history=combined.subset(rows_before)))
    return base.Prediction(p, mu, sd, source)


def _take(queries: Any, rows: np.ndarray) -> Any:
    """The given rows of a Queries."""
    return replace(queries, **{name: None if getattr(queries, name) is None else getattr(queries, name)[rows]
                               for name in ("person", "item", "topic", "difficulty", "order")})


def online_predictions(model: base.Model, split: Split, *, fast: bool = True) -> base.Prediction:
    """The online predictions of ``split.test`` (see the module docstring): the model's vectorised
    ``predict_sequence`` when it offers one and ``fast``, else one served call per row."""
    sequential = _sequential(split)
    if fast and isinstance(model, SequentialPredictor):
        return model.predict_sequence(split.train, split.test, sequential=sequential)
    return served_predictions(model, split.train, split.test, sequential=sequential)


def online_metrics(model: base.Model, split: Split) -> dict[str, float]:
    """Every metric of ``metrics.METRICS`` of the online predictions of ``split.test`` (as the app serves)."""
    return all_metrics(online_predictions(model, split), split.test.correct, split.test.log_time)


def score_model(model: base.Model, split: Split, *, mode: str = "online") -> dict[str, float]:
    """Score a model fitted on ``split.train`` on ``split.test`` in ``mode`` (online or frozen).

    Returns:
        every metric of ``metrics.METRICS`` plus predict_us_per_row.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    start = time.perf_counter()
    if mode == "online":
        prediction = online_predictions(model, split)
    else:
        prediction = model.predict(split.test.to_queries())
    predict_seconds = time.perf_counter() - start
    if len(prediction) != len(split.test):
        raise RuntimeError(f"{model.name} returned {len(prediction)} predictions for {len(split.test)} rows")
    result = all_metrics(prediction, split.test.correct, split.test.log_time)
    result["predict_us_per_row"] = predict_seconds / max(len(split.test), 1) * 1e6
    return result


def evaluate_model(name: str, split: Split, *, params: Mapping[str, Any] | None = None,
                   progress: base.Progress | None = None, mode: str = "online", robust: bool = True,
                   ) -> dict[str, float]:
    """Fit the registered model ``name`` on ``split.train`` and score its predictions of ``split.test``.

    Args:
        name: a registered model name (``base.MODELS``).
        split: the train/test partition.
        params: hyperparameters for ``base.create``.
        progress: passed to ``fit``.
        mode: "online" (each test row from the person's earlier answers, as served) or "frozen".
        robust: fit with ``robust.with_robust_weights`` of the training rows, as the training pipeline does
            (False: unweighted, for comparisons).

    Returns:
        every metric of ``metrics.METRICS`` plus fit_seconds (the weights included) and predict_us_per_row.
    """
    model = base.create(name, **dict(params or {}))
    start = time.perf_counter()
    model.fit(with_robust_weights(split.train) if robust else split.train, progress=progress)
    fit_seconds = time.perf_counter() - start
    result = score_model(model, split, mode=mode)
    return {**{k: v for k, v in result.items() if k != "predict_us_per_row"}, "fit_seconds": fit_seconds,
            "predict_us_per_row": result["predict_us_per_row"]}


def evaluate_models(names: Sequence[str], split: Split, *,
                    params: Mapping[str, Mapping[str, Any]] | None = None,
                    on_result: Callable[[str, dict[str, float]], None] | None = None,
                    mode: str = "online", robust: bool = True) -> dict[str, dict[str, float]]:
    """``evaluate_model`` for each name, in order; ``on_result(name, result)`` is called after each."""
    results: dict[str, dict[str, float]] = {}
    for name in names:
        results[name] = evaluate_model(name, split, params=(params or {}).get(name), mode=mode, robust=robust)
        if on_result:
            on_result(name, results[name])
    return results
