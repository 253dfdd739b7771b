"""The scale-out deployment under load: PostgreSQL + Redis, two `studysmart serve` processes (NiceGUI's user
storage in Redis, each process with a var dir of its own) and two `studysmart worker` processes.

Eight students load both web processes for 60 s (tests.deploy.load); the first training, held up by a slow
test model, is killed outright mid-run (SIGKILL to the worker running it and to its parent, so nothing hands the
run back: the other worker's reaper must). Then: no request failed, every acknowledged completion is stored as
sent, training runs never overlapped, both web processes serve the champion trained after the kill, and a
browser logged in on one process works on the other. The figures go to benchmarks/results/deploy.json
(``STUDYSMART_DEPLOY_JSON`` elsewhere), quoted in docs/operations.md.

Run on its own (it starts four servers; `make test` runs it after the main suite):
``.venv/bin/pytest -m deploy -p no:cacheprovider tests/deploy``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings
from studysmart.core.db import make_engine, make_sessionmaker
from studysmart.learning.jobs import Jobs
from studysmart.learning.models import ModelVersion, TrainingRun, TrainingState
from studysmart.tasks.models import Task, TaskStatus
from studysmart.users.models import User
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.conftest import TEST_SECRET, _recreate_postgres, service_url
from tests.deploy.load import run_load, summarise
from tests.factories import PASSWORD
from tests.learning.processes import Drill, alive, descendants, wait_for

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("STUDYSMART_DEPLOY_JSON") or ROOT / "benchmarks" / "results" / "deploy.json")
LOAD_SECONDS = 60.0
STUDENTS = 8
RETRAIN_THRESHOLD = 5  # completions per training: many trainings in a minute
#: The reaper's wait for a silent worker (heartbeats every 2 s). Short, so that the killed run is retried within
#: the load, but not too short: a worker at nice 10 beside saturated web processes (and, on a shared machine, other
#: work) can miss heartbeats for several seconds, and 5 s once had a live run reaped.
STALE_SECONDS = 15


def _ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports: from STUDYSMART_BENCH_PORT upwards when set (shared machines),
    else any."""
    first = int(os.environ.get("STUDYSMART_BENCH_PORT") or 0)
    with ExitStack() as held:
        ports: list[int] = []
        candidate = first
        while len(ports) < count:
            sock = held.enter_context(socket.socket())
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                candidate += 1
                continue
            ports.append(int(sock.getsockname()[1]))
            candidate = candidate + 1 if first else 0
        return ports


class Deployment:
    """Two web processes and two workers on one PostgreSQL database and one Redis database."""

    def __init__(self, drill: Drill, redis_url: str) -> None:
        self.drill = drill
        self.redis_url = redis_url
        self.sessions: sessionmaker[Session] = make_sessionmaker(make_engine(drill.database_url))
        self.bases = [f"http://127.0.0.1:{port}" for port in _ports(2)]
        self.workers = [drill.start("worker", env={"STUDYSMART_VAR_DIR": str(drill.tmp / f"worker-{i}")})
                        for i in range(2)]
        self.web = [drill.start("serve", "--port", base.rpartition(":")[2], env={
            "STUDYSMART_VAR_DIR": str(drill.tmp / f"web-{i}"), "STUDYSMART_LOG_LEVEL": "WARNING"})
            for i, base in enumerate(self.bases)]
        self._warm_up()
        for server, base in zip(self.web, self.bases, strict=True):
            drill.wait_healthy(server, base, 180)  # four processes starting at once on a busy machine

    def _warm_up(self) -> None:
        """Have each worker take a job before the load: a job imports the trainer (over a second of CPU, ten
        times that at nice 10 beside a busy server) and then, with no training queued, claims nothing. Otherwise
        the first training would reach the slow model late in the load."""
        settings = Settings(env="test", database_url=self.drill.database_url, redis_url=self.redis_url,
                            secret_key=TEST_SECRET, var_dir=self.drill.tmp / "warm-up")
        jobs = Jobs(settings)

        def warm() -> bool:
            taken = ["executed in" in self.drill.log_of(worker) for worker in self.workers]
            if not all(taken) and jobs.depth() == 0:
                jobs.train(trigger="warm-up")  # a busy worker leaves the next job to the other
            return all(taken)

        try:
            wait_for(warm, 180, "each worker to take a job")
        finally:
            jobs.huey.storage.conn.close()

    def runs(self) -> list[TrainingRun]:
        with self.sessions() as session:
            return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id)))

    def tracker(self) -> TrainingState:
        with self.sessions() as session:
            state = session.get(TrainingState, 1)
            assert state is not None
            return state

    def settled(self) -> bool:
        """No training running or queued, and none about to be (a run that ends with the threshold reached again
        goes idle, then queues the next one)."""
        state = self.tracker()
        return state.status == "idle" and state.completed_since_training < RETRAIN_THRESHOLD

    def web_logs(self) -> str:
        return "\n".join(self.drill.log_of(server) for server in self.web)

    def close(self) -> None:
        self.sessions.kw["bind"].dispose()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    require_chromium()
    postgres = make_url(service_url("STUDYSMART_TEST_POSTGRES_URL", "PostgreSQL"))
    database = postgres.set(database=f"{postgres.database}_deploy").render_as_string(hide_password=False)
    _recreate_postgres(database, "template0")
    redis_url = service_url("STUDYSMART_TEST_REDIS_URL", "Redis")
    queue = redis.Redis.from_url(redis_url)
    queue.flushdb()
    drill = Drill(tmp_path, database_url=database, env={
        "STUDYSMART_REDIS_URL": redis_url, "NICEGUI_REDIS_URL": redis_url,
        "STUDYSMART_RETRAIN_THRESHOLD": str(RETRAIN_THRESHOLD), "STUDYSMART_MODEL_REFRESH_SECONDS": "1",
        "STUDYSMART_TRAINING_STALE_SECONDS": str(STALE_SECONDS),
        "STUDYSMART_LOGIN_ATTEMPTS_PER_MINUTE": "1000"})  # the students all sign up from one address
    try:
        running = Deployment(drill, redis_url)
        try:
            yield running
        finally:
            running.close()
    finally:
        drill.cleanup()
        queue.flushdb()
        queue.close()


