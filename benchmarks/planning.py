"""Exam planning: does the plan help a student it does not know, and how fast is it?

    .venv/bin/python -m benchmarks.planning [--json OUT] [--speed-json OUT2] [--seeds 10] [--topics 6]
        [--band LOW,HIGH]

Simulation (``studysmart.planning.engine.simulate``: a knowledge-tracing student with exponential forgetting,
not the planner's model of learning): for each horizon (14, 30, 60 days) and seed, a new student and exam; one
copy follows the plan, three copies spend the same minutes each day by the baselines ``even``, ``easiest`` and
``weakest``. OUT is exactly ``{"horizons": {"14": {"seeds": 10, "wins": {"even": n, "easiest": n, "weakest":
n}, "mean_score": {"plan": ..., "even": ..., "easiest": ..., "weakest": ...}}, "30": ..., "60": ...}}`` (a win:
the plan's true exam score above the baseline's for that seed). ``--band`` sets the exams' productive band
(default: ``ExamSpec``'s, 0.55-0.9), to measure what the band costs the plan.

Speed (OUT2, default benchmarks/results/planning_speed.json): ``plan_exam`` on ``--exams`` random 60-day,
10-topic exams, wall-clock seconds p50 / p95 / max, days over their minutes or their task limit.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.paths import RESULTS
from studysmart.planning.engine import plan_exam
from studysmart.planning.engine.simulate import STRATEGIES, draw_exam, draw_student, predictions_for, run_strategy

TODAY = date(2025, 1, 6)
HORIZONS = (14, 30, 60)
BASELINES = tuple(s for s in STRATEGIES if s != "plan")


def one_seed(seed: int, n_days: int, n_topics: int, band: tuple[float, float] | None = None) -> dict[str, float]:
    """True exam scores of the four strategies for one simulated student and exam (``band``: the exam's
    productive band; None: the default)."""
    rng = np.random.default_rng([seed, n_days])
    student = draw_student(n_topics, rng)
    exam = draw_exam(student.topics, n_days, TODAY, rng)
    if band is not None:
        exam = exam.model_copy(update={"productive_band": band})
    predictions = predictions_for(student, rng, horizon=n_days)
    scores: dict[str, float] = {}
    scores["plan"], spent = run_strategy(student.copy(), exam, predictions, today=TODAY, strategy="plan",
                                         rng=np.random.default_rng([seed, 1]))
    for name in BASELINES:
        scores[name], _ = run_strategy(student.copy(), exam, predictions, today=TODAY, strategy=name,
                                       rng=np.random.default_rng([seed, 1]), seconds_per_day=spent)
    return scores


def simulation(n_seeds: int, n_topics: int, band: tuple[float, float] | None = None) -> dict[str, Any]:
    """The OUT body: wins and mean scores per horizon."""
    horizons: dict[str, Any] = {}
    for n_days in HORIZONS:
        runs = [one_seed(seed, n_days, n_topics, band) for seed in range(n_seeds)]
        horizons[str(n_days)] = {
            "seeds": n_seeds,
            "wins": {b: int(sum(r["plan"] > r[b] for r in runs)) for b in BASELINES},
            "mean_score": {s: float(np.mean([r[s] for r in runs])) for s in STRATEGIES},
        }
    return {"horizons": horizons}


def speed(n_exams: int, n_days: int = 60, n_topics: int = 10) -> dict[str, Any]:
    """Time plan_exam on random exams; count days over their minutes or task limit."""
    seconds: list[float] = []
    over = 0
    for seed in range(n_exams):
        rng = np.random.default_rng(1000 + seed)
        student = draw_student(n_topics, rng)
        exam = draw_exam(student.topics, n_days, TODAY, rng)
        predictions = predictions_for(student, rng, horizon=n_days)
        start = time.perf_counter()
        plan = plan_exam(exam, predictions, today=TODAY)
        seconds.append(time.perf_counter() - start)
        over += sum(1 for d in plan.days if d.minutes_planned > d.minutes_available
                    or sum(i.count for i in d.items) > exam.max_tasks_per_day)
    return {"exams": n_exams, "days": n_days, "topics": n_topics,
            "seconds": {"p50": float(np.quantile(seconds, 0.5)), "p95": float(np.quantile(seconds, 0.95)),
                        "max": float(max(seconds))},
            "days_over_their_limits": over}


def _band(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected LOW,HIGH, e.g. 0.3,0.9") from None
    if not 0 <= low < high <= 1:
        raise argparse.ArgumentTypeError("expected 0 <= LOW < HIGH <= 1")
    return low, high


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run both parts, print the tables, write the two JSON files; returns the simulation's body."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, dest="out", help="default: benchmarks/results/planning.json")
    parser.add_argument("--speed-json", type=Path, default=RESULTS / "planning_speed.json")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--topics", type=int, default=6)
    parser.add_argument("--exams", type=int, default=20)
    parser.add_argument("--band", type=_band, default=None, help="LOW,HIGH: the exams' productive band")
    args = parser.parse_args(argv)
    if args.band is not None and args.out is None:
        parser.error("--band needs --json OUT: the default results are the default band's")
    args.out = args.out or RESULTS / "planning.json"
    body = simulation(args.seeds, args.topics, args.band)
    print("| days | plan | even | easiest | weakest | wins vs even / easiest / weakest |")
    print("|---|---|---|---|---|---|")
    for days, h in body["horizons"].items():
        m, w = h["mean_score"], h["wins"]
        print(f"| {days} | {m['plan']:.3f} | {m['even']:.3f} | {m['easiest']:.3f} | {m['weakest']:.3f} | "
              f"{w['even']}/{h['seeds']}, {w['easiest']}/{h['seeds']}, {w['weakest']}/{h['seeds']} |")
    timing = speed(args.exams)
    s = timing["seconds"]
    print(f"plan 60 days x 10 topics, {args.exams} exams: p50 {s['p50'] * 1000:.0f} ms, p95 {s['p95'] * 1000:.0f} ms, "
          f"max {s['max'] * 1000:.0f} ms; days over their limits: {timing['days_over_their_limits']}")
    for path, content in ((args.out, body), (args.speed_json, timing)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2))
    return body


if __name__ == "__main__":
    main()
