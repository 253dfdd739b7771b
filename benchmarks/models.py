"""Every registered model on every shared data set: held-out quality and speed, one JSON file.

    .venv/bin/python -m benchmarks.models [--shared DIR] [--models auto,avg,shrinkage,...] [--runs chess,...]
        [--mode online|frozen] [--iterations 2000] [--repeat 1] [--out benchmarks/results/models.json]
    .venv/bin/python -m benchmarks.models --markdown benchmarks/results/models.json   # tables for docs

Runs (each the same harness as ``studysmart evaluate``: fit on train, predict test, score the test rows only;
by default in online mode, each test row predicted from the person's earlier answers as the app serves, and
with ``auto``, the training pipeline's own choice of model, first):

* ``assistments``: ../shared/data/assistments2017_abroca_sample, temporal split by ``timestamp``
  (each student's last 20% of actions);
* ``chess``: ../shared/data/lnirt_amsterdam_chess, temporal split by ``position``;
* ``credential``: ../shared/data/lnirt_credential_form1 (all 200 items), random split of 10% of cells, seed 0;
* ``credential-heldout``: ../shared/peers/lnirt/credentialform1_long.csv with the R reference's held-out cells
  (heldout_cells.csv), the comparison with the R package LNIRT (its numbers: README there);
* ``junyi``: ../shared/data/junyi_fkt_subset (a practice log), temporal split by ``timestamp``.

Models that cannot be imported yet (or fail) are reported under ``skipped`` with the reason. Timings are wall
clock on this machine (2 shared cores: noisy); with ``--repeat N`` fit_seconds and predict_us_per_row are the
median of N fits (metrics come from the first). Prints a table per run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.paths import RESULTS, SHARED
from studysmart.commands.evaluate import AUTO, evaluate_auto, print_table, report
from studysmart.ml import base
from studysmart.ml.data import read_cells, read_responses
from studysmart.ml.evaluate import MODES, Split, evaluate_model, split_heldout, split_random, split_temporal


@dataclass(frozen=True)
class Run:
    """One data set and how it is split."""

    name: str
    data: str  # relative to the shared directory
    split: str  # temporal | random | heldout
    order: str | None = None
    heldout: str | None = None


RUNS = (
    Run("assistments", "data/assistments2017_abroca_sample/data.csv", "temporal", order="timestamp"),
    Run("chess", "data/lnirt_amsterdam_chess/data.csv", "temporal", order="position"),
    Run("credential", "data/lnirt_credential_form1/data.csv.gz", "random"),
    Run("credential-heldout", "peers/lnirt/credentialform1_long.csv", "heldout",
        heldout="peers/lnirt/heldout_cells.csv"),
    Run("junyi", "data/junyi_fkt_subset/data.csv", "temporal", order="timestamp"),
)


def make_split(run: Run, shared: Path, seed: int = 0) -> Split:
    """Read the run's data and split it."""
    data = read_responses(shared / run.data, order=run.order if run.order else "")
    if run.split == "heldout":
        assert run.heldout is not None
        return split_heldout(data, *read_cells(shared / run.heldout))
    if run.split == "temporal":
        return split_temporal(data)
    return split_random(data, seed=seed)


def available(name: str) -> str | None:
    """None when the model can be imported, else the reason it cannot."""
    if name == AUTO:
        return None
    try:
        base.model_class(name)
    except Exception as exc:  # ImportError, AttributeError (class not written yet), torch missing ...
        return f"{type(exc).__name__}: {exc}"
    return None


def run_one(run: Run, shared: Path, names: list[str], params: dict[str, dict[str, Any]], repeat: int,
            mode: str = "online") -> dict[str, Any]:
    """Evaluate every model on one run; returns the ``studysmart evaluate`` JSON document plus ``skipped``."""
    split = make_split(run, shared)
    results: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    for name in names:
        reason = available(name)
        if reason:
            skipped[name] = reason
            print(f"  {name}: skipped ({reason})", flush=True)
            continue
        try:
            tries = [evaluate_auto(split, mode=mode) if name == AUTO else
                     evaluate_model(name, split, params=params.get(name), mode=mode) for _ in range(repeat)]
        except Exception as exc:  # one failing model must not hide the others' numbers
            skipped[name] = f"failed: {type(exc).__name__}: {exc}"
            print(f"  {name}: FAILED\n{traceback.format_exc()}", flush=True)
            continue
        result = dict(tries[0])
        for timing in ("fit_seconds", "predict_us_per_row"):
            result[timing] = statistics.median(t[timing] for t in tries)
        results[name] = result
        chosen = f" (chose {result['chosen']})" if "chosen" in result else ""
        print(f"  {name}{chosen}: auc {result['auc']:.4f}  log_loss {result['log_loss']:.4f}  "
              f"rmse_log_time {result['rmse_log_time']:.4f}  fit {result['fit_seconds']:.2f} s", flush=True)
    doc = report(data=str(shared / run.data), split=run.split, n_train=len(split.train),
                 n_test=len(split.test), models=results, mode=mode)
    doc["skipped"] = skipped
    if run.heldout:
        doc["heldout"] = str(shared / run.heldout)
    return doc


