"""Hierarchical shrinkage: population -> difficulty -> topic|difficulty group -> item -> person -> the
person's cell (person x group), for P(correct) and for the normal distribution of log-time.

Each level is a set of units (e.g. persons). A unit's data are compared with the prediction of the levels
above it (the row prior) and the unit's estimate is pulled toward that prior by empirical-Bayes pseudo-counts:

* accuracy, beta-binomial: with k correct of n answers and prior mean pi (the mean row prior of those
  answers), the unit's rate is (k + m pi) / (n + m); the shift logit(rate) - logit(pi) is carried on the
  logit scale so it transfers to items of other difficulty;
* log-time mean, normal-normal: with standardised residuals z = (log t - mu) / sd, the unit's shift is
  sum(z) / (n + kappa), in prior-sd units;
* log-time variance, scaled chi-square: the unit's variance factor is (sum (z - shift)^2 + nu r) / (n + nu),
  times (1 + 1 / (n + kappa)) for the uncertainty of the shift; r is the level's pooled within-unit ratio.

The pseudo-counts m, kappa, nu and r of each level are estimated by the method of moments from units with
at least two answers (when there are at least ``min_units`` of them; otherwise ``default_pseudo_count``).
Levels above the item level (difficulty, group) estimate their means from their children's means, each child
(an item of the group, a group of the difficulty) one observation, with pseudo-counts in children (estimated
once two units have two children each; otherwise ``default_pseudo_units``).
Item-side levels (difficulty, group, item) are nested, so their estimates are stored absolutely; person and
cell shifts are stored relative to the item side. Without topic/difficulty features the items are the groups.
A level that would not split anything (one item per group, e.g. app items labelled "topic|difficulty") is
skipped.

Row weights (``Responses.weight``, see ``studysmart.ml.robust``) weigh every row in the population and item-side
levels (weighted counts and sums); the person and cell levels use all of a person's rows.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple, Self

import numpy as np
from scipy.special import expit, logit

from studysmart.ml._shared import (
    PRIOR_P,
    PRIOR_SD_LOG_TIME,
    PRIOR_SECONDS,
    PRIOR_STRENGTH,
    FittedState,
    clean_label,
    index_of,
    item_groups,
    lookup,
    population,
    query_groups,
    rows_of,
    sources,
)
from studysmart.ml.base import Prediction, Progress
from studysmart.ml.data import Queries, Responses
from studysmart.ml.memo import derived, forget

__all__ = ["PRIOR_P", "PRIOR_SD_LOG_TIME", "PRIOR_SECONDS", "PRIOR_STRENGTH", "Shrinkage"]

_Table = tuple[np.ndarray, np.ndarray]  # unit labels, per-unit shifts
_MAX_PSEUDO = 1e6  # a level without between-unit variation: shifts vanish
_EPS = 1e-6
#: Units needed to estimate a level above the items (their within-unit spread is pooled over all children,
#: so two groups suffice; e.g. three chess skills or three difficulties).
_MIN_PARENTS = 2


class _Level(NamedTuple):
    """Pseudo-counts of one level: m (accuracy), kappa (log-time mean), nu (variance), ratio (pooled)."""

    m: float
    kappa: float
    nu: float
    ratio: float


class _Sums(NamedTuple):
    n_c: np.ndarray  # answers with a known outcome
    k: np.ndarray  # correct answers
    e: np.ndarray  # sum of prior p
    v: np.ndarray  # sum of prior p (1 - p)
    n_t: np.ndarray  # answers with a known time
    sz: np.ndarray  # sum of standardised log-time residuals
    szz: np.ndarray  # sum of their squares


def _sums(units: np.ndarray, n_units: int, correct: np.ndarray, log_time: np.ndarray,
          prior: np.ndarray, weight: np.ndarray | None = None) -> _Sums:
    """Per-unit sufficient statistics of rows against their row prior (columns: logit p, mu, var), each row
    counted with its ``weight`` (default 1)."""
    p = expit(prior[:, 0])
    c = ~np.isnan(correct)
    t = ~np.isnan(log_time)
    z = (log_time[t] - prior[t, 1]) / np.sqrt(prior[t, 2])
    w = np.ones(units.shape[0]) if weight is None else weight

    def count(mask: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(units[mask], weights=w[mask] if x is None else w[mask] * x,
                           minlength=n_units).astype(np.float64)

    return _Sums(count(c), count(c, correct[c]), count(c, p[c]), count(c, p[c] * (1 - p[c])),
                 count(t), count(t, z), count(t, z * z))


def _estimate(s: _Sums, default: float, min_units: int) -> _Level:
    """Method-of-moments pseudo-counts from units with at least two answers."""
    m = kappa = nu = default
    ratio = 1.0
    rep = s.n_c >= 2
    if rep.sum() >= min_units:
        n = s.n_c[rep]
        dev = s.k[rep] / n - s.e[rep] / n
        between = (np.sum(n * dev**2) - np.sum(s.v[rep] / n)) / n.sum()
        pq = s.v[rep].sum() / n.sum()
        m = float(np.clip(pq / between - 1, 1.0, _MAX_PSEUDO)) if between > 0 else _MAX_PSEUDO
    rep = s.n_t >= 2
    if rep.sum() >= min_units:
        n = s.n_t[rep]
        zbar = s.sz[rep] / n
        ssw = s.szz[rep] - n * zbar**2
        ratio = float(max(ssw.sum() / (n - 1).sum(), _EPS))
        tau2 = (np.sum(n * zbar**2) - ratio * n.size) / n.sum()
        kappa = float(np.clip(ratio / tau2, 0.5, _MAX_PSEUDO)) if tau2 > 0 else _MAX_PSEUDO
        w = n - 1
        r = ssw / w
        var_r = np.sum(w * (r - ratio) ** 2) / w.sum() - 2 * ratio**2 * n.size / w.sum()
        nu = float(np.clip(2 * ratio**2 / var_r, 2.0, _MAX_PSEUDO)) if var_r > 0 else _MAX_PSEUDO
    return _Level(float(m), float(kappa), float(nu), ratio)


def _shifts(s: _Sums, level: _Level,
            means: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Per unit: logit shift, mean shift (in prior sds), variance factor; 0, 0, 1 for units without data.

    ``means`` = (logit shift, mean shift, effective count) replaces the row-based mean estimates (see
    ``_child_means``); the variance factor is always computed from the rows.
    """
    if means is None:
        pi = np.clip(s.e / np.maximum(s.n_c, 1), _EPS, 1 - _EPS)
        rate = np.clip((s.k + level.m * pi) / (s.n_c + level.m), _EPS, 1 - _EPS)
        dlogit = np.where(s.n_c > 0, logit(rate) - logit(pi), 0.0)
        shift = s.sz / (s.n_t + level.kappa)
        n_eff = s.n_t
    else:
        dlogit, shift, n_eff = means
    ss = np.maximum(s.szz - 2 * shift * s.sz + s.n_t * shift**2, 0.0)
    factor = (ss + level.nu * level.ratio) / (s.n_t + level.nu) * (1 + 1 / (n_eff + level.kappa))
    factor = np.where(s.n_t > 0, factor, 1.0)
    return np.column_stack([dlogit, shift, factor])


