"""Samples of whole students, for fitting the population (item-level) parameters on bounded data: each sampled
student keeps every answer, so the features built from a student's sequence (practice counts, time away) are the
same as in the full data; students left out are still predicted from their own history at serving time.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from studysmart.ml.data import Responses

__all__ = ["compact", "sample_students"]


def sample_students(data: Responses, max_rows: int, *, seed: int = 0) -> np.ndarray:
    """Row indices (ascending) of whole students drawn uniformly at random without replacement, taken in the
    draw's order while they fit, so at most ``max_rows`` rows (every row when the data fit; a student with more
    rows than ``max_rows`` is never sampled). The same data and seed give the same sample.

    Raises:
        ValueError: ``max_rows`` < 1.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    if len(data) <= max_rows:
        return np.arange(len(data))
    counts = np.bincount(data.person, minlength=data.n_persons)
    drawn = np.random.default_rng(seed).permutation(data.n_persons)
    drawn = drawn[(counts[drawn] > 0) & (counts[drawn] <= max_rows)]
    total = np.cumsum(counts[drawn])
    # the prefix that fits, then the students after it that still fit in what is left (greedily)
    fits = int(np.searchsorted(total, max_rows, side="right"))
    chosen = list(drawn[:fits])
    room = max_rows - (int(total[fits - 1]) if fits else 0)
    for person in drawn[fits:]:
        if room <= 0:
            break
        if counts[person] <= room:
            chosen.append(person)
            room -= int(counts[person])
    keep = np.zeros(data.n_persons, dtype=bool)
    keep[np.asarray(chosen, dtype=np.int64)] = True
    return np.flatnonzero(keep[data.person])


def compact(data: Responses) -> Responses:
    """The same rows with only the persons and items that occur in them (codes renumbered, labels in order)."""
    used_p = np.flatnonzero(np.bincount(data.person, minlength=data.n_persons) > 0)
    used_i = np.flatnonzero(np.bincount(data.item, minlength=data.n_items) > 0)
    if len(used_p) == data.n_persons and len(used_i) == data.n_items:
        return data
    map_p = np.full(data.n_persons, -1, dtype=np.int32)
    map_p[used_p] = np.arange(len(used_p), dtype=np.int32)
    map_i = np.full(data.n_items, -1, dtype=np.int32)
    map_i[used_i] = np.arange(len(used_i), dtype=np.int32)
    return replace(
        data, person=map_p[data.person], item=map_i[data.item], persons=data.persons[used_p],
        items=data.items[used_i],
        item_topic=None if data.item_topic is None else data.item_topic[used_i],
        item_difficulty=None if data.item_difficulty is None else data.item_difficulty[used_i],
        person_covariates={k: v[used_p] for k, v in data.person_covariates.items()},
    )
