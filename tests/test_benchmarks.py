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
    wide = planning.one_seed(0, 14, 4, band=(0.1, 0.3))
    default = planning.one_seed(0, 14, 4)
    assert set(wide) == set(default) == set(planning.STRATEGIES)
    assert wide["plan"] != default["plan"]  # the band reaches the planner
    with pytest.raises(SystemExit) as refused:
        planning.main(["--band", "0.9,0.3", "--json", str(tmp_path / "p.json")])
    assert refused.value.code == 2
