"""Behaviour of the neural sequence models ("neural" = LSTM, "neural-attn" = attention): determinism, reading the
history at prediction time, cold-start sources, explanations, pickle-free round trips (also in a fresh process),
refusal of corrupted blobs, and that importing the registry never imports torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from studysmart.ml import base
from studysmart.ml.base import SOURCE_ITEM_PRIOR, SOURCE_MODEL, SOURCE_POPULATION_PRIOR, CorruptModel
from studysmart.ml.data import Queries, Responses
from studysmart.ml.neural.batches import build_batches
from studysmart.ml.neural.data import Seq, time_features
from studysmart.ml.synthetic import generate

REPO = Path(__file__).resolve().parents[2]
NAMES = ["neural", "neural-attn"]
FAST = {"epochs": 8, "hidden": 16, "dim": 8}


def _run(code: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=cwd, timeout=120, check=False)


def _data(seed: int = 1, n_persons: int = 120) -> Responses:
    return generate(n_persons=n_persons, n_items=20, n_topics=3, seed=seed).responses


@pytest.fixture(scope="module")
def population() -> Responses:
    """160 persons x 20 items; the models are fitted on the first 120 persons, the others are new students."""
    return _data(n_persons=160)


@pytest.fixture(scope="module")
def fitted(population: Responses) -> dict[str, base.Model]:
    train = population.subset(population.person < 120)
    return {name: base.create(name, **FAST).fit(train) for name in NAMES}


def _answers(person: str, items: list[str], correct: float, seconds: float, topic: str = "topic-1") -> Responses:
    n = len(items)
    return Responses.from_columns([person] * n, items, [correct] * n, [seconds] * n,
                                  order=1.8e9 + 60.0 * np.arange(n), topic=[topic] * n)


# -- imports ------------------------------------------------------------------------------------------------------
def test_registry_does_not_import_torch() -> None:
    result = _run("""
        import sys
        import studysmart.ml.base as base
        base.model_class("avg")
        print("torch" in sys.modules, "studysmart.ml.neural" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_neural_package_and_its_encoders_do_not_import_torch() -> None:
    result = _run("""
        import sys
        import studysmart.ml.neural
        import studysmart.ml.neural.batches
        import studysmart.ml.neural.data
        print("torch" in sys.modules, "studysmart.ml.neural.model" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_registry_serves_the_neural_classes_from_the_subpackage() -> None:
    from studysmart.ml.neural.model import NeuralAttention, NeuralLSTM

    assert base.model_class("neural") is NeuralLSTM
    assert base.model_class("neural-attn") is NeuralAttention


def test_web_app_does_not_import_torch(tmp_path: Path) -> None:
    result = _run("""
        import sys
        from studysmart.app import create_app
        import studysmart.learning.serving
        create_app()
        print("torch" in sys.modules)
    """, cwd=tmp_path)  # create_app may write its local files (queue, secret) into the working directory
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "False"


def test_missing_torch_gives_the_install_hint() -> None:
    result = _run("""
        import sys
        sys.modules["torch"] = None  # what an environment without torch looks like to `import torch`
        from studysmart.ml import base
        try:
            base.create("neural")
        except ImportError as exc:
            print(exc)
    """)
    assert result.returncode == 0, result.stderr
    assert "pip install torch==2.13.0" in result.stdout


# -- fitting ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_predictions(name: str) -> None:
    data = _data(seed=2, n_persons=60)
    queries = data.to_queries(np.arange(0, len(data), 7))
    first = base.create(name, **FAST, seed=3).fit(data).predict(queries)
    second = base.create(name, **FAST, seed=3).fit(data).predict(queries)
    other = base.create(name, **FAST, seed=4).fit(data).predict(queries)
    np.testing.assert_array_equal(first.p_correct, second.p_correct)
    np.testing.assert_array_equal(first.mean_log_time, second.mean_log_time)
    np.testing.assert_array_equal(first.sd_log_time, second.sd_log_time)
    assert not np.array_equal(first.p_correct, other.p_correct)


def test_fresh_app_gets_population_priors() -> None:
    model = base.create("neural").fit(Responses.empty())
    pred = model.predict(Queries.from_columns(["new"], ["algebra|hard"], ["algebra"], ["hard"]))
    assert pred.p_correct[0] == pytest.approx(0.7)
    assert pred.expected_seconds[0] == pytest.approx(60.0)
    assert pred.sd_log_time[0] == pytest.approx(1.0)
    assert list(pred.source) == [SOURCE_POPULATION_PRIOR]


def test_time_budget_and_progress() -> None:
    calls: list[tuple[int, int, str]] = []
    base.create("neural", **{**FAST, "patience": 100}).fit(_data(seed=3, n_persons=40),
                                                           progress=lambda *a: calls.append(a))
    assert [c[0] for c in calls] == list(range(1, FAST["epochs"] + 1))
    assert all(c[1] == FAST["epochs"] and "loss" in c[2] for c in calls)
    stopped = base.create("neural", **{**FAST, "max_seconds": 0.0}).fit(_data(seed=3, n_persons=40))
    assert stopped.report_.stopped == "time budget"  # type: ignore[attr-defined]
    pred = stopped.predict(Queries.from_columns(["p000"], ["i00"]))
    assert 0 < pred.p_correct[0] < 1 and np.isfinite(pred.mean_log_time[0])


def test_windows_make_every_response_a_target_once() -> None:
    n = 23
    seq = Seq(np.arange(1, n + 1), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.ones(n),
              np.full(n, 3.0), np.arange(n, dtype=float))
    batches = build_batches([(1, seq)], window=8, batch_size=4, valid_fraction=0.1, valid_split="last", seed=0,
                            mean_log_time=3.0, sd_log_time=1.0, timestamps=False)
    targets = np.concatenate([b.item[b.train | b.valid] for b in batches])
    assert sorted(targets.tolist()) == list(range(1, n + 1))
    valid = np.concatenate([b.item[b.valid] for b in batches])
    assert sorted(valid.tolist()) == [n - 2, n - 1, n]  # the last 10% (rounded up) of the responses
    assert max(b.item.shape[1] for b in batches) <= 8


def test_clock_features_only_for_timestamps() -> None:
    stamps = time_features(np.array([1.7e9 + 3600.0]), np.array([1.7e9]), timestamps=True)
    positions = time_features(np.array([5.0]), np.array([4.0]), timestamps=False)
    assert np.abs(stamps[0, 2:]).sum() > 0 and stamps[0, 0] == pytest.approx(np.log1p(3600) / 10)
    assert np.all(positions[0, 2:] == 0) and positions[0, 1] == 0


# -- the history at prediction time --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_history_moves_predictions_the_right_way(name: str, fitted: dict[str, base.Model]) -> None:
    model = fitted[name]
    items = [f"i{k:02d}" for k in range(10)]
    strong = _answers("newcomer", items, correct=1.0, seconds=15.0)
    weak = _answers("newcomer", items, correct=0.0, seconds=400.0)
    query = Queries.from_columns(["newcomer"], ["i15"])
    cold = model.predict(query)
    good, bad = model.predict(query, history=strong), model.predict(query, history=weak)
    assert good.p_correct[0] > bad.p_correct[0] + 0.1
    assert good.mean_log_time[0] < bad.mean_log_time[0] - 0.2
    assert list(cold.source) == [SOURCE_ITEM_PRIOR] and list(good.source) == [SOURCE_MODEL]
    assert model.predict(query).p_correct[0] == cold.p_correct[0]  # history= is for that call only
    model.update_person("newcomer", strong)  # stored: later calls use it without retraining
    assert model.predict(query).p_correct[0] == pytest.approx(good.p_correct[0])
    model.update_person("newcomer", Responses.empty())
    assert model.predict(query).p_correct[0] == pytest.approx(cold.p_correct[0])


def test_reading_the_history_beats_the_prior_on_later_answers(population: Responses,
                                                             fitted: dict[str, base.Model]) -> None:
    new = population.subset(population.person >= 120)
    assert new.order is not None
    rows = np.lexsort((new.order, new.person))
    position = np.empty(len(new), dtype=np.int64)
    position[rows] = np.arange(len(new)) % 20  # everyone answered all 20 items
    late = position >= 15  # each new student's last 5 answers, after 15 earlier ones
    test = new.subset(late)
    y = test.correct
    for model in fitted.values():
        with_history = model.predict(test.to_queries(), history=new.subset(~late))
        without = model.predict(test.to_queries())
        losses = [float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
                  for p in (with_history.p_correct, without.p_correct)]
        errors = [float(np.sqrt(np.mean((m - test.log_time) ** 2)))
                  for m in (with_history.mean_log_time, without.mean_log_time)]
        assert losses[0] < losses[1] - 0.02
        assert errors[0] < errors[1] - 0.05


# -- cold start ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_cold_start_sources_and_learned_priors(name: str, fitted: dict[str, base.Model]) -> None:
    model = fitted[name]
    queries = Queries.from_columns(
        ["p000", "stranger", "stranger", "stranger", "stranger", "p000"],
        ["i00", "i00", "brand-new", "brand-new", "brand-new", "brand-new"],
        [None, None, "topic-1", "topic-2", None, "topic-1"],
    )
    pred = model.predict(queries)
    assert list(pred.source) == [SOURCE_MODEL, SOURCE_ITEM_PRIOR, SOURCE_ITEM_PRIOR, SOURCE_ITEM_PRIOR,
                                 SOURCE_POPULATION_PRIOR, SOURCE_MODEL]
    assert pred.p_correct[2] != pred.p_correct[3]  # unknown items are priced from their topic
    assert pred.p_correct[0] != pred.p_correct[1]  # the person's history matters
    unknown_items = model.predict(Queries.from_columns(["stranger"] * 3, ["i00", "i01", "i02"]))
    assert len(set(unknown_items.p_correct.round(6))) == 3  # item priors, not one constant
    assert np.all(pred.sd_log_time > 0) and np.all((pred.p_correct > 0) & (pred.p_correct < 1))


# -- explanations -------------------------------------------------------------------------------------------------
def test_explanations_name_the_history(fitted: dict[str, base.Model]) -> None:
    history = _answers("reader", [f"i{k:02d}" for k in range(6)], correct=1.0, seconds=20.0, topic="topic-1")
    for name, model in fitted.items():
        why = model.explain("reader", "i07", history=history)  # type: ignore[attr-defined]
        assert why.sentence.startswith("Based on your 6 answers (6 correct)")
        assert why.n_answers == 6 and why.n_correct == 6
        assert why.p_correct > why.p_correct_prior
        if name == "neural-attn":
            assert why.weights and all(0 <= w <= 1 for _, _, w in why.weights)
            assert "mostly" in why.sentence
        new = model.explain("nobody", "i07")  # type: ignore[attr-defined]
        assert new.sentence.startswith("No answers from you yet") and new.source == SOURCE_ITEM_PRIOR


# -- serialisation ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_round_trip_in_a_fresh_process(name: str, fitted: dict[str, base.Model], tmp_path: Path) -> None:
    model = fitted[name]
    model.update_person("late-joiner", _answers("late-joiner", ["i01", "i02"], 1.0, 30.0))
    blob = tmp_path / "model.bin"
    blob.write_bytes(model.to_bytes())
    queries = Queries.from_columns(["p001", "p002", "late-joiner", "stranger"], ["i03", "new", "i04", "i05"],
                                   ["topic-1", "topic-2", None, None])
    expected = model.predict(queries)
    result = _run(f"""
        import numpy as np
        from studysmart.ml import base
        from studysmart.ml.data import Queries
        model = base.load({name!r}, open({str(blob)!r}, "rb").read())
        q = Queries.from_columns(["p001", "p002", "late-joiner", "stranger"], ["i03", "new", "i04", "i05"],
                                 ["topic-1", "topic-2", None, None])
        p = model.predict(q)
        np.save({str(tmp_path / "p.npy")!r}, np.stack([p.p_correct, p.mean_log_time, p.sd_log_time]))
        print(" ".join(p.source))
    """)
    assert result.returncode == 0, result.stderr
    got = np.load(tmp_path / "p.npy")
    np.testing.assert_array_equal(got, np.stack([expected.p_correct, expected.mean_log_time, expected.sd_log_time]))
    assert result.stdout.split() == list(expected.source)


def test_corrupted_truncated_or_foreign_blobs_are_refused(fitted: dict[str, base.Model]) -> None:
    blob = fitted["neural"].to_bytes()
    with pytest.raises(CorruptModel, match="cannot read"):
        base.load("neural", blob[: len(blob) // 2])
    for where in (0.3, 0.5, 0.8):
        damaged = bytearray(blob)
        position = int(len(blob) * where)
        damaged[position:position + 8] = bytes(b ^ 0xFF for b in damaged[position:position + 8])
        with pytest.raises(CorruptModel):
            base.load("neural", bytes(damaged))
    with pytest.raises(CorruptModel, match="neural-attn"):
        base.load("neural-attn", blob)
    with pytest.raises(CorruptModel):
        base.load("neural", b"not a model at all")
    with pytest.raises(CorruptModel):
        base.load("neural", base.create("avg").fit(_data(n_persons=10)).to_bytes())