SHOWN = ("auc", "log_loss", "ece", "rmse_log_time", "mae_seconds", "coverage80", "log_density", "fit_seconds",
         "predict_us_per_row")


_TWO_DIGITS = ("mae_seconds", "fit_seconds", "predict_us_per_row")


#: The issue's reference bar per run (log loss, RMSE of log-time); see benchmarks.reference.
REFERENCE = {"assistments": (0.6439, 1.2682), "chess": (0.6355, 0.5628), "credential-heldout": (0.5013, 0.5070),
             "junyi": (0.4039, 0.7776)}


def _ranked(models: dict[str, dict[str, Any]], metric: str) -> str:
    ranked = sorted(models.items(), key=lambda kv: kv[1].get(metric) or 1e9)
    return ", ".join(f"{name} {result[metric]:.4f}" for name, result in ranked if result.get(metric) is not None)


def summary(doc: dict[str, Any]) -> list[str]:
    """The issue's table refilled: reference, auto (chosen model) and every model's log loss and RMSE."""
    lines = ["| data set | reference LL | auto LL (chosen) | models' LL | reference RMSE | auto RMSE | models' RMSE |",
             "|---|---|---|---|---|---|---|"]
    for run_name, run in doc["runs"].items():
        if run_name not in REFERENCE or "auto" not in run["models"]:
            continue
        auto = run["models"]["auto"]
        others = {k: v for k, v in run["models"].items() if k != "auto"}
        ll, rmse = REFERENCE[run_name]
        lines.append(f"| {run_name} | {ll:.4f} | {auto['log_loss']:.4f} ({auto['chosen']}) | "
                     f"{_ranked(others, 'log_loss')} | {rmse:.4f} | {auto['rmse_log_time']:.4f} | "
                     f"{_ranked(others, 'rmse_log_time')} |")
    return [*lines, ""]


def markdown(doc: dict[str, Any]) -> str:
    """The results as Markdown tables, one per run (skipped models listed with their reason), after the
    issue's table refilled (``summary``)."""
    lines: list[str] = summary(doc)
    for run_name, run in doc["runs"].items():
        sizes = f"{run['n_train']} train / {run['n_test']} test rows"
        lines += [f"**{run_name}** ({run['split']} split, {run.get('mode', 'frozen')}, {sizes})", "",
                  "| model | " + " | ".join(SHOWN) + " |", "|---" * (len(SHOWN) + 1) + "|"]
        for model, result in run["models"].items():
            cells = ["-" if result.get(k) is None else f"{result[k]:.{2 if k in _TWO_DIGITS else 4}f}"
                     for k in SHOWN]
            label = f"{model} ({result['chosen']})" if "chosen" in result else model
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        for model, reason in run.get("skipped", {}).items():
            lines.append(f"| {model} | skipped: {reason} |" + " |" * (len(SHOWN) - 1))
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse arguments, run every selected (run, model), write and return the JSON document."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.models", description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="shared directory (default: %(default)s)")
    parser.add_argument("--models", default=",".join([AUTO, *base.MODELS]),
                        help="comma-separated (default: auto and all)")
    parser.add_argument("--mode", default="online", choices=MODES, help="online (default) or frozen")
    parser.add_argument("--runs", default=",".join(r.name for r in RUNS), help="comma-separated (all)")
    parser.add_argument("--iterations", type=int, default=None, help="lnirt-gibbs iterations (its default)")
    parser.add_argument("--repeat", type=int, default=1, help="fits per model; timings are their median")
    parser.add_argument("--out", type=Path, default=RESULTS / "models.json")
    parser.add_argument("--markdown", type=Path, default=None, metavar="JSON",
                        help="only print the Markdown tables of an earlier result file")
    args = parser.parse_args(argv)
    if args.markdown:
        doc = json.loads(args.markdown.read_text(encoding="utf-8"))
        print(markdown(doc))
        return dict(doc)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in base.MODELS and n != AUTO]
    wanted = {n.strip() for n in args.runs.split(",") if n.strip()}
    runs = [r for r in RUNS if r.name in wanted]
    if unknown or len(runs) != len(wanted):
        parser.error(f"unknown model(s) {unknown} or run(s) {sorted(wanted - {r.name for r in runs})}")
    params = {"lnirt-gibbs": {"iterations": args.iterations}} if args.iterations else {}
    started = time.time()
    out: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.models", *(sys.argv[1:] if argv is None else argv)]),
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}",
        "runs": {},
    }
    for run in runs:
        print(f"{run.name}: {run.data} ({run.split})", flush=True)
        out["runs"][run.name] = run_one(run, args.shared, names, params, args.repeat, args.mode)
        print_table(out["runs"][run.name])
    out["total_seconds"] = round(time.time() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({out['total_seconds']} s)")
    return out


if __name__ == "__main__":
    main()
