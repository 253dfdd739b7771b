"""Baseline predictors registered as ``avg``, ``item-means``, ``person-median``, ``shrinkage`` and ``irt2pl``.

Every model here predicts P(correct) and a normal distribution of log(seconds), works with zero responses
(population priors in ``studysmart.ml._shared``: P(correct) = 0.7, a median of 60 s, sd 1.0 of log-seconds),
serialises without pickle, and reports per row where its numbers come from (``Prediction.source``):
``model`` (the person's own responses were used, on a known item or group), ``item-prior`` (the item or its
topic|difficulty group is known, nothing personal is used) or ``population-prior`` (neither is known).
The hierarchical shrinkage model lives in ``studysmart.ml.shrinkage`` and is re-exported here.
Row weights (``Responses.weight``, see ``studysmart.ml.robust``) weigh the population, item and group
estimates (and the item steps of ``irt2pl``); person-level estimates use all of a person's rows.
"""

from __future__ import annotations

import math
from typing import ClassVar, Self

import numpy as np
from scipy.special import expit, logit

from studysmart.ml._shared import (
    PRIOR_P,
    PRIOR_SD_LOG_TIME,
    PRIOR_SECONDS,
    PRIOR_STRENGTH,
    FittedState,
    NotFittedError,
    group_medians,
    index_of,
    item_groups,
    lookup,
    population,
    query_groups,
    rows_of,
    sources,
    unit_means,
)
from studysmart.ml.base import SOURCE_POPULATION_PRIOR, Prediction, Progress
from studysmart.ml.data import Queries, Responses
from studysmart.ml.robust import weighted_medians
from studysmart.ml.shrinkage import Shrinkage

__all__ = [
    "IRT2PL",
    "PRIOR_P",
    "PRIOR_SD_LOG_TIME",
    "PRIOR_SECONDS",
    "PRIOR_STRENGTH",
    "GlobalAverage",
    "ItemMeans",
    "NotFittedError",
    "PersonMedian",
    "Shrinkage",
]


#: Pseudo-items behind a topic|difficulty group's mean (toward the population) when it prices a new item.
GROUP_STRENGTH = 2.0


class _Priors(FittedState):
    """Population priors shared by the simple baselines (hyperparameters of every model here)."""

    def __init__(self, prior_p: float = PRIOR_P, prior_seconds: float = PRIOR_SECONDS,
                 prior_sd_log_time: float = PRIOR_SD_LOG_TIME,
                 prior_strength: float = PRIOR_STRENGTH) -> None:
        self.prior_p = prior_p
        self.prior_seconds = prior_seconds
        self.prior_sd_log_time = prior_sd_log_time
        self.prior_strength = prior_strength

    def _population(self, data: Responses) -> list[float]:
        return list(population(data, self.prior_p, self.prior_seconds, self.prior_sd_log_time,
                               self.prior_strength))


