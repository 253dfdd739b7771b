"""The model protocol every predictor follows, the prediction it returns, and the registry of models by name.

Adding a model is one new module and one line in ``MODELS``; nothing else branches on model names.
Models serialise to bytes without pickle: a JSON header plus NumPy arrays in an ``.npz`` (``allow_pickle=False``).
"""

from __future__ import annotations

import importlib
import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from studysmart.ml.data import Queries, Responses

__all__ = [
    "MODELS",
    "NEEDS_TORCH",
    "SOURCE_ITEM_PRIOR",
    "SOURCE_MODEL",
    "SOURCE_POPULATION_PRIOR",
    "CorruptModel",
    "Model",
    "Prediction",
    "Progress",
    "UnknownModel",
    "create",
    "model_class",
    "pack",
    "unpack",
]

#: Where a prediction's numbers come from, so cold start is visible: fitted person and item, an unknown
#: person on a known item (or an unknown item priced from its topic/difficulty group), or nothing known.
SOURCE_MODEL = "model"
SOURCE_ITEM_PRIOR = "item-prior"
SOURCE_POPULATION_PRIOR = "population-prior"

#: progress(done, total, message) — called during long fits.
Progress = Callable[[int, int, str], None]

Z80 = 1.2815515655446004  # the 90th percentile of the standard normal: an 80% central interval is mean ± Z80·sd

#: What a served prediction may say (``Prediction.bounded``): a completion takes 1 s to a day (the API accepts
#: nothing else), P(correct) stays off 0 and 1, and the sd of log-time lies in [0.01, 2.5] (an 80% interval at
#: most 25 times the median either way). Values a model could not compute (NaN) become the population priors'.
SERVED_SECONDS = (1.0, 86_400.0)
SERVED_P_CORRECT = (1e-4, 1.0 - 1e-4)
SERVED_SD_LOG_TIME = (0.01, 2.5)
_FALLBACK = (0.7, math.log(60.0), 1.0)  # the population priors of ml._shared (P, mean and sd of log-time)


class UnknownModel(KeyError):
    """No model is registered under this name."""


class CorruptModel(ValueError):
    """A serialised model could not be read (truncated, corrupted, or of another model)."""


@dataclass(frozen=True)
class Prediction:
    """Vectorised predictions, one entry per query row.

    Attributes:
        p_correct: probability of a correct answer.
        mean_log_time: mean of log(seconds).
        sd_log_time: predictive standard deviation of log(seconds) (includes residual noise).
        source: per row, one of SOURCE_MODEL, SOURCE_ITEM_PRIOR, SOURCE_POPULATION_PRIOR.
    """

    p_correct: np.ndarray
    mean_log_time: np.ndarray
    sd_log_time: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return int(self.p_correct.shape[0])

    @property
    def expected_seconds(self) -> np.ndarray:
        """The median time exp(mean log-time), in seconds."""
        result: np.ndarray = np.exp(self.mean_log_time)
        return result

    def seconds_interval(self, z: float = Z80) -> tuple[np.ndarray, np.ndarray]:
        """The central interval of time in seconds (80% by default)."""
        return (
            np.exp(self.mean_log_time - z * self.sd_log_time),
            np.exp(self.mean_log_time + z * self.sd_log_time),
        )

    def bounded(self) -> Prediction:
        """The prediction as it may be served: every number finite and within SERVED_SECONDS (the median),
        SERVED_P_CORRECT and SERVED_SD_LOG_TIME, so nothing computed from it (intervals, lognormal means, sums
        over a plan) can overflow. Evaluation scores the raw prediction; serving shows this one."""
        low, high = (math.log(s) for s in SERVED_SECONDS)
        p = np.clip(np.nan_to_num(self.p_correct, nan=_FALLBACK[0]), *SERVED_P_CORRECT)
        mean = np.clip(np.nan_to_num(self.mean_log_time, nan=_FALLBACK[1], posinf=high, neginf=low), low, high)
        sd = np.nan_to_num(self.sd_log_time, nan=_FALLBACK[2], posinf=SERVED_SD_LOG_TIME[1])
        return Prediction(p_correct=p, mean_log_time=mean, sd_log_time=np.clip(sd, *SERVED_SD_LOG_TIME),
                          source=self.source)

    def served_interval(self, z: float = Z80) -> tuple[np.ndarray, np.ndarray]:
        """The interval of ``bounded()``, its ends kept within SERVED_SECONDS (no completion lies outside)."""
        low, high = self.bounded().seconds_interval(z)
        return np.clip(low, *SERVED_SECONDS), np.clip(high, *SERVED_SECONDS)


