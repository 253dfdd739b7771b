"""The models' report and the analytics endpoints at scale: p95 latency at 600k prediction logs, for a student
with 3,000 answers.

    .venv/bin/python -m benchmarks.analytics [--logs 600000] [--answers 3000] [--requests 30] --json OUT

A server on the embedded default (SQLite) over a database filled by bulk inserts: completed tasks of many
students plus the measured student's ``--answers`` (over 90 days, 40 tasks still open), each task with one
prediction log per model (six models, the first one served), scored at completion, all within the last 30 days
for the other students (so the 30-day leaderboard covers every log). One training first (a champion serves, as
in a running service). Then, one request at a time, ``--requests`` timed requests per path after 3 warm-up
ones. OUT gets ``{"models_p95_ms": ..., "endpoints": {"<path>": p95_ms}}``; benchmarks/results/analytics.json
the p50s and the set-up too.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import func, insert, select, update

from benchmarks.paths import RESULTS, write_results
from benchmarks.preview_isolation import _env, _settings, _train_once
from benchmarks.server import running_server
from studysmart.learning import registry

MODELS = ["shrinkage", "practice", "lnirt", "irt2pl", "item-means", "avg"]  # the first one is served
TOPICS = ["Algebra", "Geometry", "Probability", "Calculus", "Statistics", "Linear algebra"]
LEVELS = ["easy", "medium", "hard"]
SHIFT = np.array([-0.8, 0.0, 0.9])
BASE_SECONDS = np.array([180.0, 420.0, 900.0])
EMAIL, PASSWORD = "analytics-bench@example.com", "analytics-bench-phrase-7"
PATHS = ["/api/v1/analytics/summary", "/api/v1/analytics/progress", "/api/v1/analytics/calibration",
         "/api/v1/analytics/times", "/api/v1/analytics/abilities", "/api/v1/analytics/weekly-time",
         "/api/v1/analytics/leaderboard"]
CHUNK = 20_000


def _fill(var_dir: Path, *, logs: int, answers: int, seed: int = 16) -> dict[str, Any]:
    """Bulk-insert the students, their tasks and the prediction logs; returns what was made."""
    from studysmart.core.db import transaction, utcnow
    from studysmart.learning.context import make_context
    from studysmart.learning.logs import PredictionLog
    from studysmart.learning.models import TrainingState
    from studysmart.tasks import service as tasks
    from studysmart.tasks.models import Difficulty, Task, TaskStatus
    from studysmart.users import service as users
    from studysmart.users.models import User

    rng = np.random.default_rng(seed)
    context = make_context(_settings(var_dir, registry.FALLBACK))
    now = utcnow()
    started = time.perf_counter()
    n_tasks = logs // len(MODELS)
    others = n_tasks - answers
    try:
        with transaction(context.sessions) as session:
            student = users.register(session=session, email=EMAIL, password=PASSWORD, display_name="Bench",
                                     now=now - timedelta(days=91))
            topic_ids = [tasks.get_or_create_topic(session=session, name=name) for name in TOPICS]
            session.flush()
            topics = [t.id for t in topic_ids]
            session.execute(insert(User), [{"email": f"bulk{i}@bench.example", "display_name": f"Bulk {i}",
                                            "password_hash": "!unusable", "created_at": now}
                                           for i in range(max(1, others // 300))])
            student_id = student.id
        with context.sessions() as session:
            bulk_ids = list(session.scalars(select(User.id).where(User.email.like("bulk%@bench.example"))))
            next_id = (session.scalar(select(func.max(Task.id))) or 0) + 1
        owner = np.concatenate([np.full(answers, student_id), rng.choice(bulk_ids, others)])
        ability = {uid: a for uid, a in zip([student_id, *bulk_ids], rng.normal(0, 1, len(bulk_ids) + 1),
                                            strict=True)}
        age = np.concatenate([rng.uniform(0, 90 * 86400, answers), rng.uniform(0, 30 * 86400, others)])
        topic = [topics[k] for k in rng.integers(0, len(topics), n_tasks)]
        level = rng.integers(0, 3, n_tasks)
        truth = np.array([ability[u] for u in owner]) - SHIFT[level]
        correct = rng.random(n_tasks) < 1 / (1 + np.exp(-truth))
        seconds = np.round(BASE_SECONDS[level] * np.exp(rng.normal(0, 0.4, n_tasks)))
        for offset in range(0, n_tasks, CHUNK):
            task_rows, log_rows = _rows(range(offset, min(offset + CHUNK, n_tasks)), rng=rng, now=now,
                                        first_id=next_id, owner=owner, age=age, topic=topic,
                                        level=level, truth=truth, correct=correct, seconds=seconds)
            with transaction(context.sessions) as session:
                session.execute(insert(Task), task_rows)
                session.execute(insert(PredictionLog), log_rows)
        open_rows = [{"owner_id": student_id, "topic_id": topics[k % len(topics)], "title": f"Open {k}",
                      "difficulty": list(Difficulty)[k % 3], "status": TaskStatus.PLANNED, "created_at": now}
                     for k in range(40)]
        with transaction(context.sessions) as session:
            session.execute(insert(Task), open_rows)
            session.execute(update(TrainingState).values(samples=TrainingState.samples + n_tasks))
    finally:
        context.dispose()
    return {"tasks": n_tasks, "logs": n_tasks * len(MODELS), "student_answers": answers,
            "fill_seconds": round(time.perf_counter() - started, 1)}


def _rows(part: range, *, rng: np.random.Generator, now: Any, first_id: int, owner: np.ndarray, age: np.ndarray,
          topic: list[int], level: np.ndarray, truth: np.ndarray, correct: np.ndarray, seconds: np.ndarray,
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The task rows and prediction-log rows (one per model) of the tasks ``part``."""
    from studysmart.tasks.models import Difficulty, TaskStatus

    difficulties = list(Difficulty)
    task_rows, log_rows = [], []
    for j in part:
        done = now - timedelta(seconds=float(age[j]))
        base = float(BASE_SECONDS[level[j]])
        created = done - timedelta(seconds=float(seconds[j]) + 60)
        task_rows.append({
            "id": first_id + j, "owner_id": int(owner[j]), "topic_id": topic[j], "title": "Bench answer",
            "difficulty": difficulties[level[j]], "status": TaskStatus.DONE, "created_at": created,
            "started_at": done - timedelta(seconds=float(seconds[j])), "completed_at": done,
            "correct": bool(correct[j]), "seconds_taken": float(seconds[j]),
            "p_correct": float(1 / (1 + np.exp(-truth[j]))), "expected_seconds": base,
            "seconds_low": base * 0.6, "seconds_high": base * 1.6})
        noise = rng.normal(0, 0.6, len(MODELS))
        p = 1 / (1 + np.exp(-(truth[j] + noise)))
        for k, model in enumerate(MODELS):
            log_rows.append({
                "task_id": first_id + j, "user_id": int(owner[j]), "model": model, "model_version": 1,
                "served": k == 0, "arm": None, "p_correct": float(p[k]),
                "mean_log_time": float(np.log(base) + noise[k] / 4), "sd_log_time": 0.45, "source": "model",
                "created_at": created, "correct": bool(correct[j]), "log_time": float(np.log(seconds[j])),
                "scored_at": done})
    return task_rows, log_rows


