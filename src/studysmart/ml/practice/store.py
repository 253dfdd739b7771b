"""Bookkeeping of the practice model: students' stored histories, the calibration, the practice gains, and the
pickle-free serialisation (JSON header + npz arrays through ``base.pack``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit, logit

from studysmart.ml.base import CorruptModel, Prediction, pack, unpack
from studysmart.ml.data import Queries, Responses
from studysmart.ml.practice.coding import CodedRows, Vocab, row_weights
from studysmart.ml.practice.design import columns, linear
from studysmart.ml.practice.estimation import AccuracyFit, TimeFit
from studysmart.ml.practice.features import Features
from studysmart.ml.practice.groups import GroupPrior

if TYPE_CHECKING:
    from studysmart.ml.practice.model import PracticeGain, PracticeModel

__all__ = ["History", "calibration", "code_together", "from_bytes", "gain", "histories", "sequences",
           "split_by_person", "take_queries", "to_bytes"]

Z80 = 1.2815515655446004
_FORMAT = 1


@dataclass(frozen=True)
class History:
    """One student's answers as labels (topic / level None when the data have none)."""

    item: np.ndarray
    topic: np.ndarray
    level: np.ndarray
    correct: np.ndarray
    log_time: np.ndarray
    order: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return int(self.item.shape[0])


def _history(data: Responses, rows: np.ndarray) -> History:
    none = np.full(rows.size, None, dtype=object)
    topic, level = data.row_topic(), data.row_difficulty()
    order = np.full(rows.size, np.nan) if data.order is None else np.asarray(data.order, dtype=np.float64)[rows]
    return History(data.items[data.item[rows]].astype(object), none if topic is None else topic[rows],
                   none if level is None else level[rows], data.correct[rows], data.log_time[rows], order,
                   row_weights(data)[rows])


def split_by_person(data: Responses) -> dict[str, History]:
    """Each student's rows of ``data``, in the rows' order."""
    if not len(data):
        return {}
    idx = np.argsort(data.person, kind="stable")
    codes, starts = np.unique(data.person[idx], return_index=True)
    bounds = np.append(starts, idx.size)
    return {str(data.persons[c]): _history(data, idx[lo:hi])
            for c, lo, hi in zip(codes, bounds[:-1], bounds[1:], strict=True)}


def histories(vocab: Vocab, data: Responses) -> dict[str, History]:
    """The stored histories after a fit: every student's training rows."""
    return split_by_person(data)


def take_queries(queries: Queries, rows: np.ndarray) -> Queries:
    """The given rows of ``queries``."""
    return replace(queries, **{f.name: None if getattr(queries, f.name) is None else getattr(queries, f.name)[rows]
                               for f in fields(queries)})


def code_together(vocab: Vocab, hist: History, queries: Queries | None) -> CodedRows:
    """A history's rows, then the query rows, coded in one pass (a new item or topic gets one code in both)."""
    n_q = 0 if queries is None else len(queries)
    none = np.full(n_q, None, dtype=object)
    items = np.concatenate([hist.item, queries.item if queries is not None else none[:0]]).astype(object)
    q_topic = none if queries is None or queries.topic is None else queries.topic
    q_level = none if queries is None or queries.difficulty is None else queries.difficulty
    topics = np.concatenate([hist.topic, q_topic]).astype(object)
    levels = np.concatenate([hist.level, q_level]).astype(object)
    item, topic, level = vocab.code(items, topics, levels)
    q_order = np.full(n_q, np.nan) if queries is None or queries.order is None else queries.order
    person = np.full(len(hist) + n_q, "", dtype=object)
    return CodedRows(person, item, topic, level, np.r_[hist.correct, np.full(n_q, np.nan)],
                     np.r_[hist.log_time, np.full(n_q, np.nan)], np.r_[hist.order, q_order],
                     np.r_[hist.weight, np.ones(n_q)])


def _concat(a: History, b: History) -> History:
    return History(*(np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(History)))


def sequences(history: Responses, rows: Responses) -> Iterator[tuple[str, History, list[tuple[int, int]]]]:
    """Per student of ``rows``: their rows of ``history`` then of ``rows``, sorted by (order, that position),
    and for each of their ``rows`` (position in that sequence, index in ``rows``)."""
    own = split_by_person(history)
    labels = rows.persons[rows.person].astype(str)
    for person in np.unique(labels):
        mine = np.flatnonzero(labels == person)
        order = np.zeros(mine.size) if rows.order is None else np.nan_to_num(rows.order[mine], nan=-np.inf)
        mine = mine[np.lexsort((mine, order))]
        hist = own.get(person)
        n_hist = 0 if hist is None else len(hist)
        combined = _history(rows, mine) if hist is None else _concat(hist, _history(rows, mine))
        when = np.nan_to_num(combined.order, nan=-np.inf)
        seq = np.lexsort((np.arange(when.size), when))
        combined = History(*(getattr(combined, f.name)[seq] for f in fields(History)))
        position = np.empty(seq.size, dtype=np.int64)
        position[seq] = np.arange(seq.size)
        yield person, combined, [(int(position[n_hist + j]), int(row)) for j, row in enumerate(mine)]