@runtime_checkable
class Model(Protocol):
    """What every model provides. ``__init__`` stores hyperparameters only; fitted state ends in ``_``."""

    name: ClassVar[str]

    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Estimate the model from responses; returns self."""
        ...

    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """Predict every query row. ``history`` (responses of some persons, e.g. the student asking) updates
        those persons' estimates for this call only (the online update), without changing the model."""
        ...

    def update_person(self, person: str, history: Responses) -> None:
        """Re-estimate one person from their history, in place (milliseconds)."""
        ...

    def to_bytes(self) -> bytes:
        """Serialise the fitted model (no pickle)."""
        ...

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        """Load a model written by ``to_bytes``; raises CorruptModel on bad input."""
        ...


#: name -> "module:Class". Imported lazily so the web process never imports torch unless it serves it.
MODELS: dict[str, str] = {
    "avg": "studysmart.ml.baselines:GlobalAverage",
    "item-means": "studysmart.ml.baselines:ItemMeans",
    "person-median": "studysmart.ml.baselines:PersonMedian",
    "shrinkage": "studysmart.ml.baselines:Shrinkage",
    "irt2pl": "studysmart.ml.baselines:IRT2PL",
    "lnirt": "studysmart.ml.lnirt.model:LNIRT",
    "lnirt-gibbs": "studysmart.ml.lnirt.model:LNIRTGibbs",
    "neural": "studysmart.ml.neural.model:NeuralLSTM",
    "neural-attn": "studysmart.ml.neural.model:NeuralAttention",
    "practice": "studysmart.ml.practice:PracticeModel",
    "blend": "studysmart.ml.stack:Stack",
}

#: Models whose module imports torch: the web process only loads them when one of them is the one serving.
NEEDS_TORCH = frozenset({"neural", "neural-attn"})


def model_class(name: str) -> type[Model]:
    """The class registered under ``name`` (imports its module on first use)."""
    try:
        target = MODELS[name]
    except KeyError:
        raise UnknownModel(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None
    module_name, _, class_name = target.partition(":")
    cls: type[Model] = getattr(importlib.import_module(module_name), class_name)
    return cls


def create(name: str, **params: Any) -> Model:
    """A new, unfitted model registered under ``name`` with the given hyperparameters."""
    return model_class(name)(**params)


def load(name: str, blob: bytes) -> Model:
    """A fitted model of the given registered name from its serialised bytes."""
    return model_class(name).from_bytes(blob)


def pack(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """Serialise JSON-able ``meta`` and numeric/string arrays into one ``.npz`` blob, without pickle.

    String (object) arrays are stored as fixed-width unicode.
    """
    buffer = io.BytesIO()
    stored: dict[str, np.ndarray] = {"__meta__": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
    for key, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype == object:
            arr = arr.astype(str) if arr.size else np.zeros(0, dtype="<U1")
        stored[key] = arr
    np.savez(buffer, **stored)  # type: ignore[arg-type]
    return buffer.getvalue()


def unpack(blob: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Inverse of ``pack``; unicode arrays come back as object arrays of str. Raises CorruptModel."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except Exception as exc:  # zipfile, OSError, ValueError, JSON, KeyError: all mean a bad blob
        raise CorruptModel(f"cannot read model data: {exc}") from exc
    for key, arr in arrays.items():
        if arr.dtype.kind == "U":
            arrays[key] = arr.astype(object)
    return meta, arrays
