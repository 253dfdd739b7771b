"""Smoke runs of the history, throughput and planning benchmarks (tiny sizes: they check the benchmark works,
not speed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from benchmarks import history, planning, throughput
from benchmarks.run_all import BENCHMARKS


def test_run_all_lists_history_and_throughput() -> None:
    for name in ("history", "throughput"):
        assert name in BENCHMARKS
        assert importlib.util.find_spec(f"benchmarks.{name}") is not None


@pytest.mark.slow
def test_history_reports_each_length(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "RESULTS", tmp_path / "results")
    out = tmp_path / "history.json"
    summary = history.run(histories=[10, 60], others=300, requests=3, runs=1, models="shrinkage", out=out)
    assert json.loads(out.read_text()) == summary
    assert set(summary) == {"10", "60"}
    for figures in summary.values():
        assert figures["create_p50_ms"] > 0 and figures["preview_p50_ms"] > 0
        assert figures["create_p95_ms"] >= figures["create_p50_ms"] and figures["n"] == 3
    assert summary["10"]["create_p50_ratio"] == 1.0
    assert (tmp_path / "results" / "history.json").exists()


@pytest.mark.slow
def test_throughput_reports_rps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throughput, "RESULTS", tmp_path / "results")
    monkeypatch.setenv("STUDYSMART_TRAINING_MODELS", "shrinkage")  # the demo's first training, kept short
    out = tmp_path / "throughput.json"
    summary = throughput.run(clients=2, duration=1.0, runs=1, out=out)
    assert json.loads(out.read_text()) == summary
    assert summary["rps"] > 0 and summary["requests"] > 0 and summary["errors"] == 0
    assert summary["p95_ms"] >= summary["p50_ms"] > 0


def test_planning_takes_a_productive_band(tmp_path: Path) -> None:
    # a band far from the default (0.3-0.9 plans this seed as the default does since the planner reads the
    # population's gains per difficulty)
    wide = planning.one_seed(0, 14, 4, band=(0.1, 0.3))
    default = planning.one_seed(0, 14, 4)
    assert set(wide) == set(default) == set(planning.STRATEGIES)
    assert wide["plan"] != default["plan"]  # the band reaches the planner
    with pytest.raises(SystemExit) as refused:
        planning.main(["--band", "0.9,0.3", "--json", str(tmp_path / "p.json")])
    assert refused.value.code == 2


def test_readiness_widens_a_topic_the_student_has_not_answered_by_the_models_topic_spread() -> None:
    """An exam topic with no known answer gets the model's whole student x topic sd; a practised one less; a
    model without a topic spread none (its interval is the shared ability's alone)."""
    import numpy as np
    from benchmarks import readiness

    from studysmart.ml.data import Responses

    data = Responses.from_columns(["s"] * 6, ["i1", "i2", "i3", "i4", "i5", "i6"], [1, 0, 1, 1, 0, 1],
                                  [30.0] * 6, order=list(range(6)), topic=["a", "a", "a", "a", "b", "a"])
    known, exam = np.arange(4), np.array([4, 5])

    class Spreads:
        def topic_variance(self) -> float:
            return 0.25

    cell, row_group = readiness.topic_spread(Spreads(), data, known, exam, np.full(4, 0.5))  # type: ignore[arg-type]
    by_row = cell[row_group]
    assert by_row[0] == pytest.approx(0.5)  # topic b: no answer, the prior sd sqrt(0.25)
    assert by_row[1] == pytest.approx(1 / np.sqrt(4 + 4 * 0.25))  # topic a: 4 answers at P 0.5
    none, _ = readiness.topic_spread(object(), data, known, exam, np.full(4, 0.5))  # type: ignore[arg-type]
    assert none.size == 0
    rng = np.random.default_rng(0)
    shared = readiness._draws(np.full(2, 0.5), readiness.Spread(0.0, none, row_group), rng)
    wide = readiness._draws(np.full(2, 0.5), readiness.Spread(0.0, np.array([3.0, 3.0]), row_group), rng)
    assert np.std(wide) > np.std(shared)