class GlobalAverage(_Priors):
    """``avg``: one P(correct), one mean and sd of log-time for everyone (population prior + data)."""

    name: ClassVar[str] = "avg"
    _SCALARS = ("population_",)

    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Estimate the global rate and log-time distribution; returns self."""
        self.population_ = self._population(data)
        return self

    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """The population numbers for every row (source: population-prior). ``history`` is ignored."""
        self._check_fitted()
        n = len(queries)
        p0, mu0, var0 = self.population_
        return Prediction(np.full(n, p0), np.full(n, mu0), np.full(n, math.sqrt(var0)),
                          np.full(n, SOURCE_POPULATION_PRIOR, dtype=object))

    def update_person(self, person: str, history: Responses) -> None:
        """Nothing is personal in this model."""


class _ItemSide(_Priors):
    """Item and topic|difficulty group tables of P(correct), mean and variance of log-time."""

    def _fit_side(self, data: Responses) -> None:
        self.population_ = self._population(data)
        p0, mu0, var0 = self.population_
        keys, _, has_features = item_groups(data)
        values, seen = unit_means(data.item, data.n_items, data, p0, mu0, var0, self.prior_strength)
        labels = [f"item:{x}" for x in data.items[seen]]
        tables = [values[seen]]
        if has_features and seen.any():  # a group's numbers: the mean over its items, plus 2 pseudo-items
            names, group = np.unique(keys[seen].astype(str), return_inverse=True)
            n = np.bincount(group) + GROUP_STRENGTH
            item = values[seen]
            g_p = (np.bincount(group, item[:, 0]) + GROUP_STRENGTH * p0) / n
            g_mu = (np.bincount(group, item[:, 1]) + GROUP_STRENGTH * mu0) / n
            spread = item[:, 2] + (item[:, 1] - g_mu[group]) ** 2
            g_var = (np.bincount(group, spread) + GROUP_STRENGTH * var0) / n
            labels += [f"group:{x}" for x in names]
            tables.append(np.column_stack([g_p, g_mu, g_var]))
        self.side_labels_ = np.asarray(labels, dtype=object)
        self.side_values_ = np.vstack(tables)
        self.item_labels_ = data.items.astype(object)
        self.item_group_ = keys

    def _rebuild(self) -> None:
        self._side_index = index_of(self.side_labels_)
        self._item_group = {str(i): str(g) for i, g in zip(self.item_labels_, self.item_group_, strict=True)}

    def _side(self, queries: Queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: (p, mu, var) of the item, else its group, else the population; item-or-group known;
        the row's group key."""
        groups = query_groups(queries, self._item_group)
        out = np.tile(np.asarray(self.population_, dtype=np.float64), (len(queries), 1))
        known = np.zeros(len(queries), dtype=bool)
        for prefix, labels in (("group", groups), ("item", queries.item)):
            pos = lookup(self._side_index, np.array([f"{prefix}:{x}" for x in labels], dtype=object))
            out[pos >= 0] = self.side_values_[pos[pos >= 0]]
            known |= pos >= 0
        return out, known, groups