IDENTITY = (1.0, 0.0, 0.0, 1.0)
#: Pseudo-answers pulling the calibration toward the identity.
CALIBRATION_PRIOR = 4.0


def _platt(x: np.ndarray, y: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """(a, c) of P = expit(a x + c), ridge ``strength`` (in answers' worth of curvature 1/4) toward ``prior``."""
    coef = prior.copy()
    design = np.column_stack([x, np.ones_like(x)])
    ridge = strength / 4.0
    for _ in range(25):
        p = expit(design @ coef)
        grad = design.T @ (y - p) - ridge * (coef - prior)
        hess = (design * (p * (1 - p))[:, None]).T @ design + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        coef += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return coef


def calibration(pred: Prediction, correct: np.ndarray, log_time: np.ndarray, known_item: np.ndarray,
                ) -> np.ndarray:
    """[a, c, shift, scale]: P = expit(a logit(p) + c) (logistic regression), log-time mean + shift (the mean
    residual) and sd times scale (so that 80% of the shifted residuals fall inside mean +- 1.2816 sd), fitted on
    the rows of known items only: new items are priced by the group structure, whose uncertainty is already
    integrated out, and a hold-out's new items need not resemble later ones."""
    x = logit(np.clip(pred.p_correct, 1e-9, 1 - 1e-9))
    y_rows = ~np.isnan(correct) & known_item
    t_rows = ~np.isnan(log_time) & known_item
    out = np.asarray(IDENTITY, dtype=np.float64)
    if y_rows.sum() >= 20:
        out[:2] = _platt(x[y_rows], correct[y_rows], np.array([1.0, 0.0]), CALIBRATION_PRIOR)
    if t_rows.sum() >= 20:
        r = log_time[t_rows] - pred.mean_log_time[t_rows]
        out[2] = float(r.sum() / (r.size + CALIBRATION_PRIOR))
        out[3] = float(np.clip(np.quantile(np.abs(r - out[2]) / pred.sd_log_time[t_rows], 0.8) / Z80, 0.5, 3.0))
    return out


def gain(acc: AccuracyFit, time: TimeFit, topic: int, correct: float, wrong: float, hardness: float,
         ) -> PracticeGain:
    """The practice gain of one more answer on a topic (code -1: unknown), see ``PracticeModel.practice_gain``."""
    from studysmart.ml.practice.model import PracticeGain

    def feats(s: float, f: float) -> Features:
        one = np.ones(1)
        return Features(one * s, one * f, one * s * hardness, one * f * hardness, one * 0.0, one * 0.0,
                        one * 0.0, one * 0.0, one * s, one * f)

    topics = np.array([topic])
    before = columns(feats(correct, wrong), 1.0)
    after_c, after_w = columns(feats(correct + 1, wrong), 1.0), columns(feats(correct, wrong + 1), 1.0)

    def delta(fit_w: np.ndarray, u: np.ndarray, d: float) -> tuple[float, float]:
        base = linear(before, fit_w, d, u, topics)[0]
        return (float(linear(after_c, fit_w, d, u, topics)[0] - base),
                float(linear(after_w, fit_w, d, u, topics)[0] - base))

    a_c, a_w = delta(acc.w, acc.u, acc.delta)
    t_c, t_w = delta(time.v, time.u, time.delta)
    return PracticeGain(a_c, a_w, t_c, t_w)


# -- serialisation ---------------------------------------------------------------------------------------
_ACC_ARRAYS = ("b", "b_var", "b_seen", "theta", "theta_c", "w", "u")
_ACC_SCALARS = ("delta", "var_person", "var_cell", "var_slope")
_TIME_ARRAYS = ("lam", "lam_var", "lam_seen", "omega", "s", "s_c", "v", "u", "sigma2", "phi")
_TIME_SCALARS = ("omega0", "var_omega", "delta", "var_person", "var_cell", "var_slope", "sigma2_pooled", "p0")
_GROUP_ARRAYS = ("topic_effect", "topic_var", "level_effect", "level_var")
_GROUP_SCALARS = ("intercept", "sd_topic2", "sd_item2", "slope", "slope_var", "z_mean")


def to_bytes(model: PracticeModel) -> bytes:
    """The fitted model as one blob (no pickle)."""
    arrays: dict[str, np.ndarray] = {
        "items": model.vocab_.items, "topics": model.vocab_.topics, "levels": model.vocab_.levels,
        "item_topic": model.vocab_.item_topic, "item_level": model.vocab_.item_level, "hardness": model.hardness_,
    }  # fmt: skip
    scalars: dict[str, Any] = {"practice": model.practice_, "timestamps": model.timestamps_,
                               "gap_scale": model.gap_scale_}
    arrays["calibration"] = model.calibration_
    for prefix, fit, names, scalar_names in (("acc", model.acc_, _ACC_ARRAYS, _ACC_SCALARS),
                                             ("time", model.time_, _TIME_ARRAYS, _TIME_SCALARS)):
        for name in names:
            arrays[f"{prefix}.{name}"] = np.asarray(getattr(fit, name))
        for name in scalar_names:
            scalars[f"{prefix}.{name}"] = float(getattr(fit, name))
        for name in _GROUP_ARRAYS:
            arrays[f"{prefix}.groups.{name}"] = getattr(fit.groups, name)
        for name in _GROUP_SCALARS:
            scalars[f"{prefix}.groups.{name}"] = float(getattr(fit.groups, name))
    people = list(model.histories_)
    stacked = [model.histories_[p] for p in people]
    arrays["h.person"] = np.asarray([p for p, h in zip(people, stacked, strict=True) for _ in range(len(h))],
                                    dtype=object)
    for f in fields(History):
        parts = [getattr(h, f.name) for h in stacked]
        value = np.concatenate(parts) if parts else np.zeros(0)
        if value.dtype == object:  # labels: None becomes "" (read back as no label)
            value = np.asarray(["" if v is None else str(v) for v in value], dtype=object)
        arrays[f"h.{f.name}"] = value
    return pack({"model": model.name, "format": _FORMAT, "params": model.get_params(), "scalars": scalars},
                arrays)


def from_bytes(model: PracticeModel, blob: bytes) -> None:
    """Fill ``model`` from a blob of ``to_bytes``; raises CorruptModel on bad or foreign input."""
    meta, arrays = unpack(blob)
    if meta.get("model") != model.name or meta.get("format") != _FORMAT:
        raise CorruptModel(f"not a {model.name} model (format {_FORMAT}): {meta.get('model')!r}")
    try:
        model.__init__(**meta["params"])  # type: ignore[misc]
        sc = meta["scalars"]
        model.vocab_ = Vocab(arrays["items"], arrays["topics"], arrays["levels"],
                             arrays["item_topic"].astype(np.int64), arrays["item_level"].astype(np.int64))
        model.hardness_ = arrays["hardness"].astype(np.float64)
        model.practice_, model.timestamps_ = bool(sc["practice"]), bool(sc["timestamps"])
        model.gap_scale_ = float(sc["gap_scale"])
        model.calibration_ = arrays["calibration"].astype(np.float64)
        if model.calibration_.shape != (len(IDENTITY),):
            raise CorruptModel(f"{model.name}: calibration of shape {model.calibration_.shape}")
        fits: list[Any] = []
        for prefix, cls, names, scalar_names in (("acc", AccuracyFit, _ACC_ARRAYS, _ACC_SCALARS),
                                                 ("time", TimeFit, _TIME_ARRAYS, _TIME_SCALARS)):
            groups = GroupPrior(**{n: arrays[f"{prefix}.groups.{n}"].astype(np.float64) for n in _GROUP_ARRAYS},
                                **{n: float(sc[f"{prefix}.groups.{n}"]) for n in _GROUP_SCALARS})
            values = {n: arrays[f"{prefix}.{n}"] for n in names}
            values.update({n: float(sc[f"{prefix}.{n}"]) for n in scalar_names})
            fits.append(cls(groups=groups, **values))
        model.acc_, model.time_ = fits
        n = arrays["h.person"].shape[0]
        for f in fields(History):
            if arrays[f"h.{f.name}"].shape[0] != n:
                raise CorruptModel(f"{model.name}: stored history column {f.name} has the wrong length")
        model.histories_ = _read_histories(arrays)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, CorruptModel):
            raise
        raise CorruptModel(f"incomplete {model.name} model data: {exc}") from exc
    model.population_ = model._population()
    model._states = {}


def _read_histories(arrays: dict[str, np.ndarray]) -> dict[str, History]:
    person = arrays["h.person"].astype(str)
    out: dict[str, History] = {}
    if not person.size:
        return out
    labels, inverse = np.unique(person, return_inverse=True)
    idx = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[idx], np.arange(labels.size + 1))
    columns_ = {}
    for f in fields(History):
        value = arrays[f"h.{f.name}"]
        if value.dtype == object:
            value = np.asarray([None if v == "" else v for v in value], dtype=object)
        else:
            value = value.astype(np.float64)
        columns_[f.name] = value
    for j, label in enumerate(labels):
        rows = idx[bounds[j]:bounds[j + 1]]
        out[str(label)] = History(*(columns_[f.name][rows] for f in fields(History)))
    return out
