"""Task-creation throughput with a fixed number of concurrent clients on the embedded default (SQLite).

    .venv/bin/python -m benchmarks.throughput [--clients 8] [--duration 10] [--runs 3] --json OUT

A server on a fresh embedded database with the demo data (its first training finished and the model it chose to
serve loaded before measuring); then ``--runs`` runs of ``--clients`` clients creating tasks back to back for
``--duration`` seconds each (benchmarks.load, on this machine: the load generator shares its cores with the
server). OUT gets
``{"rps": ..., "p50_ms": ..., "p95_ms": ...}`` (medians over the runs) with the clients, runs and errors;
benchmarks/results/throughput.json also every run.

Target (issue 16): >= 200 requests/s with 8 clients and p95 < 60 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks import history
from benchmarks.load import run_load
from benchmarks.paths import RESULTS, write_results
from benchmarks.server import running_server, wait_for_training_idle
from studysmart.learning.registry import FALLBACK

PASSWORD = "throughput-bench-phrase-7"


def _wait_served(base: str, var_dir: Path) -> None:
    """Wait until the server has loaded the model the training chose to serve (until then the fallback serves)."""
    with httpx.Client(base_url=base, timeout=60) as http:
        email = f"throughput-{uuid.uuid4().hex[:10]}@example.com"
        http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "T"})
        response = http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
        response.raise_for_status()
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        history.wait_loaded(http, headers, {history.serving(var_dir, None), FALLBACK})


def run(*, clients: int, duration: float, runs: int, out: Path | None) -> dict[str, Any]:
    """Serve, run the load ``runs`` times; returns (and writes) the medians."""
    results = []
    # The benchmark measures task creation, not the login rate limit, which it would trip across runs.
    with running_server({"STUDYSMART_LOGIN_ATTEMPTS_PER_MINUTE": "1000"}) as (base, var_dir):
        wait_for_training_idle(var_dir)
        _wait_served(base, var_dir)
        asyncio.run(run_load(base, clients, min(duration, 2.0)))  # warm-up
        for _ in range(runs):
            results.append(asyncio.run(run_load(base, clients, duration)))
            print(json.dumps(results[-1]), flush=True)
    summary: dict[str, Any] = {key: statistics.median(r[key] for r in results) for key in ("rps", "p50_ms", "p95_ms")}
    summary.update({"clients": clients, "duration_s": duration, "runs": runs,
                    "requests": sum(r["requests"] for r in results), "errors": sum(r["errors"] for r in results)})
    full = {"runs": results, "summary": summary}
    write_results("throughput", full, summary, out, results=RESULTS)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3, help="runs (the summary is their median)")
    parser.add_argument("--json", type=Path, default=None, help="where the summary goes")
    args = parser.parse_args()
    if args.clients < 1 or args.duration <= 0 or args.runs < 1:
        parser.error("--clients and --runs must be >= 1 and --duration > 0")
    run(clients=args.clients, duration=args.duration, runs=args.runs, out=args.json)


if __name__ == "__main__":
    main()
