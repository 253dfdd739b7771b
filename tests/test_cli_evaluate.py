"""``studysmart evaluate`` through Typer's test runner on a tiny app: JSON shape, splits, and bad input giving
exit code 2 with one line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from studysmart.commands.evaluate import evaluate
from studysmart.ml.metrics import METRICS

app = typer.Typer()
app.command("evaluate")(evaluate)


@app.callback()
def main() -> None:
    """A test app with one subcommand."""


runner = CliRunner()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    lines = ["person,item,correct,seconds,position"]
    for person in range(40):
        ability = rng.normal()
        for item in range(12):
            correct = int(rng.random() < 1 / (1 + np.exp(-(ability - item / 6 + 1))))
            lines.append(f"s{person},q{item},{correct},{np.exp(rng.normal(3 + item / 10, 0.4)):.1f},{item}")
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["evaluate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_has_exactly_the_documented_shape(data_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "result.json"
    code, stdout, _ = run("--data", str(data_file), "--split", "temporal", "--models", "avg,shrinkage",
                          "--json", str(out))
    assert code == 0, stdout
    assert "shrinkage" in stdout and "rmse_log_time" in stdout  # the table
    doc = json.loads(out.read_text())
    assert set(doc) == {"data", "split", "mode", "n_train", "n_test", "models"}
    assert doc["split"] == "temporal" and doc["n_train"] + doc["n_test"] == 480
    assert doc["mode"] == "online"  # the default
    assert doc["n_test"] == 40 * 2  # round(20% of 12) = 2 per person
    assert list(doc["models"]) == ["avg", "shrinkage"]
    for result in doc["models"].values():
        assert set(result) == {*METRICS, "fit_seconds", "predict_us_per_row"}
    assert doc["models"]["shrinkage"]["rmse_log_time"] < doc["models"]["avg"]["rmse_log_time"]


def test_heldout_cells(data_file: Path, tmp_path: Path) -> None:
    cells = tmp_path / "cells.csv"
    cells.write_text("person,item\ns1,q3\ns2,q4\ns3,q5\n")
    out = tmp_path / "r.json"
    code, stdout, _ = run("--data", str(data_file), "--heldout", str(cells), "--models", "item-means",
                          "--json", str(out))
    assert code == 0, stdout
    doc = json.loads(out.read_text())
    assert (doc["split"], doc["n_test"], doc["n_train"]) == ("heldout", 3, 477)


def test_frozen_mode_and_auto(data_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", "shrinkage,item-means,avg")
    out = tmp_path / "auto.json"
    code, stdout, _ = run("--data", str(data_file), "--split", "temporal", "--models", "auto,shrinkage",
                          "--mode", "frozen", "--json", str(out))
    assert code == 0, stdout
    doc = json.loads(out.read_text())
    assert doc["mode"] == "frozen"
    auto = doc["models"]["auto"]
    assert auto["chosen"] == "shrinkage"  # the only servable model among those the pipeline fits
    assert auto["log_loss"] == doc["models"]["shrinkage"]["log_loss"]  # the same model, fitted on the same rows
    assert "auto (shrinkage)" in stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "sideways", "--models", "avg"], "unknown split 'sideways'"),
        (["--models", "avg,nonsense"], "unknown model 'nonsense'"),
        (["--split", "random", "--heldout", "x.csv", "--models", "avg"], "either --heldout or --split"),
        (["--split", "temporal", "--order", "nope", "--models", "avg"], "missing column 'nope'"),
        (["--split", "temporal", "--models", "avg", "--mode", "later"], "unknown mode 'later'"),
    ],
)
def test_bad_options_exit_2_with_one_line(data_file: Path, args: list[str], message: str) -> None:
    code, _, stderr = run("--data", str(data_file), *args)
    assert code == 2
    assert stderr.count("\n") == 1 and message in stderr and "Traceback" not in stderr


def test_bad_data_file_exits_2_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("person,item,correct,seconds\na,1,1,10\na,2,maybe,10\n")
    code, _, stderr = run("--data", str(bad), "--models", "avg")
    assert code == 2 and stderr.strip() == f"error: {bad}:3: correct is not a number: 'maybe'"
    code, _, stderr = run("--data", str(tmp_path / "missing.csv"), "--models", "avg")
    assert code == 2 and stderr.count("\n") == 1 and "cannot read" in stderr


def test_the_pipeline_scores_its_candidates_as_served(data_file: Path) -> None:
    """The worker chooses the serving model by the online scores of its hold-out (each answer predicted from
    the student's earlier ones), not by predictions made without the student's later answers."""
    from studysmart.core.config import Settings
    from studysmart.learning.trainer import fit_candidate, holdout_split
    from studysmart.ml.data import read_responses
    from studysmart.ml.evaluate import online_metrics, score_model

    data = read_responses(data_file)
    split = holdout_split(data)
    candidate = fit_candidate("shrinkage", split, data, Settings(_env_file=None))  # type: ignore[call-arg]
    assert candidate.evaluated is not None
    online = online_metrics(candidate.evaluated, split)
    frozen = score_model(candidate.evaluated, split, mode="frozen")
    assert candidate.metrics["log_loss"] == online["log_loss"] != frozen["log_loss"]
