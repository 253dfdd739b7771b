"""Simulated exam preparation: a student with true LNIRT parameters who learns, following the plan or not.

The student has, per topic, a true ability theta_t and, per (topic, difficulty) cell, LNIRT item parameters
(a, b, phi, lambda, sigma^2); answers and times are drawn with ``studysmart.ml.synthetic.simulate_response``.
Learning: answering one item of a cell whose *true* P(correct) is p raises theta_t by ``g_t * eff(p) *
exp(-n_t / S)``, where eff is the desirable-difficulty bell of ``GainModel`` (largest at p = 0.7), n_t the
topic's effective items so far and S the saturation scale; g_t varies by topic around the planner's prior. The
planner sees only noisy estimates of theta and speed and the prior gain, never the truth.

Two students start identical: one follows the plan (items in the materialised, interleaved order, stopping
when the day's minutes run out), the other spends at least the same minutes each day cycling evenly over the
topics at uniformly random difficulties. The score is the true expected exam score on exam day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from scipy.special import ndtr

from studysmart.ml.synthetic import simulate_response
from studysmart.planning.engine.plan import Plan, materialise
from studysmart.planning.engine.planner import PlanOptions, plan_exam, replan
from studysmart.planning.engine.readiness import GainModel, readiness
from studysmart.planning.engine.spec import (
    DIFFICULTIES,
    CellPrediction,
    CompletedWork,
    ExamSpec,
    StudentPredictions,
    TopicAbility,
    TopicWeight,
)

__all__ = ["Comparison", "SimulatedStudent", "compare", "draw_exam", "draw_student", "run_strategy"]

_B_SHIFT = np.array([-0.8, 0.0, 0.8])  # easy, medium, hard
_LAMBDA_SHIFT = np.array([-0.25, 0.0, 0.25])


@dataclass
class SimulatedStudent:
    """True parameters (per topic theta and gain; per cell a, b, phi, lambda, sigma^2, shape (T, 3)).

    ``theta`` and ``practice`` (effective items per topic) change as the student learns.
    """

    topics: tuple[str, ...]
    theta: np.ndarray
    zeta: float
    gain: np.ndarray
    a: np.ndarray
    b: np.ndarray
    phi: np.ndarray
    lam: np.ndarray
    sigma2: np.ndarray
    practice: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def copy(self) -> SimulatedStudent:
        """An independent copy (same true parameters, same learning state)."""
        return SimulatedStudent(
            self.topics, self.theta.copy(), self.zeta, self.gain.copy(), self.a, self.b, self.phi, self.lam,
            self.sigma2, self.practice.copy() if self.practice.size else np.zeros(len(self.topics)),
        )  # fmt: skip

    def p_true(self) -> np.ndarray:
        """True P(correct) per cell (T, 3)."""
        result: np.ndarray = ndtr(self.a * self.theta[:, None] - self.b)
        return result

    def exam_score(self, exam: ExamSpec) -> float:
        """The true expected exam score: weighted P(correct) over topics and the difficulty mix."""
        weights, mix = exam.weights(), exam.mix()
        p = self.p_true()
        m = np.array([mix[d] for d in DIFFICULTIES])
        return float(sum(weights[t] * p[i] @ m for i, t in enumerate(self.topics)))

    def attempt(self, t: int, d: int, rng: np.random.Generator) -> tuple[float, float, float]:
        """Draw an answer to one item of cell (t, d): (true P(correct), correct, seconds); no learning yet."""
        draw = simulate_response(
            theta=self.theta[t], zeta=self.zeta, a=self.a[t, d], b=self.b[t, d], phi=self.phi[t, d],
            lam=self.lam[t, d], sigma2=self.sigma2[t, d], rng=rng,
        )  # fmt: skip
        return float(draw.p_correct), float(draw.correct), float(np.exp(draw.log_time))

    def learn(self, t: int, p_true: float, model: GainModel) -> None:
        """Apply the learning gain of one finished item of topic t answered at true P(correct) ``p_true``."""
        eff = float(model.efficiency(p_true))
        self.theta[t] += self.gain[t] * eff * np.exp(-self.practice[t] / model.saturation_items)
        self.practice[t] += eff


def draw_student(
    n_topics: int, rng: np.random.Generator, *, gain_mean: float = 0.02, seconds_per_item: float = 120.0
) -> SimulatedStudent:
    """A random student: abilities N(0, 1) per topic, gains lognormal around ``gain_mean``, LNIRT cells."""
    shape = (n_topics, len(DIFFICULTIES))
    topic_b = rng.normal(0.0, 0.4, size=(n_topics, 1))
    return SimulatedStudent(
        topics=tuple(f"topic-{i + 1}" for i in range(n_topics)),
        theta=rng.normal(0.0, 1.0, size=n_topics),
        zeta=float(rng.normal(0.0, 0.3)),
        gain=gain_mean * np.exp(rng.normal(-0.125, 0.5, size=n_topics)),
        a=np.exp(rng.normal(0.1, 0.25, size=shape)),
        b=topic_b + _B_SHIFT + rng.normal(0.0, 0.25, size=shape),
        phi=np.exp(rng.normal(0.0, 0.2, size=shape)),
        lam=np.log(seconds_per_item) + _LAMBDA_SHIFT + rng.normal(0.0, 0.2, size=shape),
        sigma2=rng.uniform(0.1, 0.3, size=shape),
        practice=np.zeros(n_topics),
    )


def predictions_for(
    student: SimulatedStudent, rng: np.random.Generator, *, theta_sd: float = 0.3, zeta_sd: float = 0.2
) -> StudentPredictions:
    """What a serving LNIRT model would predict: item parameters known, theta and zeta noisy."""
    theta_hat = student.theta + rng.normal(0.0, theta_sd, size=student.theta.shape)
    zeta_hat = student.zeta + rng.normal(0.0, zeta_sd)
    cells = []
    for t, topic in enumerate(student.topics):
        for d, difficulty in enumerate(DIFFICULTIES):
            a, b, phi = student.a[t, d], student.b[t, d], student.phi[t, d]
            p = ndtr((a * theta_hat[t] - b) / np.sqrt(1 + a**2 * theta_sd**2))
            cells.append(CellPrediction(
                topic=topic, difficulty=difficulty, p_correct=float(p),
                mean_log_time=float(student.lam[t, d] - phi * zeta_hat),
                sd_log_time=float(np.sqrt(student.sigma2[t, d] + (phi * zeta_sd) ** 2)), slope=float(a),
                intercept=float(b),
            ))  # fmt: skip
    abilities = {t: TopicAbility(topic=t, theta=float(theta_hat[i]), theta_sd=theta_sd)
                 for i, t in enumerate(student.topics)}
    return StudentPredictions(cells=tuple(cells), abilities=abilities)


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


@dataclass(frozen=True)
class StrategyResult:
    """A strategy's outcome: true exam score, minutes spent per day, items done."""

    score: float
    seconds_per_day: list[float]
    items: int
    plan: Plan | None = None


