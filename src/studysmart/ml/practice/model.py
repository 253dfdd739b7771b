"""``practice``: a joint model of accuracy and log-time that change with practice and with time away.

    logit P(correct) = b_k + theta_i + theta_it + gain_acc(practice before the answer)
    log T            = lambda_k + s_i + s_it + gain_time(practice) + (1 - correct) omega_k + e,
                       e ~ N(0, sigma2_k phi_i)

for student i, item k of topic t. The student's ability and slowness have a student-wide part (theta_i, s_i)
and a student x topic part (theta_it, s_it), shrunk toward the student's and toward the topic's population;
items are priced from their topic|difficulty group when new (``groups``). The practice gains (``design``) add,
for each earlier answer on the topic and on the same item, log(1 + count) terms with their own slopes for
correct and wrong answers (pooled over students, with per-topic deviations), modified by the hardness of the
practised items, and decaying with the time since the topic (item) was last practised, at a forgetting rate
estimated from the data. Predictions integrate the posterior of the student's parameters and the item's
uncertainty (``person``), and are calibrated on an inner temporal hold-out of the training rows (``fit``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from scipy.special import expit, logit

from studysmart.ml.base import SOURCE_ITEM_PRIOR, SOURCE_MODEL, SOURCE_POPULATION_PRIOR, Prediction, Progress
from studysmart.ml.data import Queries, Responses
from studysmart.ml.practice import store
from studysmart.ml.practice.coding import CodedRows, Vocab
from studysmart.ml.practice.design import Columns, columns
from studysmart.ml.practice.estimation import AccuracyFit, Rows, TimeFit, fit_accuracy, fit_time
from studysmart.ml.practice.features import (
    GAP_SCALE_POSITIONS,
    GAP_SCALE_SECONDS,
    TIMESTAMP_THRESHOLD,
    Features,
    query_features,
    sequence_features,
)
from studysmart.ml.practice.person import Coded, PersonState, Population, person_state, price

__all__ = ["PracticeGain", "PracticeModel"]

Z80 = 1.2815515655446004
#: Fewer inner hold-out answers than this: no calibration (identity).
MIN_CALIBRATION_ROWS = 200
#: At most this many inner hold-out answers are predicted to calibrate (a random subset of students).
MAX_CALIBRATION_ROWS = 20_000


@dataclass(frozen=True)
class PracticeGain:
    """What one more answer on a topic changes for a student: the logit of P(correct) and the mean log-time of
    the next task on that topic, if the answer is correct and if it is wrong (no time away)."""

    logit_if_correct: float
    logit_if_wrong: float
    log_time_if_correct: float
    log_time_if_wrong: float


@dataclass
class _Prepared:
    """Per-row model inputs of coded rows, before practice features."""

    rows: CodedRows
    b: np.ndarray
    b_var: np.ndarray
    lam: np.ndarray
    lam_var: np.ndarray
    omega: np.ndarray
    sigma2: np.ndarray
    hardness: np.ndarray
    slope_topic: np.ndarray  # topic code for the slope deviations (-1: none or new)
    new: np.ndarray  # items the model never saw (priced from their group, at the row's sequence position)


class PracticeModel:
    """The model of learning (registered as ``practice``); see the module docstring.

    Args:
        sweeps: at most this many alternating sweeps per part.
        calibrate: recalibrate P(correct) (two-parameter logistic) and the log-time spread on an inner
            temporal hold-out of the training rows (the last 20% of each student's answers).
        seed: seed of the calibration's subsample of students.
    """

    name: ClassVar[str] = "practice"

    def __init__(self, *, sweeps: int = 30, calibrate: bool = True, seed: int = 0) -> None:
        self.sweeps = sweeps
        self.calibrate = calibrate
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters (as passed to ``__init__``)."""
        return {"sweeps": self.sweeps, "calibrate": self.calibrate, "seed": self.seed}

    # -- fitting -------------------------------------------------------------------------------------------
    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Estimate the population (items, groups, practice slopes, forgetting, variance components) from
        ``data``, calibrate on an inner hold-out, and keep every student's answers as their stored history."""
        if progress:
            progress(0, 3, "practice: fitting")
        self._fit_population(data)
        self.calibration_ = np.asarray(store.IDENTITY, dtype=np.float64)
        if self.calibrate:
            if progress:
                progress(1, 3, "practice: calibrating")
            self._calibrate(data)
        self.histories_ = store.histories(self.vocab_, data)
        self._states: dict[str, tuple[PersonState, _Prepared, Features, np.ndarray]] = {}
        if progress:
            progress(3, 3, "practice: done")
        return self

    def _fit_population(self, data: Responses) -> None:
        self.vocab_ = vocab = Vocab.from_data(data)
        order = data.order
        self.practice_ = bool(order is not None and np.any(~np.isnan(order)))
        self.timestamps_ = bool(self.practice_ and order is not None and np.nanmax(order) > TIMESTAMP_THRESHOLD)
        self.gap_scale_ = GAP_SCALE_SECONDS if self.timestamps_ else GAP_SCALE_POSITIONS
        coded = vocab.code_responses(data)
        self.hardness_ = _hardness(coded, vocab)
        seq = _time_sorted(data.person, coded.order)
        coded = coded.take(seq)
        person = data.person[seq]
        feats = self._features(person, coded, self.hardness_[coded.item])
        cols = columns(feats, self.gap_scale_)
        cell_key = person.astype(np.int64) * max(vocab.n_topics, 1) + np.maximum(coded.topic, 0)
        has_topics = vocab.n_topics > 0
        cells, cell = np.unique(cell_key, return_inverse=True) if has_topics else (np.zeros(0, np.int64), None)
        rows = Rows(person.astype(np.int64), coded.item, coded.topic, cell,
                    (cells // max(vocab.n_topics, 1)).astype(np.int64), vocab.item_topic, vocab.item_level, cols,
                    coded.correct, coded.log_time, coded.weight, data.n_persons, vocab.n_items, vocab.n_topics,
                    vocab.n_levels, self.practice_)
        self.acc_ = fit_accuracy(rows, sweeps=self.sweeps)
        p_row = np.full(len(rows.item), float(np.nanmean(coded.correct)) if np.any(~np.isnan(coded.correct))
                        else 0.7)
        self.time_ = fit_time(rows, p_row, sweeps=self.sweeps)
        self.population_ = self._population()

    def _features(self, person: np.ndarray, coded: CodedRows, hardness: np.ndarray) -> Features:
        """Sequence features of time-sorted rows (zeros without an order); topic features need a topic."""
        if not self.practice_:
            return Features.zeros(len(coded))
        feats = sequence_features(person, coded.topic + 1, coded.item, coded.correct, coded.order, hardness)
        return _without_topic(feats, coded.topic < 0)

    def _population(self) -> Population:
        a, t = self.acc_, self.time_
        return Population(self.vocab_.n_topics, a.w, a.u, a.delta, a.var_person, a.var_cell, t.v, t.u, t.delta,
                          t.var_person, t.var_cell, self.practice_)

    def _calibrate(self, data: Responses) -> None:
        """Fit the calibration on the online predictions of an inner hold-out of ``data``."""
        from studysmart.ml.evaluate import split_random, split_temporal

        inner = split_temporal(data) if self.practice_ else split_random(data, fraction=0.2, seed=self.seed)
        test = inner.test
        if len(test) > MAX_CALIBRATION_ROWS:
            rng = np.random.default_rng(self.seed)
            persons = rng.permutation(np.unique(test.person))
            counts = np.bincount(test.person, minlength=data.n_persons)[persons]
            keep = persons[: int(np.searchsorted(np.cumsum(counts), MAX_CALIBRATION_ROWS)) + 1]
            test = test.subset(np.isin(test.person, keep))
        if int(np.sum(~np.isnan(test.correct))) < MIN_CALIBRATION_ROWS:
            return
        clone = PracticeModel(sweeps=self.sweeps, calibrate=False, seed=self.seed).fit(inner.train)
        pred = clone.predict_sequence(inner.train, test, sequential=self.practice_)
        kind = clone._kind(clone.vocab_.code_responses(test))
        self.calibration_ = store.calibration(pred, test.correct, test.log_time, kind == 0)

    def _kind(self, rows: CodedRows) -> np.ndarray:
        """Cold-start class per row: 0 known item, 1 new item of a known topic, 2 nothing known."""
        topic_known = (rows.topic >= 0) & (rows.topic < self.vocab_.n_topics)
        return np.where(rows.item < self.vocab_.n_items, 0, np.where(topic_known, 1, 2))

    # -- online state --------------------------------------------------------------------------------------
    def _prepare(self, rows: CodedRows) -> _Prepared:
        """Item parameters (new items: their group's), hardness and slope topics of coded rows."""
        v, a, t = self.vocab_, self.acc_, self.time_
        known = rows.item < v.n_items
        k = np.where(known, rows.item, 0)
        group_topic = np.where((rows.topic >= 0) & (rows.topic < v.n_topics), rows.topic, -1)
        b = np.where(known, a.b[k], a.groups.mean(group_topic, rows.level))
        b_var = np.where(known, a.b_var[k], a.groups.new_item_var(group_topic, rows.level))
        lam = np.where(known, t.lam[k], t.groups.mean(group_topic, rows.level))
        lam_var = np.where(known, t.lam_var[k], t.groups.new_item_var(group_topic, rows.level))
        omega = np.where(known, t.omega[k], t.omega0)
        sigma2 = np.where(known, t.sigma2[k], t.sigma2_pooled)
        hardness = np.where(known, self.hardness_[np.minimum(k, self.hardness_.size - 1)], 0.0)
        return _Prepared(rows, b, b_var, lam, lam_var, omega, sigma2, hardness, group_topic, ~known)

    def _coded(self, prep: _Prepared, rows: np.ndarray, cols: Columns, cells: np.ndarray) -> Coded:
        """person.Coded of the given rows of ``prep`` with local cell codes (index in ``cells``)."""
        topic = prep.rows.topic[rows]
        pos = np.searchsorted(cells, topic)
        hit = (pos < cells.size) & (cells[np.minimum(pos, max(cells.size - 1, 0))] == topic) if cells.size else \
            np.zeros(topic.size, bool)
        cell = np.where(topic < 0, -1, np.where(hit, pos, cells.size))
        new = prep.new[rows]
        b, b_var, lam, lam_var = prep.b[rows], prep.b_var[rows], prep.lam[rows], prep.lam_var[rows]
        if self.practice_ and new.any():  # new items at this point of the student's sequence
            z = cols.position
            for values, var, g in ((b, b_var, self.acc_.groups), (lam, lam_var, self.time_.groups)):
                values += np.where(new, g.slope * (z - g.z_mean), 0.0)
                var += np.where(new, g.slope_var * (z - g.z_mean) ** 2, 0.0)
        return Coded(b, b_var, lam, lam_var, prep.omega[rows],
                     prep.sigma2[rows], prep.slope_topic[rows], cell, cols, prep.rows.correct[rows],
                     prep.rows.log_time[rows], prep.rows.weight[rows])

    def _state(self, prep: _Prepared, n: int, feats: Features) -> tuple[PersonState, np.ndarray]:
        """The student's state from the first ``n`` rows of their time-sorted prepared history."""
        rows = np.arange(n)
        topics = prep.rows.topic[:n]
        cells = np.unique(topics[topics >= 0])
        coded = self._coded(prep, rows, columns(feats.take(rows), self.gap_scale_), cells)
        return person_state(self.population_, coded, int(cells.size)), cells

    def _priced(self, state: PersonState, prep: _Prepared, rows: np.ndarray, feats: Features,
                cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated (p, mean, sd) of the given query rows of ``prep`` with their features."""
        coded = self._coded(prep, rows, columns(feats, self.gap_scale_), cells)
        p, mean, var, _ = price(self.population_, state, coded)
        a, c, shift, scale = self.calibration_
        p = expit(a * logit(np.clip(p, 1e-12, 1 - 1e-12)) + c)
        return p, mean + shift, scale * np.sqrt(var)

    def _query_features(self, hist: _Prepared, query: _Prepared) -> Features:
        if not self.practice_ or len(hist.rows) == 0:
            return Features.zeros(len(query.rows))
        h, q = hist.rows, query.rows
        feats = query_features(h.topic + 1, h.item, h.correct, h.order, hist.hardness, q.topic + 1, q.item,
                               q.order)
        return _without_topic(feats, q.topic < 0)

    # -- prediction ----------------------------------------------------------------------------------------
    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """P(correct) and the log-time distribution of every query row.

        Args:
            queries: person/item labels (with topic/difficulty, and order = when the task is done).
            history: answers of some students; for them it replaces the stored history for this call (the
                online update), e.g. the student's full history in the app.

        Returns:
            A Prediction with per-row sources (model / item-prior / population-prior).
        """
        self._check_fitted()
        n = len(queries)
        p, mean, sd = np.empty(n), np.empty(n), np.empty(n)
        source = np.empty(n, dtype=object)
        given = store.split_by_person(history) if history is not None and len(history) else {}
        labels = queries.person.astype(str)
        for person in np.unique(labels):
            rows = np.flatnonzero(labels == person)
            hist = given.get(person)
            if hist is None:
                hist = self.histories_.get(person)
            sub = store.take_queries(queries, rows)
            p[rows], mean[rows], sd[rows], known = self._predict_person(hist, sub)
            item_known = self._item_known(sub)
            source[rows] = np.where(item_known & known, SOURCE_MODEL,
                                    np.where(item_known, SOURCE_ITEM_PRIOR, SOURCE_POPULATION_PRIOR))
        return Prediction(p, mean, sd, source)

    def _item_known(self, queries: Queries) -> np.ndarray:
        items, topics, _ = self.vocab_.code(queries.item, queries.topic, queries.difficulty)
        return (items < self.vocab_.n_items) | ((topics >= 0) & (topics < self.vocab_.n_topics))

    def _predict_person(self, hist: store.History | None, queries: Queries,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Priced query rows of one student from their history (None: a new student)."""
        n_hist = 0 if hist is None else len(hist)
        coded = self.vocab_.code_queries(queries) if hist is None else store.code_together(self.vocab_, hist, queries)
        h_rows, q_rows = coded.take(np.arange(n_hist)), coded.take(np.arange(n_hist, len(coded)))
        seq = _time_sorted(np.zeros(n_hist, np.int64), h_rows.order)
        h_prep, q_prep = self._prepare(h_rows.take(seq)), self._prepare(q_rows)
        feats = self._features(np.zeros(n_hist, np.int64), h_prep.rows, h_prep.hardness)
        state, cells = self._state(h_prep, n_hist, feats)
        q_feats = self._query_features(h_prep, q_prep)
        p, mean, sd = self._priced(state, q_prep, np.arange(len(q_rows)), q_feats, cells)
        return p, mean, sd, n_hist > 0

    def predict_sequence(self, history: Responses, rows: Responses, *, sequential: bool) -> Prediction:
        """Online predictions of ``rows`` (``ml.evaluate.SequentialPredictor``): each row from the student's rows
        of ``history`` and, when ``sequential``, their rows of ``rows`` before it, in one pass per student."""
        from studysmart.ml.evaluate import served_predictions

        if not sequential:
            return served_predictions(self, history, rows, sequential=False)
        self._check_fitted()
        n = len(rows)
        p, mean, sd = np.empty(n), np.empty(n), np.empty(n)
        source = np.empty(n, dtype=object)
        for person, hist, mine in store.sequences(history, rows):
            coded = store.code_together(self.vocab_, hist, None)
            prep = self._prepare(coded)
            feats = self._features(np.zeros(len(coded), np.int64), coded, prep.hardness)
            item_known = (coded.item < self.vocab_.n_items) | ((coded.topic >= 0) &
                                                               (coded.topic < self.vocab_.n_topics))
            for position, row in mine:
                if position == 0:  # nothing earlier: the served call falls back to the stored history
                    query = store.take_queries(rows.to_queries(), np.array([row]))
                    stored = self.histories_.get(person)
                    out = self._predict_person(stored, query)
                    p[row], mean[row], sd[row], has = out[0][0], out[1][0], out[2][0], out[3]
                else:
                    state, cells = self._state(prep, position, feats)
                    one = np.array([position])
                    priced = self._priced(state, prep, one, feats.take(one), cells)
                    p[row], mean[row], sd[row], has = priced[0][0], priced[1][0], priced[2][0], True
                source[row] = (SOURCE_MODEL if item_known[position] and has else
                               SOURCE_ITEM_PRIOR if item_known[position] else SOURCE_POPULATION_PRIOR)
        return Prediction(p, mean, sd, source)

    def update_person(self, person: str, history: Responses) -> None:
        """Store ``person``'s rows of ``history`` as their history (replacing what was stored), in place."""
        self._check_fitted()
        hist = store.split_by_person(history).get(str(person))
        if hist is None:
            self.histories_.pop(str(person), None)
        else:
            self.histories_[str(person)] = hist

    # -- what the planner and the UI read ------------------------------------------------------------------
    def practice_gain(self, topic: str, *, correct: float = 0.0, wrong: float = 0.0,
                      hardness: float = 0.0) -> PracticeGain:
        """The change one more answer on ``topic`` makes to the next task on it (see PracticeGain).

        Args:
            topic: the topic label (unknown topics use the pooled slopes).
            correct, wrong: the student's earlier correct and wrong answers on the topic.
            hardness: the standardised hardness of the practised item (``hardness_of``); 0 = average.
        """
        self._check_fitted()
        code = self.vocab_._topics.get(str(topic), -1)
        return store.gain(self.acc_, self.time_, code, correct, wrong, hardness)

    def hardness_of(self, topic: str | None, difficulty: str | None) -> float:
        """The standardised hardness of a new item of this topic and difficulty (0 = the average item)."""
        self._check_fitted()
        topic_code, level_code = self.vocab_._topics.get(str(topic), -1), self.vocab_._levels.get(str(difficulty), -1)
        b = float(self.acc_.groups.mean(np.array([topic_code]), np.array([level_code]))[0])
        seen = self.acc_.b[self.acc_.b_seen]
        return float(-(b - seen.mean()) / max(seen.std(), 1e-9)) if seen.size else 0.0

    def forgetting(self, gap: float) -> tuple[float, float]:
        """The share of the practice gains (accuracy, time) left after ``gap`` (seconds or positions)."""
        self._check_fitted()
        x = math.log1p(max(gap, 0.0) / self.gap_scale_)
        return math.exp(-self.acc_.delta * x), math.exp(-self.time_.delta * x)

    # -- serialisation -------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "acc_"):
            raise RuntimeError(f"{self.name} is not fitted; call fit() first")

    def to_bytes(self) -> bytes:
        """The fitted model as JSON + npz arrays (no pickle)."""
        self._check_fitted()
        return store.to_bytes(self)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        """Load a model written by ``to_bytes``; raises CorruptModel on bad or foreign input."""
        model = cls()
        store.from_bytes(model, blob)
        return model


def _time_sorted(person: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Row indices by person, then order (rows without an order first), then position."""
    when = np.nan_to_num(np.asarray(order, dtype=np.float64), nan=-np.inf)
    return np.lexsort((np.arange(person.shape[0]), when, person))


def _without_topic(feats: Features, no_topic: np.ndarray) -> Features:
    """Topic-scope features are zero for rows without a topic."""
    if not no_topic.any():
        return feats
    zero = ~no_topic
    return Features(feats.topic_s * zero, feats.topic_f * zero, feats.topic_zs * zero, feats.topic_zf * zero,
                    feats.topic_gap * zero, feats.item_s, feats.item_f, feats.item_gap, feats.all_s, feats.all_f)


def _hardness(coded: CodedRows, vocab: Vocab) -> np.ndarray:
    """Per item: minus the standardised logit of its smoothed accuracy (hard items are positive)."""
    known = ~np.isnan(coded.correct)
    n = vocab.n_items
    k = np.bincount(coded.item[known], coded.correct[known], n)
    m = np.bincount(coded.item[known], minlength=n)
    rate = (k + 1.0) / (m + 2.0)
    z = -logit(rate)
    seen = m > 0
    if not seen.any():
        return np.zeros(n)
    z = (z - z[seen].mean()) / max(z[seen].std(), 1e-9)
    return np.where(seen, z, 0.0)
