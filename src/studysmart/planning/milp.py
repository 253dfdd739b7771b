"""The MILP of a plan (scipy.optimize.milp / HiGHS): how many items of each cell, within the day budgets.

Variables x[c, j] (integer items of cell c on day j), E_t (effective practice of topic t) and u_t (its value).
The value V_t(E_t) enters through its upper concave hull on a geometric grid of breakpoints (epigraph rows
``u_t <= y_k + slope_k (E_t - x_k)``). A day's safe time ``sum mean + z sqrt(sum var)`` is bounded by the
tangent ``sqrt(V) <= V / (2 s0) + s0 / 2`` (valid for any s0 > 0), so the linear budget row implies the exact
one; topic caps are linear rows too. Everything is re-checked exactly after rounding by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import coo_matrix

from studysmart.planning.optimise import Problem, fits, pack_spaced, safe_seconds

__all__ = ["MilpResult", "solve_milp"]


def _upper_hull(xs: np.ndarray, ys: np.ndarray) -> list[tuple[float, float]]:
    """Vertices of the upper concave hull of points sorted by x."""
    hull: list[tuple[float, float]] = []
    for x, y in zip(xs.tolist(), ys.tolist(), strict=False):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (x - x1) <= (y - y1) * (x2 - x1):  # the middle point lies on or below the chord
                hull.pop()
            else:
                break
        hull.append((x, y))
    return hull


@dataclass(frozen=True)
class MilpResult:
    """A MILP allocation (None when HiGHS found no solution) and HiGHS's status message."""

    counts: list[dict[int, int]] | None
    status: str


