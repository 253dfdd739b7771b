"""``studysmart evaluate``: fit registered models on a training split of a long CSV file and report held-out
metrics as a table (and optionally JSON).

Usage::

    studysmart evaluate --data data.csv --models avg,shrinkage,lnirt|auto
                        [--split random|temporal | --heldout CELLS] [--order COLUMN] [--seed N]
                        [--mode online|frozen] [--iterations N] [--json OUT]

``--mode online`` (the default) predicts each test row from the person's earlier answers through the call the
app serves with (``ml.evaluate``); ``frozen`` predicts every test row from the fitted state at once.
``auto`` runs the training pipeline's own choice of model on the training rows (as the worker does) and reports
the chosen model's metrics under "auto", with "chosen": its name.

Bad input (a data file that cannot be read, an unknown model or split) prints one line to stderr and exits 2.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from studysmart.core.config import Settings
    from studysmart.ml.evaluate import Split

__all__ = ["AUTO", "evaluate", "evaluate_auto", "print_table", "report"]

_HELP = {
    "data": "Long CSV file (person,item,correct,seconds[,...]); .gz is fine.",
    "models": "Comma-separated registered model names, e.g. avg,shrinkage,lnirt; auto = the training "
              "pipeline's choice.",
    "heldout": "CSV of person,item cells to hold out (instead of --split).",
    "split": "random (10% of cells) or temporal (last 20% of each person). Default: random.",
    "order": "Order column (default: the first present of timestamp, order, position, time_point).",
    "seed": "Seed of the random split.",
    "iterations": "Gibbs iterations of lnirt-gibbs.",
    "mode": "online (default: each test row from the person's earlier answers, as served) or frozen.",
    "json": "Also write the results as JSON to this file.",
}
_DIGITS = {"mae_seconds": 2, "fit_seconds": 2, "predict_us_per_row": 2}
AUTO = "auto"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _finite(value: Any) -> Any:
    if isinstance(value, str):  # "chosen" of auto
        return value
    return None if value is None or not math.isfinite(value) else float(value)


def report(*, data: str, split: str, n_train: int, n_test: int, models: dict[str, dict[str, Any]],
           mode: str = "online") -> dict[str, Any]:
    """The JSON document of one evaluation (non-finite numbers become null).

    Returns:
        {"data", "split", "mode", "n_train", "n_test", "models": {name: {metric: value}}}; the "auto" entry
        also has "chosen": the model the training pipeline chose.
    """
    return {
        "data": data,
        "split": split,
        "mode": mode,
        "n_train": n_train,
        "n_test": n_test,
        "models": {name: {k: _finite(v) for k, v in result.items()} for name, result in models.items()},
    }


def evaluate_auto(split: Split, *, mode: str = "online", settings: Settings | None = None,
                  ) -> dict[str, Any]:
    """The training pipeline's own choice on ``split.train``, scored on ``split.test``.

    As the worker does (``training.pipeline``): the models worth fitting on this many answers, each fitted on
    the training part of a per-person temporal hold-out of ``split.train`` and scored on its hold-out, the
    serving model chosen from those scores, and that model refitted on all of ``split.train``. Training rows
    without an order (cross-sectional data) are held out as random cells instead (the app always has an
    order). Nothing of ``split.test`` is seen before it is scored.

    Returns:
        the chosen model's metrics (``ml.evaluate.score_model``), fit_seconds (the whole choice: every
        candidate's two fits), and "chosen": its name.
    """
    from studysmart.core.config import Settings
    from studysmart.learning.trainer import choose_serving, fit_candidates, holdout_split, models_to_train
    from studysmart.ml.evaluate import score_model, split_random

    settings = settings or Settings()
    train = split.train
    start = time.perf_counter()
    inner = holdout_split(train) if train.order is not None else split_random(train, fraction=0.2)
    failures: dict[str, dict[str, Any]] = {}
    candidates = fit_candidates(models_to_train(settings, len(train)), inner, train, settings, 0, failures)
    if failures:
        raise RuntimeError("the training pipeline could not fit: " + "; ".join(
            f"{name} ({info['stage']}): {info['error']}" for name, info in failures.items()))
    chosen = choose_serving(candidates)
    if chosen is None:
        raise RuntimeError("the training pipeline chose no model (no servable candidate was scored)")
    fit_seconds = time.perf_counter() - start
    model = next(cand.model for cand in candidates if cand.name == chosen)
    result: dict[str, Any] = score_model(model, split, mode=mode)
    result["fit_seconds"] = fit_seconds
    result["chosen"] = chosen
    return result


def print_table(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from studysmart.ml.metrics import METRICS

    sizes = f"{doc['n_train']} train / {doc['n_test']} test rows"
    table = Table(title=f"{doc['data']} - {doc['split']} split, {doc.get('mode', 'frozen')}: {sizes}")
    table.add_column("metric")
    for name, result in doc["models"].items():
        table.add_column(f"{name} ({result['chosen']})" if "chosen" in result else name, justify="right")
    for metric in (*METRICS, "fit_seconds", "predict_us_per_row"):
        cells = []
        for result in doc["models"].values():
            value = result.get(metric)
            cells.append("-" if value is None else f"{value:.{_DIGITS.get(metric, 4)}f}")
        table.add_row(metric, *cells)
    Console(width=max(100, 16 + 14 * len(doc["models"]))).print(table)


def evaluate(  # noqa: PLR0912, PLR0915 - a CLI command: one check per option, then one branch per model
    data: Annotated[Path, typer.Option("--data", help=_HELP["data"])],
    models: Annotated[str, typer.Option("--models", help=_HELP["models"])],
    heldout: Annotated[Path | None, typer.Option("--heldout", help=_HELP["heldout"])] = None,
    split: Annotated[str | None, typer.Option("--split", help=_HELP["split"])] = None,
    order: Annotated[str | None, typer.Option("--order", help=_HELP["order"])] = None,
    seed: Annotated[int, typer.Option("--seed", help=_HELP["seed"])] = 0,
    iterations: Annotated[int | None, typer.Option("--iterations", min=1, help=_HELP["iterations"])] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help=_HELP["json"])] = None,
    mode: Annotated[str, typer.Option("--mode", help=_HELP["mode"])] = "online",
) -> None:
    """Fit each model on the training split and report held-out accuracy and time metrics."""
    from studysmart.learning import registry
    from studysmart.ml import base
    from studysmart.ml.data import DataError, read_cells, read_responses
    from studysmart.ml.evaluate import MODES, evaluate_model, split_heldout, split_random, split_temporal

    if heldout is not None and split is not None:
        raise _fail("give either --heldout or --split, not both")
    split_name = "heldout" if heldout is not None else (split or "random")
    if split_name not in ("heldout", "random", "temporal"):
        raise _fail(f"unknown split {split_name!r}; use random or temporal (or --heldout CELLS.csv)")
    if mode not in MODES:
        raise _fail(f"unknown mode {mode!r}; use online or frozen")
    names = [name.strip() for name in models.split(",") if name.strip()]
    if not names:
        raise _fail("--models names no model")
    for name in names:
        if name == AUTO:
            continue
        try:
            base.model_class(name)
        except base.UnknownModel as exc:
            raise _fail(str(exc.args[0])) from None
        except (ImportError, AttributeError) as exc:
            raise _fail(f"model {name!r} is not available: {exc}") from None
    params: dict[str, dict[str, Any]] = {}
    if iterations is not None:
        params.update({spec.name: {"iterations": iterations} for spec in registry.SPECS if spec.sampler})
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

    results: dict[str, dict[str, Any]] = {}
    for name in names:
        if name == AUTO:
            results[name] = evaluate_auto(chosen, mode=mode)
            typer.echo(f"auto: chose {results[name]['chosen']} in {results[name]['fit_seconds']:.2f} s", err=True)
        else:
            results[name] = evaluate_model(name, chosen, params=params.get(name), mode=mode)
            said(name, results[name])
    doc = report(data=str(data), split=split_name, n_train=len(chosen.train), n_test=len(chosen.test),
                 models=results, mode=mode)
    print_table(doc)
    if json_out is not None:
        try:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        except OSError as exc:
            raise _fail(f"cannot write {json_out}: {exc.strerror or exc}") from None
