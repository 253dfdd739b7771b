"""The job queue (huey): an embedded SQLite-backed queue by default, Redis (RedisExpireHuey) for many workers.

- ``request_training()`` moves the tracker idle -> queued and enqueues one job; while one is queued or running,
  further requests coalesce into it.
- The job (``train`` task) runs ``pipeline.run_training`` in a worker process; a failed job is retried with
  exponential backoff; a run whose worker died is reaped (no heartbeat) and queued again.
- ``EmbeddedWorker`` is the consumer of ``studysmart worker`` and of the embedded default (where the web server
  runs it in a child process of its own, ``training.consumer``): *process* workers, no huey signal handlers in the
  host process, and a supervisor thread that replaces a dead worker. Its workers and scheduler exit when it dies
  (``ExitWithParent``); stopping it hands a running training back to the queue at once.
- Messages are JSON, not pickle.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from huey import Huey, RedisExpireHuey, SqliteHuey
from huey.consumer import Consumer, ProcessEnvironment
from huey.registry import Message
from huey.serializer import Serializer
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings, get_settings
from studysmart.core.db import read_session, transaction, utcnow
from studysmart.core.files import private_file
from studysmart.core.logging import kv
from studysmart.learning import tracker as service
from studysmart.learning.consumer import set_parent_death_signal
from studysmart.learning.context import AppContext, make_context
from studysmart.learning.models import RunStatus

log = logging.getLogger("studysmart.jobs")
TASK_NAME = "studysmart.train"


class JsonSerializer(Serializer):
    """huey messages as JSON (no pickle): datetimes and the Message tuple are tagged."""

    def _serialize(self, data: Any) -> bytes:
        if isinstance(data, Message):  # a namedtuple: json would silently write it as a list
            data = {"__message__": data._asdict()}
        return json.dumps(data, default=self._encode).encode("utf-8")

    def _deserialize(self, data: bytes) -> Any:
        return json.loads(data.decode("utf-8"), object_hook=self._decode)

    @staticmethod
    def _encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return {"__datetime__": value.isoformat()}
        raise TypeError(f"cannot put {type(value).__name__} on the queue")

    @staticmethod
    def _decode(value: dict[str, Any]) -> Any:
        if "__datetime__" in value:
            return datetime.fromisoformat(value["__datetime__"])
        if "__message__" in value:
            fields = value["__message__"]
            fields["args"] = tuple(fields.get("args") or ())
            return Message(**fields)
        return value


def _make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisExpireHuey("studysmart", url=settings.redis_url, results=False, utc=True,
                               serializer=JsonSerializer())
    queue = private_file(settings.var_dir / "queue.db")  # 0600 from the start, whichever command creates it
    return SqliteHuey("studysmart", filename=str(queue), results=False, utc=True,
                      serializer=JsonSerializer())


class Jobs:
    """The queue of one configuration: its huey instance, the training task, and the database it trains from."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.huey = _make_huey(settings)
        self._context: AppContext | None = None
        self._pid = os.getpid()
        self.train = self.huey.task(name=TASK_NAME)(self._train)

    def sessions(self) -> sessionmaker[Session]:
        """A session factory owned by the current process (a forked worker gets a context of its own)."""
        if self._context is None or self._pid != os.getpid():
            self._context = make_context(self.settings)
            self._pid = os.getpid()
        return self._context.sessions

    def _train(self, trigger: str = "threshold", attempt: int = 1) -> None:
        from studysmart.learning.trainer import run_training

        _lower_priority(self.settings.worker_nice)
        outcome = run_training(self.sessions(), self.settings, trigger=trigger, attempt=attempt)
        if outcome is None:
            return
        if outcome.status == RunStatus.INTERRUPTED and outcome.retry_in is not None:
            self.train(trigger="resume", attempt=attempt)  # handed back by a stopping worker: again, at once
        elif outcome.status == RunStatus.FAILED and outcome.retry_in is not None:
            self.train.schedule(kwargs={"trigger": "retry", "attempt": attempt + 1}, delay=outcome.retry_in)
        elif outcome.status == RunStatus.SUCCEEDED:
            self.request_if_due()  # completions that arrived during the run (no floor: at once; else the supervisor)

    def request_training(self, *, trigger: str = "threshold") -> bool:
        """Queue one training unless one is queued or running (then the request coalesces into it)."""
        with transaction(self.sessions()) as session:
            if not service.mark_queued(session=session, now=utcnow()):
                return False
        return self._enqueue(trigger)

    def _enqueue(self, trigger: str) -> bool:
        """Enqueue the job of a training just marked queued (unmarked again if the queue refuses it)."""
        try:
            self.train(trigger=trigger)
        except Exception:
            with transaction(self.sessions()) as session:
                service.unmark_queued(session=session)
            raise
        log.info(kv("training.queued", trigger=trigger))
        return True

    def request_if_due(self, *, trigger: str = "threshold") -> bool:
        """Queue a training if the retraining rule holds now and none is queued or running: what a completion
        that came within the time floor left pending (the worker's supervisor calls this every few seconds)."""
        with read_session(self.sessions()) as session:
            if not service.due_now(session=session, now=utcnow()):
                return False  # the usual case: one read of one row, no write lock
        with transaction(self.sessions()) as session:
            if not service.due_now(session=session, now=utcnow(), lock=True):
                return False  # a training started (or finished) meanwhile
            if not service.mark_queued(session=session, now=utcnow()):
                return False
        return self._enqueue(trigger)

    def depth(self) -> int:
        """Jobs waiting: queued now plus scheduled retries."""
        return int(self.huey.pending_count()) + int(self.huey.scheduled_count())

    def reap(self, *, stale_after: timedelta | None = None) -> bool:
        """Re-queue a run whose worker died, and a queued state whose job was lost. True if it enqueued."""
        stale_after = stale_after or timedelta(seconds=self.settings.training_stale_seconds)
        now = utcnow()
        with transaction(self.sessions()) as session:
            reaped = service.reap_stale_run(session=session, now=now, stale_after=stale_after)
            state = service.get_status(session=session)
        if reaped is not None:
            log.warning(kv("training.reaped", run=reaped.id, pid=reaped.worker_pid))
            self.train(trigger="retry", attempt=reaped.attempt + 1)
            return True
        stale_queue = state.queued_at is not None and now - state.queued_at > stale_after
        if state.queued and stale_queue and self.depth() == 0:
            # Queued in the database, but nothing in the queue (lost between commit and enqueue, or flushed).
            self.train(trigger="recovered")
            return True
        return False


