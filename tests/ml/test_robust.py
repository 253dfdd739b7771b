"""Robust row weights (``ml.robust``) and every model family's use of them: one account's implausible answers do not
move what a new student is told, while clean data keep their weights."""

from __future__ import annotations

import numpy as np
import pytest

from studysmart.ml import base
from studysmart.ml.data import Queries, Responses
from studysmart.ml.robust import (
    HAMPEL,
    hampel_weight,
    person_weights,
    residual_weights,
    robust_weights,
    student_weights,
    weighted_medians,
    with_robust_weights,
)
from studysmart.ml.synthetic import generate

MAX_P_SHIFT = 0.05
MAX_TIME_RATIO = 0.10


@pytest.fixture(scope="module")
def honest() -> Responses:
    return generate(n_persons=120, n_items=20, n_topics=3, seed=1).responses


def attacked(data: Responses, seconds: tuple[float, float] = (1.0, 86_400.0), n: int = 50) -> Responses:
    """``data`` plus one account answering its first item ``n`` times: the first half wrong in ``seconds[0]``,
    the second half right in ``seconds[1]``."""
    item = data.items[0]
    half = n // 2
    topic, difficulty, order = data.row_topic(), data.row_difficulty(), data.order
    return Responses.from_columns(
        [*data.persons[data.person], *["mallory"] * n], [*data.items[data.item], *[item] * n],
        [*data.correct, *[0.0] * half, *[1.0] * (n - half)],
        [*np.exp(data.log_time), *[seconds[0]] * half, *[seconds[1]] * (n - half)],
        topic=None if topic is None else [*topic, *[data.item_topic[0]] * n],  # type: ignore[index]
        difficulty=None if difficulty is None else [*difficulty, *[data.item_difficulty[0]] * n],  # type: ignore[index]
        order=None if order is None else [*order, *(np.arange(n) + float(np.nanmax(order)) + 1)],
    )


def _fresh(model: base.Model, data: Responses) -> tuple[float, float]:
    """A new student's P(correct) and median seconds on the attacked item."""
    queries = Queries.from_columns(["newbie"], [data.items[0]], topic=[data.item_topic[0]],  # type: ignore[index]
                                   difficulty=[data.item_difficulty[0]])  # type: ignore[index]
    pred = model.predict(queries)
    return float(pred.p_correct[0]), float(pred.expected_seconds[0])


def _moved(before: tuple[float, float], after: tuple[float, float]) -> tuple[float, float]:
    return abs(after[0] - before[0]), abs(after[1] / before[1] - 1)


# -- the weights -------------------------------------------------------------------------------------------
def test_a_students_answers_to_one_item_count_at_most_one_over_rho() -> None:
    data = Responses.from_columns(["a"] * 50 + ["b"] * 5 + ["c"], ["x"] * 50 + ["x"] * 5 + ["x"], [1.0] * 56,
                                  [30.0] * 56)
    w = student_weights(data, rho=0.2)
    effective = {p: float(w[data.persons[data.person] == p].sum()) for p in "abc"}
    assert effective["c"] == 1.0
    assert effective["b"] == pytest.approx(5 / 1.8)
    assert effective["a"] == pytest.approx(50 / 10.8) and effective["a"] < 5  # never more than 1 / rho
    assert 10 * effective["b"] > 5 * effective["a"]  # ten students of five outweigh one of fifty


def test_weighted_medians_match_numpy_and_honour_weights() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 30, 2000)
    values = rng.normal(size=2000)
    values[rng.random(2000) < 0.1] = np.nan
    got = weighted_medians(groups, values, np.ones(2000), 31)
    for g in range(30):
        np.testing.assert_allclose(got[g], np.nanmedian(values[groups == g]))
    assert np.isnan(got[30])
    heavy = weighted_medians(np.zeros(3, dtype=np.int64), np.array([1.0, 2.0, 10.0]), np.array([1.0, 1.0, 5.0]), 1)
    assert heavy[0] == 10.0


def test_hampel_weight_is_one_near_the_fit_and_zero_far_out() -> None:
    z = np.array([0.0, 2.9, -3.0, 4.0, 6.0, 7.5, -8.99, 9.0, 50.0])
    w = hampel_weight(z, (3.0, 6.0, 9.0))
    np.testing.assert_allclose(w[:3], 1.0)
    np.testing.assert_allclose(w[3:5], [3 / 4, 3 / 6])
    np.testing.assert_allclose(w[5], 3 * 1.5 / (3 * 7.5))
    assert 0 < w[6] < 0.01 and w[7] == 0 and w[8] == 0
    influence = w * np.abs(z)  # bounded and redescending
    assert influence.max() <= 3.0 + 1e-12 and influence[7] == 0
    a, _, r = HAMPEL
    assert hampel_weight(np.array([a]))[0] == 1.0 and hampel_weight(np.array([-r]))[0] == 0.0


def test_clean_data_keep_their_weights(honest: Responses) -> None:
    w = robust_weights(honest)
    assert np.mean(w == 1.0) > 0.98 and w.min() > 0.2  # one answer per student and item: no cap


