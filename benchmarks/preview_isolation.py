"""Preview latency while a training starts and runs, against idle, on a large embedded database.

Used by ``python -m benchmarks.training_isolation --answers N --json OUT``: a server on the embedded default
(SQLite, its own worker process) over a database filled with N completed answers by bulk inserts; one training
first (so a champion serves, as in a running service); then rounds of: clients asking for previews back to back
with the worker idle, then the same while a training is queued, starts (reads every answer) and runs to its end.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.bulk import bulk_answers
from benchmarks.paths import RESULTS
from benchmarks.server import running_server
from studysmart.learning import registry

PREVIEW = "/api/v1/predictions/preview"
TOPICS = ["Algebra", "Geometry", "Probability", "Calculus"]
DIFFICULTIES = ["easy", "medium", "hard"]


def _env(models: str) -> dict[str, str]:
    return {"STUDYSMART_LOGIN_ATTEMPTS_PER_MINUTE": "1000", "STUDYSMART_TRAINING_MODELS": models,
            "STUDYSMART_RETRAIN_THRESHOLD": "1000000", "STUDYSMART_WORKER_PROCESSES": "1",
            "STUDYSMART_MODEL_REFRESH_SECONDS": "1"}


def _settings(var_dir: Path, models: str) -> Any:
    from studysmart.core.config import Settings

    return Settings(var_dir=var_dir, training_models=models, retrain_threshold=1_000_000)


def _token(base: str) -> dict[str, str]:
    email = f"preview-{uuid.uuid4().hex[:10]}@example.com"
    password = "preview-bench-phrase-7"
    with httpx.Client(base_url=base, timeout=60) as http:
        http.post("/api/v1/auth/register", json={"email": email, "password": password, "display_name": "P"})
        response = http.post("/api/v1/auth/token", data={"username": email, "password": password})
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _previews(base: str, headers: dict[str, str], clients: int, stop: threading.Event,
                    max_seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[int] = []
    deadline = time.monotonic() + max_seconds

    async def client(k: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            i = k
            while not stop.is_set() and time.monotonic() < deadline:
                params = {"topic": TOPICS[i % 4], "difficulty": DIFFICULTIES[i % 3]}
                start = time.perf_counter()
                response = await http.get(PREVIEW, params=params, headers=headers)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors.append(response.status_code)
                i += 1

    started = time.monotonic()
    await asyncio.gather(*[client(k) for k in range(clients)])
    ms = np.array(latencies) * 1000
    return {"requests": len(ms), "errors": len(errors), "seconds": round(time.monotonic() - started, 2),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "max_ms": round(float(ms.max()), 2)}


def _train_once(var_dir: Path, models: str, stop: threading.Event, timing: dict[str, float]) -> None:
    """Queue one training and set ``stop`` when it has finished (the tracker back to idle)."""
    from studysmart.learning import tracker
    from studysmart.learning.jobs import Jobs

    jobs = Jobs(_settings(var_dir, models))
    started = time.monotonic()
    try:
        jobs.request_training(trigger="benchmark")
        time.sleep(0.5)
        while True:
            with jobs.sessions()() as session:
                if tracker.get_status(session=session).status == "idle":
                    break
            time.sleep(0.25)
    finally:
        timing["training_s"] = round(time.monotonic() - started, 2)
        stop.set()


def _round(base: str, headers: dict[str, str], clients: int, var_dir: Path, models: str, idle_seconds: float,
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    idle = asyncio.run(_previews(base, headers, clients, threading.Event(), idle_seconds))
    stop, timing = threading.Event(), {}
    trainer = threading.Thread(target=_train_once, args=(var_dir, models, stop, timing), daemon=True)
    trainer.start()
    busy = asyncio.run(_previews(base, headers, clients, stop, 900.0))
    trainer.join()
    busy.update(timing)
    return idle, busy


def run(*, answers: int, out: Path | None, rounds: int, clients: int, idle_seconds: float,
        models: str | None) -> dict[str, Any]:
    """Run the benchmark; returns (and writes to ``out``) ``{"idle": {"p95_ms"}, "training": {"p95_ms"}}``."""
    models = models or registry.FALLBACK
    result: dict[str, Any] = {"answers": answers, "clients": clients, "models": models, "rounds": []}
    with running_server(_env(models), demo_students=0,
                        prepare=lambda var_dir: bulk_answers(_settings(var_dir, models), answers=answers)
                        ) as (base, var_dir):
        headers = _token(base)
        warm = threading.Event()
        _train_once(var_dir, models, warm, {})  # a champion serves from now on, as in a running service
        time.sleep(2)
        asyncio.run(_previews(base, headers, clients, threading.Event(), 3))  # warm-up
        for _ in range(rounds):
            idle, busy = _round(base, headers, clients, var_dir, models, idle_seconds)
            ratio = round(busy["p95_ms"] / idle["p95_ms"], 3)
            result["rounds"].append({"idle": idle, "training": busy, "p95_ratio": ratio})
            print(json.dumps(result["rounds"][-1]), flush=True)
            time.sleep(2)
    idle_p95 = statistics.median(r["idle"]["p95_ms"] for r in result["rounds"])
    busy_p95 = statistics.median(r["training"]["p95_ms"] for r in result["rounds"])
    result["median"] = {"idle_p95_ms": idle_p95, "training_p95_ms": busy_p95,
                        "p95_ratio": statistics.median(r["p95_ratio"] for r in result["rounds"])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training_isolation_preview.json").write_text(json.dumps(result, indent=2))
    summary = {"idle": {"p95_ms": idle_p95}, "training": {"p95_ms": busy_p95}}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2))
    print(json.dumps(result["median"], indent=2))
    return summary
