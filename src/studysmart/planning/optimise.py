"""The allocation problem behind a plan and its solvers: a MILP (scipy.optimize.milp) and a greedy.

Decision: x[c, j] items of cell c = (topic, difficulty) on day j. Value: the expected exam-score gain sum_t
V_t(E_t), where E_t = sum_{c in t, j} eff_c x[c, j] is the topic's effective practice and V_t is concave-ish
(see ``readiness``); the MILP uses the upper concave hull of V_t on a grid of breakpoints (epigraph
constraints).

Time is a hard constraint with a safety margin: a day's load is safe when ``sum mean + z * sqrt(sum var) <=
budget`` (seconds; lognormal item times, z = the upper end of the 80% time interval by default). The MILP uses
the tangent bound ``sqrt(V) <= V / (2 s0) + s0 / 2`` (valid for any s0 > 0), a linear constraint that implies
the exact one; everything is re-checked exactly after rounding.

Interleaving: one topic may take at most ``max_topic_share`` of a day (at least one item). Spacing: studying a
topic on two consecutive days costs ``penalty`` (binary topic-day indicators in the MILP), so a topic recurs
daily only when its weight and marginal gain pay for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import coo_matrix

from studysmart.planning.readiness import GainModel, TopicReadiness

__all__ = ["Cell", "Problem", "TopicValues", "fits", "safe_seconds", "solve_greedy", "solve_milp"]

_SQRT2 = math.sqrt(2.0)


def safe_seconds(mean: float, var: float, z: float) -> float:
    """The safe (upper-quantile) duration of a load with total mean ``mean`` and variance ``var``."""
    return mean + z * math.sqrt(max(var, 0.0)) if mean > 0 else 0.0


def fits(mean: float, var: float, z: float, budget: float) -> bool:
    """Whether a load fits ``budget`` seconds with its safety margin."""
    return safe_seconds(mean, var, z) <= budget + 1e-9


@dataclass(frozen=True)
class Cell:
    """One plannable (topic, difficulty) cell: topic index, predicted p, item time moments, efficiency."""

    topic_index: int
    topic: str
    difficulty: str
    p_correct: float
    mean_seconds: float
    var_seconds: float
    efficiency: float


class TopicValues:
    """V_t(E): the expected exam-score gain from E more effective items in topic t (exact, pure Python)."""

    def __init__(
        self, topics: list[TopicReadiness], gains: list[float], already: list[float], model: GainModel
    ) -> None:
        self.topics = topics
        self.gains = gains
        self.already = already
        self.model = model
        self._terms = [
            [
                (float(m), float(z), float(a), float(r))
                for m, z, a, r in zip(tr.mix, tr.z, tr.slope, tr.scale, strict=False)
            ]
            for tr in topics
        ]
        self._base = [self._score(t, 0.0) for t in range(len(topics))]

    def _score(self, t: int, delta: float) -> float:
        return self.topics[t].weight * sum(
            m * 0.5 * (1.0 + math.erf((z + a * delta) / (r * _SQRT2))) for m, z, a, r in self._terms[t]
        )

    def delta(self, t: int, effective: float) -> float:
        """Ability gain of topic t after ``effective`` more effective items."""
        s = self.model.saturation_items
        e0 = self.already[t]
        return self.gains[t] * s * (math.exp(-e0 / s) - math.exp(-(e0 + effective) / s))

    def value(self, t: int, effective: float) -> float:
        """V_t(effective), in exam-score units (weighted)."""
        return self._score(t, self.delta(t, effective)) - self._base[t]

    def values(self, t: int, effective: np.ndarray) -> np.ndarray:
        """V_t over an array of effective practice amounts."""
        return np.array([self.value(t, float(e)) for e in effective])


@dataclass
class Problem:
    """An allocation problem over consecutive days (budgets in seconds; 0 = no study that day)."""

    cells: list[Cell]
    values: TopicValues
    budgets: list[float]
    caps: list[list[float]]  # [day][topic] seconds of mean time one topic may take
    z: float
    penalty: float

    @property
    def n_days(self) -> int:
        return len(self.budgets)

    @property
    def n_topics(self) -> int:
        return len(self.values.topics)

    def empty(self) -> list[dict[int, int]]:
        """No items on any day."""
        return [{} for _ in self.budgets]

    def load(self, day: dict[int, int]) -> tuple[float, float]:
        """Total mean and variance of a day's items."""
        mean = sum(self.cells[c].mean_seconds * n for c, n in day.items())
        var = sum(self.cells[c].var_seconds * n for c, n in day.items())
        return mean, var

    def topic_time(self, day: dict[int, int], t: int) -> float:
        """Mean seconds a day gives topic t."""
        return sum(self.cells[c].mean_seconds * n for c, n in day.items() if self.cells[c].topic_index == t)

    def effective(self, counts: list[dict[int, int]]) -> list[float]:
        """Effective practice per topic over all days."""
        total = [0.0] * self.n_topics
        for day in counts:
            for c, n in day.items():
                total[self.cells[c].topic_index] += self.cells[c].efficiency * n
        return total

    def objective(self, counts: list[dict[int, int]]) -> float:
        """The expected exam-score gain of an allocation (exact V, without spacing penalties)."""
        return sum(self.values.value(t, e) for t, e in enumerate(self.effective(counts)))

    def density(self, c: int) -> float:
        """A rough value per second of cell c (weight x efficiency / mean seconds), to decide what to drop."""
        cell = self.cells[c]
        return cell.efficiency * self.values.topics[cell.topic_index].weight / cell.mean_seconds

    def repeats(self, counts: list[dict[int, int]]) -> int:
        """Topic-days that follow a day with the same topic (what the spacing penalty counts)."""
        topics = [{self.cells[c].topic_index for c in day} for day in counts]
        return sum(len(a & b) for a, b in zip(topics[:-1], topics[1:], strict=False))

    def score(self, counts: list[dict[int, int]]) -> float:
        """The full objective: expected score gain minus spacing penalties."""
        return self.objective(counts) - self.penalty * self.repeats(counts)

    def repair(self, counts: list[dict[int, int]]) -> None:
        """Drop items (lowest value per second first) until every day fits its budget and caps exactly."""
        for j, day in enumerate(counts):
            for c in sorted(day, key=self.density):
                t = self.cells[c].topic_index
                while day.get(c, 0) > 0 and (
                    not fits(*self.load(day), self.z, self.budgets[j])
                    or self.topic_time(day, t) > self.caps[j][t] + 1e-6
                ):
                    day[c] -= 1
                if day.get(c) == 0:
                    del day[c]