class ItemMeans(_ItemSide):
    """``item-means``: each item's P(correct) and log-time normal, pulled toward the population by
    ``prior_strength`` pseudo-responses; unknown items take their topic|difficulty group (the mean over its
    items plus GROUP_STRENGTH pseudo-items at the population), else the population.
    Never personal (sources: item-prior or population-prior)."""

    name: ClassVar[str] = "item-means"
    _STATE = ("side_labels_", "side_values_", "item_labels_", "item_group_")
    _SCALARS = ("population_",)

    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Estimate the item and group tables; returns self."""
        self._fit_side(data)
        self._rebuild()
        return self

    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """Item (or group, or population) numbers per row. ``history`` is ignored."""
        self._check_fitted()
        values, known, _ = self._side(queries)
        return Prediction(values[:, 0], values[:, 1], np.sqrt(values[:, 2]),
                          sources(np.zeros(len(queries), dtype=bool), known))

    def update_person(self, person: str, history: Responses) -> None:
        """Nothing is personal in this model."""


class PersonMedian(_ItemSide):
    """``person-median``: the person's median log-time when correct and when incorrect (the person-by-outcome
    median, the strongest simple baseline of the public Anki time benchmark), mixed by P(correct).

    P(correct) is the item's mean (else the person's mean, else the population's). With m1, m0 the person's
    medians and s^2 their residual variance (pulled toward the pooled one by ``prior_strength``):
    mean log-time = p m1 + (1 - p) m0, variance = s^2 + p (1 - p) (m1 - m0)^2. Unknown persons take the
    population medians and variance.
    """

    name: ClassVar[str] = "person-median"
    _STATE = ("side_labels_", "side_values_", "item_labels_", "item_group_", "person_labels_",
              "person_values_")
    _SCALARS = ("population_", "medians_")

    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Estimate item means, population and person medians; returns self."""
        self._fit_side(data)
        mu0 = self.population_[1]
        correct = data.correct == 1
        wrong = data.correct == 0
        lt = data.log_time
        w = data.row_weight()
        one = np.zeros(len(data), dtype=np.int64)
        m_all, m1, m0 = (mu0 if np.isnan(m) else float(m) for m in (
            weighted_medians(one, x, w, 1)[0]
            for x in (lt, np.where(correct, lt, np.nan), np.where(wrong, lt, np.nan))))
        resid = lt - np.where(correct, m1, np.where(wrong, m0, m_all))
        timed = ~np.isnan(resid) & (w > 0)
        pop_var = float(np.average(resid[timed] ** 2, weights=w[timed])) if timed.any() else self.population_[2]
        self.medians_ = [m_all, m1, m0, pop_var, pop_var]
        labels, values = self._person_stats(data)
        within = values[:, 4] > 1
        if within.any():  # pooled within-person variance around the person's own medians
            self.medians_[4] = float(np.sum(values[within, 5]) / np.sum(values[within, 4] - 1))
            labels, values = self._person_stats(data)
        self.person_labels_, self.person_values_ = labels, values
        self._rebuild()
        return self

    def _person_stats(self, data: Responses) -> tuple[np.ndarray, np.ndarray]:
        """Per person with data: p, m1, m0, variance, number of times, residual sum of squares."""
        m_all, m1_pop, m0_pop, _, within_var = self.medians_
        units, n = data.person, data.n_persons
        lt = data.log_time
        correct, wrong = data.correct == 1, data.correct == 0
        med = group_medians(units, lt, n)
        m1 = group_medians(units, np.where(correct, lt, np.nan), n)
        m0 = group_medians(units, np.where(wrong, lt, np.nan), n)
        m1 = np.where(np.isnan(m1), np.where(np.isnan(med), m1_pop, med + m1_pop - m_all), m1)
        m0 = np.where(np.isnan(m0), np.where(np.isnan(med), m0_pop, med + m0_pop - m_all), m0)
        t = ~np.isnan(lt)
        resid = lt - np.where(correct, m1[units], np.where(wrong, m0[units], med[units]))
        n_t = np.bincount(units[t], minlength=n).astype(float)
        ss = np.bincount(units[t], weights=resid[t] ** 2, minlength=n)
        var = (ss + self.prior_strength * within_var) / (n_t + self.prior_strength)
        c = ~np.isnan(data.correct)
        n_c = np.bincount(units[c], minlength=n)
        k = np.bincount(units[c], weights=data.correct[c], minlength=n)
        p = (k + self.prior_strength * self.population_[0]) / (n_c + self.prior_strength)
        seen = (n_c + n_t) > 0
        values = np.column_stack([p, m1, m0, var, n_t, ss])[seen]
        return data.persons[seen].astype(object), values

    def _rebuild(self) -> None:
        super()._rebuild()
        self._persons = index_of(self.person_labels_)

    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """Predict each row; persons in ``history`` use their medians from it (this call only)."""
        self._check_fitted()
        side, item_known, _ = self._side(queries)
        stats = np.tile([np.nan, self.medians_[1], self.medians_[2], self.medians_[3]], (len(queries), 1))
        person_known = np.zeros(len(queries), dtype=bool)
        tables = [(self._persons, self.person_values_)]
        if history is not None and len(history):
            labels, values = self._person_stats(history)
            tables.append((index_of(labels), values))
        for index, values in tables:  # history (last) overrides the fitted table
            pos = lookup(index, queries.person)
            stats[pos >= 0] = values[pos[pos >= 0], :4]
            person_known |= pos >= 0
        p = np.where(item_known, side[:, 0], np.where(person_known, stats[:, 0], self.population_[0]))
        m1, m0, var = stats[:, 1], stats[:, 2], stats[:, 3]
        return Prediction(p, p * m1 + (1 - p) * m0, np.sqrt(var + p * (1 - p) * (m1 - m0) ** 2),
                          sources(person_known, item_known))

    def update_person(self, person: str, history: Responses) -> None:
        """Recompute ``person``'s medians from their rows in ``history``, in place."""
        self._check_fitted()
        labels, values = self._person_stats(rows_of(history, person))
        keep = self.person_labels_ != person
        self.person_labels_ = np.concatenate([self.person_labels_[keep], labels])
        self.person_values_ = np.vstack([self.person_values_[keep], values])
        self._rebuild()


