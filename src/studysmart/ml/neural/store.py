"""Serialisation of the neural models without pickle.

One ``base.pack`` blob (an ``.npz`` read with ``allow_pickle=False``): a JSON header with the format, model name,
hyperparameters, statistics and the training report; the vocabularies and every stored per-person history as
arrays; and the weights as a safetensors blob stored as a uint8 array. Anything unreadable raises
``base.CorruptModel``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from studysmart.ml.base import CorruptModel, pack, unpack
from studysmart.ml.neural.data import Seq, Vocab
from studysmart.ml.neural.train import TrainReport

if TYPE_CHECKING:
    from studysmart.ml.neural.model import NeuralModel

__all__ = ["FORMAT", "from_blob", "to_blob"]

FORMAT = "studysmart-neural"
VERSION = 1
_SEQ_FIELDS = ("item", "topic", "difficulty", "correct", "log_time", "order")


def to_blob(model: NeuralModel) -> bytes:
    """Serialise a fitted model (see the module docstring for the layout)."""
    meta: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "model": model.name, "encoder": model.encoder,
        "params": model.get_params(), "timestamps": model.timestamps_, "mean_log_time": model.mean_log_time_,
        "sd_log_time": model.sd_log_time_, "p_correct": model.p_correct_, "report": model.report_.to_dict(),
    }
    labels = list(model.histories_)
    seqs = [model.histories_[p] for p in labels]
    arrays: dict[str, np.ndarray] = {
        "persons": model.persons_.labels, "items": model.items_.labels, "topics": model.topics_.labels,
        "difficulties": model.difficulties_.labels, "item_topic": model.item_topic_,
        "item_difficulty": model.item_difficulty_,
        "history_person": np.asarray(labels, dtype=object),
        "history_offsets": np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64),
    }
    for name in _SEQ_FIELDS:
        parts = [getattr(s, name) for s in seqs]
        dtype = np.int64 if name in ("item", "topic", "difficulty") else np.float64
        arrays[f"history_{name}"] = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)
    state = {key: value.contiguous() for key, value in model.net_.state_dict().items()}
    arrays["weights"] = np.frombuffer(save_tensors(state), dtype=np.uint8)
    return pack(meta, arrays)


def from_blob(model: NeuralModel, blob: bytes) -> None:
    """Fill an unfitted ``model`` from ``to_blob`` bytes; raises CorruptModel on any inconsistency."""
    meta, arrays = unpack(blob)
    if meta.get("format") != FORMAT:
        raise CorruptModel(f"not a neural model (format {meta.get('format')!r})")
    if meta.get("model") != model.name:
        raise CorruptModel(f"this blob holds model {meta.get('model')!r}, not {model.name!r}")
    try:
        for key, value in meta["params"].items():
            if key not in model.get_params():
                raise KeyError(f"unknown hyperparameter {key!r}")
            setattr(model, key, value)
        model.timestamps_ = bool(meta["timestamps"])
        model.mean_log_time_ = float(meta["mean_log_time"])
        model.sd_log_time_ = float(meta["sd_log_time"])
        model.p_correct_ = float(meta["p_correct"])
        model.report_ = TrainReport.from_dict(meta["report"])
        model.persons_, model.items_ = Vocab(arrays["persons"]), Vocab(arrays["items"])
        model.topics_, model.difficulties_ = Vocab(arrays["topics"]), Vocab(arrays["difficulties"])
        model.item_topic_ = arrays["item_topic"].astype(np.int64)
        model.item_difficulty_ = arrays["item_difficulty"].astype(np.int64)
        offsets = arrays["history_offsets"]
        columns = {name: arrays[f"history_{name}"] for name in _SEQ_FIELDS}
        if offsets.size != arrays["history_person"].size + 1 or any(c.size != offsets[-1] for c in columns.values()):
            raise ValueError("history arrays do not match their offsets")
        model.histories_ = {
            str(label): Seq(*(columns[name][offsets[i]:offsets[i + 1]] for name in _SEQ_FIELDS))
            for i, label in enumerate(arrays["history_person"])
        }
        net = model._new_net()
        net.load_state_dict(load_tensors(arrays["weights"].tobytes()), strict=True)
        net.eval()
        limits = {"item": net.item.num_embeddings, "topic": net.topic.num_embeddings,
                  "difficulty": net.difficulty.num_embeddings}
        checks = [(model.item_topic_, limits["topic"]), (model.item_difficulty_, limits["difficulty"])]
        checks += [(columns[name], limit) for name, limit in limits.items()]
        if model.item_topic_.size != limits["item"] or any(
                c.size and (c.min() < 0 or c.max() >= limit) for c, limit in checks):
            raise ValueError("item, topic or difficulty codes out of range")
        model.net_ = net
    except CorruptModel:
        raise
    except Exception as exc:  # KeyError, ValueError, RuntimeError (shapes), SafetensorError: a bad blob
        raise CorruptModel(f"cannot read neural model data: {exc}") from exc
