"""Choosing the practice model's structure and optional practice blocks, and its calibration, on an inner
hold-out of the training rows (the last 20% of each student's answers; random cells without an order): what
``PracticeModel.fit`` does before its final fit. Nothing here looks at anything but the training rows. The
hold-out's answers count by their row weights (``Responses.weight``): a row of weight 0 takes no part in a
choice or in the calibration, and an item known only from such rows counts as new."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from studysmart.ml.base import Prediction
from studysmart.ml.data import Responses
from studysmart.ml.practice import store
from studysmart.ml.practice.design import OPTIONAL_BLOCKS

if TYPE_CHECKING:
    from studysmart.ml.practice.model import PracticeModel

__all__ = ["MAX_CALIBRATION_ROWS", "MAX_SELECTION_ROWS", "MIN_CALIBRATION_ROWS", "STRUCTURES", "flags",
           "select_and_calibrate"]

#: The structures of a part: additive (Rasch-like: one ability, items differ in easiness only), factor (plus a
#: second latent factor with item loadings), full (plus item discriminations). ``auto`` chooses on an inner
#: hold-out.
STRUCTURES = ("additive", "factor", "full")
#: At most this many training answers are used to choose the structure (a random subset of students).
MAX_SELECTION_ROWS = 60_000
#: Fewer inner hold-out answers to known items than this: the additive structure, uncalibrated; fewer answers
#: (outcomes, or times) than this to test a part's optional blocks on: none of them is kept.
MIN_CALIBRATION_ROWS = 200
#: At most this many inner hold-out answers are predicted to choose and calibrate (a random subset of students).
MAX_CALIBRATION_ROWS = 20_000


def flags(structure: str) -> tuple[bool, bool]:
    """(discrimination, factor) of a structure."""
    return structure == "full", structure in ("factor", "full")


def subsample(train: Responses, test: Responses, seed: int) -> tuple[Responses, Responses]:
    """The inner split restricted to a random subset of students: at most MAX_SELECTION_ROWS training answers
    and MAX_CALIBRATION_ROWS hold-out answers."""
    if len(train) <= MAX_SELECTION_ROWS and len(test) <= MAX_CALIBRATION_ROWS:
        return train, test
    rng = np.random.default_rng(seed)
    n = max(train.n_persons, test.n_persons)
    persons = rng.permutation(n)
    per_train = np.bincount(train.person, minlength=n)[persons]
    per_test = np.bincount(test.person, minlength=n)[persons]
    fits = (np.cumsum(per_train) <= MAX_SELECTION_ROWS) & (np.cumsum(per_test) <= MAX_CALIBRATION_ROWS)
    keep = persons[fits]
    return train.subset(np.isin(train.person, keep)), test.subset(np.isin(test.person, keep))



def _log_loss(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted mean log loss over the rows with an outcome."""
    ok = ~np.isnan(y) & (w > 0)
    q = np.clip(p[ok], 1e-15, 1 - 1e-15)
    return float(-np.sum(w[ok] * (y[ok] * np.log(q) + (1 - y[ok]) * np.log1p(-q))) / max(w[ok].sum(), 1e-300))


