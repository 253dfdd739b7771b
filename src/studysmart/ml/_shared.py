"""Helpers shared by the baseline models: population priors, label look-ups, item groups, per-row sources,
and the pickle-free serialisation of fitted state.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable
from typing import Any, ClassVar, Self

import numpy as np

from studysmart.ml.base import (
    SOURCE_ITEM_PRIOR,
    SOURCE_MODEL,
    SOURCE_POPULATION_PRIOR,
    CorruptModel,
    pack,
    unpack,
)
from studysmart.ml.data import Queries, Responses

#: Population priors used when there are no responses at all (a fresh app) and as the top of every hierarchy:
#: P(correct) = 0.7; a median time of 60 s with sd 1.0 of log-seconds (80% interval about 17-216 s);
#: each is worth PRIOR_STRENGTH pseudo-responses, so real data overrides them quickly.
PRIOR_P = 0.7
PRIOR_SECONDS = 60.0
PRIOR_SD_LOG_TIME = 1.0
PRIOR_STRENGTH = 5.0

_MISSING = {"", "nan", "none", "null"}


def clean_label(value: object) -> str | None:
    """A feature label, or None when missing (None, NaN, empty, "nan", "None")."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return None if text.lower() in _MISSING else text


def group_key(item: object, topic: object, difficulty: object) -> str:
    """The item's group: "topic|difficulty" when either feature is known, else the item label itself.

    In the app an item label already is "topic|difficulty", so the two agree.
    """
    t, d = clean_label(topic), clean_label(difficulty)
    if t is None and d is None:
        return str(item)
    return f"{t or ''}|{d or ''}"


def index_of(labels: Iterable[object]) -> dict[str, int]:
    """Label -> position."""
    return {str(label): i for i, label in enumerate(labels)}


def lookup(index: dict[str, int], values: np.ndarray) -> np.ndarray:
    """Positions of ``values`` in ``index`` (-1 where unknown), as int64."""
    get = index.get
    return np.fromiter((get(str(v), -1) for v in values), dtype=np.int64, count=len(values))


def item_groups(data: Responses) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Per item of ``data``: its group key, its difficulty label (or None), and whether any feature exists."""
    n = data.n_items
    topics = data.item_topic if data.item_topic is not None else np.full(n, None, dtype=object)
    diffs = data.item_difficulty if data.item_difficulty is not None else np.full(n, None, dtype=object)
    triples = zip(data.items, topics, diffs, strict=True)
    keys = np.array([group_key(i, t, d) for i, t, d in triples], dtype=object)
    has_features = any(clean_label(t) is not None or clean_label(d) is not None
                       for t, d in zip(topics, diffs, strict=True))
    difficulty = None
    if data.item_difficulty is not None:
        difficulty = np.array([clean_label(d) or "" for d in diffs], dtype=object)
    return keys, difficulty, has_features


def query_groups(queries: Queries, known_item_group: dict[str, str]) -> np.ndarray:
    """Per query row: the group from its topic/difficulty, else the fitted item's group, else the label."""
    n = len(queries)
    topics = queries.topic if queries.topic is not None else np.full(n, None, dtype=object)
    diffs = queries.difficulty if queries.difficulty is not None else np.full(n, None, dtype=object)
    out = np.empty(n, dtype=object)
    for r, (item, t, d) in enumerate(zip(queries.item, topics, diffs, strict=True)):
        if clean_label(t) is None and clean_label(d) is None:
            out[r] = known_item_group.get(str(item), str(item))
        else:
            out[r] = group_key(item, t, d)
    return out


def sources(person_known: np.ndarray, item_known: np.ndarray) -> np.ndarray:
    """Per row: model (person data used on a known item/group), item-prior, or population-prior."""
    out = np.full(person_known.shape[0], SOURCE_POPULATION_PRIOR, dtype=object)
    out[item_known] = SOURCE_ITEM_PRIOR
    out[item_known & person_known] = SOURCE_MODEL
    return out


