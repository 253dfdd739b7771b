"""Processes under test: `studysmart serve` / `studysmart worker` on a throwaway database (SQLite unless told
otherwise), the tree of processes each started (read from /proc), and a cleanup that kills only those."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import select

from studysmart.core.db import make_engine, make_sessionmaker
from studysmart.learning.models import TrainingRun
from studysmart.migrations import upgrade
from tests.conftest import TEST_SECRET
from tests.learning.slow_model import MARKER_ENV

DRILL_SITE = Path(__file__).parent / "drill_site"
STUDYSMART = Path(sys.executable).parent / "studysmart"


def free_port() -> int:
    """A free local port (from STUDYSMART_TEST_PORTS, e.g. ``8200-8299``, when set)."""
    low, _, high = os.environ.get("STUDYSMART_TEST_PORTS", "0-0").partition("-")
    for port in range(int(low), int(high) + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")


def descendants(pid: int) -> dict[int, str]:
    """Every living (non-zombie) process below ``pid``: pid -> command line."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if state != "Z":
            parent_of[int(entry.name)] = int(ppid)
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child, ppid in parent_of.items():
            if ppid == current and child not in found:
                found[child] = _cmdline(child)
                frontier.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(0.1)


class Drill:
    """`studysmart` processes on one database and queue (and, by default, one port), and every process they
    started (all killed at the end, and only those). ``env`` adds to (or overrides) every process's settings."""

    def __init__(self, tmp_path: Path, *, database_url: str | None = None, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url or f"sqlite:///{tmp_path / 'drill.db'}"
        self.marker = tmp_path / "slow-marker"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("STUDYSMART_") or k.startswith(("STUDYSMART_TEST_", "STUDYSMART_SHARED"))}
        self.env.update({
            "STUDYSMART_ENV": "test", "STUDYSMART_VAR_DIR": str(tmp_path / "var"),
            "STUDYSMART_DATABASE_URL": self.database_url, "STUDYSMART_SECRET_KEY": TEST_SECRET,
            "STUDYSMART_TRAINING_MODELS": "shrinkage,slow-test", "STUDYSMART_RETRAIN_THRESHOLD": "5",
            "STUDYSMART_RETRAIN_GROWTH_PERCENT": "0", "STUDYSMART_RETRAIN_MIN_INTERVAL_SECONDS": "0",
            "STUDYSMART_WORKER_PROCESSES": "1", MARKER_ENV: str(self.marker),
            "PYTHONPATH": os.pathsep.join([str(DRILL_SITE), os.environ.get("PYTHONPATH", "")]),
            **(env or {}),
        })
        self.started: set[int] = set()
        self.processes: list[subprocess.Popen[bytes]] = []
        upgrade(self.database_url)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``studysmart ARGS...`` in the background (its output in a log file of the test; ``env`` on top of the
        drill's)."""
        log = open(self.tmp / f"process-{len(self.processes)}.log", "wb")  # the child keeps it
        process = subprocess.Popen([str(STUDYSMART), *args], env={**self.env, **(env or {})}, stdout=log,
                                   stderr=subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        """What ``process`` (one this drill started) has written so far."""
        return (self.tmp / f"process-{self.processes.index(process)}.log").read_text(errors="replace")

    def command(self, *args: str) -> str:
        """Run ``studysmart ARGS...`` to its end; its output."""
        done = subprocess.run([str(STUDYSMART), *args], env=self.env, capture_output=True, text=True,
                              timeout=60, check=True)
        return done.stdout

    def serve(self, port: int | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """`studysmart serve` on ``port`` (the drill's by default), once it answers its health check."""
        port = port or self.port
        server = self.start("serve", "--port", str(port), env=env)
        self.wait_healthy(server, f"http://127.0.0.1:{port}")
        return server

    def wait_healthy(self, server: subprocess.Popen[bytes], base: str, seconds: float = 60) -> None:
        """Wait (up to ``seconds``) until the server at ``base`` answers its health check."""
        wait_for(lambda: self._healthy(server, base), seconds, f"the server at {base} to answer /api/v1/health")

    def _healthy(self, server: subprocess.Popen[bytes], base: str) -> bool:
        if server.poll() is not None:
            raise AssertionError(f"the server exited ({server.returncode}):\n{self.logs()}")
        try:
            return httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def tree(self, process: subprocess.Popen[bytes]) -> dict[int, str]:
        """The processes below ``process`` now (remembered for the cleanup)."""
        found = descendants(process.pid)
        self.started.update(found)
        return found

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in sorted(self.tmp.glob("process-*.log")))

    def runs(self) -> list[TrainingRun]:
        engine = make_engine(self.database_url)
        try:
            with make_sessionmaker(engine)() as session:
                return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id)))
        finally:
            engine.dispose()

    def cleanup(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.started.update(descendants(process.pid))
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for pid in self.started:  # only processes these started
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def gone_within(tree: dict[int, str], seconds: float) -> dict[int, str]:
    """Wait up to ``seconds`` for every process of ``tree`` to end; the ones still running."""
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.1)
    return {pid: cmd for pid, cmd in tree.items() if alive(pid)}
