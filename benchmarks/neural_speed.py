"""Speed and held-out quality of the neural sequence models (``neural`` = LSTM, ``neural-attn`` = attention).

    .venv/bin/python -m benchmarks.neural_speed [--shared DIR] [--models neural,neural-attn] [--budget 100]
        [--out benchmarks/results/neural.json]

One run, torch on 1 thread (the models' default ``num_threads=1``), wall clock on this 2-core machine (shared:
noisy). Measures:

* ``small``: fitting on 677 responses (the first 677 rows of assistments2017_abroca_sample, the size of the
  first prototype's data): the first fit in the process (it includes torch's one-time import of its compiler,
  triggered by ``use_deterministic_algorithms``) and the median of 3 more;
* ``credential``: fitting on CredentialForm1's ~250,000 training responses (peers/lnirt/credentialform1_long.csv
  minus the R reference's heldout_cells.csv) with the time budget ``--budget`` seconds, then the held-out
  metrics next to the baselines and LNIRT on the same cells; the latency of one task's prediction in a warm
  process (median of 2,000 single-row calls; also with a 20-answer ``history=``, ``update_person`` and
  ``explain``);
* ``quality``: the same harness as ``studysmart evaluate`` (``evaluate_model``) on the temporal splits of
  assistments2017_abroca_sample (by ``timestamp``) and lnirt_amsterdam_chess (by ``position``).

Writes JSON (``--out``) and prints a summary; ``beats_baselines`` says per data set whether each neural model
has a lower log_loss AND rmse_log_time than both simple baselines (global average, item means).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.paths import RESULTS, SHARED
from studysmart.ml import base
from studysmart.ml.data import Queries, Responses, read_cells, read_responses
from studysmart.ml.evaluate import Split, evaluate_model, split_heldout, split_temporal
from studysmart.ml.metrics import all_metrics

BASELINES = ("avg", "item-means")
OTHERS = ("shrinkage", "lnirt")
SHOWN = ("auc", "log_loss", "rmse_log_time", "coverage80", "log_density", "fit_seconds")


def _fit_seconds(name: str, data: Responses, **params: Any) -> tuple[float, base.Model]:
    model = base.create(name, **params)
    start = time.perf_counter()
    model.fit(data)
    return time.perf_counter() - start, model


def _median_ms(call: Any, repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def small(shared: Path, names: list[str]) -> dict[str, Any]:
    """Fit seconds on 677 responses: the first fit in the process, and the median of three more."""
    data = read_responses(shared / "data/assistments2017_abroca_sample/data.csv", order="timestamp")
    sample = data.subset(np.arange(677))
    out: dict[str, Any] = {"rows": len(sample), "persons": int(np.unique(sample.person).size)}
    for name in names:
        first, model = _fit_seconds(name, sample)
        warm = statistics.median(_fit_seconds(name, sample)[0] for _ in range(3))
        out[name] = {"first_fit_seconds": first, "fit_seconds": warm, "epochs": model.report_.epochs}  # type: ignore[attr-defined]
    return out


def _latency(model: base.Model, split: Split) -> dict[str, float]:
    """Milliseconds per call for one task of a known person (median of many calls, warm)."""
    train = split.train
    person = str(train.persons[train.person[0]])
    item = str(train.items[train.item[-1]])
    query = Queries.from_columns([person], [item])
    rows = np.flatnonzero(train.person == train.person[0])[:20]
    history = train.subset(rows)
    explain = getattr(model, "explain", None)
    result = {
        "predict_one_ms": _median_ms(lambda: model.predict(query), 2000),
        "predict_one_with_history_ms": _median_ms(lambda: model.predict(query, history=history), 500),
        "update_person_ms": _median_ms(lambda: model.update_person(person, history), 500),
    }
    if explain is not None:
        result["explain_ms"] = _median_ms(lambda: explain(person, item), 200)
    return result


def credential(shared: Path, names: list[str], budget: float) -> dict[str, Any]:
    """Fit on CredentialForm1 minus the R reference's held-out cells; metrics, fit time and latency."""
    peer = shared / "peers/lnirt"
    data = read_responses(peer / "credentialform1_long.csv", order="", topic="")
    split = split_heldout(data, *read_cells(peer / "heldout_cells.csv"))
    out: dict[str, Any] = {"n_train": len(split.train), "n_test": len(split.test), "budget_seconds": budget,
                           "models": {}}
    for name in names:
        seconds, model = _fit_seconds(name, split.train, max_seconds=budget)
        start = time.perf_counter()
        prediction = model.predict(split.test.to_queries())
        predict_seconds = time.perf_counter() - start
        result: dict[str, Any] = all_metrics(prediction, split.test.correct, split.test.log_time)
        report = model.report_  # type: ignore[attr-defined]
        result.update(fit_seconds=seconds, predict_us_per_row=predict_seconds / len(split.test) * 1e6,
                      epochs=report.epochs, best_epoch=report.best_epoch, stopped=report.stopped,
                      blob_bytes=len(model.to_bytes()), **_latency(model, split))
        out["models"][name] = result
        print(f"  credential {name}: fit {seconds:.1f} s ({report.epochs} epochs, {report.stopped}), "
              f"log_loss {result['log_loss']:.4f}, rmse_log_time {result['rmse_log_time']:.4f}, "
              f"one prediction {result['predict_one_ms']:.3f} ms", flush=True)
    for name in (*BASELINES, *OTHERS):
        out["models"][name] = _safe_evaluate(name, split)
    return out


