"""The worker's read of every answer: the per-row read (``history.all_responses``) against the columnar, chunked
one the trainer uses (``learning.columns.read_answers``), on a fresh SQLite database of bulk answers.

    .venv/bin/python -m benchmarks.training_read [--answers 200000] [--json OUT]

Writes ``{"<reader>": {"read_s": ..., "cpu_s": ..., "peak_mib": ..., "added_mib": ...}}`` (``added_mib``: the
peak RSS over the process's RSS before the read, so the interpreter and imports do not count) to OUT and to
benchmarks/results/training_read.json. Each read runs in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.paths import write_results

BIN = Path(sys.executable).parent
READERS = ("all_responses", "read_answers")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _read(reader: str) -> dict[str, Any]:
    from studysmart.core.config import Settings
    from studysmart.core.db import read_session
    from studysmart.learning.columns import read_answers
    from studysmart.learning.context import make_context
    from studysmart.learning.history import all_responses

    context = make_context(Settings())
    before = _rss_mib()
    start, cpu = time.perf_counter(), time.process_time()
    with read_session(context.sessions) as session:
        data = (all_responses if reader == "all_responses" else read_answers)(session)
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    context.dispose()
    return {"read_s": round(seconds, 2), "cpu_s": round(cpu_s, 2), "peak_mib": round(peak, 1),
            "added_mib": round(peak - before, 1), "rows": len(data)}


def main(argv: list[str] | None = None) -> int:
    """Fill a database, time each reader in its own process, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training_read", description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=200_000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_read(args.child)))
        return 0
    from benchmarks.bulk import bulk_answers
    from studysmart.core.config import Settings

    with tempfile.TemporaryDirectory(prefix="studysmart-read-") as tmp:
        env = {**os.environ, "STUDYSMART_VAR_DIR": tmp, "STUDYSMART_LOG_LEVEL": "WARNING"}
        env.pop("STUDYSMART_DATABASE_URL", None)
        subprocess.run([BIN / "studysmart", "db", "upgrade"], env=env, check=True, capture_output=True)
        bulk_answers(Settings(var_dir=Path(tmp)), answers=args.answers)
        results = {}
        for reader in READERS:
            done = subprocess.run([sys.executable, "-m", "benchmarks.training_read", "--child", reader], env=env,
                                  check=True, capture_output=True, text=True)
            results[reader] = json.loads(done.stdout.strip().splitlines()[-1])
            print(reader, results[reader], file=sys.stderr, flush=True)
    write_results("training_read", {"answers": args.answers, "results": results}, results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
