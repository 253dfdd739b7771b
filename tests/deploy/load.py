"""A bounded load on several web processes: a fixed number of students, each a thread that sends its next request
only when the last one has answered (closed loop), until a deadline. Every request is recorded: its kind, the
process it went to, its status (None for a connection error or a time-out) and its latency.

A student registers on one process and logs in on the other, then repeats: preview a task, create it, start
it, complete it (each step on the next process in turn, so a task created on one process is completed on the
other), and now and then lists its tasks.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

TOPICS = ("Algebra", "Geometry", "Probability", "Calculus")
DIFFICULTIES = ("easy", "medium", "hard")
EXPECTED = {"register": 201, "login": 200, "preview": 200, "create": 201, "start": 200, "complete": 200,
            "list": 200}


@dataclass(frozen=True)
class Outcome:
    """One request: what, where, how it ended (``status`` None: no answer), how long it took."""

    kind: str
    process: int
    status: int | None
    seconds: float
    error: str = ""


@dataclass
class Student:
    """One simulated student and what it was told."""

    index: int
    email: str
    password: str
    bases: list[str]
    seed: int
    outcomes: list[Outcome] = field(default_factory=list)
    #: Acknowledged completions: task id -> (correct, seconds) sent in a request answered 200.
    completed: dict[int, tuple[bool, float]] = field(default_factory=dict)
    _turn: int = 0

    def _send(self, http: httpx.Client, kind: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        process = (self.index + self._turn) % len(self.bases)
        self._turn += 1
        started = time.perf_counter()
        try:
            response = http.request(method, self.bases[process] + path, **kwargs)
        except httpx.HTTPError as exc:
            self.outcomes.append(Outcome(kind, process, None, time.perf_counter() - started, type(exc).__name__))
            return None
        elapsed = time.perf_counter() - started
        ok = response.status_code == EXPECTED[kind]
        self.outcomes.append(Outcome(kind, process, response.status_code, elapsed, "" if ok else response.text[:200]))
        return response if ok else None

    def run(self, deadline: float, max_requests: int) -> None:
        """Sign up, log in, then study until ``deadline`` (or ``max_requests``); stops at the first failed
        request (it is recorded), so that one error does not cascade into many."""
        rng = random.Random(self.seed)
        with httpx.Client(timeout=30) as http:
            auth = self._sign_up(http)
            loop = 0
            while auth is not None and time.monotonic() < deadline and len(self.outcomes) < max_requests:
                loop += 1
                if not self._study(http, auth, rng, loop):
                    return

    def _sign_up(self, http: httpx.Client) -> dict[str, str] | None:
        if self._send(http, "register", "POST", "/api/v1/auth/register",
                      json={"email": self.email, "password": self.password, "display_name": "Load"}) is None:
            return None
        token = self._send(http, "login", "POST", "/api/v1/auth/token",
                           data={"username": self.email, "password": self.password})
        return None if token is None else {"Authorization": f"Bearer {token.json()['access_token']}"}

    def _study(self, http: httpx.Client, auth: dict[str, str], rng: random.Random, loop: int) -> bool:
        """One task: preview, create, start, complete (and every fourth time, the task list)."""
        topic, difficulty = rng.choice(TOPICS), rng.choice(DIFFICULTIES)
        if self._send(http, "preview", "GET", "/api/v1/predictions/preview", headers=auth,
                      params={"topic": topic, "difficulty": difficulty}) is None:
            return False
        created = self._send(http, "create", "POST", "/api/v1/tasks", headers=auth,
                             json={"title": f"Load {loop}", "topic": topic, "difficulty": difficulty})
        if created is None:
            return False
        task = created.json()["id"]
        if self._send(http, "start", "POST", f"/api/v1/tasks/{task}/start", headers=auth) is None:
            return False
        correct, seconds = rng.random() < 0.65, float(rng.randint(20, 900))
        if self._send(http, "complete", "POST", f"/api/v1/tasks/{task}/complete", headers=auth,
                      json={"correct": correct, "seconds": seconds}) is None:
            return False
        self.completed[task] = (correct, seconds)
        return loop % 4 != 0 or self._send(http, "list", "GET", "/api/v1/tasks", headers=auth,
                                           params={"limit": 20}) is not None


def run_load(bases: list[str], *, students: int, seconds: float, password: str, seed: int = 16,
             max_requests: int = 20_000) -> tuple[list[Student], float]:
    """Run ``students`` students against ``bases`` for ``seconds``; the students (with their outcomes) and the
    wall time from the first request to the last answer."""
    crowd = [Student(i, f"deploy-{i}@example.com", password, bases, seed + i) for i in range(students)]
    started = time.monotonic()
    deadline = started + seconds
    threads = [threading.Thread(target=s.run, args=(deadline, max_requests), name=f"student-{s.index}")
               for s in crowd]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)  # every request has a 30 s time-out
    if any(thread.is_alive() for thread in threads):
        raise AssertionError("a student did not finish within two minutes of the deadline")
    return crowd, time.monotonic() - started


def _ms(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.array(values) * 1000, q)), 1) if values else None


def summarise(crowd: list[Student], wall_seconds: float, processes: int) -> dict[str, Any]:
    """Requests/s, p50/p95 (ms) overall, per kind and per process, and the failed requests."""
    outcomes = [o for s in crowd for o in s.outcomes]
    kinds = sorted({o.kind for o in outcomes}, key=list(EXPECTED).index)
    failed = [o for o in outcomes if o.status != EXPECTED[o.kind]]
    return {
        "students": len(crowd),
        "seconds": round(wall_seconds, 1),
        "requests": len(outcomes),
        "errors": len(failed),
        "rps": round(len(outcomes) / wall_seconds, 1),
        "p50_ms": _ms([o.seconds for o in outcomes], 50),
        "p95_ms": _ms([o.seconds for o in outcomes], 95),
        "kinds": {kind: {"requests": len(ms), "p50_ms": _ms(ms, 50), "p95_ms": _ms(ms, 95)}
                  for kind in kinds for ms in [[o.seconds for o in outcomes if o.kind == kind]]},
        "processes": [{"requests": len(ms), "rps": round(len(ms) / wall_seconds, 1), "p95_ms": _ms(ms, 95)}
                      for p in range(processes) for ms in [[o.seconds for o in outcomes if o.process == p]]],
        "completions_acknowledged": sum(len(s.completed) for s in crowd),
        "failures": [{"kind": o.kind, "process": o.process, "status": o.status, "error": o.error}
                     for o in failed[:20]],
    }