def test_implausible_times_weigh_nothing_and_honest_answers_stay(honest: Responses) -> None:
    data = attacked(honest)
    w = robust_weights(data)
    mallory = data.persons[data.person] == "mallory"
    assert w[mallory].max() < 0.05 and w[mallory].sum() < 1.5  # fifty answers weigh less than two
    same_item = ~mallory & (data.item == data.item[mallory][0])
    np.testing.assert_allclose(w[same_item], robust_weights(honest)[honest.item == 0], atol=0.05)
    assert person_weights(data.weighted(w))[data.persons == "mallory"][0] < 0.2
    assert np.median(person_weights(data.weighted(w))) == 1.0


def test_a_student_who_always_answers_in_one_second_weighs_less_and_moves_little(honest: Responses) -> None:
    data = attacked(honest, seconds=(1.0, 1.0))  # consistently fast: the implausible one is the student
    w = residual_weights(data, student_weights(data))
    assert w[data.persons[data.person] == "mallory"].max() < 0.7  # 26x faster than typical: 5.6 robust sds
    before = _fresh(base.create("shrinkage").fit(with_robust_weights(honest)), honest)
    robust = _moved(before, _fresh(base.create("shrinkage").fit(with_robust_weights(data)), data))
    plain = _moved(before, _fresh(base.create("shrinkage").fit(data), data))
    assert robust[1] < plain[1] / 3 and robust[0] < plain[0] / 3, (robust, plain)


def test_weights_survive_subsets_and_are_validated(honest: Responses) -> None:
    data = with_robust_weights(honest)
    rows = np.arange(0, len(data), 3)
    np.testing.assert_array_equal(data.subset(rows).weight, data.weight[rows])  # type: ignore[index]
    assert honest.subset(rows).weight is None
    with pytest.raises(ValueError, match="weight"):
        honest.weighted(np.full(len(honest), -1.0))
    with pytest.raises(ValueError, match="weight"):
        honest.weighted(np.ones(3))


def test_rows_of_weight_zero_are_as_good_as_absent(honest: Responses) -> None:
    data = attacked(honest)
    keep = data.persons[data.person] != "mallory"
    zeroed = data.weighted(keep.astype(float))
    for name in ("avg", "item-means"):
        with_zeros = base.create(name).fit(zeroed)
        without = base.create(name).fit(data.subset(keep))
        np.testing.assert_allclose(_fresh(with_zeros, data), _fresh(without, data), rtol=1e-12)
    shrink = base.create("shrinkage").fit(zeroed), base.create("shrinkage").fit(data.subset(keep))
    np.testing.assert_allclose(_fresh(shrink[0], data), _fresh(shrink[1], data), rtol=1e-12)


# -- every model family -------------------------------------------------------------------------------------
FAMILIES = [
    pytest.param("avg", {}), pytest.param("item-means", {}), pytest.param("person-median", {}),
    pytest.param("shrinkage", {}), pytest.param("irt2pl", {}),
    pytest.param("lnirt", {"iterations": 600}), pytest.param("lnirt-gibbs", {"iterations": 600}),
    pytest.param("practice", {}),
    pytest.param("neural", {"epochs": 8, "hidden": 16, "dim": 8}, marks=pytest.mark.slow),
    pytest.param("neural-attn", {"epochs": 8, "hidden": 16, "dim": 8}, marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("name", "params"), FAMILIES)
def test_an_adversary_does_not_move_a_new_students_prediction(honest: Responses, name: str,
                                                              params: dict[str, object]) -> None:
    poisoned = attacked(honest)
    before = _fresh(base.create(name, **params).fit(with_robust_weights(honest)), honest)
    after = _fresh(base.create(name, **params).fit(with_robust_weights(poisoned)), poisoned)
    dp, dt = _moved(before, after)
    assert dp <= MAX_P_SHIFT and dt <= MAX_TIME_RATIO, (before, after)


@pytest.mark.parametrize("name", ["item-means", "shrinkage", "irt2pl"])
def test_without_the_weights_the_same_adversary_moves_it(honest: Responses, name: str) -> None:
    before = _fresh(base.create(name).fit(honest), honest)
    after = _fresh(base.create(name).fit(attacked(honest)), honest)
    assert _moved(before, after)[1] > 0.5  # the attack is real: the unweighted median time moves by half or more


def test_neural_losses_ignore_targets_of_weight_zero() -> None:
    torch = pytest.importorskip("torch")
    from studysmart.ml.neural.train import _losses

    rng = np.random.default_rng(0)
    out = torch.from_numpy(rng.normal(size=(2, 6, 3)).astype(np.float32))
    correct = torch.from_numpy(rng.integers(0, 2, (2, 6)).astype(np.float32))
    z_time = torch.from_numpy(rng.normal(size=(2, 6)).astype(np.float32))
    mask = torch.ones(2, 6, dtype=torch.bool)
    weight = torch.ones(2, 6)
    weight[1, 3:] = 0.0
    weighted = _losses(out, correct, z_time, mask, weight)
    kept = mask.clone()
    kept[1, 3:] = False
    plain = _losses(out, correct, z_time, kept, torch.ones(2, 6))
    for a, b in zip(weighted, plain, strict=True):
        assert float(a) == pytest.approx(float(b), rel=1e-6)
