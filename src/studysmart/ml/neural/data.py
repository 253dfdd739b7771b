"""The NumPy side of the neural sequence models: vocabularies, per-person histories, time features, item
statistics, and the mixing of head outputs.

The neural models read a student's past responses in order. This module turns ``Responses`` and ``Queries``
into integer codes (0 = unknown, so cold start maps onto learned "unknown" embeddings) and per-step features
(``batches`` cuts them into training batches). It never imports torch.

Order: ``Responses.order`` holds either unix timestamps (values > 1e8: gaps in seconds, time of day and day of
week become features) or positions (gaps in steps); without an order, the row order within a person is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from studysmart.ml.data import Responses

__all__ = [
    "N_TIME",
    "SMOOTHING",
    "TIMESTAMP_THRESHOLD",
    "TOPIC_SMOOTHING",
    "UNKNOWN",
    "QueryRows",
    "Seq",
    "Vocab",
    "clean_label",
    "encode_histories",
    "item_statistics",
    "mix_outputs",
    "time_features",
]

UNKNOWN = 0  #: the code of every label a vocabulary does not know (and of padding)
TIMESTAMP_THRESHOLD = 1e8  #: order values above this are unix timestamps, else positions
N_TIME = 6  #: time features: log-gap, gap missing, time of day (sin, cos), day of week (sin, cos)
SMOOTHING = 5.0  #: pseudo-responses pulling an item's averages toward its topic's
TOPIC_SMOOTHING = 2.0  #: pseudo-items pulling a topic's averages toward the global ones
_MISSING = {"", "nan", "none", "null"}


def clean_label(value: object) -> str | None:
    """A label as str, or None when missing (None, NaN, empty, "nan", "None")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return None if text.lower() in _MISSING else text


class Vocab:
    """Labels -> codes 1..n; 0 is the unknown label.

    Args:
        labels: the known labels (duplicates and missing values are dropped; codes follow sorted order).
    """

    def __init__(self, labels: Iterable[object]) -> None:
        cleaned = {c for c in (clean_label(v) for v in labels) if c is not None}
        self.labels = np.asarray(sorted(cleaned), dtype=object)
        self._codes = {label: i + 1 for i, label in enumerate(self.labels)}

    @property
    def size(self) -> int:
        """Number of codes including the unknown one."""
        return len(self.labels) + 1

    def code(self, value: object) -> int:
        """The code of one label (0 when unknown or missing)."""
        label = clean_label(value)
        return UNKNOWN if label is None else self._codes.get(label, UNKNOWN)

    def encode(self, values: Sequence[object] | np.ndarray | None, n: int) -> np.ndarray:
        """Codes of ``values`` as int64 (all unknown when ``values`` is None; ``n`` is the row count)."""
        if values is None:
            return np.zeros(n, dtype=np.int64)
        return np.fromiter((self.code(v) for v in values), dtype=np.int64, count=n)

    def label(self, code: int) -> str | None:
        """The label of a code (None for the unknown code)."""
        return None if code <= UNKNOWN or code > len(self.labels) else str(self.labels[code - 1])


@dataclass
class Seq:
    """One person's responses in order, encoded: item/topic/difficulty codes, outcomes and order values, and
    (when fitting on weighted data) each response's weight as a training target (None = 1)."""

    item: np.ndarray
    topic: np.ndarray
    difficulty: np.ndarray
    correct: np.ndarray
    log_time: np.ndarray
    order: np.ndarray
    weight: np.ndarray | None = None

    def take(self, rows: slice | np.ndarray) -> Seq:
        """The given responses (a slice or an index array), weights included."""
        return Seq(self.item[rows], self.topic[rows], self.difficulty[rows], self.correct[rows],
                   self.log_time[rows], self.order[rows], None if self.weight is None else self.weight[rows])

    def target_weight(self) -> np.ndarray:
        """The weight of every response as a training target (ones without weights)."""
        return np.ones(len(self)) if self.weight is None else self.weight

    def __len__(self) -> int:
        return int(self.item.shape[0])

    def tail(self, window: int) -> Seq:
        """The last ``window`` responses."""
        if len(self) <= window:
            return self
        return self.take(slice(len(self) - window, None))

    @classmethod
    def empty(cls) -> Seq:
        """No responses."""
        ints, floats = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return cls(ints, ints, ints, floats, floats, floats)


