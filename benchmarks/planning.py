"""Exam planning: solve time of 60-day, 10-topic plans and simulated students (planned vs random).

.venv/bin/python -m benchmarks.planning [--exams 20] [--seeds 8] [--days 60] [--topics 10] [--out PATH]

Speed: ``--exams`` random exams (Dirichlet topic weights, 0-90 minutes per weekday, a day off) for random
simulated students (``studysmart.planning.engine.simulate``), each planned with the default options (the greedy
solver). Wall-clock seconds per plan, p50 / p95 / max, and a check that no day is over its minutes.

Simulation: for each of ``--seeds`` seeds a new student and exam; one copy follows the plan, the other spends
at least the same minutes each day evenly over the topics at random difficulties. Reports the true expected
exam scores (start, planned, random), the planner's forecast, and planned minus random. Writes JSON to
benchmarks/results/planning.json and prints the numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.paths import RESULTS
from studysmart.planning.engine import plan_exam
from studysmart.planning.engine.simulate import compare, draw_exam, draw_student, predictions_for

TODAY = date(2025, 1, 6)


def _quantiles(values: list[float]) -> dict[str, float]:
    return {
        "p50": float(np.quantile(values, 0.5)),
        "p95": float(np.quantile(values, 0.95)),
        "max": float(max(values)),
    }


def speed(n_exams: int, n_days: int, n_topics: int) -> dict[str, Any]:
    """Time plan_exam on random exams (default options)."""
    seconds: list[float] = []
    overloads = 0
    use = []
    for seed in range(n_exams):
        rng = np.random.default_rng(1000 + seed)
        student = draw_student(n_topics, rng)
        exam = draw_exam(student.topics, n_days, TODAY, rng)
        predictions = predictions_for(student, rng)
        start = time.perf_counter()
        plan = plan_exam(exam, predictions, today=TODAY)
        seconds.append(time.perf_counter() - start)
        overloads += sum(1 for d in plan.days if d.minutes_planned > d.minutes_available)
        available = sum(d.minutes_available for d in plan.days)
        use.append(sum(d.minutes_planned for d in plan.days) / available if available else 0.0)
    rng = np.random.default_rng(999)
    student = draw_student(n_topics, rng)
    long_exam = draw_exam(student.topics, 365, TODAY, rng)
    start = time.perf_counter()
    plan_exam(long_exam, predictions_for(student, rng), today=TODAY)
    long_seconds = time.perf_counter() - start
    return {
        "long_horizon": {"days": 365, "seconds": long_seconds},
        "exams": n_exams,
        "days": n_days,
        "topics": n_topics,
        "seconds_default": _quantiles(seconds),
        "days_over_their_minutes": overloads,
        "share_of_minutes_planned_median": float(statistics.median(use)),
    }


def simulation(n_seeds: int, n_days: int, n_topics: int, replan_every: int | None) -> dict[str, Any]:
    """Planned vs random simulated students."""
    start = time.perf_counter()
    result = compare(range(n_seeds), n_topics=n_topics, n_days=n_days, replan_every=replan_every)
    body = result.to_dict()
    body.update(days=n_days, topics=n_topics, replan_every=replan_every, seconds=time.perf_counter() - start)
    body["mean_start"] = float(np.mean(result.start))
    body["mean_forecast"] = float(np.mean(result.forecast))
    body["forecast_mean_abs_error"] = float(np.mean(np.abs(np.subtract(result.forecast, result.planned))))
    return body


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both parts, print a summary, write the JSON; returns the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--topics", type=int, default=10)
    parser.add_argument("--replan-every", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "planning.json")
    args = parser.parse_args(argv)

    timing = speed(args.exams, args.days, args.topics)
    s = timing["seconds_default"]
    print(
        f"plan {args.days} days x {args.topics} topics, {args.exams} exams: p50 {s['p50']:.3f} s, "
        f"p95 {s['p95']:.3f} s, max {s['max']:.3f} s"
    )
    print(
        f"  days over their minutes: {timing['days_over_their_minutes']}; "
        f"minutes planned / available (median): {timing['share_of_minutes_planned_median']:.3f}"
    )
    long = timing["long_horizon"]
    print(f"  {long['days']}-day exam in {long['seconds']:.3f} s")
    sims = [
        simulation(args.seeds, args.days, args.topics, args.replan_every),
        simulation(args.seeds, 30, 6, None),
    ]
    for sim in sims:
        print(
            f"simulated students, {sim['days']} days x {sim['topics']} topics, {len(sim['seeds'])} seeds: "
            f"start {sim['mean_start']:.3f}, planned {sim['mean_planned']:.3f}, "
            f"random {sim['mean_random']:.3f}, planned - random {sim['mean_difference']:+.3f} "
            f"(sd {sim['sd_difference']:.3f}), wins {sim['wins']}/{len(sim['seeds'])}, "
            f"forecast {sim['mean_forecast']:.3f} (mean abs error {sim['forecast_mean_abs_error']:.3f}); "
            f"minutes planned/random "
            f"{np.mean(sim['minutes_planned']):.0f}/{np.mean(sim['minutes_random']):.0f}"
        )
    results = {"speed": timing, "simulation": sims}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
