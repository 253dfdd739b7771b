"""Training batches of the neural sequence models (NumPy only): validation targets, windows, padding.

Each person's responses form one sequence; sequences longer than ``window`` are cut into half-overlapping
windows so that every response is a target exactly once with at least window/2 responses of context (except at
the very start). Windows are bucketed by length and padded into ``Batch`` arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from studysmart.ml.neural.data import N_TIME, Seq, step_time_features

__all__ = ["Batch", "build_batches", "pad_windows", "validation_masks"]


@dataclass
class Batch:
    """Padded sequences (B, T) of encoded responses; masks say which steps are trained / validated.

    Attributes: person (B,), item/topic/difficulty (B, T) codes, correct and z_time (B, T) with NaN for missing
    (and padding), time (B, T, N_TIME), n_prior (B, T) = steps before each one in the window,
    train/valid (B, T) boolean loss masks, length (B,), weight (B, T) of each step as a target (0 = padding).
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
    weight: np.ndarray


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
        part = seq.take(cut)
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
    weight = np.zeros((size, longest), dtype=np.float32)
    for row, (code, seq, feats) in enumerate(windows):
        n = len(seq)
        person[row], length[row] = code, n
        weight[row, :n] = seq.target_weight()
        item[row, :n], topic[row, :n], difficulty[row, :n] = seq.item, seq.topic, seq.difficulty
        correct[row, :n] = seq.correct
        z_time[row, :n] = (seq.log_time - mean_log_time) / sd_log_time
        time[row, :n] = feats
    n_prior = np.log1p(np.broadcast_to(np.arange(longest, dtype=np.float32), (size, longest))) / 5.0
    no_mask = np.zeros((size, longest), dtype=bool)
    return Batch(person, item, topic, difficulty, correct, z_time, time, n_prior.astype(np.float32),
                 no_mask, no_mask.copy(), length, weight)


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
    for (code, stored), stored_mask in zip(seqs, masks, strict=True):
        seq, mask = stored, stored_mask
        if shuffle is not None and len(seq) > 1:  # no real order: a new random one (validation flags follow)
            turn = shuffle.permutation(len(seq))
            seq = Seq(seq.item[turn], seq.topic[turn], seq.difficulty[turn], seq.correct[turn],
                      seq.log_time[turn], np.arange(len(seq), dtype=np.float64),
                      None if seq.weight is None else seq.weight[turn])
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
