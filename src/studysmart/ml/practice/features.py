"""Practice features: what a student has done before each answer, computed from their earlier answers only.

For every row (an answer, or a query: a task about to be answered) and three scopes, the same topic, the same
item and everything, the student's earlier answers give: the number correct ``S`` and wrong ``F`` (an answer
with an unknown outcome counts half to each), the summed hardness of those answers (``ZS``, ``ZF``: each
answer's item hardness, a standardised difficulty), the outcome of the latest of them (``last``: +1 correct,
-1 wrong, 0 none or unknown; recent performance, as in recency-weighted PFA), for the whole history also the
standardised log-time of the latest answer (``last_speed``: a very fast answer is often a guess or a hint
request), and the time since the scope was last practised (``gap``: clock seconds when the order column holds
timestamps, else positions). The model turns these into gains with diminishing returns (log(1 + count)) that
decay with the gap (``decay``).

Rows must be sorted by person, then time; ``sequence_features`` is vectorised over whole data sets (grouped
cumulative sums), ``query_features`` prices queries from a history, and both give the same numbers for the same
earlier rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GAP_SCALE_POSITIONS", "GAP_SCALE_SECONDS", "TIMESTAMP_THRESHOLD", "Features", "Summary", "decay",
           "query_features", "sequence_features", "summarise", "summary_features"]

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
    topic_last: np.ndarray
    item_last: np.ndarray
    all_last: np.ndarray
    all_gap: np.ndarray  # time since the student's latest answer (0 when none)
    last_speed: np.ndarray  # the standardised log-time of that answer (0: none or no time)

    @classmethod
    def zeros(cls, n: int) -> Features:
        """No earlier practice for ``n`` rows (also the features of data without an order)."""
        return cls(*(np.zeros(n) for _ in range(15)))

    def take(self, rows: np.ndarray) -> Features:
        """The given rows."""
        return Features(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))

    def __len__(self) -> int:
        return int(self.topic_s.shape[0])


def decay(gap: np.ndarray, delta: float, scale: float) -> np.ndarray:
    """The share of a practice gain left after ``gap``: (1 + gap / scale)^-delta."""
    result: np.ndarray = np.exp(-delta * np.log1p(np.maximum(gap, 0.0) / scale))
    return result


def _outcome_weights(correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: weight toward S (correct) and toward F (wrong); unknown outcomes count half to each."""
    known = ~np.isnan(correct)
    s = np.where(known, np.nan_to_num(correct), 0.5)
    return s, 1.0 - s


def _signed(correct: np.ndarray) -> np.ndarray:
    """+1 correct, -1 wrong, 0 unknown."""
    return np.where(np.isnan(correct), 0.0, 2.0 * np.nan_to_num(correct) - 1.0)


def _grouped_before(key: np.ndarray, order: np.ndarray, values: list[np.ndarray], latest: np.ndarray,
                    ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Per row: sums of ``values`` over the earlier rows with the same key, the gap since the latest of them
    (0 when none) and that row's ``latest`` value (0 when none). Rows must be in time order within each key (keys
    may interleave)."""
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
    value = latest[idx]
    out_last = np.empty(key.size)
    out_last[idx] = np.where(first, 0.0, np.r_[value[:1], value[:-1]])
    return sums, out_gap, out_last


def sequence_features(person: np.ndarray, topic: np.ndarray, item: np.ndarray, correct: np.ndarray,
                      order: np.ndarray, hardness: np.ndarray, speed: np.ndarray) -> Features:
    """Features of every row from the same person's earlier rows.

    Args:
        person, topic, item: integer codes per row (rows sorted by person, then time).
        correct: 1.0 / 0.0 / NaN per row.
        order: time of each row (NaN rows are treated as at the previous row's time).
        hardness: the row's item hardness (standardised difficulty; 0 = average).
        speed: the row's standardised log-time (0 = the item's usual time; NaN: no time).

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
    sign = _signed(correct)
    (ts, tf, tzs, tzf), tgap, tlast = _grouped_before(p64 * n_topics + topic, when, [s, f, s * hardness,
                                                                                     f * hardness], sign)
    (is_, if_), igap, ilast = _grouped_before(p64 * n_items + item, when, [s, f], sign)
    (as_, af), agap, alast = _grouped_before(p64, when, [s, f], sign)
    _, _, aspeed = _grouped_before(p64, when, [], np.nan_to_num(speed))
    return Features(ts, tf, tzs, tzf, tgap, is_, if_, igap, as_, af, tlast, ilast, alast, agap, aspeed)


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