def population(data: Responses, prior_p: float, prior_seconds: float, prior_sd: float,
               strength: float) -> tuple[float, float, float]:
    """Population P(correct), mean and variance of log-time: data (with its row weights) plus ``strength``
    prior pseudo-responses."""
    w = data.row_weight()
    has_c, has_t = ~np.isnan(data.correct), ~np.isnan(data.log_time)
    c, wc = data.correct[has_c], w[has_c]
    t, wt = data.log_time[has_t], w[has_t]
    p = (np.sum(wc * c) + strength * prior_p) / (wc.sum() + strength)
    mu0 = math.log(prior_seconds)
    mu = (np.sum(wt * t) + strength * mu0) / (wt.sum() + strength)
    ss = float(np.sum(wt * (t - mu) ** 2)) + strength * (prior_sd**2 + (mu0 - mu) ** 2)
    return float(p), float(mu), ss / (float(wt.sum()) + strength)


def rows_of(history: Responses, person: str) -> Responses:
    """The rows of ``history`` that belong to ``person`` (all vocabularies kept)."""
    return history.subset(history.persons[history.person] == person)


class NotFittedError(RuntimeError):
    """The model was used before ``fit``."""


class FittedState:
    """Mixin: hyperparameters from ``__init__``, fitted attributes listed in ``_STATE`` (arrays) and
    ``_SCALARS`` (JSON numbers/strings), serialised with ``pack``/``unpack``."""

    name: ClassVar[str]
    _STATE: ClassVar[tuple[str, ...]] = ()
    _SCALARS: ClassVar[tuple[str, ...]] = ()

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters given to ``__init__``."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {p: getattr(self, p) for p in names}

    def _check_fitted(self) -> None:
        if not all(hasattr(self, a) for a in self._STATE + self._SCALARS):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    def _rebuild(self) -> None:
        """Recompute derived caches (label indexes) after fit or load."""

    def to_bytes(self) -> bytes:
        """Serialise the fitted model (JSON header + npz arrays, no pickle)."""
        self._check_fitted()
        meta = {
            "model": self.name,
            "format": 1,
            "params": self.get_params(),
            "scalars": {a: getattr(self, a) for a in self._SCALARS},
        }
        return pack(meta, {a: getattr(self, a) for a in self._STATE})

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        """Load a model written by ``to_bytes``; raises CorruptModel on bad or foreign input."""
        meta, arrays = unpack(blob)
        if meta.get("model") != cls.name or meta.get("format") != 1:
            raise CorruptModel(f"not a {cls.name!r} model (found {meta.get('model')!r})")
        try:
            obj = cls(**meta["params"])
            for a in cls._SCALARS:
                setattr(obj, a, meta["scalars"][a])
            for a in cls._STATE:
                setattr(obj, a, arrays[a])
        except (KeyError, TypeError) as exc:
            raise CorruptModel(f"incomplete {cls.name!r} model data: {exc}") from exc
        obj._rebuild()
        return obj


def unit_means(units: np.ndarray, n_units: int, data: Responses, p0: float, mu0: float, var0: float,
               strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Per unit (e.g. item): P(correct), mean and variance of log-time (rows weighted by ``data.weight``), each
    pulled toward the population by ``strength`` pseudo-responses; and whether the unit has any observed
    outcome or time.

    Returns:
        (values of shape (n_units, 3) with columns p, mu, var; seen mask).
    """
    c = ~np.isnan(data.correct)
    t = ~np.isnan(data.log_time)
    w = data.row_weight()
    n_c = np.bincount(units[c], weights=w[c], minlength=n_units)
    k = np.bincount(units[c], weights=w[c] * data.correct[c], minlength=n_units)
    n_t = np.bincount(units[t], weights=w[t], minlength=n_units)
    s1 = np.bincount(units[t], weights=w[t] * data.log_time[t], minlength=n_units)
    s2 = np.bincount(units[t], weights=w[t] * data.log_time[t] ** 2, minlength=n_units)
    p = (k + strength * p0) / (n_c + strength)
    mu = (s1 + strength * mu0) / (n_t + strength)
    ss = np.maximum(s2 - 2 * mu * s1 + n_t * mu**2, 0.0) + strength * (var0 + (mu0 - mu) ** 2)
    var = ss / (n_t + strength)
    seen = (np.bincount(units[c], minlength=n_units) + np.bincount(units[t], minlength=n_units)) > 0
    return np.column_stack([p, mu, var]), seen


def group_medians(units: np.ndarray, values: np.ndarray, n_units: int) -> np.ndarray:
    """Median of ``values`` per unit, ignoring NaN (NaN for units without values)."""
    ok = ~np.isnan(values)
    u, v = units[ok], values[ok]
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    counts = np.bincount(u, minlength=n_units)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(n_units, np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = (v[lo] + v[hi]) / 2
    return out