def _kill_the_training_worker(deployment: Deployment, started: float) -> dict[str, Any]:
    """Once the slow model is being fitted, SIGKILL the worker process fitting it, then its parent (so that no
    parent-death signal lets it hand the run back) and the rest of that `studysmart worker`."""
    drill = deployment.drill
    # The worker runs at nice 10 (STUDYSMART_WORKER_NICE) beside two saturated web processes, so its first
    # training (which imports the trainer first) can take half the load to reach the slow model.
    wait_for(drill.marker.exists, LOAD_SECONDS - 3, "the first training to start fitting the slow model")
    fitting = int(drill.marker.read_text())
    running = [r for r in deployment.runs() if r.status == "running"]
    assert len(running) == 1 and running[0].worker_pid == fitting, [(r.id, r.status, r.worker_pid) for r in running]
    (index,) = [i for i, w in enumerate(deployment.workers) if fitting in descendants(w.pid)]
    worker = deployment.workers[index]
    tree = drill.tree(worker)
    for pid in [fitting, *(p for p in tree if p != fitting)]:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    worker.kill()
    worker.wait()
    return {"run": running[0].id, "worker": index, "at_s": round(time.monotonic() - started, 1),
            "at": datetime.now(UTC)}


def _stored_as_acknowledged(deployment: Deployment, acknowledged: dict[int, tuple[bool, float]]) -> list[str]:
    """What differs between the acknowledged completions (task id -> correct, seconds) and the done tasks stored."""
    with deployment.sessions() as session:
        stored = {t.id: (t.correct, t.seconds_taken)
                  for t in session.scalars(select(Task).where(Task.status == TaskStatus.DONE))}
    wrong = [f"task {task}: sent {sent}, stored {stored.get(task, 'not done')}"
             for task, sent in acknowledged.items() if stored.get(task) != sent]
    return wrong + [f"task {task} is done but no completion of it was acknowledged"
                    for task in sorted(stored.keys() - acknowledged.keys())]


def _overlaps(runs: list[TrainingRun]) -> list[str]:
    """Pairs of runs whose [started, finished] intervals overlap (there must be none: one training at a time)."""
    timed = sorted((r.started_at, r.finished_at or datetime.max.replace(tzinfo=UTC), r.id)
                   for r in runs if r.started_at is not None)
    return [f"run {after} started at {began} before run {before} ended at {ended}"
            for (_, ended, before), (began, _, after) in pairwise(timed) if began < ended]


def _served(deployment: Deployment, base: str, auth: dict[str, str]) -> tuple[str, int | None, Any]:
    """The model (and version) that serves a preview on the process at ``base``, and what its health check says."""
    preview = httpx.get(f"{base}/api/v1/predictions/preview", params={"topic": "Algebra", "difficulty": "medium"},
                        headers=auth, timeout=30)
    assert preview.status_code == 200, preview.text
    health = httpx.get(f"{base}/api/v1/health", headers=auth, timeout=30).json()
    return preview.json()["model"], preview.json()["model_version"], health.get("models")


