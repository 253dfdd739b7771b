"""Bookkeeping of the practice model: students' stored histories, the calibration, the practice gains, and the
pickle-free serialisation (JSON header + npz arrays through ``base.pack``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit, logit

from studysmart.ml.base import CorruptModel, Prediction, pack, unpack
from studysmart.ml.data import Queries, Responses
from studysmart.ml.practice.coding import CodedRows, Vocab
from studysmart.ml.practice.design import columns, linear
from studysmart.ml.practice.estimation import AccuracyFit, TimeFit
from studysmart.ml.practice.features import Features
from studysmart.ml.practice.groups import GroupPrior

if TYPE_CHECKING:
    from studysmart.ml.practice.model import PracticeGain, PracticeModel

__all__ = [
    "History",
    "calibration",
    "code_history",
    "code_together",
    "concat",
    "fingerprint",
    "from_bytes",
    "gain",
    "histories",
    "is_sealed",
    "sealed",
    "sequences",
    "split_by_person",
    "take_queries",
    "to_bytes",
]

Z80 = 1.2815515655446004
_FORMAT = 1


@dataclass(frozen=True)
class History:
    """One student's answers as labels (topic / level None when the data have none). No row weights: a student's
    own state uses every answer they gave (``Responses.weight`` is for the population's estimates)."""

    item: np.ndarray
    topic: np.ndarray
    level: np.ndarray
    correct: np.ndarray
    log_time: np.ndarray
    order: np.ndarray

    def __len__(self) -> int:
        return int(self.item.shape[0])


def _history(data: Responses, rows: np.ndarray, topic: np.ndarray | None = None,
             level: np.ndarray | None = None) -> History:
    """The given rows of ``data`` as a History (``topic`` / ``level``: the data's per-row labels, if computed)."""
    none = np.full(rows.size, None, dtype=object)
    topic = data.row_topic() if topic is None else topic
    level = data.row_difficulty() if level is None else level
    order = np.full(rows.size, np.nan) if data.order is None else np.asarray(data.order, dtype=np.float64)[rows]
    return History(data.items[data.item[rows]].astype(object), none if topic is None else topic[rows],
                   none if level is None else level[rows], data.correct[rows], data.log_time[rows], order)


def split_by_person(data: Responses) -> dict[str, History]:
    """Each student's rows of ``data``, in the rows' order."""
    if not len(data):
        return {}
    idx = np.argsort(data.person, kind="stable")
    codes, starts = np.unique(data.person[idx], return_index=True)
    bounds = np.append(starts, idx.size)
    topic, level = data.row_topic(), data.row_difficulty()
    return {str(data.persons[c]): _history(data, idx[lo:hi], topic, level)
            for c, lo, hi in zip(codes, bounds[:-1], bounds[1:], strict=True)}


def sealed(split: dict[str, History]) -> dict[str, History]:
    """``split`` with every array read-only (histories shared by later calls, see ``is_sealed``)."""
    for hist in split.values():
        for f in fields(hist):
            getattr(hist, f.name).setflags(write=False)
    return split


def is_sealed(hist: History) -> bool:
    """Whether a history's arrays are all read-only (it can be keyed by identity)."""
    return not any(getattr(hist, f.name).flags.writeable for f in fields(hist))


def histories(vocab: Vocab, data: Responses) -> dict[str, History]:
    """The stored histories after a fit: every student's training rows."""
    return split_by_person(data)


def take_queries(queries: Queries, rows: np.ndarray) -> Queries:
    """The given rows of ``queries``."""
    values: dict[str, Any] = {f.name: None if getattr(queries, f.name) is None else getattr(queries, f.name)[rows]
                              for f in fields(queries)}
    return replace(queries, **values)


def fingerprint(person: str, hist: History) -> int:
    """A hash of a student's history (equal histories, equal hashes): the key of the model's state cache."""
    arrays = (hist.correct, hist.log_time, hist.order)
    return hash((person, len(hist), *(np.ascontiguousarray(a, dtype=np.float64).tobytes() for a in arrays),
                 tuple(hist.item.tolist()), tuple(hist.topic.tolist()), tuple(hist.level.tolist())))


def code_history(vocab: Vocab, hist: History, new_items: dict[str, int], new_topics: dict[str, int]) -> CodedRows:
    """A history's rows in model codes (new labels numbered into ``new_items`` / ``new_topics``)."""
    item, topic, level = vocab.code(hist.item, hist.topic, hist.level, new_items=new_items, new_topics=new_topics)
    return CodedRows(np.full(len(hist), "", dtype=object), item, topic, level, hist.correct, hist.log_time,
                     hist.order, np.ones(len(hist)))


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
                     np.ones(len(hist) + n_q))


