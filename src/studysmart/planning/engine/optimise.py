"""The allocation behind a plan: how many problems of which (topic, difficulty) on which day.

Value: the expected exam-score gain sum_t w_t [E_t(g_t) - E_t(0)] of the problems planned in each topic, with
g_t the model of learning's gain of those problems (``readiness.TopicReadiness.probit_gain``), counted as
left after one day away (the last days review every topic). Two greedy passes:

1. ``allocate``: problems one at a time, the best marginal value per predicted second among the topic's
   *productive* difficulties (predicted P(correct) in the exam's band; the closest one when none is; easy only
   when no harder difficulty is in the band), until the minutes and task slots of all days are used (a tie, as
   when nothing is learned, goes to the topic with the fewest minutes for its exam weight). Diminishing
   returns (log(1 + count) gains, the score's S-curve) spread the problems over the topics in proportion to
   what they add.
2. ``schedule``: day by day, the topics that are due first (each topic comes back after 1, 2, 4, ... days, never
   later than the model's forgetting allows: ``TopicLearning.max_gap``; in the last ``review_days`` study days
   every topic), then the others, each with its share of its remaining problems; at least two topics on a day
   with 30+ minutes; then the day's room is topped up by marginal value.

Time is a hard constraint with a safety margin: a day's load is safe when ``sum mean + z * sqrt(sum var) <=
budget`` (seconds; lognormal problem times), and a day has at most ``max_tasks`` problems. (A MILP of an
earlier allocation gained a median of 0% over a greedy at 3-4x the time, and was removed.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from studysmart.planning.engine.readiness import LOGIT_PER_PROBIT, TopicReadiness

__all__ = ["Cell", "Problem", "allocate", "fits", "safe_seconds", "schedule"]

#: Minutes from which a day has at least two topics (interleaving).
INTERLEAVE_MINUTES = 30.0


def safe_seconds(mean: float, var: float, z: float) -> float:
    """The safe (upper-quantile) duration of a load with total mean ``mean`` and variance ``var``."""
    return mean + z * math.sqrt(max(var, 0.0)) if mean > 0 else 0.0


def fits(mean: float, var: float, z: float, budget: float) -> bool:
    """Whether a load fits ``budget`` seconds with its safety margin."""
    return safe_seconds(mean, var, z) <= budget + 1e-9


@dataclass(frozen=True)
class Cell:
    """One plannable (topic, difficulty) cell: topic index, today's P(correct), problem time moments."""

    topic_index: int
    topic: str
    difficulty: str
    p_correct: float
    mean_seconds: float
    var_seconds: float


def productive(options: list[tuple[int, str, float]], band: tuple[float, float]) -> list[int]:
    """The cells of one topic to plan, from (cell index, difficulty, predicted P(correct)): P(correct) in the band
    (without easy when a harder one is in it); else the one closest to the band."""
    low, high = band
    inside = [o for o in options if low <= o[2] <= high]
    if not inside:
        return [min(options, key=lambda o: max(low - o[2], o[2] - high))[0]]
    harder = [o for o in inside if o[1] != "easy"]
    return [o[0] for o in harder or inside]


@dataclass
class State:
    """The practice planned in one topic so far, as expected answers: correct and wrong, and their sums weighted
    by each answer's slope (so the mean slopes of ``TopicLearning.logit_gain``)."""

    correct: float = 0.0
    wrong: float = 0.0
    s_correct: float = 0.0
    s_wrong: float = 0.0
    gain: float = 0.0  # the model's logit gain of this practice (kept by ``Problem.put``)

    def copy(self) -> State:
        return State(self.correct, self.wrong, self.s_correct, self.s_wrong, self.gain)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass
class Problem:
    """An allocation problem over consecutive days (budgets in seconds; 0 = no study that day).

    Practice is read in order: a problem's predicted P(correct) (its expected outcome, and whether its cell is in
    the productive band) is today's plus the model's gain of the practice planned before it, so a topic moves to
    harder problems as the plan teaches it, and its gains flatten as they do in the model.
    """

    topics: list[TopicReadiness]
    cells: list[Cell]
    budgets: list[float]
    max_tasks: list[int]  # per day: problems at most
    z: float
    max_gap: list[int]
    review_days: int
    committed: list[dict[str, float]] = field(default_factory=list)  # per topic: on today's list already
    band: tuple[float, float] = (0.55, 0.9)  # the productive P(correct) of planned problems

    def __post_init__(self) -> None:
        if not self.committed:
            self.committed = [{} for _ in self.topics]
        self.by_topic: list[list[int]] = [[] for _ in self.topics]
        for c, cell in enumerate(self.cells):
            self.by_topic[cell.topic_index].append(c)
        # pure-Python copies of each topic's score terms (this is the inner loop of both passes)
        self._terms = [[(float(m), float(z), float(r) * math.sqrt(2.0)) for m, z, r in zip(tr.mix, tr.z, tr.scale,
                                                                                          strict=True)]
                       for tr in self.topics]
        self._logit_now = [_logit(cell.p_correct) for cell in self.cells]
        # a gain as it is on the next day (and on exam day after the last days' review): logit, and probit
        self._step = [tr.learning.retained(1) for tr in self.topics]
        self._scale = [step / LOGIT_PER_PROBIT for step in self._step]
        self._slopes = [(tr.learning.gain_correct.get(cell.difficulty, 0.0),
                         tr.learning.gain_wrong.get(cell.difficulty, 0.0))
                        for cell in self.cells for tr in (self.topics[cell.topic_index],)]
        self._base = [self._score(t, State()) for t in range(len(self.topics))]
        self._start = [self._committed_state(t) for t in range(len(self.topics))]

    def _committed_state(self, t: int) -> State:
        state = State()
        for c in self.by_topic[t]:
            self.put(c, state, round(self.committed[t].get(self.cells[c].difficulty, 0.0)))
        return state

    def logit_gain(self, t: int, state: State) -> float:
        """The model's logit gain (no time away) of the practice in ``state``."""
        if state.correct <= 0 and state.wrong <= 0:
            return 0.0
        return self.topics[t].learning.logit_gain(
            state.correct, state.wrong, state.s_correct / state.correct if state.correct > 0 else 0.0,
            state.s_wrong / state.wrong if state.wrong > 0 else 0.0)

    def p_after(self, c: int, state: State) -> float:
        """Cell c's predicted P(correct) after the practice in ``state`` (its topic's)."""
        x = self._logit_now[c] + self._step[self.cells[c].topic_index] * state.gain
        return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0

    def put(self, c: int, state: State, n: int = 1) -> float:
        """Add ``n`` problems of cell c, each at its predicted P(correct) then, to ``state``; their summed P."""
        slope_correct, slope_wrong = self._slopes[c]
        t = self.cells[c].topic_index
        total = 0.0
        for _ in range(n):
            p = self.p_after(c, state)
            state.correct += p
            state.wrong += 1 - p
            state.s_correct += p * slope_correct
            state.s_wrong += (1 - p) * slope_wrong
            state.gain = self.logit_gain(t, state)
            total += p
        return total

    def start(self, t: int) -> State:
        """Topic t's state before planning: what is on today's list already."""
        return self._start[t].copy()

    def _score(self, t: int, state: State) -> float:
        gain = state.gain * self._scale[t]
        return sum(m * 0.5 * (1.0 + math.erf((z + gain) / r)) for m, z, r in self._terms[t])

    def state_value(self, t: int, state: State) -> float:
        """Exam-score gain (weighted) of topic t's practice in ``state`` (the committed work included)."""
        return self.topics[t].weight * (self._score(t, state) - self._base[t])

    @property
    def n_days(self) -> int:
        return len(self.budgets)

    def value(self, t: int, problems: dict[str, float]) -> float:
        """Exam-score gain (weighted) of ``problems`` (difficulty -> count) more in topic t, easiest first."""
        state = self.start(t)
        before = self.state_value(t, state)
        for c in self.by_topic[t]:
            self.put(c, state, round(problems.get(self.cells[c].difficulty, 0.0)))
        return self.state_value(t, state) - before

    def load(self, day: dict[int, int]) -> tuple[float, float]:
        """Total mean and variance of a day's problems."""
        mean = sum(self.cells[c].mean_seconds * n for c, n in day.items())
        var = sum(self.cells[c].var_seconds * n for c, n in day.items())
        return mean, var

    def totals(self, counts: list[dict[int, int]]) -> list[dict[str, float]]:
        """Per topic: difficulty -> problems over all days."""
        out: list[dict[str, float]] = [{} for _ in self.topics]
        for day in counts:
            for c, n in day.items():
                cell = self.cells[c]
                out[cell.topic_index][cell.difficulty] = out[cell.topic_index].get(cell.difficulty, 0.0) + n
        return out

    def productive_cells(self, t: int, state: State | None = None) -> list[int]:
        """Indices of topic t's cells to plan (``productive``) after the practice in ``state`` (default: none
        beyond today's list)."""
        state = state if state is not None else self.start(t)
        return productive([(c, self.cells[c].difficulty, self.p_after(c, state)) for c in self.by_topic[t]],
                          self.band)

    def replay(self, counts: list[dict[int, int]]) -> tuple[list[State], list[dict[int, float]]]:
        """The plan's practice day by day (easiest first within a day): each topic's final state, and per day
        cell -> the mean predicted P(correct) of its planned problems."""
        states = [self.start(t) for t in range(len(self.topics))]
        mean_p: list[dict[int, float]] = []
        for day in counts:
            out = {}
            for c in sorted(day, key=lambda c: (self.cells[c].topic_index, c)):
                out[c] = self.put(c, states[self.cells[c].topic_index], day[c]) / day[c] if day[c] else 0.0
            mean_p.append(out)
        return states, mean_p

    def objective(self, counts: list[dict[int, int]]) -> float:
        """The expected exam-score gain of an allocation."""
        states, _ = self.replay(counts)
        return sum(self.state_value(t, s) - self.state_value(t, self.start(t)) for t, s in enumerate(states))

    def density(self, c: int) -> float:
        """A rough value per second of one more problem of cell c alone (to decide what to drop)."""
        cell = self.cells[c]
        return self.value(cell.topic_index, {cell.difficulty: 1.0}) / cell.mean_seconds


