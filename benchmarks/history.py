"""Task creation and preview against the length of a student's history, through the running server.

    .venv/bin/python -m benchmarks.history [--histories 10,1000,3000] [--requests 40] [--runs 3]
        [--models NAMES] --json OUT

A server on the embedded default (SQLite) over a database filled by bulk inserts: one student per entry of
``--histories`` with that many completed answers (over 90 days), plus ``--others`` answers of other students (the
population the models are fitted on). One training first, with the default models unless ``--models`` names
others, and the model it chose to serve loaded by the server (as in a running service). Then ``--runs`` rounds; in each,
every student in turn (the order rotates) makes ``--requests`` task creations (``POST /api/v1/tasks``) one at a
time after 3 warm-up ones, then as many previews (``GET /api/v1/predictions/preview``). Created tasks stay open,
the same number for every student, so the completed history is what differs. OUT gets, per history length,
``create_p50_ms``, ``create_p95_ms``, ``preview_p50_ms``, ``preview_p95_ms`` (medians over the rounds) and
``n`` (timed requests of each kind), plus ``create_p50_ratio``: each length's create p50 over the shortest
history's. benchmarks/results/history.json also gets the set-up and every round.

Target (issue 16): create p50 at 3,000 answers within 1.3x of the value at 10 (``create_p50_ratio`` <= 1.3) and
under 12 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import insert, select, update

from benchmarks.bulk import BASE_SECONDS, SHIFT, TOPICS, bulk_answers
from benchmarks.paths import RESULTS, write_results
from benchmarks.server import running_server
from studysmart.learning.registry import FALLBACK

CREATE, PREVIEW = "/api/v1/tasks", "/api/v1/predictions/preview"
LEVELS = ["easy", "medium", "hard"]
PASSWORD = "history-bench-phrase-7"
WARMUP = 3


def _email(length: int) -> str:
    return f"history-{length}@bench.example"


def _settings(var_dir: Path, models: str | None) -> Any:
    from studysmart.core.config import Settings

    extra = {"training_models": models} if models else {}
    return Settings(var_dir=var_dir, retrain_threshold=1_000_000, **extra)


def _env(models: str | None) -> dict[str, str]:
    env = {"STUDYSMART_LOGIN_ATTEMPTS_PER_MINUTE": "1000", "STUDYSMART_RETRAIN_THRESHOLD": "1000000",
           "STUDYSMART_WORKER_PROCESSES": "1", "STUDYSMART_MODEL_REFRESH_SECONDS": "1"}
    if models:
        env["STUDYSMART_TRAINING_MODELS"] = models
    return env


def _fill(var_dir: Path, *, histories: list[int], others: int, models: str | None, seed: int = 16,
          ) -> dict[str, Any]:
    """The other students' answers, then one registered student per history length with that many answers."""
    from studysmart.core.db import transaction, utcnow
    from studysmart.learning.context import make_context
    from studysmart.learning.models import TrainingState
    from studysmart.tasks import service as tasks
    from studysmart.tasks.models import Difficulty, Task, TaskStatus
    from studysmart.users import service as users

    started = time.perf_counter()
    settings = _settings(var_dir, models)
    if others:
        bulk_answers(settings, answers=others, seed=seed)
    rng = np.random.default_rng(seed + 1)
    context = make_context(settings)
    now = utcnow()
    difficulties = list(Difficulty)
    try:
        with transaction(context.sessions) as session:
            topic_ids = [tasks.get_or_create_topic(session=session, name=name).id for name in TOPICS]
        for length in histories:
            with transaction(context.sessions) as session:
                student = users.register(session=session, email=_email(length), password=PASSWORD,
                                         display_name=f"History {length}", now=now - timedelta(days=91))
                session.flush()
                ability = float(rng.normal(0, 1))
                level = rng.integers(0, 3, length)
                shift = np.array([SHIFT[difficulties[k]] for k in level])
                correct = rng.random(length) < 1 / (1 + np.exp(-(ability - shift)))
                seconds = np.array([BASE_SECONDS[difficulties[k]] for k in level]) * np.exp(
                    rng.normal(0, 0.4, length))
                ages = np.sort(rng.uniform(0, 90 * 86400, length))[::-1]
                rows = []
                for j in range(length):
                    done = now - timedelta(seconds=float(ages[j]))
                    rows.append({
                        "owner_id": student.id, "topic_id": topic_ids[int(rng.integers(0, len(topic_ids)))],
                        "title": "History answer", "difficulty": difficulties[level[j]],
                        "status": TaskStatus.DONE, "created_at": done - timedelta(seconds=float(seconds[j]) + 60),
                        "started_at": done - timedelta(seconds=float(seconds[j])), "completed_at": done,
                        "correct": bool(correct[j]), "seconds_taken": float(round(seconds[j]))})
                if rows:
                    session.execute(insert(Task), rows)
                session.execute(update(TrainingState).values(samples=TrainingState.samples + length))
    finally:
        context.dispose()
    return {"histories": histories, "other_answers": others, "fill_seconds": round(time.perf_counter() - started, 1)}


