"""Load generator: N concurrent clients create tasks against a running StudySmart server; latency percentiles.

    .venv/bin/python -m benchmarks.load --url http://127.0.0.1:8000 --clients 20 --duration 30 \
        --out benchmarks/results/load.json

Five students share the clients, which create tasks back to back (each creation computes and stores a
prediction). Bounded in time and count; only loopback URLs are accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np

TOPICS = ["Algebra", "Geometry", "Probability", "Calculus"]
DIFFICULTIES = ["easy", "medium", "hard"]
STUDENTS = 5


async def _login(http: httpx.AsyncClient) -> dict[str, str]:
    email = f"load-{uuid.uuid4().hex[:12]}@example.com"
    await http.post("/api/v1/auth/register", json={"email": email, "password": "load-test-phrase", "display_name": "L"})
    response = await http.post("/api/v1/auth/token", data={"username": email, "password": "load-test-phrase"})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _client(base: str, headers: dict[str, str], deadline: float, latencies: list[float], errors: list[str],
                  max_requests: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        i = 0
        while time.monotonic() < deadline and i < max_requests:
            body = {"title": f"Load {i}", "topic": TOPICS[i % 4], "difficulty": DIFFICULTIES[i % 3]}
            start = time.perf_counter()
            response = await http.post("/api/v1/tasks", json=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code != 201:
                errors.append(f"{response.status_code}")
            i += 1


async def run_load(base: str, clients: int, duration: float, max_requests: int = 100_000) -> dict[str, Any]:
    """Run the load and return request count, error count, throughput and latency percentiles (ms)."""
    host = urlparse(base).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("only loopback targets are allowed")
    latencies: list[float] = []
    errors: list[str] = []
    # Logins are rate-limited per client address (10 a minute), so a few students share the clients.
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        students = [await _login(http) for _ in range(min(clients, STUDENTS))]
    started = time.monotonic()
    deadline = started + duration
    await asyncio.gather(*[_client(base, students[i % len(students)], deadline, latencies, errors, max_requests)
                           for i in range(clients)])
    elapsed = time.monotonic() - started
    ms = np.array(latencies) * 1000
    return {
        "clients": clients,
        "duration_s": round(elapsed, 2),
        "requests": len(latencies),
        "errors": len(errors),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
        "p95_ms": round(float(np.percentile(ms, 95)), 2) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
        "mean_ms": round(statistics.fmean(ms), 2) if len(ms) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(run_load(args.url.rstrip("/"), args.clients, args.duration))
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
