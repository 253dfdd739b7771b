"""The allocation problem behind a plan, the greedy solver, and the spacing pass.

Decision: x[c, j] items of cell c = (topic, difficulty) on day j. Value: the expected exam-score gain sum_t
V_t(E_t), where E_t = sum_{c in t, j} eff_c x[c, j] is the topic's effective practice (see ``readiness``). The
value depends only on these totals; spacing is a separate, soft objective: a topic studied on two consecutive
days costs ``penalty``.

Time is a hard constraint with a safety margin: a day's load is safe when ``sum mean + z * sqrt(sum var) <=
budget`` (seconds; lognormal item times; z = the upper end of the 80% time interval by default), checked
exactly here. Interleaving: one topic may take at most ``max_topic_share`` of a day (at least one item).

``solve_greedy`` fills the days in order with the best marginal value per second (charging the spacing penalty
to the batch a repeated topic would get); ``respace`` swaps whole days' contents to remove repeats without
changing the value. (A MILP of the same allocation was removed: over 90 random exams it gained a median of 0%
and at most 2.9% over the greedy, at 3-4x the time.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from studysmart.planning.engine.readiness import GainModel, TopicReadiness

__all__ = ["Cell", "Problem", "TopicValues", "fits", "respace", "safe_seconds", "solve_greedy"]

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


def solve_greedy(problem: Problem) -> list[dict[int, int]]:  # noqa: PLR0912, PLR0915 - the greedy fill is one loop over days and candidates; to split
    """Fill each day, in order, with the item of highest marginal value per mean second that still fits.

    Returns:
        Per day, cell index -> count.
    """
    counts = problem.empty()
    cells, values, z = problem.cells, problem.values, problem.z
    effective = [0.0] * problem.n_topics
    used = [[False] * problem.n_topics for _ in counts]
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
        mean = var = 0.0
        topic_time = [0.0] * problem.n_topics
        repeat_scores: dict[int, float] = {}
        while True:
            best, best_score = -1, 0.0
            for c, cell in enumerate(cells):
                t = cell.topic_index
                if topic_time[t] + cell.mean_seconds > problem.caps[j][t] + 1e-6:
                    continue
                if not fits(mean + cell.mean_seconds, var + cell.var_seconds, z, budget):
                    continue
                if not used[j][t] and ((j > 0 and used[j - 1][t]) or (j < last and used[j + 1][t])):
                    if c not in repeat_scores:  # computed once per day (the room only shrinks: a slight optimism)
                        room = min(problem.caps[j][t] - topic_time[t], budget - safe_seconds(mean, var, z))
                        repeat_scores[c] = repeat_score(j, c, room)
                    score = repeat_scores[c]
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


def respace(
    problem: Problem, counts: list[dict[int, int]], *, max_passes: int = 20, window: int = 14
) -> list[dict[int, int]]:
    """Reduce same-topic repeats on consecutive days by swapping whole days' contents.

    The value depends only on each topic's total practice, so moving a day's items, as a block, to another day
    whose budget and caps it also fits leaves the value unchanged; swaps of a day that repeats a topic of a
    neighbour with a day at most ``window`` days away are applied when they lower the number of repeats, until
    none is left (or ``max_passes``).

    Returns:
        The respaced allocation (a new list; the day dicts are reused).
    """
    counts = list(counts)
    n = len(counts)
    topics = [frozenset(problem.cells[c].topic_index for c in day) for day in counts]
    loads = [problem.load(day) for day in counts]
    times = [[problem.topic_time(day, t) for t in range(problem.n_topics)] for day in counts]

    def fits_on(content: int, day: int) -> bool:
        if not counts[content]:
            return True
        if not fits(*loads[content], problem.z, problem.budgets[day]):
            return False
        return all(times[content][t] <= problem.caps[day][t] + 1e-6 for t in topics[content])

    def repeats_around(days: set[int]) -> int:
        pairs = {(j - 1, j) for j in days if j > 0} | {(j, j + 1) for j in days if j + 1 < n}
        return sum(len(topics[a] & topics[b]) for a, b in pairs)

    def swap(j: int, k: int) -> None:
        counts[j], counts[k] = counts[k], counts[j]
        topics[j], topics[k] = topics[k], topics[j]
        loads[j], loads[k] = loads[k], loads[j]
        times[j], times[k] = times[k], times[j]

    for _ in range(max_passes):
        improved = False
        for j in range(n):
            if not repeats_around({j}):
                continue
            for k in range(max(0, j - window), min(n, j + window + 1)):
                if k == j or topics[j] == topics[k] or not (fits_on(j, k) and fits_on(k, j)):
                    continue
                before = repeats_around({j, k})
                swap(j, k)
                if repeats_around({j, k}) < before:
                    improved = True
                else:
                    swap(j, k)
        if not improved:
            break
    return counts