class _Model:
    """Sparse MILP rows and columns for HiGHS: items per (cell, day) within the linearised safe budget."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.cost: list[float] = []
        self.integral: list[int] = []
        self.var_lb: list[float] = []
        self.var_ub: list[float] = []
        self.x_of: list[list[tuple[int, int]]] = [[] for _ in range(problem.n_days)]  # per day: (cell, column)
        self.topic_day: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._items()

    def variable(self, cost: float, lb: float, ub: float, integer: bool) -> int:
        self.cost.append(cost)
        self.var_lb.append(lb)
        self.var_ub.append(ub)
        self.integral.append(1 if integer else 0)
        return len(self.cost) - 1

    def row(self, entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(self.lower)
        for col, val in entries:
            self.rows.append(r)
            self.cols.append(col)
            self.vals.append(val)
        self.lower.append(lo)
        self.upper.append(hi)

    def _items(self) -> None:
        """x[c, j] with the tangent-bound budget row per day and the topic cap rows."""
        problem, cells, z = self.problem, self.problem.cells, self.problem.z
        mean_bar = float(np.mean([c.mean_seconds for c in cells]))
        var_bar = float(np.mean([c.var_seconds for c in cells]))
        for j, budget in enumerate(problem.budgets):
            singles = [ci for ci, c in enumerate(cells) if fits(c.mean_seconds, c.var_seconds, z, budget)]
            if budget <= 0 or not singles:
                continue
            s0 = math.sqrt(max(budget / mean_bar, 1.0) * var_bar)
            if (
                z * s0 / 2 + min(cells[ci].mean_seconds + z * cells[ci].var_seconds / (2 * s0) for ci in singles)
                > budget
            ):
                # the tangent at the cheapest single item, where the bound is exact for that item
                cheapest = min(singles, key=lambda ci: safe_seconds(cells[ci].mean_seconds, cells[ci].var_seconds, z))
                s0 = max(math.sqrt(cells[cheapest].var_seconds), 1e-6)
            reserve = z * s0 / 2
            entries = []
            for ci, cell in enumerate(cells):
                t = cell.topic_index
                coef = cell.mean_seconds + z * cell.var_seconds / (2 * s0)
                ub = math.floor(min((budget - reserve) / coef, problem.caps[j][t] / cell.mean_seconds) + 1e-9)
                if ub > 0:
                    col = self.variable(0.0, 0.0, float(ub), True)
                    self.x_of[j].append((ci, col))
                    entries.append((col, coef))
                    self.topic_day.setdefault((t, j), []).append((ci, col))
            if entries:
                self.row(entries, -np.inf, budget - reserve)
        for (t, j), pairs in self.topic_day.items():
            if sum(self.var_ub[col] * cells[ci].mean_seconds for ci, col in pairs) > problem.caps[j][t] + 1e-6:
                self.row([(col, cells[ci].mean_seconds) for ci, col in pairs], -np.inf, problem.caps[j][t])

    def value(self, breakpoints: int) -> None:
        """Maximise sum_t u_t with u_t under the upper concave hull of V_t(E_t)."""
        cells = self.problem.cells
        for t in range(self.problem.n_topics):
            columns = [(ci, col) for day in self.x_of for ci, col in day if cells[ci].topic_index == t]
            if not columns:
                continue
            e_max = sum(self.var_ub[col] * cells[ci].efficiency for ci, col in columns)
            grid = np.concatenate([[0.0], np.geomspace(min(0.5, e_max), e_max, breakpoints)])
            hull = _upper_hull(grid, self.problem.values.values(t, grid))
            e = self.variable(0.0, 0.0, e_max, False)
            u = self.variable(-1.0, 0.0, max(h[1] for h in hull), False)
            self.row([(e, 1.0)] + [(col, -cells[ci].efficiency) for ci, col in columns], 0.0, 0.0)
            for (x1, y1), (x2, y2) in zip(hull[:-1], hull[1:], strict=True):
                slope = (y2 - y1) / (x2 - x1)
                self.row([(u, 1.0), (e, -slope)], -np.inf, y1 - slope * x1)

    def solve(self, time_limit: float, mip_rel_gap: float) -> MilpResult:
        if not any(self.x_of):
            return MilpResult(self.problem.empty(), "nothing fits")
        shape = (len(self.lower), len(self.cost))
        result = milp(
            np.array(self.cost),
            integrality=np.array(self.integral),
            bounds=(np.array(self.var_lb), np.array(self.var_ub)),
            constraints=LinearConstraint(
                coo_matrix((self.vals, (self.rows, self.cols)), shape=shape).tocsr(),
                np.array(self.lower),
                np.array(self.upper),
            ),
            options={"time_limit": max(time_limit, 0.05), "mip_rel_gap": mip_rel_gap, "disp": False},
        )
        if result.x is None:
            return MilpResult(None, str(result.message))
        counts = self.problem.empty()
        for j, day in enumerate(self.x_of):
            for ci, col in day:
                n = int(round(result.x[col]))
                if n > 0:
                    counts[j][ci] = n
        gap = getattr(result, "mip_gap", None)
        return MilpResult(counts, f"{result.message} (gap {gap:.3f})" if gap is not None else str(result.message))


def solve_milp(
    problem: Problem,
    *,
    time_limit: float = 1.0,
    mip_rel_gap: float = 0.02,
    breakpoints: int = 40,
) -> MilpResult:
    """Solve the allocation with HiGHS, then spread it over the days.

    The MILP maximises the value: how many items of each cell, within every day's linearised safe budget and
    topic caps. Spacing is left out of it (binary topic-day indicators with consecutive-day penalties made
    HiGHS miss a 2% gap within seconds on 60-day plans, as the LP relaxation ignores the penalties), so
    ``pack_spaced`` then re-packs the totals day by day, each topic when it is due; the value is unchanged.

    Args:
        problem: the allocation problem.
        time_limit: seconds for HiGHS; the best solution found by then is used.
        mip_rel_gap: relative optimality gap at which HiGHS stops.
        breakpoints: grid points per topic (geometric from half an item to the most the topic could get) for
            the concave hull of V_t.

    Returns:
        The allocation (before exact re-checking and topping up) and the solver status.
    """
    model = _Model(problem)
    model.value(breakpoints)
    result = model.solve(time_limit, mip_rel_gap)
    if result.counts is None or problem.penalty <= 0:
        return result
    totals: dict[int, int] = {}
    for day in result.counts:
        for c, n in day.items():
            totals[c] = totals.get(c, 0) + n
    return MilpResult(pack_spaced(problem, totals), result.status)
