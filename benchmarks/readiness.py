"""Is readiness right? The forecast of a student's score on their last answers, against what they scored.

    .venv/bin/python -m benchmarks.readiness --data FILE [--order COLUMN] --json OUT [--model practice]

For each student with at least ``--min-answers`` answers (by ``--order``, or file order without one): the first 80%
of their answers are what the app knows, the last 20% the "exam" (its items given). The model of learning (default
the served ``practice`` model) is fitted on the first 80% of every student's answers only, so no test answer
reaches the fit. The readiness forecast of a student's exam score is the mean predicted P(correct) of their exam
items, each predicted at the time it was answered (so forgetting is the model's) from their known answers and, as
planned practice, their earlier exam answers with expected outcomes and no times (never the real ones), with an 80%
interval from the predictive distribution of the observed mean: the student's ability shifted by N(0, sd^2) on
every exam row (sd: the posterior sd of a logit ability, prior N(0, 1), from the Fisher information of their known
answers at the model's P(correct), widened by the drift of abilities from known answers to exam that the same
split within the training rows shows: ``drift_sd``, fitted as the forecasting model was chosen), plus, per exam
topic, the student's deviation in that topic (prior: the model's own student x topic variance, posterior from
their known answers in the topic: ``topic_spread``; a topic they never answered keeps the prior, a model without
one adds nothing), then each answer drawn. The baseline is the student's past accuracy per topic
(Beta(1 + right, 1 + wrong); topics they never did use all their answers), its interval drawn the same way (rates
from the Beta, then the answers).

A score of n answers is discrete, so coverage80 is read from the randomised PIT (Czado, Gneiting and Held 2009): u
= F(y-) + V (F(y) - F(y-)), V uniform, covered when 0.1 <= u <= 0.9 (for a continuous forecast the usual
definition).

OUT is exactly ``{"data", "students", "mae", "coverage80", "baseline": {"mae", "coverage80"}}``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from studysmart.ml import base
from studysmart.ml.data import DataError, Responses, read_responses
from studysmart.ml.evaluate import SequentialPredictor, served_predictions

DRAWS = 4000
TEST_SHARE = 0.2


def split_students(data: Responses, *, min_answers: int) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """The training mask (first 80% of every student's answers) and, per evaluated student, (known, exam) rows."""
    order = data.order if data.order is not None else np.arange(len(data), dtype=float)
    train = np.zeros(len(data), dtype=bool)
    students: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for person in np.unique(data.person):
        rows = np.flatnonzero(data.person == person)
        rows = rows[np.lexsort((rows, order[rows]))]
        rows = rows[np.isfinite(data.correct[rows])]
        cut = int(np.floor(len(rows) * (1 - TEST_SHARE)))
        train[rows[:cut]] = True
        if len(rows) >= min_answers and len(rows) - cut >= 1:
            students[int(person)] = (rows[:cut], rows[cut:])
    return train, students


def _scores(p_draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draws of the mean of Bernoulli answers at P(correct) ``p_draws`` (draws x rows)."""
    result: np.ndarray = (rng.random(p_draws.shape) < p_draws).mean(axis=1)
    return result


def covered80(scores: np.ndarray, actual: float, rng: np.random.Generator) -> bool:
    """Whether ``actual`` is inside the central 80% of the predictive draws ``scores`` (randomised PIT)."""
    below = float(np.mean(scores < actual - 1e-9))
    at_or_below = float(np.mean(scores <= actual + 1e-9))
    u = below + float(rng.random()) * (at_or_below - below)
    return 0.1 <= u <= 0.9


def logit_ability_sd(p: np.ndarray, prior_variance: float = 1.0) -> float:
    """Posterior sd of a logit ability shift (prior N(0, ``prior_variance``)) after answers predicted at P(correct)
    ``p``."""
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return float(1.0 / np.sqrt(1.0 / prior_variance + np.sum(p * (1 - p))))


@dataclass(frozen=True)
class Spread:
    """The uncertainty of a student's logit ability on their exam rows: ``general`` (sd, shared by every row),
    and per exam topic the sd of the student's deviation in it (``cell``; ``row_group``: each row's topic)."""

    general: float
    cell: np.ndarray
    row_group: np.ndarray


def model_forecast(model: base.Model, data: Responses, known: np.ndarray, exam: np.ndarray,
                   rng: np.random.Generator, extra_sd: float = 0.0) -> tuple[float, np.ndarray]:
    """The model's forecast of the mean score on ``exam`` rows from ``known`` rows, and predictive draws of it
    (``extra_sd``: the drift of the student's logit ability beyond the posterior sd, ``drift_sd``)."""
    p_exam, spread = _model_parts(model, data, known, exam)
    return float(p_exam.mean()), _draws(p_exam, spread, rng, extra_sd)


def _draws(p_exam: np.ndarray, spread: Spread, rng: np.random.Generator, extra_sd: float = 0.0) -> np.ndarray:
    shift = rng.normal(0.0, math.hypot(spread.general, extra_sd), size=(DRAWS, 1))
    if spread.cell.size:
        shift = shift + (rng.normal(0.0, 1.0, size=(DRAWS, spread.cell.size)) * spread.cell)[:, spread.row_group]
    return _scores(expit(logit(np.clip(p_exam, 1e-6, 1 - 1e-6)) + shift), rng)


def topic_spread(model: base.Model, data: Responses, known: np.ndarray, exam: np.ndarray,
                 p_known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per exam topic, the posterior sd of the student's deviation in it (prior: the model's student x topic
    variance, ``topic_variance``; none for a model without one), and each exam row's topic index."""
    topics = data.row_topic()
    variance = float(model.topic_variance()) if hasattr(model, "topic_variance") else 0.0
    if topics is None or variance <= 0:
        return np.zeros(0), np.zeros(len(exam), dtype=np.int64)
    label = topics.astype(str)
    groups, row_group = np.unique(label[exam], return_inverse=True)
    return np.array([logit_ability_sd(p_known[label[known] == g], variance) for g in groups]), row_group


def _model_parts(model: base.Model, data: Responses, known: np.ndarray, exam: np.ndarray,
                 ) -> tuple[np.ndarray, Spread]:
    """P(correct) of the exam rows (sequential, expected outcomes) and the uncertainty of the ability."""
    history = data.subset(known)
    frozen = np.asarray(model.predict(data.to_queries(exam), history=history).p_correct, dtype=float)
    # the exam's answers are practice too, with outcomes not known yet: each is predicted after the earlier ones
    # with their expected outcomes (the frozen P(correct)), as the readiness forecast counts planned practice
    planned = replace(data.subset(exam), correct=frozen, log_time=np.full(len(exam), np.nan))  # times unknown too
    if isinstance(model, SequentialPredictor):
        p_exam = np.asarray(model.predict_sequence(history, planned, sequential=True).p_correct, dtype=float)
    else:
        p_exam = np.asarray(served_predictions(model, history, planned, sequential=True).p_correct, dtype=float)
    p_known = np.asarray(model.predict(data.to_queries(known), history=history).p_correct, dtype=float)
    cell, row_group = topic_spread(model, data, known, exam, p_known)
    return p_exam, Spread(logit_ability_sd(p_known), cell, row_group)


def drift_sd(data: Responses, *, model_name: str, min_answers: int, seed: int,
             like: base.Model | None = None) -> float:
    """The extra sd of a student's logit ability between their known answers and their exam, calibrated on the
    training rows alone: the same 80/20 split within every student's known answers, a model fitted on the inner
    known part (as ``like`` was chosen to be fitted when it can be: its structure and blocks, without its
    calibration; ``like`` chose them on all the training rows, the inner exams included, so this inner fit is not
    blind to them), and the sd (on a grid 0, 0.05, ..., 1.5) whose intervals cover 80% of the inner exams."""
    inner_train, inner = split_students(data, min_answers=max(2, int(min_answers * (1 - TEST_SHARE))))
    if not inner:
        return 0.0
    fresh = base.create(model_name)
    inner_data = data.subset(inner_train)
    model = fresh.fit_as(inner_data, like) if like is not None and hasattr(fresh, "fit_as") else fresh.fit(inner_data)
    parts = [(_model_parts(model, data, known, exam), float(np.mean(data.correct[exam])))
             for known, exam in inner.values()]
    grid = np.arange(0.0, 1.501, 0.05)
    coverage = []
    for extra in grid:
        rng = np.random.default_rng(seed)
        coverage.append(np.mean([covered80(_draws(p, spread, rng, extra), actual, rng)
                                 for (p, spread), actual in parts]))
    return float(grid[int(np.argmin(np.abs(np.asarray(coverage) - 0.8)))])


def baseline_forecast(data: Responses, known: np.ndarray, exam: np.ndarray,
                      rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """Past accuracy per topic with a Beta interval (see the module docstring)."""
    topics = data.row_topic()
    row_topic = topics.astype(str) if topics is not None else np.full(len(data), "")
    y = data.correct[known]
    overall = (1 + np.nansum(y), 1 + np.sum(1 - y))
    draws = np.empty((DRAWS, len(exam)))
    means = np.empty(len(exam))
    for topic in np.unique(row_topic[exam]):
        mine = row_topic[known] == topic
        a, b = (1 + np.sum(y[mine]), 1 + np.sum(1 - y[mine])) if mine.any() else overall
        cols = row_topic[exam] == topic
        draws[:, cols] = rng.beta(a, b, size=(DRAWS, 1))
        means[cols] = a / (a + b)
    return float(means.mean()), _scores(draws, rng)


def evaluate(data: Responses, *, model_name: str, min_answers: int, seed: int) -> dict[str, Any]:
    """Fit on the known rows, forecast every evaluated student; returns the numbers of OUT (without ``data``)."""
    train, students = split_students(data, min_answers=min_answers)
    model = base.create(model_name).fit(data.subset(train))
    extra = drift_sd(data.subset(train), model_name=model_name, min_answers=min_answers, seed=seed, like=model)
    rng = np.random.default_rng(seed)
    baseline_rng = np.random.default_rng([seed, 1])  # its own: the baseline's draws do not move with the model's
    errors: dict[str, list[float]] = {"model": [], "baseline": []}
    covered: dict[str, list[bool]] = {"model": [], "baseline": []}
    for known, exam in students.values():
        actual = float(np.mean(data.correct[exam]))
        for name, own, (mean, scores) in (
                ("model", rng, model_forecast(model, data, known, exam, rng, extra)),
                ("baseline", baseline_rng, baseline_forecast(data, known, exam, baseline_rng))):
            errors[name].append(abs(mean - actual))
            covered[name].append(covered80(scores, actual, own))
    return {
        "students": len(students),
        "mae": float(np.mean(errors["model"])),
        "coverage80": float(np.mean(covered["model"])),
        "baseline": {"mae": float(np.mean(errors["baseline"])), "coverage80": float(np.mean(covered["baseline"]))},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the command line, run, write OUT; exit 2 with one line on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--order", default=None, help="the order/timestamp column (default: the first present)")
    parser.add_argument("--json", type=Path, required=True, dest="out")
    parser.add_argument("--model", default="practice")
    parser.add_argument("--min-answers", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        data = read_responses(args.data, order=args.order)
    except (OSError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    result = {"data": str(args.data), **evaluate(data, model_name=args.model, min_answers=args.min_answers,
                                                 seed=args.seed)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    base = result["baseline"]
    print(f"{args.data}: {result['students']} students, mae {result['mae']:.4f} (baseline {base['mae']:.4f}), "
          f"coverage80 {result['coverage80']:.3f} (baseline {base['coverage80']:.3f})")
    return result


if __name__ == "__main__":
    main()