def run_strategy(
    student: SimulatedStudent,
    exam: ExamSpec,
    predictions: StudentPredictions,
    *,
    today: date,
    rng: np.random.Generator,
    strategy: str,
    seconds_per_day: list[float] | None = None,
    options: PlanOptions | None = None,
    replan_every: int | None = None,
) -> StrategyResult:
    """Simulate one preparation (the student is modified in place).

    Args:
        student: the simulated student.
        exam: the exam.
        predictions: what the planner believes about the student.
        today: the first study day.
        rng: randomness of answers, times and the random strategy's choices.
        strategy: "plan" (follow the plan) or "random" (even over topics, random difficulties).
        seconds_per_day: for "random", the seconds to spend each day (it finishes the item it started).
        options: planning options.
        replan_every: for "plan", replan with the completed work every this many days (None = never).

    Returns:
        The StrategyResult.
    """
    options = options or PlanOptions()
    model = options.gain_model
    days = exam.study_days(today)
    index = {t: i for i, t in enumerate(student.topics)}
    plan = plan_exam(exam, predictions, today=today, options=options) if strategy == "plan" else None
    initial = plan
    completed: list[CompletedWork] = []
    spent_per_day: list[float] = []
    items = 0
    for k, day in enumerate(days):
        spent = 0.0
        if plan is not None:
            if replan_every and k and k % replan_every == 0:
                plan = replan(plan, exam, predictions, today=day, completed=completed, options=options)
            plan_day = plan.day(day)
            budget = exam.minutes_on(day) * 60.0
            for task in materialise(plan_day) if plan_day else []:
                t = index[task.topic]
                p_true, _, seconds = student.attempt(t, DIFFICULTIES.index(task.difficulty), rng)
                if spent + seconds > budget:  # out of time: this item is not finished
                    break
                student.learn(t, p_true, model)
                spent += seconds
                items += 1
                completed.append(CompletedWork(date=day, topic=task.topic, difficulty=task.difficulty, count=1,
                                               seconds=seconds))
        else:
            budget = (seconds_per_day or [0.0] * len(days))[k]
            order = rng.permutation(len(student.topics))
            while spent < budget:
                t = int(order[items % len(order)])
                p_true, _, seconds = student.attempt(t, int(rng.integers(len(DIFFICULTIES))), rng)
                student.learn(t, p_true, model)
                spent += seconds
                items += 1
        spent_per_day.append(spent)
    return StrategyResult(student.exam_score(exam), spent_per_day, items, initial)