def _timed(http: httpx.Client, path: str, headers: dict[str, str], requests: int) -> dict[str, float]:
    for _ in range(3):
        http.get(path, headers=headers).raise_for_status()
    latencies = []
    for _ in range(requests):
        start = time.perf_counter()
        response = http.get(path, headers=headers)
        latencies.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return {"p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p95_ms": round(float(np.percentile(latencies, 95)), 1)}


def run(*, logs: int, answers: int, requests: int, out: Path | None) -> dict[str, Any]:
    """Fill, serve, time every path; returns (and writes) the summary."""
    made: dict[str, Any] = {}
    with running_server(_env(registry.FALLBACK), demo_students=0,
                        prepare=lambda var_dir: made.update(_fill(var_dir, logs=logs, answers=answers))
                        ) as (base, var_dir):
        _train_once(var_dir, registry.FALLBACK, threading.Event(), {})  # a champion serves, as in a service
        with httpx.Client(base_url=base, timeout=120) as http:
            response = http.post("/api/v1/auth/token", data={"username": EMAIL, "password": PASSWORD})
            response.raise_for_status()
            headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
            timings = {path: _timed(http, path, headers, requests) for path in ["/api/v1/models", *PATHS]}
            print(json.dumps(timings, indent=2), flush=True)
    summary = {"models_p95_ms": timings["/api/v1/models"]["p95_ms"],
               "endpoints": {path: timings[path]["p95_ms"] for path in PATHS}}
    full = {"setup": made, "requests": requests, "timings": timings, "summary": summary}
    write_results("analytics", full, summary, out, results=RESULTS)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logs", type=int, default=600_000, help="prediction logs in the database")
    parser.add_argument("--answers", type=int, default=3000, help="the measured student's completed tasks")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per path")
    parser.add_argument("--json", type=Path, default=None, help="where the p95 summary goes")
    args = parser.parse_args()
    run(logs=args.logs, answers=args.answers, requests=args.requests, out=args.json)


if __name__ == "__main__":
    main()
