"""Every benchmark, one after another, each in a fresh process (``make bench``).

    .venv/bin/python -m benchmarks.run_all [--only task_latency,planning] [--quick] [--out PATH]

Each benchmark writes its own JSON under benchmarks/results/ (see its module docstring for what it measures);
this runner records, per benchmark, the command, its exit code, its wall time and the path of its JSON, in
benchmarks/results/run_all.json. ``--quick`` runs the short variants (fewer rounds and seconds: a smoke run, not
figures to report). A failing benchmark does not stop the others; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.paths import RESULTS, SHARED

#: The readiness benchmark on the Junyi practice log (the closest to our users); other data sets: run it by hand.
READINESS = ["--data", str(SHARED / "data" / "junyi_fkt_subset" / "data.csv"), "--order", "timestamp",
             "--json", str(RESULTS / "readiness.json")]

#: name -> (arguments of the full run, arguments of the quick run, the JSON it writes)
BENCHMARKS: dict[str, tuple[list[str], list[str], str]] = {
    "task_latency": ([], ["--duration", "3", "--runs", "1"], "task_latency.json"),
    "throughput": (["--clients", "8"], ["--clients", "8", "--duration", "3", "--runs", "1"], "throughput.json"),
    "history": ([], ["--others", "1000", "--requests", "10", "--runs", "1", "--models", "shrinkage"],
                "history.json"),
    "training_isolation": ([], ["--duration", "5", "--rounds", "1"], "training_isolation.json"),
    "analytics": ([], ["--logs", "60000", "--answers", "600", "--requests", "5"], "analytics.json"),
    "planning": ([], ["--exams", "5", "--seeds", "2"], "planning.json"),
    "readiness": (READINESS, READINESS, "readiness.json"),
    "practice_speed": ([], [], "practice_speed.json"),
    "lnirt_speed": ([], ["--iterations", "200"], "lnirt.json"),
    "neural_speed": ([], ["--budget", "20"], "neural.json"),
    "pages": (["--json", str(RESULTS / "pages.json")], ["--rounds", "1", "--json", str(RESULTS / "pages.json")],
              "pages.json"),
    "scale": ([], ["--sizes", "10000,100000"], "scale.json"),
    "models": ([], ["--runs", "credential-heldout", "--models", "avg,shrinkage,lnirt"], "models.json"),
}


def run(name: str, *, quick: bool) -> dict[str, Any]:
    """Run one benchmark in a fresh interpreter; what it did and where its figures are."""
    full, short, output = BENCHMARKS[name]
    command = [sys.executable, "-m", f"benchmarks.{name}", *(short if quick else full)]
    start = time.perf_counter()
    code = subprocess.run(command, check=False).returncode
    return {"command": " ".join(command[1:]), "exit_code": code, "seconds": round(time.perf_counter() - start, 1),
            "json": str(RESULTS / output)}


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and write the summary; 1 if any failed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated (default: all)")
    parser.add_argument("--quick", action="store_true", help="short smoke runs")
    parser.add_argument("--out", type=Path, default=RESULTS / "run_all.json")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    summary = {name: run(name, quick=args.quick) for name in names}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"quick": args.quick, "benchmarks": summary}, indent=2) + "\n")
    for name, result in summary.items():
        print(f"{name:20s} exit {result['exit_code']}  {result['seconds']:8.1f} s  {result['json']}")
    return int(any(result["exit_code"] for result in summary.values()))


if __name__ == "__main__":
    sys.exit(main())
