"""The synthetic LNIRT generator: shapes and labels, sparse designs, seeds, identification, group structure,
timestamps, and single-response simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from studysmart.ml.synthetic import DIFFICULTIES, generate, simulate_response


def test_shapes_labels_and_sparse_design() -> None:
    data = generate(n_persons=200, n_items=30, n_topics=3, observed=0.3, seed=1)
    r, truth = data.responses, data.truth
    assert len(r) == 200 * 9  # 30% of 30 items per person
    assert r.n_persons == 200 and r.n_items == 30
    np.testing.assert_array_equal(r.persons, truth.persons)
    np.testing.assert_array_equal(r.items, truth.items)
    assert truth.theta.shape == (200,) and truth.a.shape == (30,)
    cells = r.person.astype(np.int64) * 30 + r.item
    assert np.unique(cells).size == len(r)  # each cell answered at most once
    assert np.all(np.bincount(r.person) == 9)
    assert set(np.unique(r.correct)) == {0.0, 1.0}
    assert np.all(np.isfinite(r.log_time))
    assert r.item_difficulty is not None and r.item_topic is not None
    assert set(r.item_difficulty) <= set(DIFFICULTIES)
    assert len(set(r.item_topic)) == 3
    np.testing.assert_array_equal(r.item_topic, truth.item_topic)


def test_same_seed_same_data_other_seed_other_data() -> None:
    one = generate(n_persons=50, n_items=10, seed=7).responses
    two = generate(n_persons=50, n_items=10, seed=7).responses
    other = generate(n_persons=50, n_items=10, seed=8).responses
    np.testing.assert_array_equal(one.log_time, two.log_time)
    np.testing.assert_array_equal(one.correct, two.correct)
    assert not np.array_equal(one.log_time, other.log_time)


def test_truth_is_in_the_models_identification() -> None:
    truth = generate(n_persons=300, n_items=20, seed=2).truth
    assert truth.theta.mean() == pytest.approx(0.0, abs=1e-12)
    assert truth.zeta.mean() == pytest.approx(0.0, abs=1e-12)
    assert np.sum(np.log(truth.a)) == pytest.approx(0.0, abs=1e-9)
    assert np.sum(np.log(truth.phi)) == pytest.approx(0.0, abs=1e-9)
    assert np.all(truth.a > 0) and np.all(truth.phi > 0) and np.all(truth.sigma2 > 0)


def test_answers_follow_the_true_parameters() -> None:
    data = generate(n_persons=2000, n_items=12, observed=1.0, seed=3)
    r, t = data.responses, data.truth
    p = ndtr(t.a[r.item] * t.theta[r.person] - t.b[r.item])
    assert r.correct.mean() == pytest.approx(p.mean(), abs=0.01)
    residual = r.log_time - (t.lam[r.item] - t.phi[r.item] * t.zeta[r.person])
    assert residual.mean() == pytest.approx(0.0, abs=0.01)
    per_item_var = np.bincount(r.item, weights=residual**2) / np.bincount(r.item)
    np.testing.assert_allclose(per_item_var, t.sigma2, rtol=0.15)


def test_harder_items_are_less_often_right_and_slower() -> None:
    data = generate(n_persons=400, n_items=60, n_topics=2, seed=4)
    t = data.truth
    easy, hard = t.item_difficulty == "easy", t.item_difficulty == "hard"
    assert t.b[hard].mean() > t.b[easy].mean() + 0.5
    assert t.lam[hard].mean() > t.lam[easy].mean()
    r = data.responses
    rate = np.bincount(r.item, weights=r.correct) / np.bincount(r.item)
    assert rate[hard].mean() < rate[easy].mean() - 0.1


def test_missing_times_and_timestamps() -> None:
    data = generate(n_persons=100, n_items=20, observed=0.5, missing_time=0.2, seed=5)
    r = data.responses
    assert np.isnan(r.log_time).mean() == pytest.approx(0.2, abs=0.04)
    assert r.order is not None
    for person in range(5):
        stamps = r.order[r.person == person]
        assert np.all(np.diff(stamps) > 0)  # one session, answers in sequence
    assert generate(n_persons=5, n_items=4, timestamps=False, seed=0).responses.order is None


def test_bad_design_is_refused() -> None:
    with pytest.raises(ValueError, match="observed"):
        generate(observed=0.0)
    with pytest.raises(ValueError, match="topic names"):
        generate(n_topics=3, topic_names=["Algebra"])


def test_topic_names() -> None:
    r = generate(n_persons=20, n_items=12, n_topics=2, topic_names=["Algebra", "Geometry"], seed=0).responses
    assert r.item_topic is not None and set(r.item_topic) == {"Algebra", "Geometry"}


def test_simulate_response_scalar_and_vectorised() -> None:
    rng = np.random.default_rng(0)
    one = simulate_response(theta=0.5, zeta=0.2, a=1.2, b=-0.3, phi=1.0, lam=4.0, sigma2=0.25, rng=rng)
    assert one.p_correct.shape == () and one.correct in (0.0, 1.0)
    assert float(one.p_correct) == pytest.approx(ndtr(1.2 * 0.5 + 0.3))
    many = simulate_response(theta=np.zeros(50000), zeta=0.5, a=1.0, b=0.0, phi=2.0, lam=4.0, sigma2=0.09,
                             rng=rng)
    assert many.correct.mean() == pytest.approx(0.5, abs=0.01)
    assert many.log_time.mean() == pytest.approx(3.0, abs=0.01)
    assert many.log_time.std() == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(many.seconds, np.exp(many.log_time))