def _theta_newton(theta: np.ndarray, persons: np.ndarray, a: np.ndarray, b: np.ndarray, y: np.ndarray,
                  prior_var: float, steps: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps for person abilities with items fixed (rows: persons, a, b, y); returns (theta, 1/h)."""
    n = theta.shape[0]
    h: np.ndarray = np.ones(n)
    for _ in range(steps):
        prob = expit(a * theta[persons] - b)
        grad = np.bincount(persons, weights=a * (y - prob), minlength=n) - theta / prior_var
        h = np.bincount(persons, weights=a * a * prob * (1 - prob), minlength=n) + 1 / prior_var
        theta = theta + np.clip(grad / h, -1.0, 1.0)
    return theta, 1 / h


class IRT2PL(_ItemSide):
    """``irt2pl``: the accuracy-only comparison, logistic 2PL P(correct) = expit(a_k theta_i - b_k), fitted by
    MAP with alternating Newton steps (priors theta ~ N(0, 1), a ~ N(1, 0.5^2), b ~ N(-logit p0, 1)), with
    per-item lognormal time (as ``item-means``). Unknown persons get the marginal over theta ~ N(0, s^2),
    P = expit(-b / sqrt(1 + pi a^2 s^2 / 8)); unknown items take their group's mean (a, b) with
    GROUP_STRENGTH pseudo-items at the overall mean.

    Args:
        max_iter: alternating Newton sweeps at most.
        tol: stop when no parameter moves more than this.
        prior_sd_a, prior_sd_b: prior sds of the discriminations and intercepts.
        prior_p, prior_seconds, prior_sd_log_time, prior_strength: the population priors.
    """

    name: ClassVar[str] = "irt2pl"
    _STATE = ("side_labels_", "side_values_", "item_labels_", "item_group_", "irt_labels_", "irt_ab_",
              "person_labels_", "person_theta_")
    _SCALARS = ("population_", "theta_var_", "mean_ab_")

    def __init__(self, max_iter: int = 100, tol: float = 1e-4, prior_sd_a: float = 0.5,
                 prior_sd_b: float = 1.0, prior_p: float = PRIOR_P, prior_seconds: float = PRIOR_SECONDS,
                 prior_sd_log_time: float = PRIOR_SD_LOG_TIME,
                 prior_strength: float = PRIOR_STRENGTH) -> None:
        super().__init__(prior_p, prior_seconds, prior_sd_log_time, prior_strength)
        self.max_iter = max_iter
        self.tol = tol
        self.prior_sd_a = prior_sd_a
        self.prior_sd_b = prior_sd_b

    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Fit item (a, b), person theta and item time tables; returns self."""
        self._fit_side(data)
        rows = ~np.isnan(data.correct)
        persons, items, y = data.person[rows], data.item[rows], data.correct[rows]
        iw = data.row_weight()[rows]  # row weights of the item steps (persons use all their rows)
        b_prior = -float(logit(self.population_[0]))
        theta = np.zeros(data.n_persons)
        a = np.ones(data.n_items)
        b = np.full(data.n_items, b_prior)
        inv_h = np.ones(data.n_persons)
        for sweep in range(self.max_iter):
            old = np.concatenate([theta, a, b])
            theta, inv_h = _theta_newton(theta, persons, a[items], b[items], y, 1.0)
            prob = expit(a[items] * theta[persons] - b[items])
            w, r, th = prob * (1 - prob), y - prob, theta[persons]
            n = data.n_items
            var_a, var_b = self.prior_sd_a**2, self.prior_sd_b**2
            g_a = np.bincount(items, weights=iw * th * r, minlength=n) - (a - 1) / var_a
            g_b = -np.bincount(items, weights=iw * r, minlength=n) - (b - b_prior) / var_b
            h_aa = np.bincount(items, weights=iw * th * th * w, minlength=n) + 1 / var_a
            h_bb = np.bincount(items, weights=iw * w, minlength=n) + 1 / var_b
            h_ab = -np.bincount(items, weights=iw * th * w, minlength=n)
            det = h_aa * h_bb - h_ab**2
            a = np.clip(a + np.clip((h_bb * g_a - h_ab * g_b) / det, -1, 1), 0.05, 5.0)
            b = b + np.clip((h_aa * g_b - h_ab * g_a) / det, -1, 1)
            if progress:
                progress(sweep + 1, self.max_iter, "irt2pl: alternating Newton")
            if np.max(np.abs(np.concatenate([theta, a, b]) - old), initial=0.0) < self.tol:
                break
        seen_items = np.bincount(items, minlength=data.n_items) > 0
        seen_persons = np.bincount(persons, minlength=data.n_persons) > 0
        keys, _, has_features = item_groups(data)
        self.mean_ab_ = [float(a[seen_items].mean()), float(b[seen_items].mean())] if seen_items.any() \
            else [1.0, b_prior]
        labels = [f"item:{x}" for x in data.items[seen_items]]
        ab = [np.column_stack([a, b])[seen_items]]
        if has_features and seen_items.any():
            names, inverse = np.unique(keys[seen_items].astype(str), return_inverse=True)
            counts = np.bincount(inverse) + GROUP_STRENGTH
            mean_a, mean_b = self.mean_ab_
            labels += [f"group:{x}" for x in names]
            sum_a = np.bincount(inverse, a[seen_items]) + GROUP_STRENGTH * mean_a
            sum_b = np.bincount(inverse, b[seen_items]) + GROUP_STRENGTH * mean_b
            ab.append(np.column_stack([sum_a / counts, sum_b / counts]))
        self.irt_labels_ = np.asarray(labels, dtype=object)
        self.irt_ab_ = np.vstack(ab)
        self.person_labels_ = data.persons[seen_persons].astype(object)
        self.person_theta_ = theta[seen_persons]
        self.theta_var_ = float(np.mean(theta[seen_persons] ** 2 + inv_h[seen_persons])) \
            if seen_persons.any() else 1.0
        self._rebuild()
        return self

    def _rebuild(self) -> None:
        super()._rebuild()
        self._irt = index_of(self.irt_labels_)
        self._persons = index_of(self.person_labels_)

    def _item_ab(self, items: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row: (a, b) of the item, else its group's mean, else the overall mean; and whether found."""
        ab = np.tile(np.asarray(self.mean_ab_, dtype=np.float64), (items.shape[0], 1))
        found = np.zeros(items.shape[0], dtype=bool)
        for prefix, labels in (("group", groups), ("item", items)):
            pos = lookup(self._irt, np.array([f"{prefix}:{x}" for x in labels], dtype=object))
            ab[pos >= 0] = self.irt_ab_[pos[pos >= 0]]
            found |= pos >= 0
        return ab, found

    def _thetas(self, history: Responses) -> tuple[np.ndarray, np.ndarray]:
        """Theta of each person in ``history`` from their answers, items fixed (Newton, 20 steps)."""
        queries = history.to_queries()
        ab, _ = self._item_ab(queries.item, query_groups(queries, self._item_group))
        rows = ~np.isnan(history.correct)
        theta, _ = _theta_newton(np.zeros(history.n_persons), history.person[rows], ab[rows, 0], ab[rows, 1],
                                 history.correct[rows], 1.0, steps=20)
        seen = np.bincount(history.person[rows], minlength=history.n_persons) > 0
        return history.persons[seen].astype(object), theta[seen]

    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """Predict each row; persons in ``history`` get theta re-estimated from it (this call only)."""
        self._check_fitted()
        side, item_known, groups = self._side(queries)
        ab, ab_found = self._item_ab(queries.item, groups)
        theta = np.zeros(len(queries))
        person_known = np.zeros(len(queries), dtype=bool)
        tables = [(self._persons, self.person_theta_)]
        if history is not None and len(history):
            labels, values = self._thetas(history)
            tables.append((index_of(labels), values))
        for index, values in tables:
            pos = lookup(index, queries.person)
            theta[pos >= 0] = values[pos[pos >= 0]]
            person_known |= pos >= 0
        a, b = ab[:, 0], ab[:, 1]
        marginal = expit(-b / np.sqrt(1 + math.pi * a * a * self.theta_var_ / 8))
        p = np.where(person_known, expit(a * theta - b), np.where(ab_found, marginal, side[:, 0]))
        return Prediction(p, side[:, 1], np.sqrt(side[:, 2]), sources(person_known, item_known))

    def update_person(self, person: str, history: Responses) -> None:
        """Re-estimate ``person``'s theta from their rows in ``history``, in place."""
        self._check_fitted()
        labels, theta = self._thetas(rows_of(history, person))
        keep = self.person_labels_ != person
        self.person_labels_ = np.concatenate([self.person_labels_[keep], labels])
        self.person_theta_ = np.concatenate([self.person_theta_[keep], theta])
        self._rebuild()
