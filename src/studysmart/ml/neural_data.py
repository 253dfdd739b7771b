"""The NumPy side of the neural sequence models: vocabularies, per-person histories, time features, batches.

The neural models read a student's past responses in order. This module turns ``Responses`` and ``Queries``
into integer codes (0 = unknown, so cold start maps onto learned "unknown" embeddings) and per-step features,
and cuts the training sequences into padded, length-bucketed batches. It never imports torch.

Order: ``Responses.order`` holds either unix timestamps (values > 1e8: gaps in seconds, time of day and day of
week become features) or positions (gaps in steps); without an order, the row order within a person is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from studysmart.ml.data import Responses

__all__ = [
    "N_TIME",
    "SMOOTHING",
    "TOPIC_SMOOTHING",
    "TIMESTAMP_THRESHOLD",
    "UNKNOWN",
    "Batch",
    "Seq",
    "Vocab",
    "build_batches",
    "clean_label",
    "encode_histories",
    "item_statistics",
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
    """One person's responses in order, encoded: item/topic/difficulty codes, outcomes and order values."""

    item: np.ndarray
    topic: np.ndarray
    difficulty: np.ndarray
    correct: np.ndarray
    log_time: np.ndarray
    order: np.ndarray

    def __len__(self) -> int:
        return int(self.item.shape[0])

    def tail(self, window: int) -> Seq:
        """The last ``window`` responses."""
        if len(self) <= window:
            return self
        cut = slice(len(self) - window, None)
        return Seq(self.item[cut], self.topic[cut], self.difficulty[cut], self.correct[cut],
                   self.log_time[cut], self.order[cut])

    @classmethod
    def empty(cls) -> Seq:
        """No responses."""
        ints, floats = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return cls(ints, ints, ints, floats, floats, floats)


