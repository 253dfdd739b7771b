"""LNIRT against the R package on CredentialForm1: speed, held-out metrics, parameters, online update.

    .venv/bin/python -m benchmarks.lnirt_speed [--iterations 2000] [--fast-iterations 300] [--out PATH]

Fits ``lnirt-gibbs`` (R's 2,000 iterations) and ``lnirt`` (the fast estimator) on every cell of
../shared/peers/lnirt/credentialform1_long.csv except the R reference's held-out cells (heldout_cells.csv),
scores both on those held-out cells (and R's own predictions, r_predictions.csv, with the same metric code),
correlates the posterior means with R's (r_item_params.csv, r_person_params.csv; both use ident=2), and times
the online person update. Fit times are wall clock in a fresh process, so they include loading (or, with a
cold cache, compiling) the Numba kernels. Writes JSON to benchmarks/results/lnirt.json and prints a table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.paths import RESULTS, SHARED
from studysmart.ml.base import Prediction
from studysmart.ml.data import Responses, read_cells, read_responses
from studysmart.ml.evaluate import split_heldout
from studysmart.ml.lnirt import LNIRT, LNIRTGibbs
from studysmart.ml.metrics import all_metrics

R_SECONDS_2000 = 229.1  # r_timings_repeat.txt: masked XG=2000, run alone
SHOWN = ("auc", "log_loss", "brier", "rmse_log_time", "mae_log_time", "coverage80", "log_density")


def _read_table(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {key: np.asarray([row[key] for row in rows]) for key in rows[0]}


def _fit(model: Any, train: Responses) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one fit."""
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(train)
    return time.perf_counter() - start, time.process_time() - cpu


def _r_metrics(peer: Path, test: Responses) -> dict[str, float]:
    """R's plug-in predictions of the held-out cells, scored with the same metric code."""
    table = _read_table(peer / "r_predictions.csv")
    by_cell = {(p, i): row for row, (p, i) in enumerate(zip(table["person"], table["item"], strict=True))}
    rows = np.asarray([by_cell[(str(p), str(i))] for p, i in
                       zip(test.persons[test.person], test.items[test.item], strict=True)])
    prediction = Prediction(
        p_correct=table["p_correct"].astype(float)[rows],
        mean_log_time=table["mean_log_time"].astype(float)[rows],
        sd_log_time=table["sd_log_time"].astype(float)[rows],
        source=np.full(rows.size, "model", dtype=object),
    )
    return all_metrics(prediction, test.correct, test.log_time)


def _correlations(model: Any, peer: Path) -> dict[str, float]:
    """Pearson correlation of posterior means with R's, matched by item and person label."""
    items = _read_table(peer / "r_item_params.csv")
    persons = _read_table(peer / "r_person_params.csv")
    item_index = {str(label): k for k, label in enumerate(model.items_)}
    person_index = {str(label): i for i, label in enumerate(model.persons_)}
    item_rows = np.asarray([item_index[label] for label in items["item"]])
    person_rows = np.asarray([person_index[label] for label in persons["person"]])
    out = {}
    for col, name in enumerate(("a", "b", "phi", "lambda")):
        out[name] = float(np.corrcoef(items[name].astype(float), model.item_params_[item_rows, col])[0, 1])
    out["sigma2"] = float(np.corrcoef(items["sigma2"].astype(float), model.sigma2_[item_rows])[0, 1])
    out["theta"] = float(np.corrcoef(persons["theta"].astype(float), model.theta_[person_rows])[0, 1])
    out["zeta"] = float(np.corrcoef(persons["zeta"].astype(float), model.zeta_[person_rows])[0, 1])
    return out