def item_feature_codes(data: Responses, rows: np.ndarray, items: Vocab, topics: Vocab, difficulties: Vocab,
                       item_topic: np.ndarray, item_difficulty: np.ndarray) -> tuple[np.ndarray, ...]:
    """For the given rows of ``data``: the model's item codes, and topic / difficulty codes.

    Known items keep the topic and difficulty the model was trained with; unknown items use the labels in
    ``data`` (so a new item is priced from its topic and difficulty). Only the items used by ``rows`` are looked
    up, so a few rows of a large data set are cheap.
    """
    used, local = np.unique(data.item[rows], return_inverse=True)
    n = used.size
    item = items.encode(data.items[used], n)
    topic = topics.encode(None if data.item_topic is None else data.item_topic[used], n)
    difficulty = difficulties.encode(None if data.item_difficulty is None else data.item_difficulty[used], n)
    topic = np.where(item > 0, item_topic[item], topic)
    difficulty = np.where(item > 0, item_difficulty[item], difficulty)
    return item[local], topic[local], difficulty[local]


def encode_histories(data: Responses, persons: Sequence[str] | None, items: Vocab, topics: Vocab,
                     difficulties: Vocab, item_topic: np.ndarray, item_difficulty: np.ndarray) -> dict[str, Seq]:
    """Each person's observed responses in order (rows with neither outcome nor time are dropped).

    Args:
        data: the responses.
        persons: only these person labels (all when None).
        items, topics, difficulties, item_topic, item_difficulty: the model's vocabularies and item features.

    Returns:
        person label -> Seq, sorted by ``order`` (row order when ``order`` is None; ties keep row order).
    """
    keep = np.isfinite(data.correct) | np.isfinite(data.log_time)
    if persons is not None and len(data):
        present = np.unique(data.person[keep])
        wanted = {str(p) for p in persons}
        chosen = present[[str(label) in wanted for label in data.persons[present]]]
        keep &= np.isin(data.person, chosen)
    rows = np.flatnonzero(keep)
    order = data.order if data.order is not None else np.arange(len(data), dtype=np.float64)
    rows = rows[np.lexsort((order[rows], data.person[rows]))]
    item, topic, difficulty = item_feature_codes(data, rows, items, topics, difficulties, item_topic,
                                                 item_difficulty)
    person = data.person[rows]
    out: dict[str, Seq] = {}
    if not rows.size:
        return out
    starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    ends = np.r_[starts[1:], rows.size].astype(int)
    for start, end in zip(starts, ends, strict=True):
        r = rows[start:end]
        person_order = order[r] if data.order is not None else np.arange(r.size, dtype=np.float64)
        within = slice(int(start), int(end))
        out[str(data.persons[person[start]])] = Seq(
            item[within], topic[within], difficulty[within], data.correct[r].astype(np.float64),
            data.log_time[r].astype(np.float64), person_order.astype(np.float64),
            None if data.weight is None else data.weight[r].astype(np.float64))
    return out