@dataclass(frozen=True)
class Summary:
    """A student's practice so far, per topic key and per item key: sorted keys, summed S, F, ZS, ZF (items:
    S, F) and the time of the latest answer; totals and the latest time overall."""

    topic_keys: np.ndarray
    topic_sums: np.ndarray  # (n_topic_keys, 5): S, F, ZS, ZF, the latest outcome
    topic_last: np.ndarray
    item_keys: np.ndarray
    item_sums: np.ndarray  # (n_item_keys, 3): S, F, the latest outcome
    item_last: np.ndarray
    total_s: float
    total_f: float
    last: float
    last_outcome: float
    last_speed: float


def summarise(topic: np.ndarray, item: np.ndarray, correct: np.ndarray, order: np.ndarray,
              hardness: np.ndarray, speed: np.ndarray) -> Summary | None:
    """The summary of ONE student's history rows (in time order); None for no rows."""
    if topic.shape[0] == 0:
        return None
    s, f = _outcome_weights(correct)
    sign = _signed(correct)
    when = _filled(np.zeros(topic.shape[0], np.int64), order)

    def scope(key: np.ndarray, values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        keys, inverse = np.unique(key, return_inverse=True)
        last = np.full(keys.size, -np.inf)
        np.maximum.at(last, inverse, when)
        latest = np.zeros(keys.size)
        latest[inverse] = sign  # rows are in time order: the last write of a key is its latest answer
        sums = np.column_stack([*(np.bincount(inverse, v, keys.size) for v in values), latest])
        return keys, sums, last

    t_keys, t_sums, t_last = scope(topic, [s, f, s * hardness, f * hardness])
    i_keys, i_sums, i_last = scope(item, [s, f])
    return Summary(t_keys, t_sums, t_last, i_keys, i_sums, i_last, float(s.sum()), float(f.sum()),
                   float(when[-1]), float(sign[-1]), float(np.nan_to_num(speed[-1])))


def summary_features(summary: Summary | None, query_topic: np.ndarray, query_item: np.ndarray,
                     query_order: np.ndarray) -> Features:
    """Features of queries of the summarised student: each query sees the whole history (never the other
    queries); a query without an order is priced as right after the last answer (gap 0)."""
    n = query_topic.shape[0]
    if summary is None or n == 0:
        return Features.zeros(n)
    q_when = np.where(np.isnan(query_order), summary.last, query_order)

    def scope(keys: np.ndarray, sums: np.ndarray, last: np.ndarray, q_key: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray]:
        pos = np.minimum(np.searchsorted(keys, q_key), keys.size - 1)
        hit = keys[pos] == q_key
        return np.where(hit[:, None], sums[pos], 0.0), np.where(hit, np.maximum(q_when - last[pos], 0.0), 0.0)

    t, tgap = scope(summary.topic_keys, summary.topic_sums, summary.topic_last, query_topic)
    i, igap = scope(summary.item_keys, summary.item_sums, summary.item_last, query_item)
    return Features(t[:, 0], t[:, 1], t[:, 2], t[:, 3], tgap, i[:, 0], i[:, 1], igap, np.full(n, summary.total_s),
                    np.full(n, summary.total_f), t[:, 4], i[:, 2], np.full(n, summary.last_outcome),
                    np.maximum(q_when - summary.last, 0.0), np.full(n, summary.last_speed))


def query_features(history_topic: np.ndarray, history_item: np.ndarray, history_correct: np.ndarray,
                   history_order: np.ndarray, history_hardness: np.ndarray, history_speed: np.ndarray,
                   query_topic: np.ndarray, query_item: np.ndarray, query_order: np.ndarray) -> Features:
    """Features of queries of ONE person from all of that person's history rows (in time order)."""
    summary = summarise(history_topic, history_item, history_correct, history_order, history_hardness,
                        history_speed)
    return summary_features(summary, query_topic, query_item, query_order)
