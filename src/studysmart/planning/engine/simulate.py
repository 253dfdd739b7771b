"""Simulated exam preparation with a student the planner does not know: a knowledge-tracing simulator.

The generator is *not* the planner's model of learning. Each topic has a true logit ability theta_t; a problem of
difficulty d has P(correct) = expit(theta_t - b_td). Every answered problem teaches ``rate_t * 4 p (1 - p) *
(1 - L_t / (40 rate_t))`` logits (most at P(correct) 0.5; L_t the learning the student still has in the topic, so
gains saturate exponentially towards a ceiling of 40 rate_t, and what was forgotten can be learned again), a
share ``stable`` of it for good and the rest as a fresh trace that decays exponentially, exp(-days / tau) since
the topic was last practised (the planner assumes power-law forgetting and log(1 + count) gains instead). Times
are lognormal, slower for harder problems.

The planner sees what a served model would: today's P(correct) per cell from a noisy ability (sd 0.3), the
predicted times, and population-average learning (``population_learning``: the population's gains of blocks of
problems of each difficulty read as ``planning.inputs`` reads a served model's, through
``TopicLearning.from_probes``, with a power-law forgetting, not the simulator's). Strategies with the same
minutes each day (those the planned student used): ``plan`` (follow the plan's tasks in order, replanned weekly
from new predictions, as the app replans after completions), ``even`` (topics in turn, medium problems),
``easiest`` (cells from the highest predicted P(correct) down, an equal share of the minutes each, in that
order), ``weakest`` (topics from the lowest predicted P(correct) up, an equal share each, medium problems). The
score is the true expected exam score on exam day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
from scipy.special import expit

from studysmart.planning.engine.plan import materialise
from studysmart.planning.engine.planner import PlanOptions, plan_exam
from studysmart.planning.engine.spec import (
    DIFFICULTIES,
    PROBE_SIZE,
    SMALL_PROBE,
    VOLUME_PROBES,
    CellPrediction,
    ExamSpec,
    StudentPredictions,
    TopicAbility,
    TopicLearning,
    TopicWeight,
)

__all__ = ["STRATEGIES", "SimulatedStudent", "draw_exam", "draw_student", "population_learning",
           "predictions_for", "run_strategy"]

STRATEGIES = ("plan", "even", "easiest", "weakest")
_B_SHIFT = np.array([-1.2, 0.0, 1.2])  # easy, medium, hard
_SECONDS = np.array([70.0, 100.0, 150.0])
#: A topic's learning saturates at this many times its rate per problem: the gain of a problem shrinks in
#: proportion to the learning the student still has in the topic, up to ``CEILING_PROBLEMS * rate``.
CEILING_PROBLEMS = 40.0


@dataclass
class SimulatedStudent:
    """True parameters and learning state: per topic ability, learning rate, stable and fresh gains, problems
    done, last day practised; per cell difficulty b and log-time mean (T, 3)."""

    topics: tuple[str, ...]
    theta: np.ndarray
    rate: np.ndarray
    b: np.ndarray
    log_seconds: np.ndarray
    tau: float
    stable: float
    stable_gain: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fresh_gain: np.ndarray = field(default_factory=lambda: np.zeros(0))
    done: np.ndarray = field(default_factory=lambda: np.zeros(0))
    last_day: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def copy(self) -> SimulatedStudent:
        """An independent copy (same parameters and state)."""
        return SimulatedStudent(self.topics, self.theta, self.rate, self.b, self.log_seconds, self.tau, self.stable,
                                self.stable_gain.copy(), self.fresh_gain.copy(), self.done.copy(),
                                self.last_day.copy())

    def ability(self, day: float) -> np.ndarray:
        """True ability per topic on ``day`` (days since the start)."""
        away = np.maximum(day - self.last_day, 0.0)
        result: np.ndarray = self.theta + self.stable_gain + self.fresh_gain * np.exp(-away / self.tau)
        return result

    def p_true(self, day: float) -> np.ndarray:
        """True P(correct) per cell (T, 3) on ``day``."""
        result: np.ndarray = expit(self.ability(day)[:, None] - self.b)
        return result

    def exam_score(self, exam: ExamSpec, day: float) -> float:
        """The true expected exam score on ``day``: weighted P(correct) over topics and the difficulty mix."""
        weights, mix = exam.weights(), exam.mix()
        m = np.array([mix[d] for d in DIFFICULTIES])
        p = self.p_true(day)
        return float(sum(weights[t] * p[i] @ m for i, t in enumerate(self.topics)))

    def seconds(self, t: int, d: int, rng: np.random.Generator) -> float:
        """The time one problem of cell (t, d) will take."""
        return float(np.exp(self.log_seconds[t, d] + 0.4 * rng.standard_normal()))

    def answer(self, t: int, d: int, day: float) -> None:
        """Answer one problem of cell (t, d) on ``day`` and learn from it."""
        p = float(expit(self.ability(day)[t] - self.b[t, d]))
        fresh_left = self.fresh_gain[t] * math.exp(-max(day - self.last_day[t], 0.0) / self.tau)
        headroom = max(0.0, 1.0 - (self.stable_gain[t] + fresh_left) / (CEILING_PROBLEMS * self.rate[t]))
        gain = self.rate[t] * 4 * p * (1 - p) * headroom
        self.stable_gain[t] += self.stable * gain
        self.fresh_gain[t] = fresh_left + (1 - self.stable) * gain
        self.done[t] += 1
        self.last_day[t] = day


def draw_student(n_topics: int, rng: np.random.Generator) -> SimulatedStudent:
    """A random student: abilities N(0, 1), learning rates lognormal around 0.06 logit, forgetting tau 4-12 days."""
    shape = (n_topics, len(DIFFICULTIES))
    return SimulatedStudent(
        topics=tuple(f"topic-{i + 1}" for i in range(n_topics)),
        theta=rng.normal(0.0, 1.0, size=n_topics),
        rate=0.06 * np.exp(rng.normal(0.0, 0.4, size=n_topics)),
        b=rng.normal(0.0, 0.5, size=(n_topics, 1)) + _B_SHIFT + rng.normal(0.0, 0.2, size=shape),
        log_seconds=np.log(_SECONDS) + rng.normal(0.0, 0.2, size=(n_topics, 1)) + rng.normal(0.0, 0.1, size=shape),
        tau=float(rng.uniform(4.0, 12.0)),
        stable=float(rng.uniform(0.4, 0.7)),
        stable_gain=np.zeros(n_topics),
        fresh_gain=np.zeros(n_topics),
        done=np.zeros(n_topics),
        last_day=np.zeros(n_topics),
    )


@lru_cache(maxsize=len(DIFFICULTIES))
def _population_curve(d: int, n_students: int = 200, longest: int = 800) -> np.ndarray:
    """The mean gain of ability (logit, straight after) of simulated students after k = 0..longest problems of
    difficulty ``d`` in a row: what a model of learning fitted to this population would say a block of practice
    does, on average (not any one student's rate or forgetting)."""
    rng = np.random.default_rng(20_250_106)
    curve = np.zeros(longest + 1)
    for _ in range(n_students):
        student = draw_student(1, rng)
        start = float(student.ability(0.0)[0])
        for k in range(1, longest + 1):
            student.answer(0, d, 0.0)
            curve[k] += float(student.ability(0.0)[0]) - start
    return curve / n_students


def population_learning(topic: str, horizon: int, done: float = 0.0,
                        p_correct: Mapping[str, float] | None = None) -> TopicLearning:
    """Population-average learning the planner assumes (not the simulator's): the population's gains of blocks of
    ``SMALL_PROBE``, ``PROBE_SIZE`` and ``VOLUME_PROBES`` problems of each difficulty after ``done`` problems
    (``_population_curve``), linearised as the app linearises a served model (``TopicLearning.from_probes``, with
    the student's ``p_correct`` per difficulty, default 0.5), and power-law forgetting (1 + days)^-0.3 of the
    gain."""
    longest = len(_population_curve(0)) - 1
    k = min(int(done), longest - VOLUME_PROBES[-1])  # beyond 500 problems done, read at 500 (saturated by then)

    def gain(d: int, n: int) -> float:
        curve = _population_curve(d)
        return float(curve[k + n] - curve[k])

    return TopicLearning.from_probes(
        topic,
        p_correct=p_correct or {},
        small={name: gain(d, SMALL_PROBE) for d, name in enumerate(DIFFICULTIES)},
        big={name: gain(d, PROBE_SIZE) for d, name in enumerate(DIFFICULTIES)},
        retention=[(1.0 + j) ** -0.3 for j in range(horizon + 1)],
        volume={name: [gain(d, n) for n in VOLUME_PROBES] for d, name in enumerate(DIFFICULTIES)},
    )


def predictions_for(student: SimulatedStudent, rng: np.random.Generator, *, horizon: int, day: float = 0.0,
                    theta_sd: float = 0.3) -> StudentPredictions:
    """What a served model would predict on ``day``: P(correct) from a noisy estimate of the current ability,
    times, population learning."""
    theta_hat = student.ability(day) + rng.normal(0.0, theta_sd, size=student.theta.shape)
    cells = []
    learning = {}
    for t, topic in enumerate(student.topics):
        p_of = {difficulty: float(expit(theta_hat[t] - student.b[t, d])) for d, difficulty in enumerate(DIFFICULTIES)}
        for d, difficulty in enumerate(DIFFICULTIES):
            cells.append(CellPrediction(topic=topic, difficulty=difficulty, p_correct=p_of[difficulty],
                                        mean_log_time=float(student.log_seconds[t, d]), sd_log_time=0.4))
        learning[topic] = population_learning(topic, horizon, float(student.done[t]), p_of)
    abilities = {t: TopicAbility(topic=t, theta=0.0, theta_sd=theta_sd / 1.7) for t in student.topics}
    return StudentPredictions(cells=tuple(cells), abilities=abilities, learning=learning)


def draw_exam(topics: tuple[str, ...], n_days: int, today: date, rng: np.random.Generator) -> ExamSpec:
    """A random exam ``n_days`` after ``today``: Dirichlet weights, 0-90 minutes per weekday, a day off."""
    weights = rng.dirichlet(np.full(len(topics), 1.5))
    minutes = rng.choice([0.0, 20.0, 30.0, 45.0, 60.0, 90.0], size=7, p=[0.1, 0.15, 0.2, 0.25, 0.2, 0.1])
    minutes[rng.integers(7)] = 45.0  # at least one study weekday
    return ExamSpec(
        date=today + timedelta(days=n_days),
        topics=tuple(TopicWeight(topic=t, weight=float(max(w, 0.02))) for t, w in zip(topics, weights, strict=True)),
        minutes_per_weekday=tuple(float(m) for m in minutes),
        days_off=frozenset({today + timedelta(days=int(rng.integers(n_days)))}),
    )


def _queue(strategy: str, predictions: StudentPredictions, student: SimulatedStudent) -> list[tuple[int, int]]:
    """The order of cells a baseline strategy works through ((topic, difficulty) indices)."""
    p = np.array([[predictions.by_topic(t)[d].p_correct for d in DIFFICULTIES] for t in student.topics])
    medium = DIFFICULTIES.index("medium")
    if strategy == "even":
        return [(t, medium) for t in range(len(student.topics))]
    if strategy == "easiest":
        flat = np.argsort(-p, axis=None)
        return [(int(i // p.shape[1]), int(i % p.shape[1])) for i in flat]
    if strategy == "weakest":
        return [(int(t), medium) for t in np.argsort(p.mean(axis=1))]
    raise ValueError(f"unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})")


def run_strategy(student: SimulatedStudent, exam: ExamSpec, predictions: StudentPredictions, *, today: date,
                 rng: np.random.Generator, strategy: str, seconds_per_day: list[float] | None = None,
                 options: PlanOptions | None = None, replan_every: int = 7) -> tuple[float, list[float]]:
    """Simulate one preparation (the student is changed in place).

    Args:
        student, exam, predictions: the simulated student, the exam, what the planner believes.
        today: the first study day.
        rng: randomness of the problems' times.
        strategy: one of ``STRATEGIES``.
        seconds_per_day: for the baselines, the seconds to spend each day (at most; a problem that would not fit
            is not started).
        options: planning options (``plan``).
        replan_every: ``plan`` replans every this many days from new predictions (the served model follows the
            student's answers), as the app does after completions.

    Returns:
        The true exam score on exam day and the seconds spent per day.
    """
    days = exam.study_days(today)
    spent_per_day: list[float] = []
    if strategy == "plan":
        plan = plan_exam(exam, predictions, today=today, options=options)
        index = {t: i for i, t in enumerate(student.topics)}
        for k, day in enumerate(days):
            if k and k % replan_every == 0:
                seen = predictions_for(student, rng, horizon=len(days), day=k)
                plan = plan_exam(exam, seen, today=day, options=options)
            spent, budget = 0.0, exam.minutes_on(day) * 60.0
            plan_day = plan.day(day)
            for task in materialise(plan_day) if plan_day else []:
                t, d = index[task.topic], DIFFICULTIES.index(task.difficulty)
                seconds = student.seconds(t, d, rng)
                if spent + seconds > budget:  # out of time: this problem is not started
                    break
                student.answer(t, d, k)
                spent += seconds
            spent_per_day.append(spent)
    else:
        queue = _queue(strategy, predictions, student)
        total = sum(seconds_per_day or [])
        share = total / len(queue) if queue else 0.0
        used_total = 0.0
        turn = 0
        for k, _ in enumerate(days):
            spent, budget = 0.0, (seconds_per_day or [0.0] * len(days))[k]
            while True:
                if strategy == "even":
                    t, d = queue[turn % len(queue)]
                else:  # sequential: an equal share of all the minutes per entry, in order
                    t, d = queue[min(int(used_total // share), len(queue) - 1)] if share > 0 else queue[0]
                seconds = student.seconds(t, d, rng)
                if spent + seconds > budget:  # no more than the plan's minutes
                    break
                turn += 1
                student.answer(t, d, k)
                spent += seconds
                used_total += seconds
            spent_per_day.append(spent)
    return student.exam_score(exam, len(days)), spent_per_day
