"""Task-creation latency against a real server on the embedded default (SQLite), medians of several runs.

    .venv/bin/python -m benchmarks.task_latency [--clients 20] [--duration 10] [--runs 3]

Writes benchmarks/results/task_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics

from benchmarks.load import run_load
from benchmarks.paths import RESULTS
from benchmarks.server import running_server, wait_for_training_idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    # The benchmark measures task creation, not the login rate limit, which it would trip across runs.
    with running_server({"STUDYSMART_LOGIN_ATTEMPTS_PER_MINUTE": "1000"}) as (base, var_dir):
        wait_for_training_idle(var_dir)  # measure serving alone (training_isolation measures it with training)
        for _ in range(args.runs):
            runs.append(asyncio.run(run_load(base, args.clients, args.duration)))
            print(json.dumps(runs[-1]))
    summary = {key: statistics.median(r[key] for r in runs) for key in ("p50_ms", "p95_ms", "p99_ms", "rps")}
    result = {"benchmark": "task_creation_latency", "backend": "sqlite", "clients": args.clients,
              "duration_s": args.duration, "runs": runs, "median": summary,
              "errors": sum(r["errors"] for r in runs)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "task_latency.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({"median": summary, "errors": result["errors"]}, indent=2))


if __name__ == "__main__":
    main()