def _web_session_on_both(deployment: Deployment, email: str) -> None:
    """A browser logs in through the form on the first process; the same browser (cookies are per host, not per
    port, as behind a load balancer) opens the tasks page on the second and adds a task there, which the first
    then lists."""
    from playwright.sync_api import sync_playwright

    first, second = deployment.bases
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(first + "/")
            page.get_by_label("Email").first.fill(email)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_label("Password", exact=True).press("Enter")
            page.wait_for_url(f"{first}/dashboard", timeout=30_000)
            page.goto(second + "/dashboard/tasks")
            assert page.url == f"{second}/dashboard/tasks", page.url  # not sent back to the log-in page
            page.get_by_label("Title", exact=True).fill("Added on the second process")
            page.get_by_label("Topic", exact=True).first.fill("Geometry")
            page.get_by_role("button", name="Add task").click()
            page.get_by_text("Added “Added on the second process”").first.wait_for(timeout=30_000)
            page.goto(first + "/dashboard/tasks")
            assert page.url == f"{first}/dashboard/tasks", page.url
            page.get_by_text("Added on the second process").first.wait_for(timeout=30_000)
        finally:
            browser.close()
    with deployment.sessions() as session:
        owner = session.scalar(select(Task.owner_id).where(Task.title == "Added on the second process"))
        assert owner == session.scalar(select(User.id).where(User.email == email))
    stored = redis.Redis.from_url(deployment.redis_url)
    try:  # the identity lives in Redis (no process can have read it from the other's files)
        identities = [json.loads(stored.get(key) or b"{}") for key in stored.scan_iter("nicegui:user-*")]
    finally:
        stored.close()
    with deployment.sessions() as session:
        account = session.scalar(select(User.account_key).where(User.email == email))
    assert any(identity.get("account_key") == account for identity in identities), identities


def test_two_web_processes_and_two_workers_under_load_with_a_worker_killed(deployment: Deployment) -> None:
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        load = pool.submit(run_load, deployment.bases, students=STUDENTS, seconds=LOAD_SECONDS, password=PASSWORD)
        killed = _kill_the_training_worker(deployment, started)
        crowd, wall = load.result()
    figures = summarise(crowd, wall, processes=2)
    assert figures["errors"] == 0, (figures["failures"], deployment.web_logs()[-4000:])
    acknowledged = {task: sent for student in crowd for task, sent in student.completed.items()}
    assert len(acknowledged) >= 5 * STUDENTS, figures  # enough load to mean something
    assert _stored_as_acknowledged(deployment, acknowledged) == []

    wait_for(deployment.settled, 90, "the trainings to finish")
    runs = deployment.runs()
    first = next(r for r in runs if r.id == killed["run"])
    assert first.status == "failed" and "stopped responding" in (first.error or ""), (first.status, first.error)
    later = [r for r in runs if r.id > first.id]
    # The reaper queues a "retry"; a "recovered" job (queued by a reaper that saw the tracker queued but the queue
    # empty for STALE_SECONDS, as when a busy worker takes that long between taking a job and claiming the run)
    # may take it first: either way the other worker ran the killed training again.
    assert later and later[0].trigger in {"retry", "recovered"}, [(r.id, r.trigger, r.status) for r in later]
    survivor = deployment.workers[1 - killed["worker"]]
    assert later[0].worker_pid in descendants(survivor.pid)
    assert all(r.status == "succeeded" for r in later), [(r.id, r.status, r.error) for r in later]
    assert _overlaps(runs) == []

    serving = deployment.tracker().serving_model
    with deployment.sessions() as session:
        champion = session.scalars(select(ModelVersion).where(ModelVersion.model == serving,
                                                              ModelVersion.is_champion.is_(True))).one()
    assert champion.run_id is not None and champion.run_id > first.id  # trained after the kill
    token = httpx.post(f"{deployment.bases[0]}/api/v1/auth/token", timeout=30,
                       data={"username": crowd[0].email, "password": PASSWORD}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    for base in deployment.bases:
        wait_for(lambda base=base: _served(deployment, base, auth)[:2] == (serving, champion.version), 30,
                 f"{base} to serve {serving} v{champion.version}")
        assert _served(deployment, base, auth)[2][serving] == champion.version

    _web_session_on_both(deployment, crowd[0].email)
    logged = deployment.web_logs()
    assert "Traceback" not in logged and " ERROR " not in logged, logged[-4000:]

    figures.pop("failures")
    figures.update({
        "web_processes": 2, "workers": 2,
        "killed_worker": {"run": killed["run"], "at_s": killed["at_s"],
                          "retried_after_s": round((later[0].started_at - killed["at"]).total_seconds(), 1)},
        "runs": {"total": len(runs), "succeeded": sum(r.status == "succeeded" for r in runs),
                 "failed": sum(r.status == "failed" for r in runs)},
        "champion": {"model": serving, "version": champion.version},
    })
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
