"""The per-row inputs of the practice model: item parameters (new items priced from their group), practice
features and columns, and the kernels' inputs of a student's time-sorted answers. A mixin of ``PracticeModel``,
which holds the fitted state these read (``vocab_``, ``acc_``, ``time_``, ``hardness_``, ``speed_`` ...)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logit

from studysmart.ml.practice.coding import CodedRows, Vocab
from studysmart.ml.practice.design import Columns, columns
from studysmart.ml.practice.estimation import AccuracyFit, TimeFit
from studysmart.ml.practice.features import Features, sequence_features
from studysmart.ml.practice.groups import GroupPrior
from studysmart.ml.practice.person import Coded, Inputs, Population, first_appearance, inputs

__all__ = ["Prepared", "RowInputs", "first_appearance_by_person", "hardness", "speed_norms", "time_sorted",
           "without_topic"]


@dataclass
class Prepared:
    """Per-row model inputs of coded rows, before practice features."""

    rows: CodedRows
    acc: np.ndarray  # (n, 3): b, a, c
    acc_var: np.ndarray
    time: np.ndarray  # (n, 3): lambda, phi, d
    time_var: np.ndarray
    omega: np.ndarray
    sigma2: np.ndarray
    hardness: np.ndarray
    slope_topic: np.ndarray  # topic code for the slope deviations (-1: none or new)
    new: np.ndarray  # items the model never saw (priced from their group, at the row's sequence position)


class RowInputs:
    """The row pipeline of a fitted practice model (mixin)."""

    vocab_: Vocab
    acc_: AccuracyFit
    time_: TimeFit
    hardness_: np.ndarray
    speed_: np.ndarray
    practice_: bool
    gap_scale_: float
    population_: Population

    def _speed(self, rows: CodedRows) -> np.ndarray:
        """Per row: the standardised log-time (log-time minus the item's usual one, in population sds)."""
        centre, sd = self.speed_[:-1], self.speed_[-1]
        known = rows.item < centre.size
        usual = np.where(known, centre[np.minimum(rows.item, max(centre.size - 1, 0))] if centre.size else 0.0,
                         float(np.mean(centre)) if centre.size else 0.0)
        result: np.ndarray = (rows.log_time - usual) / sd
        return result

    def _features(self, person: np.ndarray, coded: CodedRows, hardness: np.ndarray, speed: np.ndarray,
                  ) -> Features:
        """Sequence features of time-sorted rows (zeros without an order); topic features need a topic."""
        if not self.practice_:
            return Features.zeros(len(coded))
        feats = sequence_features(person, coded.topic + 1, coded.item, coded.correct, coded.order, hardness,
                                  speed)
        return without_topic(feats, coded.topic < 0)

    def _prepare(self, rows: CodedRows) -> Prepared:
        """Item parameters (new items: their group's), hardness and slope topics of coded rows."""
        v, a, t = self.vocab_, self.acc_, self.time_
        known = rows.item < v.n_items
        k = np.where(known, rows.item, 0)
        group_topic = np.where((rows.topic >= 0) & (rows.topic < v.n_topics), rows.topic, -1)
        all_known = bool(known.all())

        def params(fit_values: tuple[np.ndarray, ...], fit_vars: tuple[np.ndarray, ...], groups: GroupPrior,
                   mean_load: float, var_load: float, var_factor: float) -> tuple[np.ndarray, np.ndarray]:
            if all_known:  # no row needs its group's prior (the common served case: one known item)
                return np.column_stack([f[k] for f in fit_values]), np.column_stack([f[k] for f in fit_vars])
            new_values = (groups.mean(group_topic, rows.level), mean_load, 0.0)
            new_vars = (groups.new_item_var(group_topic, rows.level), var_load, var_factor)
            values = np.column_stack([np.where(known, f[k], np.asarray(nv))
                                      for f, nv in zip(fit_values, new_values, strict=True)])
            variances = np.column_stack([np.where(known, f[k], np.asarray(nv))
                                         for f, nv in zip(fit_vars, new_vars, strict=True)])
            return values, variances

        acc, acc_var = params((a.b, a.a, a.c), (a.b_var, a.a_var, a.c_var), a.groups, a.mean_a, a.var_a, a.var_c)
        time, time_var = params((t.lam, t.phi, t.d), (t.lam_var, t.phi_var, t.d_var), t.groups, t.mean_phi,
                                t.var_phi, t.var_d)
        omega = np.where(known, t.omega[k], t.omega0)
        sigma2 = np.where(known, t.sigma2[k], t.sigma2_pooled)
        hardness = np.where(known, self.hardness_[np.minimum(k, self.hardness_.size - 1)], 0.0)
        return Prepared(rows, acc, acc_var, time, time_var, omega, sigma2, hardness, group_topic, ~known)

    def _coded(self, prep: Prepared, rows: np.ndarray, cols: Columns, cell: np.ndarray) -> Coded:
        """person.Coded of the given rows of ``prep`` with their local cell codes."""
        new = prep.new[rows]
        acc, acc_var = prep.acc[rows].copy(), prep.acc_var[rows].copy()
        time, time_var = prep.time[rows].copy(), prep.time_var[rows].copy()
        if self.practice_ and new.any():  # new items at this point of the student's sequence in the topic
            z = cols.position
            for values, var, g in ((acc, acc_var, self.acc_.groups), (time, time_var, self.time_.groups)):
                values[:, 0] += np.where(new, g.slope * (z - g.z_mean), 0.0)
                var[:, 0] += np.where(new, g.slope_var * (z - g.z_mean) ** 2, 0.0)
        return Coded(acc, acc_var, time, time_var, prep.omega[rows], prep.sigma2[rows], prep.slope_topic[rows], cell,
                     cols, prep.rows.correct[rows], prep.rows.log_time[rows],
                     new & (prep.slope_topic[rows] >= 0))

    def _history(self, rows: CodedRows) -> tuple[Prepared, Coded, Inputs]:
        """A student's time-sorted rows: prepared, coded (cells by first appearance) and as kernel inputs."""
        prep = self._prepare(rows)
        feats = self._features(np.zeros(len(rows), np.int64), rows, prep.hardness, self._speed(rows))
        coded = self._coded(prep, np.arange(len(rows)), columns(feats, self.gap_scale_),
                            first_appearance(rows.topic))
        return prep, coded, inputs(self.population_, coded)



def first_appearance_by_person(person: np.ndarray, topic: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per row of person-sorted rows: the rank of its topic among the person's topics by first appearance."""
    n = person.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    has = topic >= 0
    if not has.any():
        return out
    key = person.astype(np.int64) * (int(topic.max()) + 1) + np.maximum(topic, 0)
    keys, first, inverse = np.unique(key[has], return_index=True, return_inverse=True)
    first_row = np.flatnonzero(has)[first]  # the first row of each (person, topic)
    owner = person[first_row]
    order = np.lexsort((first_row, owner))
    rank = np.empty(keys.size, dtype=np.int64)
    run_start = np.r_[0, np.flatnonzero(np.diff(owner[order])) + 1]
    rank[order] = np.arange(order.size) - np.repeat(run_start, np.diff(np.r_[run_start, order.size]))
    out[has] = rank[inverse]
    return out


def time_sorted(person: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Row indices by person, then order (rows without an order first), then position."""
    when = np.nan_to_num(np.asarray(order, dtype=np.float64), nan=-np.inf)
    return np.lexsort((np.arange(person.shape[0]), when, person))


def without_topic(feats: Features, no_topic: np.ndarray) -> Features:
    """Topic-scope features are zero for rows without a topic."""
    if not no_topic.any():
        return feats
    zero = ~no_topic
    return Features(feats.topic_s * zero, feats.topic_f * zero, feats.topic_zs * zero, feats.topic_zf * zero,
                    feats.topic_gap * zero, feats.item_s, feats.item_f, feats.item_gap, feats.all_s, feats.all_f,
                    feats.topic_last * zero, feats.item_last, feats.all_last, feats.all_gap, feats.last_speed)


def speed_norms(coded: CodedRows, vocab: Vocab) -> np.ndarray:
    """Per item its usual log-time (mean, 5 pseudo-answers at the population mean), then the population sd
    (rows weighted by ``coded.weight``)."""
    timed = ~np.isnan(coded.log_time) & (coded.weight > 0)
    lt, w = coded.log_time[timed], coded.weight[timed]
    if not lt.size:
        untimed: np.ndarray = np.r_[np.zeros(vocab.n_items), 1.0]
        return untimed
    mu = float(np.sum(w * lt) / w.sum())
    sd = float(np.sqrt(np.sum(w * (lt - mu) ** 2) / w.sum()))
    total = np.bincount(coded.item[timed], w * lt, vocab.n_items)
    count = np.bincount(coded.item[timed], w, vocab.n_items)
    result: np.ndarray = np.r_[(total + 5 * mu) / (count + 5), max(sd, 1e-6)]
    return result


def hardness(coded: CodedRows, vocab: Vocab) -> np.ndarray:
    """Per item: minus the standardised logit of its smoothed accuracy (hard items are positive; rows weighted by
    ``coded.weight``)."""
    known = ~np.isnan(coded.correct)
    n = vocab.n_items
    w = coded.weight[known]
    k = np.bincount(coded.item[known], w * coded.correct[known], n)
    m = np.bincount(coded.item[known], w, n)
    rate = (k + 1.0) / (m + 2.0)
    z = -logit(rate)
    seen = m > 0
    if not seen.any():
        return np.zeros(n)
    z = (z - z[seen].mean()) / max(z[seen].std(), 1e-9)
    return np.where(seen, z, 0.0)