def _sums(codes: np.ndarray, values: np.ndarray, weights: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    seen = np.isfinite(values)
    return (np.bincount(codes[seen], weights=weights[seen] * values[seen], minlength=size),
            np.bincount(codes[seen], weights=weights[seen], minlength=size))


def item_statistics(histories: Iterable[Seq], item_topic: np.ndarray, n_topics: int, p_correct: float,
                    mean_log_time: float, sd_log_time: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed (P(correct), mean standardised log-time) per item code and per topic code.

    A topic's averages are the mean of its items' (each smoothed toward the global average), pulled toward the
    global average by TOPIC_SMOOTHING pseudo-items, so a topic seen through two items is not trusted like one
    seen through twenty. An item's averages are pulled toward its topic's by SMOOTHING pseudo-responses. Code 0
    (unknown item / topic) gets the global averages.

    Returns:
        (item_stats of shape (len(item_topic), 2), topic_stats of shape (n_topics, 2)).
    """
    seqs = list(histories)
    item = np.concatenate([s.item for s in seqs]) if seqs else np.zeros(0, dtype=np.int64)
    correct = np.concatenate([s.correct for s in seqs]) if seqs else np.zeros(0)
    log_time = np.concatenate([s.log_time for s in seqs]) if seqs else np.zeros(0)
    weight = np.concatenate([s.target_weight() for s in seqs]) if seqs else np.zeros(0)
    size = item_topic.shape[0]
    overall = np.array([p_correct, 0.0])
    sums, counts = zip(*(_sums(item, v, weight, size)
                         for v in (correct, (log_time - mean_log_time) / sd_log_time)), strict=True)
    has_data = np.bincount(item[np.isfinite(correct) | np.isfinite(log_time)], minlength=size) > 0
    has_data[0] = False
    members = np.bincount(item_topic[has_data], minlength=n_topics)
    topic_stats = np.zeros((n_topics, 2))
    item_stats = np.zeros((size, 2))
    for k in range(2):
        own = (sums[k] + SMOOTHING * overall[k]) / (counts[k] + SMOOTHING)
        topic_sums = np.bincount(item_topic[has_data], weights=own[has_data], minlength=n_topics)
        topic_stats[:, k] = (topic_sums + TOPIC_SMOOTHING * overall[k]) / (members + TOPIC_SMOOTHING)
        topic_stats[0, k] = overall[k]
        item_stats[:, k] = (sums[k] + SMOOTHING * topic_stats[item_topic, k]) / (counts[k] + SMOOTHING)
        item_stats[0, k] = overall[k]
    return item_stats, topic_stats


def time_features(order: np.ndarray, previous: np.ndarray, timestamps: bool) -> np.ndarray:
    """Features of when a response happens: [log-gap, gap missing, time of day sin/cos, day of week sin/cos].

    Args:
        order: order value of each response (NaN = unknown).
        previous: order value of the response before it (NaN = none).
        timestamps: whether order values are unix seconds (else positions: no clock features).

    Returns:
        float32 array of shape (n, N_TIME).
    """
    gap = order - previous
    missing = ~np.isfinite(gap)
    scale = 10.0 if timestamps else 3.0
    out = np.zeros((order.shape[0], N_TIME), dtype=np.float32)
    out[:, 0] = np.where(missing, 0.0, np.log1p(np.clip(np.where(missing, 0.0, gap), 0.0, None)) / scale)
    out[:, 1] = missing
    if timestamps:
        known = np.isfinite(order)
        seconds = np.where(known, order, 0.0)
        day = 2 * np.pi * (seconds % 86400.0) / 86400.0
        week = 2 * np.pi * ((seconds // 86400.0 + 3.0) % 7.0) / 7.0  # 1970-01-01 was a Thursday; Monday = 0
        out[:, 2], out[:, 3] = np.where(known, np.sin(day), 0.0), np.where(known, np.cos(day), 0.0)
        out[:, 4], out[:, 5] = np.where(known, np.sin(week), 0.0), np.where(known, np.cos(week), 0.0)
    return out


def step_time_features(seq: Seq, timestamps: bool) -> np.ndarray:
    """Time features of every response of one sequence (the gap is to the previous response)."""
    previous = np.r_[np.nan, seq.order[:-1]] if len(seq) else seq.order
    return time_features(seq.order, previous, timestamps)


@dataclass
class QueryRows:
    """Encoded query rows: codes, query features and the index of each row's person state."""

    person: np.ndarray
    item: np.ndarray
    topic: np.ndarray
    difficulty: np.ndarray
    features: np.ndarray
    state: np.ndarray

    def take(self, rows: np.ndarray) -> QueryRows:
        """The given rows."""
        return QueryRows(*(getattr(self, f.name)[rows] for f in fields(self)))


def mix_outputs(first: np.ndarray, second: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Head outputs (logit, mean, log-variance) of the mixture weight * first + (1 - weight) * second: the
    probabilities mix, and the log-time Gaussian is moment-matched (its variance includes the disagreement)."""
    w = weight[:, None]
    p = w[:, 0] / (1 + np.exp(-first[:, 0])) + (1 - w[:, 0]) / (1 + np.exp(-second[:, 0]))
    p = np.clip(p, 1e-6, 1 - 1e-6)
    mean = w[:, 0] * first[:, 1] + (1 - w[:, 0]) * second[:, 1]
    var = (w[:, 0] * np.exp(first[:, 2]) + (1 - w[:, 0]) * np.exp(second[:, 2])
           + w[:, 0] * (1 - w[:, 0]) * (first[:, 1] - second[:, 1]) ** 2)
    return np.stack([np.log(p / (1 - p)), mean, np.log(var)], axis=1)
