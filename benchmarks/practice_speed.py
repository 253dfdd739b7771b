"""Speed of the practice model on synthetic learners: fit, online update, served prediction. JSON out.

    .venv/bin/python -m benchmarks.practice_speed [--sizes 10000,250000] [--repeat 20] [--model NAME] [--out PATH]

Targets (issue 13, one core): fit <= 5 s on 10k answers and <= 60 s on 250k; the online update of a student
(``update_person`` with a new answer appended to a 100-answer history: their state recomputed) <= 5 ms; one
prediction in a warm process (the student's state cached) <= 1 ms. Also reported: a cold served call
(``predict(query, history=...)`` with a history the model has not seen: state and price). Data:
``ml.synthetic.generate_learning`` with 60 answers per student in 6 sessions, 8 topics of 25 items. The process
runs BLAS single-threaded (OPENBLAS/OMP/MKL_NUM_THREADS=1, set before NumPy is imported) as the worker does on
one core; numba kernels are compiled (or loaded from the cache) by a warm-up fit before timing. Wall-clock
medians over ``--repeat`` runs; fits are timed once per size. ``--model`` times another registered model the
same way (e.g. ``blend``, which may serve instead of ``practice``; its own fit includes its members' hold-out
fits, which the training pipeline shares with their candidates).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.paths import RESULTS  # noqa: E402
from studysmart.ml import base  # noqa: E402
from studysmart.ml.data import Queries, Responses  # noqa: E402
from studysmart.ml.practice import PracticeModel  # noqa: E402
from studysmart.ml.synthetic import generate_learning  # noqa: E402

TARGETS = {"fit_10000": 5.0, "fit_250000": 60.0, "update_ms": 5.0, "predict_warm_ms": 1.0}
ANSWERS = 60


def _data(n_answers: int, seed: int) -> Responses:
    return generate_learning(n_persons=max(n_answers // ANSWERS, 10), n_topics=8, items_per_topic=25,
                             answers_per_person=ANSWERS, seed=seed).responses


def _history(data: Responses, person: int, extra: int) -> tuple[Responses, Queries]:
    """The first 100 answers of a student with ``extra`` synthetic answers appended, and a next query."""
    rows = np.flatnonzero(data.person == person)[:ANSWERS]
    sub = data.subset(rows)
    labels = sub.persons[sub.person]
    items = sub.items[sub.item]
    topics = sub.row_topic()
    assert sub.order is not None and topics is not None
    n = len(sub)
    reps = int(np.ceil(100 / n)) + 1
    order = np.concatenate([sub.order + k * 86_400.0 for k in range(reps)])[: 100 + extra]
    take = np.arange(100 + extra) % n
    history = Responses.from_columns(labels[take], items[take], sub.correct[take], np.exp(sub.log_time[take]),
                                     order=order, topic=topics[take])
    query = Queries.from_columns([labels[0]], [items[0]], topic=[topics[0]], order=[order[-1] + 60.0])
    return history, query


def _median_ms(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print a summary, write JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.practice_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,250000")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--model", default="practice", choices=sorted(base.MODELS))
    parser.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/<model>_speed.json")
    args = parser.parse_args(argv)
    args.out = args.out or RESULTS / f"{args.model}_speed.json"
    base.create(args.model).fit(_data(3000, seed=99))  # compile or load the numba kernels
    out: dict[str, Any] = {"machine": f"{platform.machine()} python {platform.python_version()}",
                           "model": args.model, "targets": TARGETS, "fit": {}}
    model = None
    data = None
    for size in (int(s) for s in args.sizes.split(",")):
        data = _data(size, seed=size)
        start, cpu = time.perf_counter(), time.process_time()
        model = base.create(args.model).fit(data)
        out["fit"][str(len(data))] = {"wall_seconds": round(time.perf_counter() - start, 2),
                                      "cpu_seconds": round(time.process_time() - cpu, 2)}
        if isinstance(model, PracticeModel):
            out["fit"][str(len(data))].update(structure=model.structure_, dropped=model.dropped_)
        print(f"fit {len(data)} answers: {out['fit'][str(len(data))]}", flush=True)
    assert model is not None and data is not None
    histories = [_history(data, person=7, extra=k) for k in range(args.repeat + 1)]
    person = str(histories[0][1].person[0])
    step = iter(range(1, args.repeat + 1))
    out["update_ms"] = _median_ms(lambda: model.update_person(person, histories[next(step)][0]), args.repeat)
    query = histories[-1][1]
    model.predict(query)  # warm: the state of the last update is cached
    out["predict_warm_ms"] = _median_ms(lambda: model.predict(query), args.repeat)
    served = iter(range(args.repeat))
    fresh = [_history(data, person=11, extra=k) for k in range(args.repeat)]
    out["predict_cold_ms"] = _median_ms(lambda: model.predict(fresh[(i := next(served))][1], history=fresh[i][0]),
                                        args.repeat)
    out["history_answers"] = [100, 100 + args.repeat]
    print(json.dumps({k: out[k] for k in ("update_ms", "predict_warm_ms", "predict_cold_ms")}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
