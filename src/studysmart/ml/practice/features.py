"""Practice features: what a student has done before each answer, computed from their earlier answers only.

For every row (an answer, or a query: a task about to be answered) and three scopes, the same topic, the same
item and everything, the student's earlier answers give: the number correct ``S`` and wrong ``F`` (an answer
with an unknown outcome counts half to each), the summed hardness of those answers (``ZS``, ``ZF``: each
answer's item hardness, a standardised difficulty), and the time since the scope was last practised
(``gap``: clock seconds when the order column holds timestamps, else positions). The model turns these into
gains with diminishing returns (log(1 + count)) that decay with the gap (``decay``).

Rows must be sorted by person, then time; ``sequence_features`` is vectorised over whole data sets (grouped
cumulative sums), ``query_features`` prices queries from a history, and both give the same numbers for the same
earlier rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GAP_SCALE_POSITIONS", "GAP_SCALE_SECONDS", "TIMESTAMP_THRESHOLD", "Features", "decay",
           "query_features", "sequence_features"]

#: Order values above this are unix timestamps (clock time), else positions.
TIMESTAMP_THRESHOLD = 1e8
#: The unit of the gap in the decay (1 + gap / scale)^-delta: about one answer's time (60 s), or one position.
GAP_SCALE_SECONDS = 60.0
GAP_SCALE_POSITIONS = 1.0


@dataclass(frozen=True)
class Features:
    """Raw practice features, one row per answer or query (arrays of equal length).

    topic_*: the same topic; item_*: the same item; all_*: any earlier answer. S, F: counts of earlier correct
    and wrong answers; ZS, ZF: summed hardness of those; gap: time since that scope was last practised (0 when
    never).
    """

    topic_s: np.ndarray
    topic_f: np.ndarray
    topic_zs: np.ndarray
    topic_zf: np.ndarray
    topic_gap: np.ndarray
    item_s: np.ndarray
    item_f: np.ndarray
    item_gap: np.ndarray
    all_s: np.ndarray
    all_f: np.ndarray

    @classmethod
    def zeros(cls, n: int) -> Features:
        """No earlier practice for ``n`` rows (also the features of data without an order)."""
        return cls(*(np.zeros(n) for _ in range(10)))

    def take(self, rows: np.ndarray) -> Features:
        """The given rows."""
        return Features(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))

    def __len__(self) -> int:
        return int(self.topic_s.shape[0])


def decay(gap: np.ndarray, delta: float, scale: float) -> np.ndarray:
    """The share of a practice gain left after ``gap``: (1 + gap / scale)^-delta."""
    return np.exp(-delta * np.log1p(np.maximum(gap, 0.0) / scale))


def _outcome_weights(correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: weight toward S (correct) and toward F (wrong); unknown outcomes count half to each."""
    known = ~np.isnan(correct)
    s = np.where(known, np.nan_to_num(correct), 0.5)
    return s, 1.0 - s


def _grouped_before(key: np.ndarray, order: np.ndarray, values: list[np.ndarray],
                    ) -> tuple[list[np.ndarray], np.ndarray]:
    """Per row: sums of ``values`` over the earlier rows with the same key, and the gap since the latest of them
    (0 when none). Rows must be in time order within each key (keys may interleave)."""
    idx = np.argsort(key, kind="stable")
    k = key[idx]
    first = np.r_[True, k[1:] != k[:-1]] if k.size else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(k.size), 0)) if k.size else np.zeros(0, np.int64)
    sums = []
    for v in values:
        total = np.cumsum(v[idx]) - v[idx]
        out = np.empty(key.size)
        out[idx] = total - total[start]
        sums.append(out)
    when = order[idx]
    previous = np.r_[when[:1], when[:-1]]
    gap = np.where(first, 0.0, when - previous)
    out_gap = np.empty(key.size)
    out_gap[idx] = np.maximum(gap, 0.0)
    return sums, out_gap


def sequence_features(person: np.ndarray, topic: np.ndarray, item: np.ndarray, correct: np.ndarray,
                      order: np.ndarray, hardness: np.ndarray) -> Features:
    """Features of every row from the same person's earlier rows.

    Args:
        person, topic, item: integer codes per row (rows sorted by person, then time).
        correct: 1.0 / 0.0 / NaN per row.
        order: time of each row (NaN rows are treated as at the previous row's time).
        hardness: the row's item hardness (standardised difficulty; 0 = average).

    Returns:
        Features per row.
    """
    n = person.shape[0]
    if n == 0:
        return Features.zeros(0)
    s, f = _outcome_weights(correct)
    when = _filled(person, order)
    p64 = person.astype(np.int64)
    n_topics = int(topic.max()) + 1
    n_items = int(item.max()) + 1
    (ts, tf, tzs, tzf), tgap = _grouped_before(p64 * n_topics + topic, when, [s, f, s * hardness, f * hardness])
    (is_, if_), igap = _grouped_before(p64 * n_items + item, when, [s, f])
    (as_, af), _ = _grouped_before(p64, when, [s, f])
    return Features(ts, tf, tzs, tzf, tgap, is_, if_, igap, as_, af)


def _filled(person: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Order with NaN replaced by the previous row's time of the same person (0 at a person's start)."""
    when = np.asarray(order, dtype=np.float64).copy()
    missing = np.isnan(when)
    if not missing.any():
        return when
    idx = np.arange(when.size)
    first = np.r_[True, person[1:] != person[:-1]]
    valid = ~missing | first
    when[first & missing] = 0.0
    last = np.maximum.accumulate(np.where(valid, idx, 0))
    return when[last]


def query_features(history_topic: np.ndarray, history_item: np.ndarray, history_correct: np.ndarray,
                   history_order: np.ndarray, history_hardness: np.ndarray, query_topic: np.ndarray,
                   query_item: np.ndarray, query_order: np.ndarray) -> Features:
    """Features of queries of ONE person from all of that person's history rows (in time order).

    Each query sees the whole history (never the other queries). A query without an order is priced as right
    after the last answer (gap 0).
    """
    n = query_topic.shape[0]
    if history_topic.shape[0] == 0 or n == 0:
        return Features.zeros(n)
    s, f = _outcome_weights(history_correct)
    when = _filled(np.zeros(history_topic.shape[0], np.int64), history_order)
    q_when = np.where(np.isnan(query_order), when[-1], query_order)

    def scope(h_key: np.ndarray, q_key: np.ndarray, values: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
        keys, inverse = np.unique(h_key, return_inverse=True)
        last = np.full(keys.size, -np.inf)
        np.maximum.at(last, inverse, when)
        pos = np.searchsorted(keys, q_key)
        pos = np.minimum(pos, keys.size - 1)
        hit = keys[pos] == q_key
        sums = [np.where(hit, np.bincount(inverse, v, keys.size)[pos], 0.0) for v in values]
        gap = np.where(hit, np.maximum(q_when - last[pos], 0.0), 0.0)
        return sums, gap

    (ts, tf, tzs, tzf), tgap = scope(history_topic, query_topic,
                                     [s, f, s * history_hardness, f * history_hardness])
    (is_, if_), igap = scope(history_item, query_item, [s, f])
    return Features(ts, tf, tzs, tzf, tgap, is_, if_, igap, np.full(n, s.sum()), np.full(n, f.sum()))