def _safe_evaluate(name: str, split: Split) -> dict[str, Any]:
    try:
        return evaluate_model(name, split)
    except Exception as exc:  # a model another engineer is still writing must not hide these numbers
        return {"error": f"{type(exc).__name__}: {exc}"}


def quality(shared: Path, names: list[str]) -> dict[str, Any]:
    """Temporal splits (each person's last 20% by the order column) through the evaluation harness."""
    runs = {"assistments": ("data/assistments2017_abroca_sample/data.csv", "timestamp"),
            "chess": ("data/lnirt_amsterdam_chess/data.csv", "position")}
    out: dict[str, Any] = {}
    for run, (path, order) in runs.items():
        split = split_temporal(read_responses(shared / path, order=order))
        models = {name: _safe_evaluate(name, split) for name in (*BASELINES, *OTHERS, *names)}
        out[run] = {"split": "temporal", "order": order, "n_train": len(split.train), "n_test": len(split.test),
                    "models": models}
    return out


def beats_baselines(models: dict[str, dict[str, Any]], names: list[str]) -> dict[str, bool]:
    """Per neural model: lower log_loss and lower rmse_log_time than every simple baseline."""
    verdict = {}
    for name in names:
        mine = models.get(name, {})
        verdict[name] = bool(mine and "log_loss" in mine and all(
            "log_loss" in models[b] and mine[metric] < models[b][metric]
            for b in BASELINES for metric in ("log_loss", "rmse_log_time")))
    return verdict


def _summary(doc: dict[str, Any]) -> None:
    runs = {"credential-heldout": doc["credential"]["models"], **{k: v["models"] for k, v in doc["quality"].items()}}
    for run, models in runs.items():
        print(f"\n{run}")
        print(f"  {'model':<12}" + "".join(f"{k:>15}" for k in SHOWN))
        for name, result in models.items():
            if "error" in result:
                print(f"  {name:<12}  {result['error']}")
                continue
            print(f"  {name:<12}" + "".join(f"{result.get(k, float('nan')):>15.4f}" for k in SHOWN))
    print("\nbeats the simple baselines (log_loss and rmse_log_time):", json.dumps(doc["beats_baselines"]))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every measurement, write the JSON document and return it."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.neural_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="shared directory (default: %(default)s)")
    parser.add_argument("--models", default="neural,neural-attn", help="comma-separated (default: %(default)s)")
    parser.add_argument("--budget", type=float, default=100.0, help="fit time budget on CredentialForm1, seconds")
    parser.add_argument("--out", type=Path, default=RESULTS / "neural.json")
    args = parser.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    torch.set_num_threads(1)
    doc: dict[str, Any] = {"machine": platform.platform(), "python": platform.python_version(),
                           "torch": torch.__version__, "threads": 1, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    print("677 responses ...", flush=True)
    doc["small"] = small(args.shared, names)
    print(json.dumps(doc["small"]), flush=True)
    print("CredentialForm1 ...", flush=True)
    doc["credential"] = credential(args.shared, names, args.budget)
    print("temporal splits ...", flush=True)
    doc["quality"] = quality(args.shared, names)
    doc["beats_baselines"] = {"credential-heldout": beats_baselines(doc["credential"]["models"], names)} | {
        run: beats_baselines(result["models"], names) for run, result in doc["quality"].items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2, default=float) + "\n")
    _summary(doc)
    print(f"\nwritten to {args.out}")
    return doc


if __name__ == "__main__":
    main()