def concat(first: Responses, second: Responses) -> Responses:
    """The rows of ``first`` then ``second`` (two subsets of one data set: same vocabularies)."""
    changes: dict[str, Any] = {}
    for name in ("person", "item", "correct", "log_time", "order", "weight"):
        if not hasattr(first, name):
            continue
        a, b = getattr(first, name), getattr(second, name)
        if a is None and b is None:
            continue
        fill = np.nan if name == "order" else 1.0
        a = np.full(len(first), fill) if a is None else a
        b = np.full(len(second), fill) if b is None else b
        changes[name] = np.concatenate([a, b])
    return replace(first, **changes)


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


def _platt(x: np.ndarray, y: np.ndarray, w: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    """(a, c) of P = expit(a x + c) (rows weighted by ``w``), ridge ``strength`` (in answers' worth of curvature
    1/4) toward ``prior``."""
    coef = prior.copy()
    design = np.column_stack([x, np.ones_like(x)])
    ridge = strength / 4.0
    for _ in range(25):
        p = expit(design @ coef)
        grad = design.T @ (w * (y - p)) - ridge * (coef - prior)
        hess = (design * (w * p * (1 - p))[:, None]).T @ design + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        coef += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return coef


#: Pseudo-answers pulling the calibration of new items of known topics toward that of known items.
NOVEL_PRIOR = 100.0


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` with ``weights`` (linear between the weighted order statistics; equals
    np.quantile's default with equal weights; rows of weight 0 take no part)."""
    values, weights = values[weights > 0], weights[weights > 0]
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w) - w / 2
    total = w.sum()
    if v.size == 1 or total <= 0:
        return float(v[-1]) if v.size else float("nan")
    position = (cum - cum[0]) / (cum[-1] - cum[0]) if cum[-1] > cum[0] else np.linspace(0, 1, v.size)
    return float(np.interp(q, position, v))


def calibration(pred: Prediction, correct: np.ndarray, log_time: np.ndarray, kind: np.ndarray,
                weight: np.ndarray | None = None) -> np.ndarray:
    """[a, c, shift, scale, c_novel, shift_novel] from online predictions of an inner hold-out (rows weighted by
    ``weight``, default 1; rows of weight 0 take no part).

    On the answers to known items (``kind`` 0): P = expit(a logit(p) + c) (logistic regression, weakly pulled to
    the identity), log-time mean + shift (the mean residual) and sd times scale (80% of the shifted residuals
    inside mean +- 1.2816 sd). New items of known topics (``kind`` 1) get their own intercept and shift,
    pulled toward the known items' by NOVEL_PRIOR answers (items that appear later may differ from their
    group's earlier ones in a way the group structure cannot see). New topics (``kind`` 2) are priced by the
    group structure alone (with the known items' calibration)."""
    x = logit(np.clip(pred.p_correct, 1e-9, 1 - 1e-9))
    w = np.ones(len(correct)) if weight is None else np.asarray(weight, dtype=np.float64)
    counted = w > 0
    has_y, has_t = ~np.isnan(correct) & counted, ~np.isnan(log_time) & counted
    out = np.asarray((*IDENTITY, 0.0, 0.0), dtype=np.float64)
    y_rows, t_rows = has_y & (kind == 0), has_t & (kind == 0)
    if y_rows.sum() >= 20:
        out[:2] = _platt(x[y_rows], correct[y_rows], w[y_rows], np.array([1.0, 0.0]), CALIBRATION_PRIOR)
    if t_rows.sum() >= 20:
        r, wt = log_time[t_rows] - pred.mean_log_time[t_rows], w[t_rows]
        out[2] = float(np.sum(wt * r) / (wt.sum() + CALIBRATION_PRIOR))
        spread = _weighted_quantile(np.abs(r - out[2]) / pred.sd_log_time[t_rows], wt, 0.8)
        out[3] = float(np.clip(spread / Z80, 0.5, 3.0))
    out[4], out[5] = out[1], out[2]
    y_new, t_new = has_y & (kind == 1), has_t & (kind == 1)
    if y_new.any():
        offset, wy = out[0] * x[y_new], w[y_new]
        c = out[1]
        for _ in range(25):  # the intercept only, ridge toward the known items' intercept
            p = expit(offset + c)
            step = ((np.sum(wy * (correct[y_new] - p)) - NOVEL_PRIOR / 4 * (c - out[1]))
                    / (np.sum(wy * p * (1 - p)) + NOVEL_PRIOR / 4))
            c += step
            if abs(step) < 1e-10:
                break
        out[4] = c
    if t_new.any():
        r, wt = log_time[t_new] - pred.mean_log_time[t_new], w[t_new]
        out[5] = float((np.sum(wt * r) + NOVEL_PRIOR * out[2]) / (wt.sum() + NOVEL_PRIOR))
    return out


def gain(acc: AccuracyFit, time: TimeFit, topic: int, correct: float, wrong: float, hardness: float,
         ) -> PracticeGain:
    """The practice gain of one more answer on a topic (code -1: unknown), see ``PracticeModel.practice_gain``."""
    from studysmart.ml.practice.model import PracticeGain

    def feats(s: float, f: float, last: float) -> Features:
        one = np.ones(1)
        return Features(one * s, one * f, one * s * hardness, one * f * hardness, one * 0.0, one * 0.0,
                        one * 0.0, one * 0.0, one * s, one * f, one * last, one * 0.0, one * last, one * 0.0,
                        one * 0.0)

    topics = np.array([topic])
    before = columns(feats(correct, wrong, 0.0), 1.0)
    after_c = columns(feats(correct + 1, wrong, 1.0), 1.0)
    after_w = columns(feats(correct, wrong + 1, -1.0), 1.0)

    def delta(fit_w: np.ndarray, u: np.ndarray, d: float) -> tuple[float, float]:
        base = linear(before, fit_w, d, u, topics)[0]
        return (float(linear(after_c, fit_w, d, u, topics)[0] - base),
                float(linear(after_w, fit_w, d, u, topics)[0] - base))

    a_c, a_w = delta(acc.w, acc.u, acc.delta)
    t_c, t_w = delta(time.v, time.u, time.delta)
    return PracticeGain(a_c, a_w, t_c, t_w)


# -- serialisation ---------------------------------------------------------------------------------------
_ACC_ARRAYS = ("b", "a", "c", "b_var", "a_var", "c_var", "b_seen", "theta", "psi", "theta_c", "w", "u", "theta_var")
_ACC_SCALARS = ("delta", "var_person", "var_cell", "mean_a", "var_a", "var_c", "var_slope")
_TIME_ARRAYS = ("lam", "phi", "d", "lam_var", "phi_var", "d_var", "lam_seen", "omega", "s", "chi", "s_c", "v", "u",
                "sigma2", "kappa", "s_var")
_TIME_SCALARS = ("omega0", "var_omega", "delta", "var_person", "var_cell", "mean_phi", "var_phi", "var_d", "var_slope",
                 "sigma2_pooled")
_GROUP_ARRAYS = ("topic_effect", "topic_var", "level_effect", "level_var")
_GROUP_SCALARS = ("intercept", "sd_topic2", "sd_item2", "slope", "slope_var", "z_mean")


def to_bytes(model: PracticeModel) -> bytes:
    """The fitted model as one blob (no pickle)."""
    arrays: dict[str, np.ndarray] = {
        "items": model.vocab_.items, "topics": model.vocab_.topics, "levels": model.vocab_.levels,
        "item_topic": model.vocab_.item_topic, "item_level": model.vocab_.item_level, "hardness": model.hardness_,
        "speed": model.speed_,
    }  # fmt: skip
    scalars: dict[str, Any] = {"practice": model.practice_, "timestamps": model.timestamps_,
                               "gap_scale": model.gap_scale_, "structure": list(model.structure_),
                               "dropped": [list(d) for d in model.dropped_], "coupling": list(model.coupling_)}
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
        model.speed_ = arrays["speed"].astype(np.float64)
        model.practice_, model.timestamps_ = bool(sc["practice"]), bool(sc["timestamps"])
        model.gap_scale_ = float(sc["gap_scale"])
        model.structure_ = [str(x) for x in sc["structure"]]
        model.dropped_ = [[str(x) for x in part] for part in sc["dropped"]]
        model.coupling_ = [float(x) for x in sc["coupling"]]
        model.calibration_ = arrays["calibration"].astype(np.float64)
        if model.calibration_.shape != (len(IDENTITY) + 2,):
            raise CorruptModel(f"{model.name}: calibration of shape {model.calibration_.shape}")
        fits: list[Any] = []
        for prefix, cls, names, scalar_names in (("acc", AccuracyFit, _ACC_ARRAYS, _ACC_SCALARS),
                                                 ("time", TimeFit, _TIME_ARRAYS, _TIME_SCALARS)):
            group_values: dict[str, Any] = {n: arrays[f"{prefix}.groups.{n}"].astype(np.float64)
                                            for n in _GROUP_ARRAYS}
            group_values.update({n: float(sc[f"{prefix}.groups.{n}"]) for n in _GROUP_SCALARS})
            groups = GroupPrior(**group_values)
            values: dict[str, Any] = {n: arrays[f"{prefix}.{n}"] for n in names}
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
    model._cache = OrderedDict()


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
