"""LNIRT on app-like data that do not identify every parameter (issue 11, item 5).

At about 2,000 answers the app's training failed with ``LinAlgError: Matrix is not positive definite`` in the
inverse-Wishart draw. App data are items "topic|difficulty", many students with a few answers each, items that
everyone gets right, and times that hardly vary (a scripted client, a timer's default). There the chain drifted:
phi and lambda of one item to 1e7-1e9 and its sigma2 to 1e12-1e14, until Sigma_I could not be inverted. The
sampler now keeps its draws in a box of plausible item parameters (``draws.ItemBox``).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from studysmart.ml.data import Queries, Responses
from studysmart.ml.lnirt import LNIRT, LNIRTGibbs
from studysmart.ml.lnirt.draws import inv_wishart, normal_mean
from studysmart.ml.synthetic import generate

TOPICS = [f"T{i}" for i in range(10)]
DIFFICULTIES = ["easy", "medium", "hard"]


def app_like(seed: int, *, constant_share: float, n: int = 2000, n_students: int = 300) -> Responses:
    """``n`` answers of ``n_students`` on 30 topic|difficulty items; about 30% of the items are answered right by
    everyone, and ``constant_share`` of the answers took exactly 30 s."""
    rng = np.random.default_rng(seed)
    persons, items, correct, seconds = [], [], [], []
    for _ in range(n):
        key = f"{TOPICS[rng.integers(10)]}|{DIFFICULTIES[rng.integers(3)]}"
        always_right = zlib.crc32(key.encode()) % 10 < 3
        persons.append(f"u{rng.integers(n_students)}")
        items.append(key)
        correct.append(float(rng.random() < (1.0 if always_right else 0.7)))
        seconds.append(30.0 if rng.random() < constant_share else float(np.exp(rng.normal(4.0, 0.7))))
    return Responses.from_columns(persons, items, correct, seconds, topic=[k.split("|")[0] for k in items],
                                  difficulty=[k.split("|")[1] for k in items])


# Each of these failed before the fix (LinAlgError "Matrix is not positive definite" or "Singular matrix").
CASES = [(LNIRT, 0, 0.95), (LNIRT, 1, 1.0), (LNIRTGibbs, 0, 0.95), (LNIRTGibbs, 1, 0.8)]


@pytest.mark.parametrize(("cls", "seed", "share"), CASES, ids=[f"{c.name}-{s}-{p}" for c, s, p in CASES])
def test_app_like_data_with_constant_times_and_all_correct_items_fit(cls: type[LNIRT], seed: int,
                                                                    share: float) -> None:
    data = app_like(seed, constant_share=share)
    model = cls(seed=0).fit(data)
    for name in ("item_params_", "sigma2_", "theta_", "zeta_", "sigma_i_", "sigma_p_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.all(model.item_params_[:, [0, 2]] <= 20.0) and np.all(model.sigma2_ <= 10 * np.nanvar(data.log_time) + 1)
    queries = Queries.from_columns(["new"] * 3, ["T1|easy", "T2|hard", "New|medium"], topic=["T1", "T2", "New"],
                                   difficulty=["easy", "hard", "medium"])
    pred = model.predict(queries)
    assert np.all((pred.p_correct > 0.3) & (pred.p_correct < 1.0))
    # most answers took 30 s: a new student's median time is about that
    assert np.all((pred.expected_seconds > 20) & (pred.expected_seconds < 60)), pred.expected_seconds


def test_the_box_does_not_bind_on_data_that_identify_the_parameters() -> None:
    from studysmart.ml.lnirt.draws import ItemBox

    data = generate(n_persons=300, n_items=24, n_topics=3, observed=0.5, seed=11).responses
    model = LNIRT(seed=1).fit(data)
    box = ItemBox.for_times(data.log_time)
    a, b, phi, lam = model.item_params_.T
    low, high = box.discrimination
    assert np.all((a > 2 * low) & (a < high / 2) & (phi > 2 * low) & (phi < high / 2))
    assert np.all(np.abs(b) < box.intercept[1] / 2)
    assert np.all((lam > box.lam[0]) & (lam < box.lam[1]))
    assert np.all((model.sigma2_ > 10 * box.sigma2[0]) & (model.sigma2_ < box.sigma2[1] / 2))


def test_conjugate_draws_survive_a_barely_indefinite_matrix() -> None:
    from studysmart.ml.lnirt.draws import psd_root

    rng = np.random.default_rng(0)
    v = rng.normal(size=(4, 1))
    singular = v @ v.T * 1e8  # rank one: Cholesky fails
    singular[0, 0] -= 1e-7
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(singular)
    root = psd_root(singular)
    np.testing.assert_allclose(root @ root.T, singular, rtol=0, atol=1e-6 * 1e8)
    draw = normal_mean(rng, rng.normal(size=(5, 4)), np.eye(4), np.zeros(4), singular + np.eye(4) * 1e-9)
    assert np.all(np.isfinite(draw))
    cov = inv_wishart(rng, 10.0, np.eye(4))
    assert np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(cov) > 0)
