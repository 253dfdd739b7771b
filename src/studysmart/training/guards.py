"""Guards around one training run: a time limit, and heartbeats that let a killed worker's run be recognised."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings
from studysmart.core.db import transaction, utcnow
from studysmart.core.logging import kv
from studysmart.training import service

log = logging.getLogger("studysmart.training")
HEARTBEAT_SECONDS = 2.0


class TrainingTimeout(Exception):
    """The job ran past its time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TrainingTimeout after ``seconds`` (in a process's main thread; elsewhere only the models' budgets)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expired(_signum: int, _frame: Any) -> None:
        raise TrainingTimeout(f"training exceeded its time limit of {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def heartbeats(sessions: sessionmaker[Session], run_id: int, settings: Settings) -> Iterator[None]:
    """Beat every few seconds while the run works, so a killed worker's run can be recognised and retried."""
    stop = threading.Event()
    interval = min(HEARTBEAT_SECONDS, settings.training_stale_seconds / 4)

    def beat() -> None:
        while not stop.wait(interval):
            try:
                with transaction(sessions) as session:
                    service.heartbeat(session=session, run_id=run_id, now=utcnow())
            except Exception:  # a missed beat is not fatal; a long silence is handled by the reaper
                log.warning(kv("training.heartbeat.failed", run=run_id))

    thread = threading.Thread(target=beat, name="training-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