def _rmse(mean: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    """Weighted root mean squared error of log-time over the rows with a time."""
    ok = ~np.isnan(t) & (w > 0)
    return float(np.sqrt(np.sum(w[ok] * (t[ok] - mean[ok]) ** 2) / max(w[ok].sum(), 1e-300)))


def _row_losses(pred: Prediction, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the log loss of the outcome and the squared error of the log-time (NaN where there is none)."""
    q = np.clip(pred.p_correct, 1e-15, 1 - 1e-15)
    return -(y * np.log(q) + (1 - y) * np.log1p(-q)), (t - pred.mean_log_time) ** 2


def simplest_within_one_se(candidates: tuple[str, ...], losses: dict[str, np.ndarray], weight: np.ndarray) -> str:
    """The first (simplest) candidate whose mean loss is within one standard error of the best one's (the SE of
    the weighted mean of their per-row loss differences): the one-standard-error rule, so that a near tie,
    which a few answers can tip, does not switch the structure."""
    ok = (weight > 0) & np.all([np.isfinite(losses[s]) for s in candidates], axis=0)
    w = weight[ok]
    if not w.size:
        return candidates[0]
    means = {s: float(np.sum(w * losses[s][ok]) / w.sum()) for s in candidates}
    best = min(candidates, key=lambda s: means[s])
    for s in candidates:
        d = losses[s][ok] - losses[best][ok]
        mean = float(np.sum(w * d) / w.sum())
        se = float(np.sqrt(np.sum(w**2 * (d - mean) ** 2)) / w.sum())
        if s == best or mean <= se:
            return s
    return best


def _quick(model: PracticeModel, accuracy: str, time: str) -> PracticeModel:
    """An unfitted model for an inner fit of fixed structures (nothing chosen, pruned or calibrated in it): half
    the sweeps, one prequential round."""
    return type(model)(sweeps=max(model.sweeps // 2, 10), calibrate=False, seed=model.seed, prune=False,
                       accuracy_structure=accuracy, time_structure=time, rounds=1)


def _inner_fit(model: PracticeModel, train: Responses, structure: str) -> PracticeModel:
    """A quick fit of one structure with every block."""
    return _quick(model, structure, structure).fit(train)


def _answers(values: np.ndarray, weight: np.ndarray, rows: np.ndarray | None = None) -> int:
    """The hold-out's answers with this outcome (or time) that count (weight > 0), among ``rows`` (all: None)."""
    ok = ~np.isnan(values) & (weight > 0)
    return int(np.sum(ok if rows is None else ok & rows))


def select_and_calibrate(model: PracticeModel, data: Responses) -> None:
    """On an inner hold-out of ``data`` (the last 20% of each student's answers; random cells without an
    order), fit each candidate structure on the rest, predict the hold-out online, and keep the structure of
    each part whose score on its answers to known items is within one standard error of the best (the simplest
    such; accuracy: log loss; time: squared error of log-time: the structures differ in the items' own
    parameters, and a hold-out's new items need not resemble later ones); with an order and ``model.prune``,
    ``prune`` the optional blocks on the same answers; then calibrate (``store.calibration``: the known items,
    and an intercept and shift for the new items of known topics) on the predictions of a quick inner fit of the
    model as it will serve, when that is not one of the structure fits (blocks dropped, or the two parts of
    different structures). Fewer than ``MIN_CALIBRATION_ROWS`` answers to known items: an ``auto`` part becomes
    additive, nothing is calibrated, and with an order and ``model.prune`` the optional blocks are tested on
    all the hold-out's answers (``prune_on_all_answers``).
    """
    from studysmart.ml.evaluate import split_random, split_temporal

    practice = data.has_order
    inner = split_temporal(data) if practice else split_random(data, fraction=0.2, seed=model.seed)
    train, test = subsample(inner.train, inner.test, model.seed)
    counted = train.row_weight() > 0
    weight = test.row_weight()
    known = np.isin(test.item, np.unique(train.item[counted]))
    train_topic, test_topic = train.row_topic(), test.row_topic()
    topics_seen = np.unique(train_topic[counted].astype(str)) if train_topic is not None else np.zeros(0)
    topic_known = np.zeros(len(test), bool) if test_topic is None else np.isin(test_topic.astype(str),
                                                                                   topics_seen)
    kind = np.where(known, 0, np.where(topic_known, 1, 2))
    enough = _answers(test.correct, weight, known) >= MIN_CALIBRATION_ROWS
    model.structure_ = [s if s != "auto" else ("additive" if not enough else "auto") for s in model.structure_]
    if not enough:
        if practice and model.prune:
            prune_on_all_answers(model, train, test, weight)
        return
    candidates = STRUCTURES if "auto" in model.structure_ else tuple(dict.fromkeys(model.structure_))
    preds: dict[str, Prediction] = {}
    clones: dict[str, PracticeModel] = {}
    for structure in candidates:
        clone = _inner_fit(model, train, structure)
        clones[structure] = clone
        preds[structure] = clone.predict_sequence(train, test, sequential=practice)
    y, t = np.where(known, test.correct, np.nan), np.where(known, test.log_time, np.nan)
    scores = {s: [_log_loss(preds[s].p_correct, y, weight), _rmse(preds[s].mean_log_time, t, weight)]
              for s in candidates}
    model.selection_ = scores
    losses = {s: _row_losses(preds[s], y, t) for s in candidates}
    for part in (0, 1):
        if model.structure_[part] == "auto":
            model.structure_[part] = simplest_within_one_se(candidates, {s: losses[s][part] for s in candidates},
                                                            weight)
    if practice and model.prune:
        prune(model, clones, train, test, y, t, weight, testable(model, y, t, weight))
    if not model.calibrate:
        return
    if any(model.dropped_) or model.structure_[0] != model.structure_[1]:  # served as no inner fit was
        served = _quick(model, *model.structure_).fit_as(train, model)
        combined = served.predict_sequence(train, test, sequential=practice)
    else:
        acc, tim = preds[model.structure_[0]], preds[model.structure_[1]]
        combined = Prediction(acc.p_correct, tim.mean_log_time, tim.sd_log_time, acc.source)
    model.calibration_ = store.calibration(combined, test.correct, test.log_time, kind, weight)


def testable(model: PracticeModel, y: np.ndarray, t: np.ndarray, weight: np.ndarray) -> list[int]:
    """The parts (0 accuracy, 1 time) with at least ``MIN_CALIBRATION_ROWS`` hold-out answers to test their
    optional blocks on (outcomes ``y``, times ``t``); every block of the other parts is dropped: nothing can
    show that it predicts."""
    parts = [part for part, values in enumerate((y, t)) if _answers(values, weight) >= MIN_CALIBRATION_ROWS]
    for part in (0, 1):
        if part not in parts:
            model.dropped_[part] = list(OPTIONAL_BLOCKS)
    return parts


def prune_on_all_answers(model: PracticeModel, train: Responses, test: Responses, weight: np.ndarray) -> None:
    """Too few answers to known items to choose a structure: the optional blocks (a student's own recent
    practice, not the items') are tested on all the hold-out's answers (``testable``: none is kept in a part
    with too few of those)."""
    parts = testable(model, test.correct, test.log_time, weight)
    if parts:
        clones = {s: _inner_fit(model, train, s) for s in dict.fromkeys(model.structure_[p] for p in parts)}
        prune(model, clones, train, test, test.correct, test.log_time, weight, parts)


def prune(model: PracticeModel, clones: dict[str, PracticeModel], train: Responses, test: Responses,
          y: np.ndarray, t: np.ndarray, weight: np.ndarray, parts: list[int]) -> None:
    """Drop each optional practice block of the given parts whose slopes, set to 0 in the chosen structure's
    inner fit, predict the inner hold-out better (accuracy: log loss of ``y``; time: RMSE of ``t``): a trend
    fitted in the past that does not hold forward in time (e.g. overall practice speeding a student up, in a
    tutor whose later problems take longer) is left out of the final fit (``weight``: of the hold-out's rows)."""

    for part in parts:
        clone = clones[model.structure_[part]]
        slopes = clone.acc_.w if part == 0 else clone.time_.v
        base = slopes.copy()
        pred = clone.predict_sequence(train, test, sequential=True)
        best = _log_loss(pred.p_correct, y, weight) if part == 0 else _rmse(pred.mean_log_time, t, weight)
        for name, cols in OPTIONAL_BLOCKS.items():
            slopes[:] = base
            slopes[list(cols)] = 0.0
            clone.population_ = clone._population()
            clone._cache.clear()
            pred = clone.predict_sequence(train, test, sequential=True)
            score = _log_loss(pred.p_correct, y, weight) if part == 0 else _rmse(pred.mean_log_time, t, weight)
            if score < best:
                model.dropped_[part].append(name)
        slopes[:] = base
        clone.population_ = clone._population()
        clone._cache.clear()

