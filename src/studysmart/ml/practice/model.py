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
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

import numpy as np
from scipy.special import expit, logit

from studysmart.ml.base import SOURCE_ITEM_PRIOR, SOURCE_MODEL, SOURCE_POPULATION_PRIOR, Prediction, Progress
from studysmart.ml.data import Queries, Responses
from studysmart.ml.memo import forget, is_frozen
from studysmart.ml.memo import kept as memo_kept
from studysmart.ml.practice import kernels, store
from studysmart.ml.practice.coding import CodedRows, Vocab
from studysmart.ml.practice.design import KEPT, TOPIC_SLOPES, active_columns, columns
from studysmart.ml.practice.estimation import Rows
from studysmart.ml.practice.explain import Explanation, explain_prediction
from studysmart.ml.practice.features import (
    GAP_SCALE_POSITIONS,
    GAP_SCALE_SECONDS,
    TIMESTAMP_THRESHOLD,
    Features,
    Summary,
    summarise,
    summary_features,
)
from studysmart.ml.practice.person import (
    NU,
    Coded,
    PersonState,
    Population,
    Priced,
    inputs,
    person_state,
    price_rows,
    priced_inputs,
)
from studysmart.ml.practice.prepare import (
    Prepared,
    RowInputs,
    first_appearance_by_person,
    hardness,
    speed_norms,
    time_sorted,
    without_topic,
)
from studysmart.ml.practice.prequential import Structure, choose_coupling, fit_parts
from studysmart.ml.practice.selection import STRUCTURES, flags, select_and_calibrate
from studysmart.ml.robust import person_weights

__all__ = ["PracticeGain", "PracticeModel"]

#: Students whose state is kept (by the fingerprint of their history).
CACHE_SIZE = 4096


@dataclass(frozen=True)
class PracticeGain:
    """What one more answer on a topic changes for a student: the logit of P(correct) and the mean log-time of
    the next task on that topic, if the answer is correct and if it is wrong (no time away)."""

    logit_if_correct: float
    logit_if_wrong: float
    log_time_if_correct: float
    log_time_if_wrong: float


@dataclass
class _Student:
    """A student's cached state: their prepared history, posterior, topic -> local cell, new-label maps."""

    person: str
    prep: Prepared
    practice: Summary | None
    state: PersonState
    local: dict[int, int]
    new_items: dict[str, int]
    new_topics: dict[str, int]


