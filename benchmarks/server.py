"""Start a throwaway StudySmart server (fresh SQLite under a temp dir, demo data) for benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(extra_env: dict[str, str] | None = None, demo_students: int = 12,
                   prepare: Callable[[Path], object] | None = None) -> Iterator[tuple[str, Path]]:
    """Yield (base URL, var dir) of a server on a fresh embedded database (``prepare(var_dir)`` fills it before
    the server starts); stops it afterwards."""
    with tempfile.TemporaryDirectory(prefix="studysmart-bench-") as tmp:
        env = {**os.environ, "STUDYSMART_VAR_DIR": tmp, "STUDYSMART_LOG_LEVEL": "WARNING", **(extra_env or {})}
        env.pop("STUDYSMART_DATABASE_URL", None)
        subprocess.run([BIN / "studysmart", "db", "upgrade"], env=env, check=True, capture_output=True)
        if demo_students:
            subprocess.run([BIN / "studysmart", "demo", "--students", str(demo_students)], env=env, check=True,
                           capture_output=True)
        if prepare is not None:
            prepare(Path(tmp))
        port = int(os.environ.get("STUDYSMART_BENCH_PORT") or free_port())  # pinned when ports are shared
        log = open(Path(tmp) / "server.log", "w")  # closed below
        proc = subprocess.Popen([BIN / "studysmart", "serve", "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"server did not start; see {tmp}/server.log")
                time.sleep(0.3)
            yield base, Path(tmp)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def wait_for_training_idle(var_dir: Path, timeout: float = 1800.0) -> None:
    """Wait until the server's worker has no training queued or running (e.g. the one the demo data triggers)."""
    env = {**os.environ, "STUDYSMART_VAR_DIR": str(var_dir)}
    env.pop("STUDYSMART_DATABASE_URL", None)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run([BIN / "studysmart", "status", "--json"],
                             env=env, capture_output=True, text=True, check=False)
        if out.returncode == 0 and '"status": "idle"' in out.stdout:
            return
        time.sleep(2)
    raise RuntimeError("the initial training did not finish")