def solve_greedy(problem: Problem, counts: list[dict[int, int]] | None = None) -> list[dict[int, int]]:
    """Fill each day, in order, with the item of highest marginal value per mean second that still fits.

    Args:
        problem: the allocation problem.
        counts: a starting allocation (e.g. a MILP solution) to top up; none -> from scratch.

    Returns:
        Per day, cell index -> count (the starting allocation is extended in place).
    """
    counts = counts if counts is not None else problem.empty()
    cells, values, z = problem.cells, problem.values, problem.z
    effective = problem.effective(counts)
    used = [[False] * problem.n_topics for _ in counts]
    for j, day in enumerate(counts):
        for c in day:
            used[j][cells[c].topic_index] = True
    by_topic: list[list[int]] = [[] for _ in range(problem.n_topics)]
    for c, cell in enumerate(cells):
        by_topic[cell.topic_index].append(c)

    def marginal(t: int) -> None:
        current = values.value(t, effective[t])
        for c in by_topic[t]:
            gain[c] = values.value(t, effective[t] + cells[c].efficiency) - current

    gain = [0.0] * len(cells)
    for t in range(problem.n_topics):
        marginal(t)

    def repeat_score(j: int, c: int, room: float) -> float:
        """Value per second of starting a topic that an adjacent day already has: the spacing penalty is
        charged to the batch of items that would fit today, not to the first item alone."""
        cell = cells[c]
        t = cell.topic_index
        n = max(1, int(room // cell.mean_seconds))
        batch = values.value(t, effective[t] + n * cell.efficiency) - values.value(t, effective[t])
        return (batch - problem.penalty) / (n * cell.mean_seconds)

    last = len(counts) - 1
    for j, day in enumerate(counts):
        budget = problem.budgets[j]
        if budget <= 0:
            continue
        mean, var = problem.load(day)
        topic_time = [problem.topic_time(day, t) for t in range(problem.n_topics)]
        while True:
            best, best_score = -1, 0.0
            for c, cell in enumerate(cells):
                t = cell.topic_index
                if topic_time[t] + cell.mean_seconds > problem.caps[j][t] + 1e-6:
                    continue
                if not fits(mean + cell.mean_seconds, var + cell.var_seconds, z, budget):
                    continue
                if not used[j][t] and ((j > 0 and used[j - 1][t]) or (j < last and used[j + 1][t])):
                    room = min(problem.caps[j][t] - topic_time[t], budget - safe_seconds(mean, var, z))
                    score = repeat_score(j, c, room)
                else:
                    score = gain[c] / cell.mean_seconds
                if score > best_score:
                    best, best_score = c, score
            if best < 0:
                break
            cell = cells[best]
            day[best] = day.get(best, 0) + 1
            mean += cell.mean_seconds
            var += cell.var_seconds
            topic_time[cell.topic_index] += cell.mean_seconds
            used[j][cell.topic_index] = True
            effective[cell.topic_index] += cell.efficiency
            marginal(cell.topic_index)
    return counts


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


def solve_milp(
    problem: Problem, *, time_limit: float = 1.0, mip_rel_gap: float = 0.02, breakpoints: int = 40
) -> MilpResult:
    """Solve the allocation as a MILP with HiGHS.

    Args:
        problem: the allocation problem.
        time_limit: seconds for HiGHS; the best solution found by then is used.
        mip_rel_gap: relative optimality gap at which HiGHS stops.
        breakpoints: grid points per topic (geometric from half an item to the most the topic could get) for
            the concave hull of V_t.

    Returns:
        The allocation (before exact re-checking and topping up) and the solver status.
    """
    cells, z = problem.cells, problem.z
    n_topics = problem.n_topics
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []
    cost: list[float] = []
    integral: list[int] = []
    var_lb: list[float] = []
    var_ub: list[float] = []

    def variable(c: float, lb: float, ub: float, integer: bool) -> int:
        cost.append(c)
        var_lb.append(lb)
        var_ub.append(ub)
        integral.append(1 if integer else 0)
        return len(cost) - 1

    def row(entries: list[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(lower)
        for col, val in entries:
            rows.append(r)
            cols.append(col)
            vals.append(val)
        lower.append(lo)
        upper.append(hi)

    mean_bar = float(np.mean([c.mean_seconds for c in cells]))
    var_bar = float(np.mean([c.var_seconds for c in cells]))
    x_of: list[list[tuple[int, int]]] = [[] for _ in range(problem.n_days)]  # per day: (cell, column)
    topic_day_x: dict[tuple[int, int], list[tuple[int, int]]] = {}
    topic_day_ub: dict[tuple[int, int], float] = {}
    for j, budget in enumerate(problem.budgets):
        if budget <= 0:
            continue
        s0 = math.sqrt(max(budget / mean_bar, 1.0) * var_bar)
        singles = [ci for ci, c in enumerate(cells) if fits(c.mean_seconds, c.var_seconds, z, budget)]
        if not singles:
            continue
        reserve = z * s0 / 2
        coef = [c.mean_seconds + z * c.var_seconds / (2 * s0) for c in cells]
        if reserve + min(coef[ci] for ci in singles) > budget:
            # fall back to the tangent at the cheapest single item, where the bound is exact for that item
            cheapest = min(
                singles, key=lambda ci: safe_seconds(cells[ci].mean_seconds, cells[ci].var_seconds, z)
            )
            s0 = max(math.sqrt(cells[cheapest].var_seconds), 1e-6)
            reserve = z * s0 / 2
            coef = [c.mean_seconds + z * c.var_seconds / (2 * s0) for c in cells]
        entries = []
        for ci, cell in enumerate(cells):
            t = cell.topic_index
            ub = math.floor(min((budget - reserve) / coef[ci], problem.caps[j][t] / cell.mean_seconds) + 1e-9)
            if ub <= 0:
                continue
            col = variable(0.0, 0.0, float(ub), True)
            x_of[j].append((ci, col))
            entries.append((col, coef[ci]))
            topic_day_x.setdefault((t, j), []).append((ci, col))
            topic_day_ub[(t, j)] = topic_day_ub.get((t, j), 0.0) + ub * cell.mean_seconds
        if entries:
            row(entries, -np.inf, budget - reserve)
    for (t, j), pairs in topic_day_x.items():
        if topic_day_ub[(t, j)] > problem.caps[j][t] + 1e-6:
            row([(col, cells[ci].mean_seconds) for ci, col in pairs], -np.inf, problem.caps[j][t])
    if problem.penalty > 0:
        y_of: dict[tuple[int, int], int] = {}
        for (t, j), pairs in topic_day_x.items():
            y = variable(0.0, 0.0, 1.0, True)
            y_of[(t, j)] = y
            big = sum(var_ub[col] for _, col in pairs)
            row([(col, 1.0) for _, col in pairs] + [(y, -big)], -np.inf, 0.0)
        for (t, j), y in y_of.items():
            previous = y_of.get((t, j - 1))
            if previous is not None:
                s = variable(problem.penalty, 0.0, 1.0, False)
                row([(y, 1.0), (previous, 1.0), (s, -1.0)], -np.inf, 1.0)
    for t in range(n_topics):
        columns = [
            (ci, col) for j in range(problem.n_days) for ci, col in x_of[j] if cells[ci].topic_index == t
        ]
        if not columns:
            continue
        e_max = sum(var_ub[col] * cells[ci].efficiency for ci, col in columns)
        grid = np.concatenate([[0.0], np.geomspace(min(0.5, e_max), e_max, breakpoints)])
        hull = _upper_hull(grid, problem.values.values(t, grid))
        e = variable(0.0, 0.0, e_max, False)
        u = variable(-1.0, 0.0, max(h[1] for h in hull), False)
        row([(e, 1.0)] + [(col, -cells[ci].efficiency) for ci, col in columns], 0.0, 0.0)
        for (x1, y1), (x2, y2) in zip(hull[:-1], hull[1:], strict=False):
            slope = (y2 - y1) / (x2 - x1)
            row([(u, 1.0), (e, -slope)], -np.inf, y1 - slope * x1)
    if not cost or not any(x_of):
        return MilpResult(problem.empty(), "nothing fits")
    matrix = coo_matrix((vals, (rows, cols)), shape=(len(lower), len(cost))).tocsr()
    result = milp(
        np.array(cost),
        integrality=np.array(integral),
        bounds=(np.array(var_lb), np.array(var_ub)),
        constraints=LinearConstraint(matrix, np.array(lower), np.array(upper)),
        options={"time_limit": time_limit, "mip_rel_gap": mip_rel_gap, "disp": False},
    )
    if result.x is None:
        return MilpResult(None, str(result.message))
    counts = problem.empty()
    for j in range(problem.n_days):
        for ci, col in x_of[j]:
            n = int(round(result.x[col]))
            if n > 0:
                counts[j][ci] = n
    gap = getattr(result, "mip_gap", None)
    return MilpResult(counts, f"{result.message} (gap {gap:.3f})" if gap is not None else str(result.message))