_niced: set[int] = set()


def _lower_priority(increment: int) -> None:
    """Run training at a lower CPU priority (once per worker process), so serving keeps the CPU it needs."""
    if increment and os.getpid() not in _niced:
        os.nice(increment)
        _niced.add(os.getpid())


class ExitWithParent(ProcessEnvironment):
    """huey's process environment, and each worker or scheduler process leaves when the consumer that forked it
    dies: a parent-death signal (the interrupt signal, SIGTERM), on which an orphan sets the shared stop flag (so
    every sibling leaves its loop) and a running task is interrupted (the training hands itself back)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.parent_pid = os.getpid()  # made in the consumer's process, before it forks

    def init_child(self, process: Any) -> None:
        super().init_child(process)  # huey: SIGINT and SIGHUP ignored
        parent = self.parent_pid
        interrupting = False

        def on_interrupt(_signum: int, _frame: Any) -> None:
            nonlocal interrupting
            if os.getppid() != parent:  # orphaned: nobody else will set the flag
                process.stop_flag.set()
            if not process.huey._tasks_in_flight:
                interrupting = False
            elif not interrupting:  # once: a second signal must not cut the hand-back short
                interrupting = True
                raise KeyboardInterrupt

        signal.signal(self.interrupt, on_interrupt)
        set_parent_death_signal(self.interrupt)
        if os.getppid() != parent:  # the consumer died before the signal was asked for
            process.stop_flag.set()


class _QuietConsumer(Consumer):
    """A consumer that leaves signal handling to its host process, and whose processes exit with it."""

    def get_environment(self, worker_type: str) -> Any:
        if worker_type == "process":
            return ExitWithParent(self._graceful_sig, self._interrupt_sig)
        return super().get_environment(worker_type)

    def _set_signal_handlers(self) -> None:
        return None


class EmbeddedWorker:
    """The huey consumer of `studysmart worker` and of the embedded consumer process (``training.consumer``):
    process workers that exit with it, and a supervisor thread that replaces dead workers and re-queues runs
    they abandoned."""

    def __init__(self, jobs: Jobs, *, workers: int = 1, check_seconds: float = 2.0,
                 stop_seconds: float = 10.0) -> None:
        self.jobs = jobs
        # Poll an empty queue at most every second (huey's default backs off to 10 s between polls).
        self.consumer = _QuietConsumer(jobs.huey, workers=workers, worker_type="process", periodic=False,
                                       check_worker_health=True, flush_locks=True, initial_delay=0.1,
                                       backoff=1.15, max_delay=1.0)
        self.check_seconds = check_seconds
        self.stop_seconds = stop_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="studysmart-worker-supervisor", daemon=True)

    def start(self) -> None:
        self.consumer.start()
        self._thread.start()

    def worker_pids(self) -> list[int]:
        return [p.pid for _, p in self.consumer.worker_threads if p.pid is not None]

    def alive(self) -> bool:
        return all(self.consumer.environment.is_alive(p) for _, p in self.consumer.worker_threads)

    def check(self) -> None:
        """Replace dead workers, re-queue abandoned work, then queue a training that became due."""
        self.consumer.check_worker_health()
        try:
            self.jobs.reap()
            self.jobs.request_if_due()
        except Exception:  # the database may be briefly busy; try again next round
            log.exception("worker supervisor check failed")

    def _supervise(self) -> None:
        while not self._stop.wait(self.check_seconds):
            self.check()

    def stop(self) -> None:
        """Stop at once: a running training is interrupted and hands itself back to the queue (waited for, at
        most ``stop_seconds``; then the workers are killed and the reaper re-queues it)."""
        self._stop.set()
        self._thread.join(timeout=10)  # first, so that no worker is replaced while they stop
        self.consumer.stop(graceful=False)  # the stop flag, then SIGTERM: idle workers leave, a running one hands back
        processes = [p for _, p in self.consumer.worker_threads] + [self.consumer.scheduler]
        deadline = time.monotonic() + self.stop_seconds
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                log.warning(kv("worker.killed", pid=process.pid, after_seconds=self.stop_seconds))
                process.kill()
                process.join(1.0)


def run_standalone_worker(*, workers: int = 1, parent: int | None = None) -> None:
    """``studysmart worker``: a consumer with process workers and the supervisor, until SIGINT/SIGTERM (or, with
    ``parent``, until that process is gone: the embedded consumer of a web server)."""
    jobs = Jobs(get_settings())
    worker = EmbeddedWorker(jobs, workers=workers)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    worker.start()
    log.info(kv("worker.started", workers=workers, queue="redis" if jobs.settings.redis_url else "sqlite"))
    try:
        jobs.reap()
        while not stop.wait(1.0):
            if parent is not None and os.getppid() != parent:
                log.warning(kv("worker.orphaned", parent=parent))
                break
    finally:
        worker.stop()
        log.info(kv("worker.stopped"))