def _online_update_ms(model: Any, train: Responses, n_persons: int, n_answers: int | None) -> float:
    """Median wall time of update_person from a person's training history (first ``n_answers`` rows)."""
    rng = np.random.default_rng(7)
    chosen = rng.choice(train.n_persons, size=min(n_persons, train.n_persons), replace=False)
    order = np.argsort(train.person, kind="stable")
    starts = np.searchsorted(train.person[order], np.arange(train.n_persons + 1))
    times = []
    for person in chosen:
        rows = order[starts[person]: starts[person + 1]]
        history = train.subset(rows if n_answers is None else rows[:n_answers])
        label = str(train.persons[person])
        start = time.perf_counter()
        model.update_person(label, history)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns (and writes) the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--fast-iterations", type=int, default=None,
                        help="iterations of lnirt (default: its own default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="threads of the sampler's cell passes")
    parser.add_argument("--out", type=Path, default=RESULTS / "lnirt.json")
    args = parser.parse_args(argv)
    peer = args.shared / "peers" / "lnirt"

    data = read_responses(peer / "credentialform1_long.csv")
    split = split_heldout(data, *read_cells(peer / "heldout_cells.csv"))
    train, test = split.train, split.test
    queries = test.to_queries()
    results: dict[str, Any] = {
        "data": str(peer / "credentialform1_long.csv"), "n_train": len(train), "n_test": len(test),
        "load_average_before": os.getloadavg()[0], "threads": args.threads,
        "r_reference": {"fit_seconds": R_SECONDS_2000, "iterations": 2000, **_r_metrics(peer, test)},
    }  # fmt: skip

    gibbs = LNIRTGibbs(iterations=args.iterations, seed=args.seed, n_threads=args.threads)
    fit_s, cpu_s = _fit(gibbs, train)
    results["lnirt-gibbs"] = {
        "fit_seconds": fit_s, "fit_cpu_seconds": cpu_s, "iterations": args.iterations,
        "ms_per_iteration": fit_s / args.iterations * 1e3,
        "speedup_vs_r": R_SECONDS_2000 / fit_s * args.iterations / 2000,
        **all_metrics(gibbs.predict(queries), test.correct, test.log_time),
        "corr_with_r": _correlations(gibbs, peer),
    }  # fmt: skip

    fast = LNIRT(seed=args.seed, n_threads=args.threads)
    if args.fast_iterations is not None:
        fast.iterations = args.fast_iterations
    fit_s, cpu_s = _fit(fast, train)
    metrics = all_metrics(fast.predict(queries), test.correct, test.log_time)
    results["lnirt"] = {
        "fit_seconds": fit_s, "fit_cpu_seconds": cpu_s, "iterations": fast.iterations, **metrics,
        "auc_minus_gibbs": metrics["auc"] - results["lnirt-gibbs"]["auc"],
        "rmse_log_time_minus_gibbs": metrics["rmse_log_time"] - results["lnirt-gibbs"]["rmse_log_time"],
        "corr_with_r": _correlations(fast, peer),
    }  # fmt: skip

    results["load_average_after"] = os.getloadavg()[0]
    results["online_update_ms"] = {
        "full_history_median": _online_update_ms(fast, train, 300, None),
        "five_answers_median": _online_update_ms(fast, train, 300, 5),
        "median_history_rows": float(np.median(np.bincount(train.person))),
    }  # fmt: skip

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    _print_table(results)
    return results


def _print_table(results: dict[str, Any]) -> None:
    names = ("r_reference", "lnirt-gibbs", "lnirt")
    print(f"CredentialForm1, {results['n_train']} training rows, {results['n_test']} held-out cells; "
          f"{results['threads']} thread(s); load average {results['load_average_before']:.2f} before, "
          f"{results['load_average_after']:.2f} after (2 cores)")
    print(f"{'':16}" + "".join(f"{n:>14}" for n in names))
    print(f"{'fit_seconds':16}" + "".join(f"{results[n]['fit_seconds']:14.2f}" for n in names))
    print(f"{'fit_cpu_seconds':16}" + "".join(f"{results[n].get('fit_cpu_seconds', float('nan')):14.2f}"
                                             for n in names))
    print(f"{'iterations':16}" + "".join(f"{results[n]['iterations']:14d}" for n in names))
    for metric in SHOWN:
        print(f"{metric:16}" + "".join(f"{results[n][metric]:14.4f}" for n in names))
    print("correlation of posterior means with R (gibbs / lnirt):")
    for key, value in results["lnirt-gibbs"]["corr_with_r"].items():
        print(f"  {key:8} {value:.4f} / {results['lnirt']['corr_with_r'][key]:.4f}")
    print(f"speed-up of lnirt-gibbs over R: {results['lnirt-gibbs']['speedup_vs_r']:.1f}x "
          f"({results['lnirt-gibbs']['ms_per_iteration']:.1f} ms/iteration)")
    print(f"lnirt - gibbs: auc {results['lnirt']['auc_minus_gibbs']:+.4f}, "
          f"rmse_log_time {results['lnirt']['rmse_log_time_minus_gibbs']:+.4f}")
    online = results["online_update_ms"]
    print(f"online update: {online['full_history_median']:.2f} ms median (full history, "
          f"median {online['median_history_rows']:.0f} rows), "
          f"{online['five_answers_median']:.2f} ms (5 answers)")


if __name__ == "__main__":
    main()
