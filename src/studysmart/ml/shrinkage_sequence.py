"""``Shrinkage.predict_sequence``: the online predictions of many rows in one vectorised pass.

A served call ``Shrinkage.predict(query, history=H)`` prices the query from the fitted item side, moved by the
person's shift (sums of H's rows against their item-side priors) and then by the cell's shift (sums of H's rows
of the query's group against their priors moved by that person shift). Here every query's history is laid out
as (query, history row) pairs in the order the served call sums them (``ml.sequence``), so ``np.bincount`` over
the pairs gives each query the served call's sums (the same additions in the same order) and the same shifts.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from studysmart.ml._shared import query_groups, sources
from studysmart.ml.base import Prediction
from studysmart.ml.data import Responses
from studysmart.ml.sequence import start
from studysmart.ml.shrinkage import Shrinkage, _apply, _Level, _shifts, _Sums

__all__ = ["predict_sequence"]


def predict_sequence(model: Shrinkage, history: Responses, rows: Responses, *, sequential: bool) -> Prediction:
    """Online predictions of ``rows`` (``ml.evaluate.SequentialPredictor``): each row as ``model.predict`` serves
    it with the person's rows of ``history`` and, when ``sequential``, their earlier rows of ``rows`` (by order,
    then position) as the history."""
    lay, out, primed = start(model, history, rows, sequential=sequential)
    combined = lay.combined
    queries = combined.to_queries()
    groups = query_groups(queries, model._item_group)
    prior, item_known = model._item_side(queries.item, groups, queries.difficulty)
    group_code = np.unique(groups.astype(str), return_inverse=True)[1]
    t = ~np.isnan(combined.log_time)
    z = np.full(len(combined), np.nan)
    z[t] = (combined.log_time[t] - prior[t, 1]) / np.sqrt(prior[t, 2])
    levels = (_Level(*model.levels_["person"]), _Level(*model.levels_["cell"]))
    for chunk, local, hist_row in lay.pairs(primed):
        query_row = lay.seq[chunk]
        values, known = _priced(query_row, local, hist_row, combined, prior, z, group_code, levels)
        where = lay.row_of(chunk)
        out.p[where], out.mean[where], out.sd[where] = expit(values[:, 0]), values[:, 1], np.sqrt(values[:, 2])
        out.source[where] = sources(known, item_known[query_row])
    return out.prediction()

def _priced(query_row: np.ndarray, local: np.ndarray, hist_row: np.ndarray, combined: Responses,
            prior: np.ndarray, z: np.ndarray, group_code: np.ndarray, levels: tuple[_Level, _Level],
            ) -> tuple[np.ndarray, np.ndarray]:
    """(logit p, mean, variance) of the queries (rows of ``combined``): their item-side priors moved by the
    person's and the cell's shifts from the history rows paired with them; and whether each person's history
    has data."""
    correct, log_time = combined.correct[hist_row], combined.log_time[hist_row]
    c, t = ~np.isnan(correct), ~np.isnan(log_time)
    person_sums = _sums(local, query_row.size, c, t, correct, expit(prior[hist_row, 0]), z[hist_row])
    person_shift = _shifts(person_sums, levels[0])
    same = group_code[hist_row] == group_code[query_row][local]  # pairs in the query's cell
    cell = local[same]
    moved = _apply(prior[hist_row[same]], person_shift[cell])
    cell_t = t[same]
    cell_z = np.full(cell.size, np.nan)
    cell_z[cell_t] = (log_time[same][cell_t] - moved[cell_t, 1]) / np.sqrt(moved[cell_t, 2])
    cell_sums = _sums(cell, query_row.size, c[same], cell_t, correct[same], expit(moved[:, 0]), cell_z)
    values = _apply(_apply(prior[query_row], person_shift), _shifts(cell_sums, levels[1]))
    return values, (person_sums.n_c + person_sums.n_t) > 0


def _sums(units: np.ndarray, n_units: int, c: np.ndarray, t: np.ndarray, correct: np.ndarray, p: np.ndarray,
          z: np.ndarray) -> _Sums:
    """``shrinkage._sums`` of rows with outcome mask ``c``, time mask ``t``, row-prior P(correct) ``p`` and
    standardised log-time residuals ``z`` (the same bincounts, in the same order)."""
    w = np.ones(units.shape[0])

    def count(mask: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(units[mask], weights=w[mask] if x is None else w[mask] * x,
                           minlength=n_units).astype(np.float64)

    zt = z[t]
    return _Sums(count(c), count(c, correct[c]), count(c, p[c]), count(c, p[c] * (1 - p[c])),
                 count(t), count(t, zt), count(t, zt * zt))
