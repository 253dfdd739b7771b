"""Behaviour of the baseline models: cold start, sources, the online update, round trips, and that each model
beats the global average on small synthetic data where its structure matters."""

from __future__ import annotations

import numpy as np
import pytest

from studysmart.ml import base
from studysmart.ml.base import SOURCE_ITEM_PRIOR, SOURCE_MODEL, SOURCE_POPULATION_PRIOR, CorruptModel
from studysmart.ml.data import Queries, Responses

BASELINES = ["avg", "item-means", "person-median", "shrinkage", "irt2pl"]


def simulate(n_persons: int = 150, n_items: int = 30, density: float = 0.5, seed: int = 0,
             features: bool = True, speed_sd: float = 0.4, item_time_sd: float = 0.5) -> Responses:
    """Responses from a small joint model: logistic accuracy (ability - difficulty), log-time = item time -
    person speed + noise; items carry topic t0..t2 and difficulty easy/medium/hard when ``features``."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(0, 1.0, n_persons)
    speed = rng.normal(0, speed_sd, n_persons)
    difficulty = rng.normal(-0.5, 1.0, n_items)
    item_time = rng.normal(3.6, item_time_sd, n_items)
    cells = np.argwhere(rng.random((n_persons, n_items)) < density)
    p, i = cells[:, 0], cells[:, 1]
    correct = (rng.random(p.size) < 1 / (1 + np.exp(-(ability[p] - difficulty[i])))).astype(float)
    log_time = item_time[i] - speed[p] + rng.normal(0, 0.35, p.size)
    level = np.digitize(difficulty, [-1.0, 0.0])
    topic = [f"t{k % 3}" for k in i] if features else None
    diff = [("easy", "medium", "hard")[level[k]] for k in i] if features else None
    persons, items = [f"p{k:03d}" for k in p], [f"i{k:02d}" for k in i]
    return Responses.from_columns(persons, items, correct, np.exp(log_time),
                                  order=np.arange(p.size, dtype=float), topic=topic, difficulty=diff)


def split(data: Responses, seed: int = 1) -> tuple[Responses, Responses]:
    """A random 20% test split of the rows."""
    test = np.random.default_rng(seed).random(len(data)) < 0.2
    return data.subset(~test), data.subset(test)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


# -- every baseline ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BASELINES)
def test_fresh_app_gets_population_priors(name: str) -> None:
    model = base.create(name).fit(Responses.empty())
    pred = model.predict(Queries.from_columns(["new"], ["algebra|hard"], ["algebra"], ["hard"]))
    assert pred.p_correct[0] == pytest.approx(0.7)
    assert pred.expected_seconds[0] == pytest.approx(60.0)
    assert pred.sd_log_time[0] == pytest.approx(1.0)
    assert list(pred.source) == [SOURCE_POPULATION_PRIOR]


@pytest.mark.parametrize("name", BASELINES)
def test_round_trip_predicts_identically(name: str) -> None:
    train, test = split(simulate(seed=3))
    model = base.create(name).fit(train)
    again = base.load(name, model.to_bytes())
    a, b = model.predict(test.to_queries()), again.predict(test.to_queries())
    np.testing.assert_allclose(a.p_correct, b.p_correct)
    np.testing.assert_allclose(a.mean_log_time, b.mean_log_time)
    np.testing.assert_allclose(a.sd_log_time, b.sd_log_time)
    assert list(a.source) == list(b.source)


@pytest.mark.parametrize("name", BASELINES)
def test_foreign_or_broken_blob_is_refused(name: str) -> None:
    blob = base.create(name).fit(simulate(n_persons=20, seed=4)).to_bytes()
    other = "shrinkage" if name != "shrinkage" else "avg"
    with pytest.raises(CorruptModel):
        base.load(other, blob)
    with pytest.raises(CorruptModel):
        base.load(name, blob[: len(blob) // 2])


@pytest.mark.parametrize("name", BASELINES)
def test_predictions_are_valid_and_sources_follow_what_is_known(name: str) -> None:
    model = base.create(name).fit(simulate(seed=5))
    queries = Queries.from_columns(["p001", "stranger", "p001"], ["i01", "i01", "never-seen"])
    pred = model.predict(queries)
    assert np.all((pred.p_correct > 0) & (pred.p_correct < 1))
    assert np.all(np.isfinite(pred.mean_log_time)) and np.all(pred.sd_log_time > 0)
    assert pred.source[2] == SOURCE_POPULATION_PRIOR
    assert pred.source[1] in (SOURCE_ITEM_PRIOR, SOURCE_POPULATION_PRIOR)
    if name in ("person-median", "shrinkage", "irt2pl"):
        assert list(pred.source[:2]) == [SOURCE_MODEL, SOURCE_ITEM_PRIOR]


# -- shrinkage --------------------------------------------------------------------------------------------
def app_history() -> Responses:
    """A small app: three students, items labelled topic|difficulty."""
    rows = []
    for name, skill, pace in (("ann", 0.95, 20.0), ("bob", 0.3, 200.0), ("cy", 0.7, 60.0)):
        for k in range(12):
            t, d = ("algebra", "hard") if k % 2 else ("geometry", "easy")
            rows.append((name, f"{t}|{d}", float(k / 12 < skill), pace * (1.1 if k % 3 else 0.9), t, d))
    person, item, correct, seconds, topic, diff = map(list, zip(*rows, strict=True))
    return Responses.from_columns(person, item, correct, seconds, topic=topic, difficulty=diff)


def test_shrinkage_sources_for_the_app() -> None:
    model = base.create("shrinkage").fit(app_history())
    queries = Queries.from_columns(["ann", "dan", "ann", "dan"],
                                   ["algebra|hard", "algebra|hard", "chemistry|easy", "chemistry|easy"],
                                   ["algebra", "algebra", "chemistry", "chemistry"],
                                   ["hard", "hard", "easy", "easy"])
    pred = model.predict(queries)
    assert list(pred.source) == [SOURCE_MODEL, SOURCE_ITEM_PRIOR, SOURCE_POPULATION_PRIOR,
                                 SOURCE_POPULATION_PRIOR]
    # the fast, able student is predicted faster and more accurate than an unknown student on the same task
    assert pred.p_correct[0] > pred.p_correct[1]
    assert pred.expected_seconds[0] < pred.expected_seconds[1]
    low, high = pred.seconds_interval()
    assert low[0] < pred.expected_seconds[0] < high[0]


def test_shrinkage_history_is_used_for_one_call_and_update_person_keeps_it() -> None:
    model = base.create("shrinkage").fit(app_history())
    query = Queries.from_columns(["dan"], ["algebra|hard"], ["algebra"], ["hard"])
    before = model.predict(query)
    slow = Responses.from_columns(["dan"] * 4, ["algebra|hard"] * 4, [0, 0, 0, 1], [400, 500, 450, 420],
                                  topic=["algebra"] * 4, difficulty=["hard"] * 4)
    with_history = model.predict(query, history=slow)
    assert with_history.source[0] == SOURCE_MODEL
    assert with_history.expected_seconds[0] > before.expected_seconds[0]
    assert with_history.p_correct[0] < before.p_correct[0]
    assert model.predict(query).source[0] == SOURCE_ITEM_PRIOR  # the call did not change the model
    model.update_person("dan", slow)
    after = model.predict(query)
    assert after.expected_seconds[0] == pytest.approx(with_history.expected_seconds[0])
    assert after.source[0] == SOURCE_MODEL


def test_shrinkage_update_person_equals_a_fresh_history_even_when_it_shrinks() -> None:
    model = base.create("shrinkage").fit(app_history())
    topics = {"algebra|hard": ("algebra", "hard"), "geometry|easy": ("geometry", "easy")}

    def history(items: list[str]) -> Responses:
        return Responses.from_columns(["ann"] * len(items), items, [1, 0, 1, 0][: len(items)],
                                      [30, 300, 40, 200][: len(items)], topic=[topics[i][0] for i in items],
                                      difficulty=[topics[i][1] for i in items])

    query = Queries.from_columns(["ann", "ann"], list(topics), [t for t, _ in topics.values()],
                                 [d for _, d in topics.values()])
    model.update_person("ann", history(["algebra|hard", "geometry|easy", "algebra|hard", "geometry|easy"]))
    smaller = history(["algebra|hard", "algebra|hard"])
    model.update_person("ann", smaller)  # geometry is no longer in ann's history: its cell must not linger
    fresh = base.create("shrinkage").fit(app_history()).predict(query, history=smaller)
    updated = model.predict(query)
    np.testing.assert_allclose(updated.mean_log_time, fresh.mean_log_time)
    np.testing.assert_allclose(updated.p_correct, fresh.p_correct)
    again = base.load("shrinkage", model.to_bytes()).predict(query)
    np.testing.assert_allclose(again.sd_log_time, fresh.sd_log_time)


def test_shrinkage_without_features_uses_items_as_groups() -> None:
    train, _ = split(simulate(features=False, seed=6))
    model = base.create("shrinkage").fit(train)
    pred = model.predict(Queries.from_columns(["stranger"], ["i03"]))
    items = train.item == np.flatnonzero(train.items == "i03")[0]
    assert pred.source[0] == SOURCE_ITEM_PRIOR
    assert pred.mean_log_time[0] == pytest.approx(np.nanmean(train.log_time[items]), abs=0.15)


@pytest.mark.parametrize("name", ["item-means", "person-median", "shrinkage", "irt2pl"])
def test_structured_models_beat_the_global_average(name: str) -> None:
    train, test = split(simulate(seed=7))
    queries = test.to_queries()
    avg = base.create("avg").fit(train).predict(queries)
    pred = base.create(name).fit(train).predict(queries)
    assert log_loss(pred.p_correct, test.correct) < log_loss(avg.p_correct, test.correct) - 0.02
    assert rmse(pred.mean_log_time, test.log_time) < rmse(avg.mean_log_time, test.log_time) - 0.05
    if name == "shrinkage":  # it uses the person's speed as well
        item = base.create("item-means").fit(train).predict(queries)
        assert rmse(pred.mean_log_time, test.log_time) < rmse(item.mean_log_time, test.log_time) - 0.05
    if name == "irt2pl":  # abilities matter in this data: 2PL beats item means on accuracy
        item = base.create("item-means").fit(train).predict(queries)
        assert log_loss(pred.p_correct, test.correct) < log_loss(item.p_correct, test.correct) - 0.02


def test_person_median_wins_when_persons_differ_more_than_items() -> None:
    train, test = split(simulate(seed=8, speed_sd=1.0, item_time_sd=0.1))
    queries = test.to_queries()
    item = base.create("item-means").fit(train).predict(queries)
    pred = base.create("person-median").fit(train).predict(queries)
    assert rmse(pred.mean_log_time, test.log_time) < rmse(item.mean_log_time, test.log_time) - 0.2
    inside = np.abs(test.log_time - pred.mean_log_time) < 1.2816 * pred.sd_log_time
    assert 0.7 < inside.mean() < 0.95


@pytest.mark.parametrize("name", ["person-median", "irt2pl"])
def test_history_and_update_person_move_a_new_student(name: str) -> None:
    model = base.create(name).fit(simulate(seed=9))
    query = Queries.from_columns(["newbie"], ["i05"])
    before = model.predict(query)
    history = Responses.from_columns(["newbie"] * 6, [f"i{k:02d}" for k in range(6)], [1.0] * 6, [900.0] * 6)
    during = model.predict(query, history=history)
    assert during.source[0] == SOURCE_MODEL and before.source[0] == SOURCE_ITEM_PRIOR
    if name == "irt2pl":  # person-median takes accuracy from the known item's mean
        assert during.p_correct[0] > before.p_correct[0]
    if name == "person-median":
        assert during.expected_seconds[0] > before.expected_seconds[0] * 5
    assert model.predict(query).source[0] == SOURCE_ITEM_PRIOR
    model.update_person("newbie", history)
    after = model.predict(query)
    np.testing.assert_allclose(after.p_correct, during.p_correct)
    np.testing.assert_allclose(after.mean_log_time, during.mean_log_time)