def _normal_pool(units: np.ndarray, n_units: int, x: np.ndarray, default: float, min_units: int,
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-unit sum and count of observations ``x``, and the normal-normal pseudo-count (moments)."""
    n = np.bincount(units, minlength=n_units).astype(np.float64)
    total = np.bincount(units, weights=x, minlength=n_units)
    squares = np.bincount(units, weights=x * x, minlength=n_units)
    pseudo = default
    rep = n >= 2
    if rep.sum() >= min_units:
        within = float(np.sum(squares[rep] - total[rep] ** 2 / n[rep]) / np.sum(n[rep] - 1))
        tau2 = (np.sum(total[rep] ** 2 / n[rep]) - within * rep.sum()) / n[rep].sum()
        pseudo = float(np.clip(within / tau2, 0.1, _MAX_PSEUDO)) if tau2 > 0 else _MAX_PSEUDO
    return total, n, pseudo


def _child_means(units: np.ndarray, n_units: int, children: np.ndarray, data: Responses, prior: np.ndarray,
                 default: float, min_units: int,
                 ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], float, float]:
    """Mean shifts of units above the item level, with each child unit (e.g. an item in a group) counted
    as one observation of its mean, so a group of two items is not treated as certain because those items
    have many answers.

    Returns:
        ((logit shift, mean shift, number of children with times), m, kappa) - pseudo-counts in children.
    """
    child_names, child = np.unique(children, return_inverse=True)
    parent = np.zeros(child_names.size, dtype=np.int64)
    parent[child] = units
    cs = _sums(child, child_names.size, data.correct, data.log_time, prior, data.row_weight())
    has_c, has_t = cs.n_c > 0, cs.n_t > 0
    dev = (cs.k[has_c] - cs.e[has_c]) / cs.n_c[has_c]  # child rate - its prior mean
    dev_sum, n_c, m = _normal_pool(parent[has_c], n_units, dev, default, min_units)
    pi = np.bincount(parent[has_c], weights=cs.e[has_c] / cs.n_c[has_c], minlength=n_units)
    pi = np.clip(pi / np.maximum(n_c, 1), _EPS, 1 - _EPS)
    rate = np.clip(pi + dev_sum / (n_c + m), _EPS, 1 - _EPS)
    dlogit = np.where(n_c > 0, logit(rate) - logit(pi), 0.0)
    z_sum, n_t, kappa = _normal_pool(parent[has_t], n_units, cs.sz[has_t] / cs.n_t[has_t], default, min_units)
    return (dlogit, z_sum / (n_t + kappa), n_t), m, kappa


def _apply(prior: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Row priors moved by per-row shifts (columns as in ``_shifts``)."""
    out = prior.copy()
    out[:, 0] += shift[:, 0]
    out[:, 1] += shift[:, 1] * np.sqrt(prior[:, 2])
    out[:, 2] *= shift[:, 2]
    return out


def _cell_keys(persons: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The person x group cell label of each row."""
    return np.char.add(np.char.add(persons.astype(str), "\x1f"), groups.astype(str))


class Shrinkage(FittedState):
    """Hierarchical empirical-Bayes shrinkage for accuracy (beta-binomial) and log-time (normal).

    Args:
        prior_p: population P(correct) before any data.
        prior_seconds: population median time before any data.
        prior_sd_log_time: population sd of log-seconds before any data.
        prior_strength: pseudo-responses behind each population prior.
        default_pseudo_count: m, kappa and nu (in answers) of a level with too few repeated units to estimate
            them.
        default_pseudo_units: the same for the mean pseudo-counts of levels above the item level (difficulty,
            group), counted in child units (items of a group, groups of a difficulty).
        min_units: units with >= 2 answers needed before a level's pseudo-counts are estimated from data.
    """

    name: ClassVar[str] = "shrinkage"
    _STATE = ("side_labels_", "side_values_", "item_labels_", "item_group_",
              "person_labels_", "person_shift_", "cell_labels_", "cell_shift_")
    _SCALARS = ("population_", "levels_")

    def __init__(self, prior_p: float = PRIOR_P, prior_seconds: float = PRIOR_SECONDS,
                 prior_sd_log_time: float = PRIOR_SD_LOG_TIME, prior_strength: float = PRIOR_STRENGTH,
                 default_pseudo_count: float = 10.0, default_pseudo_units: float = 2.0,
                 min_units: int = 5) -> None:
        self.prior_p = prior_p
        self.prior_seconds = prior_seconds
        self.prior_sd_log_time = prior_sd_log_time
        self.prior_strength = prior_strength
        self.default_pseudo_count = default_pseudo_count
        self.default_pseudo_units = default_pseudo_units
        self.min_units = min_units

    # -- fitting -----------------------------------------------------------------------------------------
    def fit(self, data: Responses, *, progress: Progress | None = None) -> Self:
        """Estimate every level from ``data`` (may be empty); returns self."""
        forget(self)
        p0, mu0, var0 = population(data, self.prior_p, self.prior_seconds, self.prior_sd_log_time,
                                   self.prior_strength)
        self.population_ = [float(logit(p0)), mu0, var0]
        keys, difficulty, has_features = item_groups(data)
        levels: dict[str, list[float]] = {}
        labels: list[np.ndarray] = []
        values: list[np.ndarray] = []
        prior = np.tile(np.asarray(self.population_), (len(data), 1))
        # item side, nested: (name, per-item unit label); a level is skipped when it would not split anything
        side: list[tuple[str, np.ndarray]] = []
        if has_features and difficulty is not None and np.unique(keys).size > np.unique(difficulty).size:
            side.append(("difficulty", difficulty))
        if has_features:
            side.append(("group", keys))
        if not has_features or np.unique(keys).size < data.n_items:
            side.append(("item", data.items.astype(object)))
        total = len(side) + 2
        observed = ~(np.isnan(data.correct) & np.isnan(data.log_time))
        for step, (level_name, unit_label) in enumerate(side):
            if progress:
                progress(step, total, f"shrinkage: {level_name} level")
            unit_names, unit_of_item = np.unique(unit_label.astype(str), return_inverse=True)
            units = unit_of_item[data.item]
            s = _sums(units, unit_names.size, data.correct, data.log_time, prior, data.row_weight())
            level = _estimate(s, self.default_pseudo_count, self.min_units)
            means = None
            if step + 1 < len(side):  # a level above others: its children's means are the observations
                children = side[step + 1][1].astype(str)[data.item]
                means, m, kappa = _child_means(units, unit_names.size, children, data, prior,
                                               self.default_pseudo_units, _MIN_PARENTS)
                level = level._replace(m=m, kappa=kappa)
            levels[level_name] = list(level)
            prior = _apply(prior, _shifts(s, level, means)[units])
            table = np.zeros((unit_names.size, 3))
            table[units] = prior  # nested levels: every row of a unit carries the unit's value
            # units with data only (even if all their rows weigh 0); the others fall back to their parent
            seen = np.bincount(units[observed], minlength=unit_names.size) > 0
            labels.append(np.array([f"{level_name}:{u}" for u in unit_names[seen]], dtype=object))
            values.append(table[seen])
        self.side_labels_ = np.concatenate(labels) if labels else np.zeros(0, dtype=object)
        self.side_values_ = np.concatenate(values) if values else np.zeros((0, 3))
        self.item_labels_ = data.items.astype(object)
        self.item_group_ = keys
        if progress:
            progress(total - 2, total, "shrinkage: person level")
        persons, cells = self._personal(data, keys.astype(str)[data.item], prior, levels)
        self.levels_ = levels
        self.person_labels_, self.person_shift_ = persons
        self.cell_labels_, self.cell_shift_ = cells
        self._rebuild()
        if progress:
            progress(total, total, "shrinkage: done")
        return self

    def _personal(self, data: Responses, groups: np.ndarray, prior: np.ndarray,
                  levels: dict[str, list[float]]) -> tuple[_Table, _Table]:
        """Person and cell (person x group) shifts of the persons in ``data`` given the item-side row priors.

        Estimates the person and cell pseudo-counts into ``levels`` unless they are already there. Only units
        with at least one observed outcome or time are returned.
        """
        row_person = data.persons.astype(str)[data.person]
        out = []
        for level_name, unit_label in (("person", row_person), ("cell", _cell_keys(row_person, groups))):
            names, units = np.unique(unit_label, return_inverse=True)
            s = _sums(units, names.size, data.correct, data.log_time, prior)
            if level_name not in levels:
                levels[level_name] = list(_estimate(s, self.default_pseudo_count, self.min_units))
            shift = _shifts(s, _Level(*levels[level_name]))
            prior = _apply(prior, shift[units])
            seen = (s.n_c + s.n_t) > 0
            out.append((names[seen].astype(object), shift[seen]))
        return out[0], out[1]

    def _rebuild(self) -> None:
        self._side = index_of(self.side_labels_)
        self._items = index_of(self.item_labels_)
        self._item_group = {str(i): str(g) for i, g in zip(self.item_labels_, self.item_group_, strict=True)}
        self._persons = index_of(self.person_labels_)
        self._cells = index_of(self.cell_labels_)
        self._cells_of: dict[str, list[int]] | None = None

    # -- prediction --------------------------------------------------------------------------------------
    def _item_side(self, items: np.ndarray, groups: np.ndarray, difficulty: np.ndarray | None,
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Row priors from the most specific known item-side level, and whether the item or group is known."""
        n = items.shape[0]
        prior = np.tile(np.asarray(self.population_, dtype=np.float64), (n, 1))
        known = np.zeros(n, dtype=bool)
        candidates: list[tuple[str, np.ndarray]] = []
        if difficulty is not None:
            cleaned = np.array([clean_label(d) or "" for d in difficulty], dtype=object)
            candidates.append(("difficulty", cleaned))
        candidates += [("group", groups), ("item", items)]
        for level_name, labels in candidates:
            pos = lookup(self._side, np.array([f"{level_name}:{x}" for x in labels], dtype=object))
            found = pos >= 0
            prior[found] = self.side_values_[pos[found]]
            if level_name != "difficulty":
                known |= found
        return prior, known

    def _history_shifts(self, history: Responses,
                        ) -> tuple[_Table, _Table]:
        """Person and cell shifts from a history, with the fitted item side and pseudo-counts."""
        queries = history.to_queries()
        groups = query_groups(queries, self._item_group)
        prior, _ = self._item_side(queries.item, groups, queries.difficulty)
        return self._personal(history, groups.astype(str), prior, dict(self.levels_))

    def _history_tables(self, history: Responses) -> tuple[dict[str, int], np.ndarray, dict[str, int], np.ndarray,
                                                           np.ndarray]:
        """Person and cell look-ups and shifts from a history, and the persons it has rows of."""
        (p_labels, p_shift), (c_labels, c_shift) = self._history_shifts(history)
        return (index_of(p_labels), p_shift, index_of(c_labels), c_shift,
                np.unique(history.persons[history.person].astype(str)))

    def _personal_rows(self, persons: np.ndarray, groups: np.ndarray, prior: np.ndarray,
                       history: Responses | None) -> tuple[np.ndarray, np.ndarray]:
        """Apply person and cell shifts to row priors; returns (values, person known).

        Persons present in ``history`` take their shifts from it only; the others from the fitted tables.
        """
        persons = persons.astype(str)
        cells = _cell_keys(persons, groups.astype(str))
        tables = [(self._persons, self.person_shift_, self._cells, self.cell_shift_)]
        from_history = np.zeros(persons.shape[0], dtype=bool)
        if history is not None and len(history):
            p_index, p_shift, c_index, c_shift, in_history = derived(self, history, "shrinkage.history",
                                                                     lambda: self._history_tables(history))
            from_history = np.isin(persons, in_history)
            tables.append((p_index, p_shift, c_index, c_shift))
        values = prior.copy()
        person_known = np.zeros(persons.shape[0], dtype=bool)
        row_sets = (~from_history, from_history)
        for rows, (p_index, p_shift, c_index, c_shift) in zip(row_sets, tables, strict=False):
            rows_idx = np.flatnonzero(rows)
            for index, shift, labels in ((p_index, p_shift, persons), (c_index, c_shift, cells)):
                pos = lookup(index, labels[rows_idx])
                hit = rows_idx[pos >= 0]
                values[hit] = _apply(values[hit], shift[pos[pos >= 0]])
                if index is p_index:
                    person_known[hit] = True
        return values, person_known

    def predict(self, queries: Queries, *, history: Responses | None = None) -> Prediction:
        """Predict each row; persons in ``history`` are re-estimated from it for this call only.

        Args:
            queries: rows of (person, item[, topic, difficulty]).
            history: the full response history of some persons (replaces their fitted estimates here).

        Returns:
            A Prediction with per-row sources.
        """
        self._check_fitted()
        groups = query_groups(queries, self._item_group)
        prior, item_known = self._item_side(queries.item, groups, queries.difficulty)
        values, person_known = self._personal_rows(queries.person, groups, prior, history)
        return Prediction(
            p_correct=expit(values[:, 0]),
            mean_log_time=values[:, 1].copy(),
            sd_log_time=np.sqrt(values[:, 2]),
            source=sources(person_known, item_known),
        )

    def predict_sequence(self, history: Responses, rows: Responses, *, sequential: bool) -> Prediction:
        """Online predictions of ``rows`` in one vectorised pass (``ml.evaluate.SequentialPredictor``): what
        ``predict`` serves each row from the person's earlier answers (``shrinkage_sequence``)."""
        from studysmart.ml.shrinkage_sequence import predict_sequence

        return predict_sequence(self, history, rows, sequential=sequential)

    def update_person(self, person: str, history: Responses) -> None:
        """Re-estimate ``person`` from their rows in ``history`` (their full history), in place.

        Incremental (milliseconds on large models): the person's rows are overwritten or appended, and their
        cells missing from the new history are reset to no shift. A person without rows in ``history`` is
        forgotten (their rows and cells removed: the prior).
        """
        self._check_fitted()
        rows = rows_of(history, person)
        if not len(rows):  # no answers (e.g. the account was deleted): back to the prior, nothing of theirs kept
            keep = np.asarray([str(label) != person for label in self.person_labels_], dtype=bool)
            cells = np.asarray([str(label).partition("\x1f")[0] != person for label in self.cell_labels_],
                               dtype=bool)
            self.person_labels_, self.person_shift_ = self.person_labels_[keep], self.person_shift_[keep]
            self.cell_labels_, self.cell_shift_ = self.cell_labels_[cells], self.cell_shift_[cells]
            self._rebuild()
            return
        (p_labels, p_shift), (c_labels, c_shift) = self._history_shifts(rows)
        if self._cells_of is None:  # person -> positions of their cells, built on first use
            self._cells_of = {}
            for pos, label in enumerate(self.cell_labels_):
                self._cells_of.setdefault(str(label).partition("\x1f")[0], []).append(pos)
        if not self.cell_shift_.flags.writeable:
            self.cell_shift_ = self.cell_shift_.copy()
        for pos in self._cells_of.get(person, []):
            self.cell_shift_[pos] = (0.0, 0.0, 1.0)
        self.person_labels_, self.person_shift_ = _upsert(self._persons, self.person_labels_,
                                                          self.person_shift_, p_labels, p_shift)
        self.cell_labels_, self.cell_shift_ = _upsert(self._cells, self.cell_labels_, self.cell_shift_,
                                                      c_labels, c_shift)
        self._cells_of[person] = [self._cells[str(c)] for c in c_labels]


def _upsert(index: dict[str, int], labels: np.ndarray, table: np.ndarray, new_labels: np.ndarray,
            new_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overwrite the rows of known labels, append the others (updating ``index`` in place)."""
    table = table if table.flags.writeable else table.copy()
    fresh_labels: list[str] = []
    fresh_rows: list[np.ndarray] = []
    for label, row in zip(new_labels, new_rows, strict=True):
        pos = index.get(str(label))
        if pos is None:
            index[str(label)] = labels.shape[0] + len(fresh_labels)
            fresh_labels.append(str(label))
            fresh_rows.append(row)
        else:
            table[pos] = row
    if fresh_labels:
        labels = np.concatenate([labels, np.asarray(fresh_labels, dtype=object)])
        table = np.vstack([table, np.asarray(fresh_rows)])
    return labels, table