def item_feature_codes(data: Responses, items: Vocab, topics: Vocab, difficulties: Vocab,
                       item_topic: np.ndarray, item_difficulty: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row of ``data``: the model's item code, and topic / difficulty codes.

    Known items keep the topic and difficulty the model was trained with; unknown items use the labels in
    ``data`` (so a new item is priced from its topic and difficulty).
    """
    n = len(data)
    item_of_label = items.encode(data.items, data.n_items)
    item = item_of_label[data.item] if n else np.zeros(0, dtype=np.int64)
    topic_of_label = topics.encode(data.item_topic, data.n_items)
    diff_of_label = difficulties.encode(data.item_difficulty, data.n_items)
    topic = np.where(item > 0, item_topic[item], topic_of_label[data.item] if n else item)
    difficulty = np.where(item > 0, item_difficulty[item], diff_of_label[data.item] if n else item)
    return item, topic, difficulty


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
    item, topic, difficulty = item_feature_codes(data, items, topics, difficulties, item_topic, item_difficulty)
    keep = np.isfinite(data.correct) | np.isfinite(data.log_time)
    if persons is not None:
        wanted = np.isin(data.persons.astype(str), np.asarray(list(persons), dtype=str))
        keep &= wanted[data.person] if len(data) else keep
    rows = np.flatnonzero(keep)
    order = data.order if data.order is not None else np.arange(len(data), dtype=np.float64)
    rows = rows[np.lexsort((order[rows], data.person[rows]))]
    person = data.person[rows]
    out: dict[str, Seq] = {}
    if not rows.size:
        return out
    starts = np.flatnonzero(np.r_[True, person[1:] != person[:-1]])
    ends = np.r_[starts[1:], rows.size].astype(int)
    for start, end in zip(starts, ends, strict=True):
        r = rows[start:end]
        person_order = order[r] if data.order is not None else np.arange(r.size, dtype=np.float64)
        out[str(data.persons[person[start]])] = Seq(
            item[r], topic[r], difficulty[r], data.correct[r].astype(np.float64),
            data.log_time[r].astype(np.float64), person_order.astype(np.float64))
    return out


def _sums(codes: np.ndarray, values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    seen = np.isfinite(values)
    return (np.bincount(codes[seen], weights=values[seen], minlength=size),
            np.bincount(codes[seen], minlength=size).astype(np.float64))


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
    size = item_topic.shape[0]
    overall = np.array([p_correct, 0.0])
    sums, counts = zip(*(_sums(item, v, size) for v in (correct, (log_time - mean_log_time) / sd_log_time)),
                       strict=True)
    has_data = counts[0] + counts[1] > 0
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
class Batch:
    """Padded sequences (B, T) of encoded responses; masks say which steps are trained / validated.

    Attributes: person (B,), item/topic/difficulty (B, T) codes, correct and z_time (B, T) with NaN for missing
    (and padding), time (B, T, N_TIME), n_prior (B, T) = steps before each one in the window,
    train/valid (B, T) boolean loss masks, length (B,).
    """

    person: np.ndarray
    item: np.ndarray
    topic: np.ndarray
    difficulty: np.ndarray
    correct: np.ndarray
    z_time: np.ndarray
    time: np.ndarray
    n_prior: np.ndarray
    train: np.ndarray
    valid: np.ndarray
    length: np.ndarray


@dataclass
class _Window:
    person: int
    seq: Seq
    time: np.ndarray
    train: np.ndarray
    valid: np.ndarray


def _windows(person: int, seq: Seq, window: int, is_valid: np.ndarray, timestamps: bool) -> list[_Window]:
    """Cut one sequence into windows of at most ``window`` steps, half-overlapping after the first one;
    each step is a training (or validation) target in exactly one window, with at least window/2 steps of context
    except at the very start."""
    time = step_time_features(seq, timestamps)
    n = len(seq)
    half = max(window // 2, 1)
    out: list[_Window] = []
    start = 0
    while True:
        end = min(start + window, n)
        cut = slice(start, end)
        target = np.ones(end - start, dtype=bool)
        if start > 0:
            target[: window - half] = False
        part = Seq(seq.item[cut], seq.topic[cut], seq.difficulty[cut], seq.correct[cut], seq.log_time[cut],
                   seq.order[cut])
        out.append(_Window(person, part, time[cut], target & ~is_valid[cut], target & is_valid[cut]))
        if end >= n:
            return out
        start += half


def pad_windows(windows: Sequence[tuple[int, Seq, np.ndarray]], mean_log_time: float,
                sd_log_time: float) -> Batch:
    """Stack (person code, sequence, time features) into one padded Batch without loss masks."""
    size = len(windows)
    longest = max((len(s) for _, s, _ in windows), default=0)
    longest = max(longest, 1)
    ints = np.zeros((size, longest), dtype=np.int64)
    item, topic, difficulty = ints.copy(), ints.copy(), ints.copy()
    correct = np.full((size, longest), np.nan, dtype=np.float32)
    z_time = np.full((size, longest), np.nan, dtype=np.float32)
    time = np.zeros((size, longest, N_TIME), dtype=np.float32)
    length = np.zeros(size, dtype=np.int64)
    person = np.zeros(size, dtype=np.int64)
    for row, (code, seq, feats) in enumerate(windows):
        n = len(seq)
        person[row], length[row] = code, n
        item[row, :n], topic[row, :n], difficulty[row, :n] = seq.item, seq.topic, seq.difficulty
        correct[row, :n] = seq.correct
        z_time[row, :n] = (seq.log_time - mean_log_time) / sd_log_time
        time[row, :n] = feats
    n_prior = np.log1p(np.broadcast_to(np.arange(longest, dtype=np.float32), (size, longest))) / 5.0
    no_mask = np.zeros((size, longest), dtype=bool)
    return Batch(person, item, topic, difficulty, correct, z_time, time, n_prior.astype(np.float32),
                 no_mask, no_mask.copy(), length)


def validation_masks(seqs: Sequence[Seq], fraction: float, split: str, seed: int) -> list[np.ndarray]:
    """Which responses of each sequence are validation targets (never training targets).

    ``split="last"``: the last ``fraction`` of each person's responses (at least one for persons with 4 or
    more), the natural choice for data in time order. ``"random"``: the same number, drawn at random within each
    person (for cross-sectional data, where "last" may mean the same few items for everyone). ``"auto"``:
    "last", unless fewer than half of those validation responses are on items that still have training targets.
    """
    counts = [math.ceil(len(s) * fraction) if len(s) >= 4 and fraction > 0 else 0 for s in seqs]
    last = [np.arange(len(s)) >= len(s) - k for s, k in zip(seqs, counts, strict=True)]
    if split == "auto":
        items = [s.item for s in seqs]
        trained = set(np.concatenate([i[~m] for i, m in zip(items, last, strict=True)]).tolist()) if seqs else set()
        held = np.concatenate([i[m] for i, m in zip(items, last, strict=True)]) if seqs else np.zeros(0)
        split = "last" if held.size == 0 or np.isin(held, list(trained)).mean() >= 0.5 else "random"
    if split == "last":
        return last
    if split != "random":
        raise ValueError(f"valid_split must be 'auto', 'last' or 'random', not {split!r}")
    rng = np.random.default_rng(seed)
    masks = []
    for s, k in zip(seqs, counts, strict=True):
        mask = np.zeros(len(s), dtype=bool)
        mask[rng.choice(len(s), size=k, replace=False)] = True
        masks.append(mask)
    return masks


def build_batches(seqs: Sequence[tuple[int, Seq]], *, window: int, batch_size: int, valid_fraction: float,
                  valid_split: str, seed: int, mean_log_time: float, sd_log_time: float,
                  timestamps: bool, shuffle: np.random.Generator | None = None) -> list[Batch]:
    """Training batches: every person's sequence cut into windows, bucketed by length, padded.

    Validation targets (see ``validation_masks``) are never training targets; the encoders are causal.

    Args:
        seqs: (person code, Seq) per person.
        window, batch_size, valid_fraction, valid_split, seed: see the model's hyperparameters.
        mean_log_time, sd_log_time: standardisation of log-time.
        timestamps: whether order values are unix seconds.
        shuffle: for data without an order: put each person's responses in a random order drawn from this
            generator (a new one every epoch is augmentation, and keeps the encoder from learning row order).

    Returns:
        Batches sorted by window length (shuffle their order per epoch).
    """
    masks = validation_masks([s for _, s in seqs], valid_fraction, valid_split, seed)
    windows: list[_Window] = []
    for (code, seq), mask in zip(seqs, masks, strict=True):
        if shuffle is not None and len(seq) > 1:  # no real order: a new random one (validation flags follow)
            turn = shuffle.permutation(len(seq))
            seq = Seq(seq.item[turn], seq.topic[turn], seq.difficulty[turn], seq.correct[turn],
                      seq.log_time[turn], np.arange(len(seq), dtype=np.float64))
            mask = mask[turn]
        windows.extend(_windows(code, seq, window, mask, timestamps))
    windows.sort(key=lambda w: len(w.seq))
    batches = []
    for start in range(0, len(windows), batch_size):
        chunk = windows[start:start + batch_size]
        batch = pad_windows([(w.person, w.seq, w.time) for w in chunk], mean_log_time, sd_log_time)
        for row, w in enumerate(chunk):
            batch.train[row, : len(w.seq)] = w.train
            batch.valid[row, : len(w.seq)] = w.valid
        batches.append(batch)
    return batches