class _Marginals:
    """Running per-topic practice, the productive cells after it, and the marginal value per second of one more
    problem of each cell."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.states = [problem.start(t) for t in range(len(problem.topics))]
        self.current = [problem.state_value(t, s) for t, s in enumerate(self.states)]
        self.gain = [0.0] * len(problem.cells)
        self.allowed: list[list[int]] = [[] for _ in problem.topics]
        for t in range(len(problem.topics)):
            self.refresh(t)

    def refresh(self, t: int) -> None:
        problem = self.problem
        self.allowed[t] = problem.productive_cells(t, self.states[t])
        for c in problem.by_topic[t]:
            more = self.states[t].copy()
            problem.put(c, more)
            self.gain[c] = (problem.state_value(t, more) - self.current[t]) / problem.cells[c].mean_seconds

    def add(self, c: int, n: int = 1) -> None:
        t = self.problem.cells[c].topic_index
        self.problem.put(c, self.states[t], n)
        self.current[t] = self.problem.state_value(t, self.states[t])
        self.refresh(t)


def allocate(problem: Problem) -> list[list[int]]:
    """Per topic: the cells of the problems to plan (pass 1 of the module docstring), in planning order."""
    seconds = sum(problem.budgets)
    slots = sum(n for n, b in zip(problem.max_tasks, problem.budgets, strict=True) if b > 0)
    marginals = _Marginals(problem)
    out: list[list[int]] = [[] for _ in problem.topics]
    used = 0.0
    spent = [0.0] * len(problem.topics)  # predicted seconds allocated per topic

    def share(c: int) -> float:  # the topic's predicted seconds so far per unit of its exam weight
        t = problem.cells[c].topic_index
        return spent[t] / max(problem.topics[t].weight, 1e-9)

    for _ in range(slots):
        candidates = [c for cells in marginals.allowed for c in cells
                      if used + problem.cells[c].mean_seconds <= seconds]
        if not candidates:
            break
        # a tie (no learning: all gains 0) goes to the topic with the fewest minutes for its weight (the
        # minutes in proportion to the weights), then to the harder cell
        best = max(candidates, key=lambda c: (marginals.gain[c], -share(c), -problem.cells[c].p_correct))
        out[problem.cells[best].topic_index].append(best)
        used += problem.cells[best].mean_seconds
        spent[problem.cells[best].topic_index] += problem.cells[best].mean_seconds
        marginals.add(best)
    return out


@dataclass
class _Day:
    """A day being filled: its items, load, and the topics on it."""

    budget: float
    max_tasks: int
    z: float
    items: dict[int, int] = field(default_factory=dict)
    mean: float = 0.0
    var: float = 0.0
    count: int = 0

    def room_for(self, cell: Cell) -> bool:
        return self.count < self.max_tasks and fits(self.mean + cell.mean_seconds, self.var + cell.var_seconds,
                                                    self.z, self.budget)

    def put(self, c: int, cell: Cell) -> None:
        self.items[c] = self.items.get(c, 0) + 1
        self.mean += cell.mean_seconds
        self.var += cell.var_seconds
        self.count += 1


def schedule(problem: Problem, allocation: list[list[int]]) -> list[dict[int, int]]:
    """Spread the allocated problems over the days (pass 2 of the module docstring)."""
    n_topics = len(problem.topics)
    remaining = [list(cells) for cells in allocation]
    study = [j for j, b in enumerate(problem.budgets) if b > 0]
    review_from = study[-min(problem.review_days, len(study))] if study else 0
    last: list[int | None] = [None] * n_topics
    interval = [1] * n_topics
    reviewed: set[int] = set()
    marginals = _Marginals(problem)
    out: list[dict[int, int]] = [{} for _ in problem.budgets]
    for k, j in enumerate(study):
        day = _Day(problem.budgets[j], problem.max_tasks[j], problem.z)
        left_days = len(study) - k
        in_review = j >= review_from

        def due(t: int, j: int = j, in_review: bool = in_review) -> bool:
            if in_review:
                return t not in reviewed
            seen = last[t]
            return (seen is None and bool(remaining[t])) or (seen is not None and j - seen >= interval[t])

        def overdue(t: int, j: int = j) -> float:
            seen = last[t]
            return (j - seen) / problem.max_gap[t] if seen is not None else 1.0

        order = sorted(range(n_topics), key=lambda t: (not due(t), -overdue(t),
                                                       -len(remaining[t]) * problem.topics[t].weight))
        wanted = 2 if day.budget >= INTERLEAVE_MINUTES * 60 else 1
        chosen = [t for t in order if due(t)]
        chosen += [t for t in order if not due(t) and remaining[t]][: max(0, wanted - len(chosen))]
        chosen += [t for t in order if t not in chosen][: max(0, wanted - len(chosen))]  # review a finished topic
        chosen = chosen[: day.max_tasks]

        def place(t: int, day: _Day = day) -> bool:
            c = remaining[t][0] if remaining[t] else max(marginals.allowed[t], key=marginals.gain.__getitem__)
            if not day.room_for(problem.cells[c]):
                return False
            if remaining[t]:
                remaining[t].pop(0)
            day.put(c, problem.cells[c])
            marginals.add(c)
            return True

        on_day = [t for t in chosen if place(t)]  # one each first: every chosen topic is on the day
        for t in on_day:
            visits_left = max(1, math.ceil(left_days / max(interval[t], 1)))
            quota = min(round(len(remaining[t]) / visits_left), day.max_tasks - len(on_day))
            for _ in range(quota):
                if not remaining[t] or not place(t):
                    break
        _top_up(problem, day, on_day, remaining, marginals)
        for t in {problem.cells[c].topic_index for c in day.items}:
            seen = last[t]
            if seen is not None and j - seen >= interval[t]:
                interval[t] = min(interval[t] * 2, problem.max_gap[t])
            last[t] = j
            if in_review:
                reviewed.add(t)
        out[j] = day.items
    return out


def _top_up(problem: Problem, day: _Day, on_day: list[int], remaining: list[list[int]],
            marginals: _Marginals) -> None:
    """Fill the day's room with the best marginal problems allocated to the day's topics."""
    while True:
        options = [remaining[t][0] for t in on_day if remaining[t]]
        options = [c for c in options if day.room_for(problem.cells[c])]
        if not options:
            break
        c = max(options, key=lambda c: marginals.gain[c])
        remaining[problem.cells[c].topic_index].pop(0)
        day.put(c, problem.cells[c])
        marginals.add(c)
