"""``studysmart evaluate``: fit registered models on a training split of a long CSV file and report held-out
metrics as a table (and optionally JSON).

Usage::

    studysmart evaluate --data data.csv --models avg,shrinkage,lnirt
                        [--split random|temporal | --heldout CELLS] [--order COLUMN] [--seed N]
                        [--iterations N] [--json OUT]

Bad input (a data file that cannot be read, an unknown model or split) prints one line to stderr and exits 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["evaluate", "print_table", "report"]

_HELP = {
    "data": "Long CSV file (person,item,correct,seconds[,...]); .gz is fine.",
    "models": "Comma-separated registered model names, e.g. avg,shrinkage,lnirt.",
    "heldout": "CSV of person,item cells to hold out (instead of --split).",
    "split": "random (10% of cells) or temporal (last 20% of each person). Default: random.",
    "order": "Order column (default: the first present of timestamp, order, position, time_point).",
    "seed": "Seed of the random split.",
    "iterations": "Gibbs iterations of lnirt-gibbs.",
    "json": "Also write the results as JSON to this file.",
}
_DIGITS = {"mae_seconds": 2, "fit_seconds": 2, "predict_us_per_row": 2}


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def report(*, data: str, split: str, n_train: int, n_test: int, models: dict[str, dict[str, float]],
           ) -> dict[str, Any]:
    """The JSON document of one evaluation (non-finite numbers become null).

    Returns:
        {"data", "split", "n_train", "n_test", "models": {name: {metric: value}}}.
    """
    return {
        "data": data,
        "split": split,
        "n_train": n_train,
        "n_test": n_test,
        "models": {name: {k: _finite(v) for k, v in result.items()} for name, result in models.items()},
    }


def print_table(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from studysmart.ml.metrics import METRICS

    sizes = f"{doc['n_train']} train / {doc['n_test']} test rows"
    table = Table(title=f"{doc['data']} - {doc['split']} split: {sizes}")
    table.add_column("metric")
    for name in doc["models"]:
        table.add_column(name, justify="right")
    for metric in (*METRICS, "fit_seconds", "predict_us_per_row"):
        cells = []
        for result in doc["models"].values():
            value = result.get(metric)
            cells.append("-" if value is None else f"{value:.{_DIGITS.get(metric, 4)}f}")
        table.add_row(metric, *cells)
    Console(width=max(100, 16 + 14 * len(doc["models"]))).print(table)


def evaluate(
    data: Annotated[Path, typer.Option("--data", help=_HELP["data"])],
    models: Annotated[str, typer.Option("--models", help=_HELP["models"])],
    heldout: Annotated[Path | None, typer.Option("--heldout", help=_HELP["heldout"])] = None,
    split: Annotated[str | None, typer.Option("--split", help=_HELP["split"])] = None,
    order: Annotated[str | None, typer.Option("--order", help=_HELP["order"])] = None,
    seed: Annotated[int, typer.Option("--seed", help=_HELP["seed"])] = 0,
    iterations: Annotated[int | None, typer.Option("--iterations", min=1, help=_HELP["iterations"])] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help=_HELP["json"])] = None,
) -> None:
    """Fit each model on the training split and report held-out accuracy and time metrics."""
    from studysmart.ml import base
    from studysmart.ml.data import DataError, read_cells, read_responses
    from studysmart.ml.evaluate import evaluate_models, split_heldout, split_random, split_temporal

    if heldout is not None and split is not None:
        raise _fail("give either --heldout or --split, not both")
    split_name = "heldout" if heldout is not None else (split or "random")
    if split_name not in ("heldout", "random", "temporal"):
        raise _fail(f"unknown split {split_name!r}; use random or temporal (or --heldout CELLS.csv)")
    names = [name.strip() for name in models.split(",") if name.strip()]
    if not names:
        raise _fail("--models names no model")
    for name in names:
        try:
            base.model_class(name)
        except base.UnknownModel as exc:
            raise _fail(str(exc.args[0])) from None
        except (ImportError, AttributeError) as exc:
            raise _fail(f"model {name!r} is not available: {exc}") from None
    params: dict[str, dict[str, Any]] = {}
    if iterations is not None:
        params["lnirt-gibbs"] = {"iterations": iterations}
    try:
        responses = read_responses(data, order=order)
        if heldout is not None:
            chosen = split_heldout(responses, *read_cells(heldout))
        elif split_name == "temporal":
            chosen = split_temporal(responses)
        else:
            chosen = split_random(responses, seed=seed)
    except DataError as exc:
        raise _fail(str(exc)) from None

    def said(name: str, result: dict[str, float]) -> None:
        typer.echo(f"{name}: fitted in {result['fit_seconds']:.2f} s", err=True)

    results = evaluate_models(names, chosen, params=params, on_result=said)
    doc = report(data=str(data), split=split_name, n_train=len(chosen.train), n_test=len(chosen.test),
                 models=results)
    print_table(doc)
    if json_out is not None:
        try:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {json_out}: {exc.strerror or exc}") from None
