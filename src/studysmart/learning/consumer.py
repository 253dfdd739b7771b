"""The embedded default's training consumer as a child process of the web server.

The web server execs (never forks) ``python -m studysmart.learning.consumer``: the child inherits no listening
socket, no thread and no database connection of the server. It runs the same consumer as ``studysmart worker``
(huey process workers, their supervisor) and leaves when the server does, even a killed one: a parent-death
signal (Linux ``prctl(PR_SET_PDEATHSIG)``) and a check of its parent every second. Its own workers and scheduler
get the same signal from it (see ``jobs.ExitWithParent``). A running training is handed back at once when it
stops (see ``pipeline.run_training``).
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading

from studysmart.core.config import Settings, get_settings
from studysmart.core.logging import kv, setup_logging

log = logging.getLogger("studysmart.jobs")
_PR_SET_PDEATHSIG = 1


def set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def settings_env(settings: Settings) -> dict[str, str]:
    """This process's environment with every setting of ``settings`` spelled out, so a child reads the same."""
    env = dict(os.environ)
    for name in Settings.model_fields:
        value = getattr(settings, name)
        key = f"STUDYSMART_{name.upper()}"
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


class ConsumerProcess:
    """The consumer child of a web server: started, restarted when it dies, stopped with the server."""

    def __init__(self, settings: Settings, *, workers: int = 1, check_seconds: float = 2.0,
                 stop_seconds: float = 15.0) -> None:
        self.settings = settings
        self.workers = workers
        self.check_seconds = check_seconds
        self.stop_seconds = stop_seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="studysmart-consumer-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        command = [sys.executable, "-m", "studysmart.learning.consumer", "--workers", str(self.workers),
                   "--parent", str(os.getpid())]
        self._process = subprocess.Popen(command, env=settings_env(self.settings), close_fds=True)  # noqa: S603 - our own module
        log.info(kv("consumer.started", pid=self._process.pid, workers=self.workers))

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _supervise(self) -> None:
        while not self._stop.wait(self.check_seconds):
            if not self.alive():
                code = None if self._process is None else self._process.returncode
                log.warning(kv("consumer.died", pid=self.pid, code=code))
                self._spawn()

    def stop(self) -> None:
        """Stop the consumer: it hands a running training back to the queue, bounded by ``stop_seconds``."""
        self._stop.set()
        self._thread.join(timeout=self.check_seconds + 5)
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.stop_seconds)
        except subprocess.TimeoutExpired:
            log.warning(kv("consumer.killed", pid=process.pid, after_seconds=self.stop_seconds))
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> None:
    """Run the consumer for the web server whose pid is ``--parent``, until it stops or that server is gone."""
    parser = argparse.ArgumentParser(description="StudySmart's embedded training consumer (started by serve).")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--parent", type=int, required=True)
    args = parser.parse_args(argv)
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != args.parent:  # the server died before the signal was asked for
        return
    setup_logging(get_settings().log_level)
    from studysmart.learning.jobs import run_standalone_worker

    run_standalone_worker(workers=args.workers, parent=args.parent)


if __name__ == "__main__":
    main()