@dataclass(frozen=True)
class Comparison:
    """Planned vs random students over seeds (scores are true expected exam scores in [0, 1])."""

    seeds: list[int]
    start: list[float]
    planned: list[float]
    random: list[float]
    forecast: list[float]
    planned_minutes: list[float]
    random_minutes: list[float]

    @property
    def mean_difference(self) -> float:
        """Mean of planned minus random score."""
        return float(np.mean(np.subtract(self.planned, self.random)))

    @property
    def wins(self) -> int:
        """Seeds where the planned student scored higher."""
        return int(np.sum(np.greater(self.planned, self.random)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary with the per-seed numbers."""
        diff = np.subtract(self.planned, self.random)
        return {
            "seeds": self.seeds,
            "score_start": self.start,
            "score_planned": self.planned,
            "score_random": self.random,
            "forecast_planned": self.forecast,
            "minutes_planned": self.planned_minutes,
            "minutes_random": self.random_minutes,
            "mean_planned": float(np.mean(self.planned)),
            "mean_random": float(np.mean(self.random)),
            "mean_difference": self.mean_difference,
            "sd_difference": float(np.std(diff, ddof=1)) if len(diff) > 1 else 0.0,
            "wins": self.wins,
        }


def compare(
    seeds: list[int] | range,
    *,
    n_topics: int = 6,
    n_days: int = 30,
    options: PlanOptions | None = None,
    replan_every: int | None = None,
    today: date = date(2025, 1, 6),
) -> Comparison:
    """Run planned vs random preparation for each seed (a new student and exam per seed).

    Returns:
        A Comparison with per-seed start, planned, random and forecast scores and minutes used.
    """
    out: dict[str, list[float]] = {k: [] for k in ("start", "planned", "random", "forecast", "pm", "rm")}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        student = draw_student(n_topics, rng)
        exam = draw_exam(student.topics, n_days, today, rng)
        predictions = predictions_for(student, rng)
        planned_student, random_student = student.copy(), student.copy()
        planned = run_strategy(
            planned_student,
            exam,
            predictions,
            today=today,
            strategy="plan",
            rng=np.random.default_rng([seed, 1]),
            options=options,
            replan_every=replan_every,
        )
        random = run_strategy(
            random_student,
            exam,
            predictions,
            today=today,
            strategy="random",
            rng=np.random.default_rng([seed, 2]),
            seconds_per_day=planned.seconds_per_day,
        )
        assert planned.plan is not None
        forecast = readiness(exam, predictions, practice=planned.plan.remaining_practice(today),
                             gain_model=(options or PlanOptions()).gain_model)  # fmt: skip
        out["start"].append(student.exam_score(exam))
        out["planned"].append(planned.score)
        out["random"].append(random.score)
        out["forecast"].append(forecast.forecast_on_exam_day)
        out["pm"].append(sum(planned.seconds_per_day) / 60.0)
        out["rm"].append(sum(random.seconds_per_day) / 60.0)
    return Comparison(list(seeds), out["start"], out["planned"], out["random"], out["forecast"], out["pm"], out["rm"])
