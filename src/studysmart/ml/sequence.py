"""The layout behind vectorised online predictions (``evaluate.SequentialPredictor``): every row to predict
paired with each row of the history a served call would see for it, in the order that call would see them.

``served_predictions`` prices a row of ``rows`` with the person's rows of ``history`` (in their order) and, when
sequential, their earlier rows of ``rows`` (by order, then position). ``layout`` puts those rows in one
sequence per person; ``Layout.pairs`` yields, for chunks of the rows to predict, the (query, history row) pairs,
so a model can sum each query's history with ``np.bincount`` in the served call's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from studysmart.ml.base import Prediction
from studysmart.ml.data import Queries, Responses

__all__ = ["CHUNK_PAIRS", "Layout", "Outputs", "layout", "start"]

#: Pairs (query, history row) held at once: queries are processed in chunks of about this many pairs.
CHUNK_PAIRS = 2_000_000


@dataclass(frozen=True)
class Layout:
    """Attributes:
        combined: the persons' rows of ``history`` then all of ``rows`` (one data set's vocabularies).
        n_past: how many rows of ``combined`` come from ``history``.
        seq: indices of ``combined`` by person, history rows first, then ``rows`` in the served sequence.
        first: per position of ``seq``, the position where its person starts.
        hist_len: per position of ``seq``, the length of the served history of that row (from ``first`` on).
        query_at: the positions in ``seq`` of the rows of ``rows``.
    """

    combined: Responses
    n_past: int
    seq: np.ndarray
    first: np.ndarray
    hist_len: np.ndarray
    query_at: np.ndarray

    def row_of(self, at: np.ndarray) -> np.ndarray:
        """The index in ``rows`` of the rows at these positions of ``seq``."""
        out: np.ndarray = self.seq[at] - self.n_past
        return out

    def pairs(self, at: np.ndarray, max_pairs: int = CHUNK_PAIRS) -> Iterator[tuple[np.ndarray, np.ndarray,
                                                                                     np.ndarray]]:
        """For chunks of the positions ``at`` (queries with a history, about ``max_pairs`` pairs each):
        (the chunk's positions, the query of each pair as an index into the chunk, the combined row of each
        pair), the pairs of a query in the served history's order."""
        counts = self.hist_len[at]
        total = np.cumsum(counts)
        cuts = np.searchsorted(total, np.arange(max_pairs, int(total[-1]) if total.size else 0, max_pairs))
        for chunk in np.split(at, cuts):
            if chunk.size == 0:
                continue
            n = self.hist_len[chunk]
            local = np.repeat(np.arange(chunk.size), n)
            offset = np.arange(local.size) - np.repeat(np.cumsum(n) - n, n)
            yield chunk, local, self.seq[np.repeat(self.first[chunk], n) + offset]


def layout(history: Responses, rows: Responses, *, sequential: bool) -> Layout:
    """The served histories of ``rows`` (see the module docstring); ``history`` and ``rows`` are two subsets of
    one data set."""
    from studysmart.ml.evaluate import _concat, _test_sequence

    n = len(rows)
    past = history.subset(np.isin(history.person, np.unique(rows.person)))
    combined = _concat(past, rows)
    rank = np.empty(n, dtype=np.int64)
    rank[_test_sequence(rows)] = np.arange(n)
    is_row = np.r_[np.zeros(len(past), bool), np.ones(n, bool)]
    seq = np.lexsort((np.r_[np.arange(len(past)), rank], is_row, combined.person))
    person = combined.person[seq]
    first = np.searchsorted(person, person, side="left")
    at = np.arange(seq.size)
    hist_len = at - first if sequential else np.bincount(past.person, minlength=combined.n_persons)[person]
    return Layout(combined, len(past), seq, first, hist_len, at[is_row[seq]])


class _Predicts(Protocol):
    def _check_fitted(self) -> None: ...

    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction: ...


@dataclass(frozen=True)
class Outputs:
    """The per-row results of a vectorised ``predict_sequence``, filled in place (``prediction()`` at the end)."""

    p: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    source: np.ndarray

    def prediction(self) -> Prediction:
        return Prediction(p_correct=self.p, mean_log_time=self.mean, sd_log_time=self.sd, source=self.source)


def start(model: _Predicts, history: Responses, rows: Responses, *, sequential: bool,
          ) -> tuple[Layout, Outputs, np.ndarray]:
    """What every vectorised ``predict_sequence`` starts with: the layout, the outputs with the rows that have no
    served history already priced as the served call prices them (``model.predict`` from the fitted persons), and
    the positions in ``seq`` of the rows that have one."""
    model._check_fitted()
    n = len(rows)
    lay = layout(history, rows, sequential=sequential)
    out = Outputs(np.empty(n), np.empty(n), np.empty(n), np.empty(n, dtype=object))
    empty = lay.hist_len[lay.query_at] == 0
    if empty.any():
        where = lay.row_of(lay.query_at[empty])
        fitted = model.predict(rows.to_queries(where))
        out.p[where], out.mean[where], out.sd[where], out.source[where] = (
            fitted.p_correct, fitted.mean_log_time, fitted.sd_log_time, fitted.source)
    return lay, out, lay.query_at[~empty]
