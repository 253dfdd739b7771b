"""Training at scale: wall time and peak memory of the worker's fit of each model at 1e5, 1e6 and 1e7 answers.

    .venv/bin/python -m benchmarks.scale --json OUT [--sizes 100000,1000000,10000000] [--models blend,shrinkage]
        [--max-answers N] [--timeout 900]

Writes ``{"<answers>": {"<model>": {"fit_s": ..., "peak_mib": ...}}}`` to OUT and the details (CPU seconds, which
are what to compare on a loaded machine; answers used after the sample; per-member seconds; artifact size; memory
with the data loaded) to benchmarks/results/scale.json.
Targets (issue 16): the served model (``blend``: practice + lnirt + shrinkage and their stack) fits 1e7 answers
within 10 minutes and 4 GB peak, 1e6 in under 60 s.

Data: students who learn and forget (``ml.synthetic``'s model of learning: ``learning_truth`` and the equations of
``LearningProcess``), drawn here for all students at once (the per-answer generator would take an hour at 1e7):
60 answers each in 6 sessions days apart, 8 topics of 25 items, rows in completion order as the worker reads
them. Each (size, model) fit runs in a fresh process, so its peak RSS (``ru_maxrss``) is that fit's alone: it
includes the interpreter, the imports and the data held in memory (as in the worker), not their generation. A
fit is what the worker does for the model (``learning.trainer``): the population sample (``training_data``), the
hold-out split, the fit on the training part, its online predictions of the hold-out, the refit on all of it
(for ``blend``: its three members so, then the stack), and the artifacts. The reading of the database is not
included (see ``learning.columns``). BLAS runs single-threaded as in the worker.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.paths import write_results  # noqa: E402
from studysmart.ml.data import Responses  # noqa: E402
from studysmart.ml.synthetic import LEARNING_GAP_SCALE, learning_truth  # noqa: E402

SIZES = (100_000, 1_000_000, 10_000_000)
MODELS = ("blend",)
ANSWERS, SESSIONS, TOPICS, ITEMS_PER_TOPIC = 60, 6, 8, 25
_EPOCH0 = 1_700_000_000.0
CACHE = Path(tempfile.gettempdir()) / "studysmart_scale"


def learning_arrays(n_answers: int, seed: int) -> dict[str, np.ndarray]:
    """Draw about ``n_answers`` answers of learning students (the equations of ``ml.synthetic.LearningProcess``,
    all students one step at a time), as coded columns in completion order."""
    n_persons = max(n_answers // ANSWERS, 10)
    rng = np.random.default_rng(seed)
    t = learning_truth(n_persons, TOPICS, ITEMS_PER_TOPIC, rng)
    everyone = np.arange(n_persons)
    when = _EPOCH0 + rng.uniform(0, 86_400.0, n_persons)
    n_own = rng.integers(2, 4, n_persons)  # topics per student
    own = np.argsort(rng.random((n_persons, TOPICS)), axis=1)  # a random order of the topics; the first n_own
    solved, failed = np.zeros((n_persons, TOPICS)), np.zeros((n_persons, TOPICS))
    last = np.full((n_persons, TOPICS), np.nan)
    session = np.repeat(np.arange(SESSIONS), np.diff(np.linspace(0, ANSWERS, SESSIONS + 1).round().astype(int)))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("person", "item", "correct", "seconds", "order")}
    for step in range(ANSWERS):
        if step and session[step] != session[step - 1]:
            when = when + rng.uniform(1, 7, n_persons) * 86_400.0
        topic = own[everyone, (rng.random(n_persons) * n_own).astype(int)]
        item = topic * ITEMS_PER_TOPIC + rng.integers(ITEMS_PER_TOPIC, size=n_persons)
        before = last[everyone, topic]
        gap = np.maximum(when - np.nan_to_num(before, nan=when), 0.0)
        share = np.where(np.isnan(before), 0.0, (1.0 + gap / LEARNING_GAP_SCALE) ** -t.forgetting[topic])
        s, f = solved[everyone, topic], failed[everyone, topic]
        eta = (t.easiness[item] + t.ability + t.topic_ability[everyone, topic]
               + share * (t.slope_correct[topic] * np.log1p(s) + t.slope_wrong[topic] * np.log1p(f)))
        correct = rng.random(n_persons) < 1.0 / (1.0 + np.exp(-eta))
        log_time = (t.time_intensity[item] + t.slowness - share * t.speedup[topic] * np.log1p(s + f)
                    + t.sigma * rng.standard_normal(n_persons))
        solved[everyone, topic] += correct
        failed[everyone, topic] += ~correct
        last[everyone, topic] = when
        for key, value in (("person", everyone), ("item", item), ("correct", correct.astype(np.float64)),
                           ("seconds", np.exp(log_time)), ("order", when)):
            cols[key].append(np.asarray(value))
        when = when + np.exp(log_time) + rng.exponential(20.0, n_persons)
    out = {k: np.concatenate(v) for k, v in cols.items()}
    rows = np.argsort(out["order"], kind="stable")
    data = {k: v[rows] for k, v in out.items()}
    data["person"] = data["person"].astype(np.int32)
    data["item"] = data["item"].astype(np.int32)
    return {**data, "persons": t.persons.astype(str), "items": t.items.astype(str),
            "item_topic": t.topics[t.item_topic].astype(str)}


def load(path: Path) -> Responses:
    """The responses of a cached draw."""
    with np.load(path, allow_pickle=False) as z:
        return Responses.from_codes(z["person"], z["persons"], z["item"], z["items"], z["correct"], z["seconds"],
                                    order=z["order"], item_topic=z["item_topic"])


def _cached(size: int, cache: Path) -> Path:
    path = cache / f"learning_{size}.npz"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **learning_arrays(size, seed=size))
        tmp.replace(path)
    return path


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def fit_once(path: Path, model: str, max_answers: int | None) -> dict[str, Any]:
    """What the worker does for ``model`` on the cached data (see the module docstring), timed."""
    from studysmart.core.config import Settings
    from studysmart.learning import scaling, trainer

    data = load(path)
    loaded_mib = _peak_mib()
    settings = Settings() if max_answers is None else Settings(training_max_answers=max_answers)
    names = trainer.models_to_train(settings, len(data))
    members = ["practice", "lnirt", "shrinkage", "blend"] if model == "blend" else [model]
    names = [n for n in names if n in members] or members
    start, cpu = time.perf_counter(), _cpu_s()
    sample = scaling.training_data(data, settings)
    split = trainer.holdout_split(sample.data)
    failures: trainer.Failures = {}
    candidates = trainer.fit_candidates(names, split, sample.data, settings, 0, failures)
    artifacts = trainer.serialise(candidates, 0, failures)
    fit_s, cpu_s = time.perf_counter() - start, _cpu_s() - cpu
    if failures:
        raise RuntimeError(json.dumps({k: v["error"] for k, v in failures.items()}))
    return {"fit_s": round(fit_s, 2), "cpu_s": round(cpu_s, 2), "peak_mib": round(_peak_mib(), 1), "answers": len(data),
            "students": data.n_persons, "answers_fitted": len(sample.data), "loaded_mib": round(loaded_mib, 1),
            "members_s": {c.name: round(c.fit_seconds, 2) for c in candidates},
            "artifact_mib": round(len(artifacts.get(model, b"")) / 2**20, 2),
            "notes": {c.name: c.notes for c in candidates if c.notes}}


def _child(size: int, model: str, max_answers: int | None, cache: Path, timeout: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.scale", "--child", "--sizes", str(size), "--models", model,
               "--cache", str(cache)]
    if max_answers is not None:
        command += ["--max-answers", str(max_answers)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"fit_s": None, "peak_mib": None, "error": f"timed out after {timeout:g} s"}
    if done.returncode != 0:
        return {"fit_s": None, "peak_mib": None, "error": done.stderr.strip().splitlines()[-1:],
                "wall_s": round(time.perf_counter() - start, 1)}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --child, one fit) and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="the summary JSON")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="answers, comma-separated")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    parser.add_argument("--max-answers", type=int, default=None,
                        help="Settings.training_max_answers (default: the setting's default)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per fit before it is abandoned")
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the drawn data sets are kept")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",") if s.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.child:
        print(json.dumps(fit_once(_cached(sizes[0], args.cache), models[0], args.max_answers)))
        return 0
    full: dict[str, Any] = {"max_answers": args.max_answers, "results": {}}
    summary: dict[str, Any] = {}
    for size in sizes:
        _cached(size, args.cache)
        for model in models:
            result = _child(size, model, args.max_answers, args.cache, args.timeout)
            print(f"{size} {model}: {result}", file=sys.stderr, flush=True)
            full["results"].setdefault(str(size), {})[model] = result
            summary.setdefault(str(size), {})[model] = {"fit_s": result["fit_s"], "peak_mib": result["peak_mib"]}
    write_results("scale", full, summary, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