class PracticeModel(RowInputs):
    """The model of learning (registered as ``practice``); see the module docstring.

    Args:
        sweeps: at most this many alternating sweeps per part.
        rounds: prequential refits of the practice slopes (``prequential``).
        calibrate: recalibrate P(correct) (two-parameter logistic) and the log-time spread on an inner
            temporal hold-out of the training rows (the last 20% of each student's answers).
        seed: seed of the calibration's subsample of students.
        accuracy_structure, time_structure: ``auto`` (chosen on the inner hold-out) or one of ``STRUCTURES``.
        prune: keep an optional block of practice features only where the inner hold-out shows that it
            predicts (``selection.prune``); False keeps every block.
    """

    name: ClassVar[str] = "practice"

    def __init__(self, *, sweeps: int = 30, calibrate: bool = True, seed: int = 0,
                 accuracy_structure: str = "auto", time_structure: str = "auto", prune: bool = True,
                 rounds: int = 2) -> None:
        self.sweeps = sweeps
        self.rounds = rounds
        self.calibrate = calibrate
        self.seed = seed
        self.prune = prune
        self.accuracy_structure = accuracy_structure
        self.time_structure = time_structure

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters (as passed to ``__init__``)."""
        return {"sweeps": self.sweeps, "calibrate": self.calibrate, "seed": self.seed,
                "accuracy_structure": self.accuracy_structure, "time_structure": self.time_structure,
                "prune": self.prune, "rounds": self.rounds}

    # -- fitting -------------------------------------------------------------------------------------------
    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Estimate the population (items, groups, practice slopes, forgetting, variance components) from
        ``data``, calibrate on an inner hold-out, and keep every student's answers as their stored history.

        Row weights (``data.weight``, ``ml.robust``) weigh every population-level estimate and the inner
        hold-out's choices; a student's own state always uses all their answers."""
        for value in (self.accuracy_structure, self.time_structure):
            if value not in ("auto", *STRUCTURES):
                raise ValueError(f"unknown structure {value!r}; use auto or one of {', '.join(STRUCTURES)}")
        if progress:
            progress(0, 3, "practice: choosing the structure on an inner hold-out")
        self._reset([self.accuracy_structure, self.time_structure], [[], []])
        if self.calibrate or (self.prune and data.has_order) or "auto" in self.structure_:
            select_and_calibrate(self, data)
        if progress:
            progress(1, 3, "practice: fitting")
        self._fit_chosen(data)
        if progress:
            progress(3, 3, "practice: done")
        return self

    def fit_as(self, data: Responses, model: PracticeModel) -> Self:
        """Fit ``data`` the way ``model`` was chosen to be fitted (its structures and dropped blocks; this model's
        sweeps and rounds), without choosing or calibrating anything: the inner fit of a model as it serves."""
        if any(s not in STRUCTURES for s in model.structure_):
            raise ValueError(f"fit_as needs chosen structures, got {model.structure_}")
        self._reset(list(model.structure_), [list(part) for part in model.dropped_])
        self._fit_chosen(data)
        return self

    def _reset(self, structure: list[str], dropped: list[list[str]]) -> None:
        self.calibration_ = np.asarray((*store.IDENTITY, 0.0, 0.0), dtype=np.float64)
        self.structure_ = structure
        self.selection_: dict[str, list[float]] = {}
        self.dropped_: list[list[str]] = dropped

    def _fit_chosen(self, data: Responses) -> None:
        self._fit_population(data)
        self.histories_ = store.histories(self.vocab_, data)
        self._cache: OrderedDict[int, _Student] = OrderedDict()
        forget(self)

    def _fit_population(self, data: Responses) -> None:
        self.vocab_ = vocab = Vocab.from_data(data)
        order = data.order
        self.practice_ = data.has_order
        self.timestamps_ = bool(self.practice_ and order is not None and np.nanmax(order) > TIMESTAMP_THRESHOLD)
        self.gap_scale_ = GAP_SCALE_SECONDS if self.timestamps_ else GAP_SCALE_POSITIONS
        coded = vocab.code_responses(data)
        self.hardness_ = hardness(coded, vocab)
        self.speed_ = speed_norms(coded, vocab)
        seq = time_sorted(data.person, coded.order)
        coded = coded.take(seq)
        person = data.person[seq]
        feats = self._features(person, coded, self.hardness_[coded.item], self._speed(coded))
        cols = columns(feats, self.gap_scale_)
        cell: np.ndarray | None = None
        cells = np.zeros(0, np.int64)
        if vocab.n_topics > 0:
            with_topic = coded.topic >= 0
            cell_key = person.astype(np.int64) * vocab.n_topics + coded.topic
            cells, inverse = np.unique(cell_key[with_topic], return_inverse=True)
            cell = np.full(len(coded), -1, dtype=np.int64)
            cell[with_topic] = inverse
        rows = Rows(person.astype(np.int64), coded.item, coded.topic, cell,
                    (cells // max(vocab.n_topics, 1)).astype(np.int64), vocab.item_topic, vocab.item_level, cols,
                    coded.correct, coded.log_time, coded.weight, data.n_persons, vocab.n_items, vocab.n_topics,
                    vocab.n_levels, self.practice_, person_weights(data))
        structure = Structure(flags(self.structure_[0]), flags(self.structure_[1]),
                              active_columns(self.dropped_[0]), active_columns(self.dropped_[1]))
        acc, time = fit_parts(rows, structure, sweeps=self.sweeps, rounds=self.rounds)
        self.coupling_ = list(choose_coupling(rows, acc, time))
        # The persons' fitted parameters only served the population's estimates: a student's served state comes
        # from their history alone, so the model keeps none of them (an erased student leaves nothing behind).
        none = np.zeros(0)
        self.acc_ = replace(acc, theta=none, psi=none, theta_c=none, theta_var=none)
        self.time_ = replace(time, s=none, chi=none, s_c=none, kappa=none, s_var=none)
        self.population_ = self._population()

    def _population(self) -> Population:
        a, t = self.acc_, self.time_
        beta, conditional = self.coupling_
        return Population(self.vocab_.n_topics, a.w, a.u, a.delta, a.var_person, a.var_cell, t.v, t.u, t.delta,
                          t.var_person, t.var_cell, self.practice_, beta, conditional)

    def _kind(self, rows: CodedRows) -> np.ndarray:
        """Cold-start class per row: 0 known item, 1 new item of a known topic, 2 nothing known."""
        topic_known = (rows.topic >= 0) & (rows.topic < self.vocab_.n_topics)
        return np.where(rows.item < self.vocab_.n_items, 0, np.where(topic_known, 1, 2))

    # -- online state --------------------------------------------------------------------------------------
    def _priced(self, state: PersonState, rows: Priced, start: int = 0, stop: int | None = None,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated (p, mean, sd) of rows [start, stop) of pricing inputs."""
        p, mean, var = price_rows(self.population_, state, rows, start, stop)
        return self._calibrated(p, mean, var, rows.novel[start:stop])

    def _calibrated(self, p: np.ndarray, mean: np.ndarray, var: np.ndarray, novel: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Raw prices through the calibration (new items of known topics have their own intercept and shift)."""
        a, c, shift, scale, c_novel, shift_novel = self.calibration_
        p = expit(a * logit(np.minimum(np.maximum(p, 1e-12), 1 - 1e-12)) + np.where(novel, c_novel, c))  # = np.clip
        return p, mean + np.where(novel, shift_novel, shift), scale * np.sqrt(var)

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
        given = self._split(history) if history is not None and len(history) else {}
        labels = queries.person.astype(str)
        for person in np.unique(labels):
            rows = np.flatnonzero(labels == person)
            hist = given.get(person)
            if hist is None:
                hist = self.histories_.get(person)
            sub = store.take_queries(queries, rows)
            p[rows], mean[rows], sd[rows], known, item_known = self._predict_person(person, hist, sub)
            source[rows] = np.where(item_known & known, SOURCE_MODEL,
                                    np.where(item_known, SOURCE_ITEM_PRIOR, SOURCE_POPULATION_PRIOR))
        return Prediction(p, mean, sd, source)

    def _item_known(self, rows: CodedRows) -> np.ndarray:
        """Per coded row: whether the model knows its item or at least its topic."""
        return (rows.item < self.vocab_.n_items) | ((rows.topic >= 0) & (rows.topic < self.vocab_.n_topics))

    def _split(self, history: Responses) -> dict[str, store.History]:
        """Each student's rows of ``history``; for a read-only history, kept (read-only too) for the next call."""
        if not is_frozen(history):
            return store.split_by_person(history)
        return memo_kept(self, history, "practice.split", lambda: store.sealed(store.split_by_person(history)))

    def _person(self, person: str, hist: store.History | None) -> _Student:
        """A student's state from their history (cached by the history's fingerprint, or by the history itself when
        it is read-only; None: a new student)."""
        if hist is None or not len(hist):
            empty = store.History(*(np.zeros(0, dtype=object if f in ("item", "topic", "level") else np.float64)
                                    for f in ("item", "topic", "level", "correct", "log_time", "order")))
            hist = empty
        elif store.is_sealed(hist):
            sealed = hist
            return memo_kept(self, sealed, f"practice.student:{person}", lambda: self._state(person, sealed))
        return self._state(person, hist)

    def _state(self, person: str, hist: store.History) -> _Student:
        """A student's state from their history (cached by the history's fingerprint)."""
        key = store.fingerprint(person, hist)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        new_items: dict[str, int] = {}
        new_topics: dict[str, int] = {}
        rows = store.code_history(self.vocab_, hist, new_items, new_topics)
        rows = rows.take(time_sorted(np.zeros(len(rows), np.int64), rows.order))
        prep, coded, data = self._history(rows)
        local = {int(t): int(c) for t, c in zip(rows.topic, coded.cell, strict=True) if c >= 0}
        summary = summarise(rows.topic + 1, rows.item, rows.correct, rows.order, prep.hardness,
                            self._speed(rows)) if self.practice_ else None
        student = _Student(person, prep, summary, person_state(self.population_, data), local, new_items, new_topics)
        self._cache[key] = student
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return student

    def _query(self, person: str, hist: store.History | None, queries: Queries,
               ) -> tuple[_Student, Coded, Features, np.ndarray]:
        """A student's state and their coded query rows with the queries' practice features, and per row
        whether the model knows its item or topic."""
        student = self._person(person, hist)
        q_rows = self.vocab_.code_queries(queries, new_items=dict(student.new_items),
                                          new_topics=dict(student.new_topics))
        q_prep = self._prepare(q_rows)
        q_feats = Features.zeros(len(q_rows)) if student.practice is None else without_topic(
            summary_features(student.practice, q_rows.topic + 1, q_rows.item, q_rows.order), q_rows.topic < 0)
        local = student.local
        q_cell = np.array([-1 if t < 0 else local.get(int(t), len(local)) for t in q_rows.topic], dtype=np.int64)
        return student, self._coded(q_prep, np.arange(len(q_rows)), columns(q_feats, self.gap_scale_), q_cell), \
            q_feats, self._item_known(q_rows)

    def _predict_person(self, person: str, hist: store.History | None, queries: Queries,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, np.ndarray]:
        """Priced query rows of one student from their history (None: a new student), whether the student has
        answers, and per row whether the model knows its item or topic."""
        student, query, _, item_known = self._query(person, hist, queries)
        p, mean, sd = self._price(student, query)
        return p, mean, sd, student.state.n > 0, item_known

    def _price(self, student: _Student, query: Coded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated (p, mean, sd) of a student's coded query rows (``_query``): what ``predict`` serves."""
        return self._priced(student.state, priced_inputs(self.population_, query))

    def explain(self, person: str, item: str, *, topic: str | None = None, difficulty: str | None = None,
                order: float | None = None, history: Responses | None = None,
                label: str | None = None) -> Explanation:
        """Why one prediction is what it is: one sentence for the UI naming the practice gain and the forgetting
        it used, plus the numbers (``explain.Explanation``).

        Args:
            person, item, topic, difficulty, order: the query (as one row of Queries).
            history: this person's answers for this call (else the stored history).
            label: the topic's name as the student sees it (else ``topic``).
        """
        self._check_fitted()
        return explain_prediction(self, person, item, topic=topic, difficulty=difficulty, order=order,
                                  history=history, label=label)

    def predict_sequence(self, history: Responses, rows: Responses, *, sequential: bool) -> Prediction:
        """Online predictions of ``rows`` (``ml.evaluate.SequentialPredictor``): each row from the student's rows
        of ``history`` and, when ``sequential``, their rows of ``rows`` before it, exactly as the served call
        would price it, in one vectorised pass (``kernels.sequential``: each answer updates the student's
        state from the previous one's)."""
        from studysmart.ml.evaluate import served_predictions

        if not sequential:
            return served_predictions(self, history, rows, sequential=False)
        self._check_fitted()
        mine = np.isin(history.person, np.unique(rows.person))  # one data set's codes
        past = history.subset(mine)
        combined = store.concat(past, rows)
        coded = self.vocab_.code_responses(combined)
        is_row = np.r_[np.zeros(len(past), bool), np.ones(len(rows), bool)]
        person = combined.person
        when = np.nan_to_num(coded.order, nan=-np.inf)
        seq = np.lexsort((np.arange(len(coded)), is_row, when, person))
        coded, person, is_row = coded.take(seq), person[seq], is_row[seq]
        prep = self._prepare(coded)
        feats = self._features(person, coded, prep.hardness, self._speed(coded))
        starts = np.r_[0, np.flatnonzero(np.diff(person)) + 1, person.size].astype(np.int64)
        local = first_appearance_by_person(person, coded.topic, starts)
        full = self._coded(prep, np.arange(len(coded)), columns(feats, self.gap_scale_), local)
        data, priced = inputs(self.population_, full), priced_inputs(self.population_, full)
        pop = self.population_
        p_raw, mean_raw, var_raw, earlier = kernels.sequential(
            data.base, data.load, data.factor, data.correct, data.weight, data.cell, data.resid, data.time_load,
            data.time_factor, data.sigma2, priced.acc, priced.acc_var, priced.time, priced.time_var, priced.omega,
            starts, is_row, pop.acc_var_conditional if pop.beta else pop.acc_var_person, pop.acc_var_cell,
            pop.time_var_person, pop.time_var_cell, NU, pop.beta)
        p, mean, sd = self._calibrated(p_raw, mean_raw, var_raw, priced.novel)
        item_known = self._item_known(coded)
        source = np.where(item_known & (earlier > 0), SOURCE_MODEL,
                          np.where(item_known, SOURCE_ITEM_PRIOR, SOURCE_POPULATION_PRIOR)).astype(object)
        out_p, out_mean, out_sd = np.empty(len(rows)), np.empty(len(rows)), np.empty(len(rows))
        out_source = np.empty(len(rows), dtype=object)
        row_index = seq[is_row] - len(past)
        out_p[row_index], out_mean[row_index], out_sd[row_index] = p[is_row], mean[is_row], sd[is_row]
        out_source[row_index] = source[is_row]
        stored = [j for j in np.flatnonzero(is_row) if earlier[j] == 0
                  and str(combined.persons[person[j]]) in self.histories_]
        if stored:  # nothing earlier here, but a stored history: the served call prices from that
            queries = rows.to_queries()
            for j in stored:
                row = int(seq[j] - len(past))
                label = str(combined.persons[person[j]])
                one = self._predict_person(label, self.histories_[label], store.take_queries(queries, np.array([row])))
                out_p[row], out_mean[row], out_sd[row] = one[0][0], one[1][0], one[2][0]
                out_source[row] = SOURCE_MODEL if item_known[j] else SOURCE_ITEM_PRIOR
        return Prediction(out_p, out_mean, out_sd, out_source)

    def update_person(self, person: str, history: Responses) -> None:
        """Store ``person``'s rows of ``history`` as their history (replacing what was stored), in place; with no
        rows of theirs the person is forgotten (their history and cached states dropped)."""
        self._check_fitted()
        hist = store.split_by_person(history).get(str(person))
        if hist is None:
            self.histories_.pop(str(person), None)
            for key in [k for k, student in self._cache.items() if student.person == str(person)]:
                del self._cache[key]
        else:
            self.histories_[str(person)] = hist
            self._person(str(person), hist)  # the state, computed now and cached for the next predictions

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

    def topic_slopes(self) -> dict[str, np.ndarray]:
        """Per topic (``vocab_.topics`` order): the logit slope of log(1 + earlier correct answers) and of
        log(1 + earlier wrong answers) right after practice (the fading and the lasting parts together), and the
        same slopes of log-time (negative: practice makes faster)."""
        self._check_fitted()
        out: dict[str, np.ndarray] = {"topic": self.vocab_.topics.copy()}
        for prefix, weights, deviations in (("", self.acc_.w, self.acc_.u), ("time_", self.time_.v, self.time_.u)):
            for j, (name, kept) in enumerate((("correct", KEPT[0][0]), ("wrong", KEPT[1][0]))):
                deviation = deviations[:, j] if deviations.size else 0.0
                out[prefix + name] = weights[TOPIC_SLOPES[j]] + deviation + weights[kept] + \
                    np.zeros(self.vocab_.n_topics)
        return out

    def hardness_of(self, topic: str | None, difficulty: str | None) -> float:
        """The standardised hardness of a new item of this topic and difficulty (0 = the average item)."""
        self._check_fitted()
        topic_code, level_code = self.vocab_._topics.get(str(topic), -1), self.vocab_._levels.get(str(difficulty), -1)
        b = float(self.acc_.groups.mean(np.array([topic_code]), np.array([level_code]))[0])
        seen = self.acc_.b[self.acc_.b_seen]  # hardness is on the scale of the items' intercepts
        return float(-(b - seen.mean()) / max(seen.std(), 1e-9)) if seen.size else 0.0

    def forgetting(self, gap: float) -> tuple[float, float]:
        """The share of the practice gains (accuracy, time) left after ``gap`` (seconds or positions)."""
        self._check_fitted()
        x = math.log1p(max(gap, 0.0) / self.gap_scale_)
        return math.exp(-self.acc_.delta * x), math.exp(-self.time_.delta * x)

    def topic_variance(self) -> float:
        """The variance (logit) of a student's ability in one topic around their ability overall: the model's
        student x topic spread, before any answer in the topic (0 for data without topics)."""
        self._check_fitted()
        return float(self.acc_.var_cell) if self.vocab_.n_topics > 0 else 0.0

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


