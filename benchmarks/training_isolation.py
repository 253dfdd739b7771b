"""Does training slow the app? Task-creation latency with and without a neural training in the worker.

    .venv/bin/python -m benchmarks.training_isolation [--clients 20] [--duration 30] [--rounds 2]
    .venv/bin/python -m benchmarks.training_isolation --answers 100000 --json OUT [--rounds 3] [--clients 4]

With ``--answers N``: preview latency while a training starts and runs against idle, on a database of N answers
(``benchmarks.preview_isolation``; OUT gets ``{"idle": {"p95_ms": ...}, "training": {"p95_ms": ...}}``).

A server runs on the embedded default (SQLite, its own supervised worker process). Rounds alternate: load with the
worker idle, then load while the worker trains the neural model (re-queued whenever it finishes, so it trains
throughout). Writes benchmarks/results/training_isolation.json with both runs' p50/p99 and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.load import run_load
from benchmarks.paths import RESULTS
from benchmarks.server import running_server

TRAINING_ENV = {
    "STUDYSMART_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
    "STUDYSMART_TRAINING_MODELS": "neural",
    "STUDYSMART_RETRAIN_THRESHOLD": "1000000",  # only this benchmark queues trainings
    "STUDYSMART_WORKER_PROCESSES": "1",
}


def _jobs(var_dir: str) -> Any:
    os.environ.update({"STUDYSMART_VAR_DIR": var_dir, **TRAINING_ENV})
    from studysmart.core.config import get_settings
    from studysmart.learning.jobs import Jobs

    get_settings.cache_clear()
    return Jobs(get_settings())


def _keep_training(var_dir: str, stop: threading.Event) -> None:
    """Queue a training whenever none is queued or running (requests coalesce), until stopped."""
    jobs = _jobs(var_dir)
    while not stop.is_set():
        jobs.request_training(trigger="benchmark")
        stop.wait(0.25)


def _training_share(var_dir: str, start: datetime, end: datetime) -> tuple[float, int]:
    """The share of [start, end] during which a training ran, and how many runs overlapped it (from the runs'
    recorded start and finish times)."""
    from studysmart.learning.models import TrainingRun

    with _jobs(var_dir).sessions()() as session:
        runs = session.query(TrainingRun).filter(TrainingRun.started_at < end).all()
    busy, count = 0.0, 0
    for run in runs:
        finish = run.finished_at or end
        overlap = (min(finish, end) - max(run.started_at, start)).total_seconds()
        if overlap > 0:
            busy += overlap
            count += 1
    return busy / (end - start).total_seconds(), count


def _load(base: str, clients: int, duration: float) -> dict[str, Any]:
    return asyncio.run(run_load(base, clients, duration))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=None, help="default: 20 (4 in preview mode)")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--students", type=int, default=40, help="demo students (data the neural model trains on)")
    parser.add_argument("--answers", type=int, default=None, help="preview mode: bulk answers in the database")
    parser.add_argument("--json", type=Path, default=None, help="preview mode: where the p95 summary goes")
    parser.add_argument("--models", default=None, help="preview mode: models trained (default: the fallback)")
    args = parser.parse_args()
    if args.answers is not None:
        from benchmarks.preview_isolation import run

        run(answers=args.answers, out=args.json, rounds=args.rounds, clients=args.clients or 4,
            idle_seconds=args.duration, models=args.models)
        return
    args.clients = args.clients or 20
    idle_runs, training_runs = [], []
    with running_server(TRAINING_ENV, demo_students=args.students) as (base, var_dir):
        _load(base, args.clients, 5)  # warm-up
        for _ in range(args.rounds):
            idle_runs.append(_load(base, args.clients, args.duration))
            print("idle    ", json.dumps(idle_runs[-1]))
            stop = threading.Event()
            trainer = threading.Thread(target=_keep_training, args=(str(var_dir), stop), daemon=True)
            trainer.start()
            time.sleep(3)  # let the first training start (torch import, data load)
            window_start = datetime.now(UTC)
            result = _load(base, args.clients, args.duration)
            window_end = datetime.now(UTC)
            stop.set()
            trainer.join()
            share, runs = _training_share(str(var_dir), window_start, window_end)
            result["training_share"], result["trainings"] = round(share, 2), runs
            training_runs.append(result)
            print("training", json.dumps(training_runs[-1]))
            time.sleep(5)  # let the running training finish before the next idle round
    summary: dict[str, Any] = {}
    for key in ("p50_ms", "p99_ms", "rps"):
        idle = statistics.median(r[key] for r in idle_runs)
        busy_value = statistics.median(r[key] for r in training_runs)
        summary[key] = {"idle": idle, "training": busy_value, "ratio": round(busy_value / idle, 3)}
    result = {"benchmark": "training_isolation", "clients": args.clients, "duration_s": args.duration,
              "idle_runs": idle_runs, "training_runs": training_runs, "median": summary}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training_isolation.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