def serving(var_dir: Path, models: str | None) -> str:
    """The model the last training chose to serve (every student's, as no A/B share is set)."""
    from studysmart.learning.context import make_context
    from studysmart.learning.models import TrainingState

    context = make_context(_settings(var_dir, models))
    try:
        with context.sessions() as session:
            return session.scalar(select(TrainingState.serving_model)) or FALLBACK
    finally:
        context.dispose()


def _train(var_dir: Path, models: str | None, timeout: float = 1800) -> float:
    """Queue one training and wait until the tracker is idle again; its seconds."""
    from studysmart.learning import tracker
    from studysmart.learning.jobs import Jobs

    jobs = Jobs(_settings(var_dir, models))
    started = time.monotonic()
    jobs.request_training(trigger="benchmark")
    time.sleep(0.5)
    while time.monotonic() - started < timeout:
        with jobs.sessions()() as session:
            if tracker.get_status(session=session).status == "idle":
                return round(time.monotonic() - started, 1)
        time.sleep(0.5)
    raise RuntimeError(f"the training did not finish in {timeout:.0f} s")


def _token(http: httpx.Client, length: int) -> dict[str, str]:
    response = http.post("/api/v1/auth/token", data={"username": _email(length), "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_loaded(http: httpx.Client, headers: dict[str, str], names: set[str], timeout: float = 180) -> None:
    """Create tasks until the server has loaded a trained version of each of ``names`` (loads happen in the
    background; meanwhile the fallback serves)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        http.post(CREATE, json={"title": "Warm", "topic": TOPICS[0], "difficulty": "easy"}, headers=headers)
        loaded = http.get("/api/v1/health", headers=headers).json().get("models") or {}
        if all(loaded.get(name) is not None for name in names):
            return
        time.sleep(1)
    raise RuntimeError(f"the server did not load {sorted(names)} in {timeout:.0f} s")


def _timed(http: httpx.Client, headers: dict[str, str], requests: int, *, create: bool) -> list[float]:
    """Latencies (ms) of ``requests`` creations or previews, one at a time, after a few untimed ones."""
    latencies = []
    for i in range(-WARMUP, requests):
        topic, level = TOPICS[i % len(TOPICS)], LEVELS[i % 3]
        start = time.perf_counter()
        if create:
            response = http.post(CREATE, json={"title": f"Bench {i}", "topic": topic, "difficulty": level},
                                 headers=headers)
        else:
            response = http.get(PREVIEW, params={"topic": topic, "difficulty": level}, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        response.raise_for_status()
        if i >= 0:
            latencies.append(elapsed)
    return latencies


def _stats(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "p95_ms": round(float(np.percentile(latencies, 95)), 2)}


def run(*, histories: list[int], others: int, requests: int, runs: int, models: str | None,
        out: Path | None) -> dict[str, Any]:
    """Fill, serve, train once, time both endpoints per history length; returns (and writes) the summary."""
    made: dict[str, Any] = {}
    rounds: list[dict[str, Any]] = []
    with running_server(_env(models), demo_students=0,
                        prepare=lambda var_dir: made.update(_fill(var_dir, histories=histories, others=others,
                                                                  models=models))) as (base, var_dir):
        made["training_s"] = _train(var_dir, models)
        with httpx.Client(base_url=base, timeout=120) as http:
            tokens = {length: _token(http, length) for length in histories}
            made["serving"] = serving(var_dir, models)
            wait_loaded(http, tokens[histories[0]], {made["serving"], FALLBACK})
            for r in range(runs):
                order = histories[r % len(histories):] + histories[:r % len(histories)]
                result: dict[str, Any] = {}
                for length in order:
                    result[str(length)] = {"create": _stats(_timed(http, tokens[length], requests, create=True)),
                                           "preview": _stats(_timed(http, tokens[length], requests, create=False))}
                rounds.append(result)
                print(json.dumps(result), flush=True)
    summary: dict[str, Any] = {}
    for length in histories:
        per = [r[str(length)] for r in rounds]
        summary[str(length)] = {f"{kind}_{q}": statistics.median(p[kind][q] for p in per)
                                for kind in ("create", "preview") for q in ("p50_ms", "p95_ms")}
        summary[str(length)]["n"] = requests * runs
    first = summary[str(histories[0])]["create_p50_ms"]
    for length in histories:
        summary[str(length)]["create_p50_ratio"] = round(summary[str(length)]["create_p50_ms"] / first, 3)
    full = {"setup": made, "requests": requests, "runs": rounds, "summary": summary}
    write_results("history", full, summary, out, results=RESULTS)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--histories", default="10,1000,3000", help="completed answers per measured student")
    parser.add_argument("--others", type=int, default=6000, help="completed answers of other students")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per endpoint, student and round")
    parser.add_argument("--runs", type=int, default=3, help="rounds (the summary is their median)")
    parser.add_argument("--models", default=None, help="models to train (default: the default models)")
    parser.add_argument("--json", type=Path, default=None, help="where the summary goes")
    args = parser.parse_args()
    histories = sorted({int(h) for h in args.histories.split(",") if h.strip()})
    if not histories or histories[0] < 0:
        parser.error("--histories: one or more answer counts >= 0, comma-separated")
    run(histories=histories, others=args.others, requests=args.requests, runs=args.runs, models=args.models,
        out=args.json)


if __name__ == "__main__":
    main()
