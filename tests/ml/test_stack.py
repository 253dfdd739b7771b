"""The stacked blend (``ml.stack``): its coefficients come from the hold-out alone and are scored cross-fitted
(a row's prediction never depends on its own outcome), it beats members whose errors differ, it leans on the
member that carries the signal, it calibrates the spread of time, and the stack round-trips and serves online
exactly what one served call per answer gives."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit

from studysmart.ml import base
from studysmart.ml.base import Z80, CorruptModel, Prediction
from studysmart.ml.evaluate import online_predictions, served_predictions, split_temporal
from studysmart.ml.metrics import all_metrics
from studysmart.ml.stack import Stack
from studysmart.ml.stack.blend import combine, fit_blend
from studysmart.ml.synthetic import generate_learning


def _hold_out(seed: int, n: int = 3000, *, noise: tuple[float, float] = (0.8, 0.8), time_sd: float = 0.5,
              ) -> tuple[list[Prediction], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two members predicting a known truth with independent errors; 60 items, 100 persons."""
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(0.3, 1.2, n)
    true_mean = rng.normal(3.5, 0.6, n)
    correct = (rng.random(n) < expit(true_logit)).astype(float)
    log_time = true_mean + rng.normal(0, time_sd, n)
    preds = [Prediction(expit(true_logit + rng.normal(0, s, n)), true_mean + rng.normal(0, s / 2, n),
                        np.full(n, time_sd / 2), np.full(n, "model", dtype=object)) for s in noise]
    return preds, correct, log_time, rng.integers(0, 60, n), rng.integers(0, 100, n)


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_the_cross_fitted_blend_beats_each_member_when_their_errors_differ() -> None:
    preds, correct, log_time, items, persons = _hold_out(0)
    _, crossed = fit_blend(preds, correct, log_time, items=items, persons=persons)
    members = [_log_loss(p.p_correct, correct) for p in preds]
    assert _log_loss(crossed.p_correct, correct) < min(members) - 0.005, (crossed, members)
    rmse = [np.sqrt(np.mean((p.mean_log_time - log_time) ** 2)) for p in preds]
    assert np.sqrt(np.mean((crossed.mean_log_time - log_time) ** 2)) < min(rmse)


def test_the_blend_leans_on_the_member_that_carries_the_signal() -> None:
    preds, correct, log_time, items, persons = _hold_out(1, noise=(0.3, 3.0))
    preds[1] = Prediction(np.clip(expit(logit(preds[1].p_correct)), 1e-4, 1 - 1e-4), preds[1].mean_log_time,
                          preds[1].sd_log_time, preds[1].source)
    blend, crossed = fit_blend(preds, correct, log_time, items=items, persons=persons)
    assert blend.accuracy[1] > 4 * abs(blend.accuracy[2])
    assert _log_loss(crossed.p_correct, correct) < _log_loss(preds[0].p_correct, correct) + 0.003
    assert _log_loss(crossed.p_correct, correct) < _log_loss(preds[1].p_correct, correct) - 0.1


@pytest.mark.parametrize("seed", range(6))
def test_the_blend_is_never_worse_than_its_best_member_on_the_hold_out(seed: int) -> None:
    # a calibrated member and one of pure noise (in accuracy and in time): fitting can only lose to the first
    preds, correct, log_time, items, persons = _hold_out(10 + seed, n=600, noise=(0.01, 4.0))
    blend, crossed = fit_blend(preds, correct, log_time, items=items, persons=persons)
    best_loss = min(_log_loss(p.p_correct, correct) for p in preds)
    best_error = min(float(np.mean((p.mean_log_time - log_time) ** 2)) for p in preds)
    assert _log_loss(crossed.p_correct, correct) <= best_loss + 1e-12
    assert float(np.mean((crossed.mean_log_time - log_time) ** 2)) <= best_error + 1e-12
    served = combine(blend, preds)  # and what it serves is what it was scored as, where a member serves alone
    if blend.alone[0] >= 0:
        np.testing.assert_allclose(served.p_correct, crossed.p_correct)


def test_a_rows_cross_fitted_prediction_never_depends_on_its_own_outcome() -> None:
    preds, correct, log_time, items, persons = _hold_out(2)
    _, crossed = fit_blend(preds, correct, log_time, items=items, persons=persons)
    # flip the outcomes and times of one item's rows: their own cross-fitted predictions must not move (the
    # coefficients that predict them were fitted without their fold); everyone else's may
    rows = items == 7
    flipped, slower = correct.copy(), log_time.copy()
    flipped[rows] = 1 - flipped[rows]
    slower[rows] += 3.0
    _, crossed2 = fit_blend(preds, flipped, slower, items=items, persons=persons)
    np.testing.assert_allclose(crossed2.p_correct[rows], crossed.p_correct[rows], rtol=1e-6)
    np.testing.assert_allclose(crossed2.mean_log_time[rows], crossed.mean_log_time[rows], rtol=1e-6)
    assert not np.allclose(crossed2.p_correct[~rows], crossed.p_correct[~rows])


def test_the_spread_is_calibrated_on_the_hold_out() -> None:
    # the members claim sd 0.25 while the residuals have sd 0.5: the blend widens the interval to ~80% coverage
    # (a hold-out of 20,000 rows outweighs the SPREAD_PRIOR_ROWS pseudo-rows that trust the members' own sd)
    preds, correct, log_time, items, persons = _hold_out(3, n=20_000)
    blend, _ = fit_blend(preds, correct, log_time, items=items, persons=persons)
    fresh, fresh_correct, fresh_time, _, _ = _hold_out(4, n=4000)
    served = combine(blend, fresh)
    coverage = all_metrics(served, fresh_correct, fresh_time)["coverage80"]
    raw = np.mean(np.abs(fresh_time - served.mean_log_time) <= Z80 * np.sqrt(
        np.mean([p.sd_log_time ** 2 for p in fresh], axis=0)))
    assert raw < 0.6 and 0.77 <= coverage <= 0.83, (raw, coverage, blend.spread)


def test_a_blend_needs_two_members() -> None:
    preds, correct, log_time, items, persons = _hold_out(5, n=200)
    with pytest.raises(ValueError, match="two members"):
        fit_blend(preds[:1], correct, log_time, items=items, persons=persons)


@pytest.fixture(scope="module")
def fitted() -> tuple[Stack, object]:
    data = generate_learning(n_persons=60, n_topics=3, items_per_topic=8, answers_per_person=30, seed=3).responses
    split = split_temporal(data)
    return Stack(members=("practice", "shrinkage")).fit(split.train), split


def test_the_stack_serves_online_what_one_served_call_per_answer_gives(fitted: tuple[Stack, object]) -> None:
    stack, split = fitted
    fast = online_predictions(stack, split)  # type: ignore[arg-type]
    slow = served_predictions(stack, split.train, split.test, sequential=True)  # type: ignore[attr-defined]
    np.testing.assert_allclose(fast.p_correct, slow.p_correct, rtol=1e-9)
    np.testing.assert_allclose(fast.mean_log_time, slow.mean_log_time, rtol=1e-9)
    np.testing.assert_allclose(fast.sd_log_time, slow.sd_log_time, rtol=1e-9)


def test_the_stack_round_trips_and_refuses_a_corrupted_blob(fitted: tuple[Stack, object]) -> None:
    stack, split = fitted
    blob = stack.to_bytes()
    loaded = base.load("blend", blob)
    queries = split.test.to_queries()  # type: ignore[attr-defined]
    np.testing.assert_array_equal(loaded.predict(queries).p_correct, stack.predict(queries).p_correct)
    with pytest.raises(CorruptModel):
        base.load("blend", blob[: len(blob) // 2])
    with pytest.raises(CorruptModel):
        base.load("blend", base.load("practice", stack.members_["practice"].to_bytes()).to_bytes())  # type: ignore[index]


def test_the_stack_explains_by_a_member_only_when_its_p_correct_uses_that_member(
        fitted: tuple[Stack, object]) -> None:
    """The practice member explains the blend while it has accuracy weight; with none (the blend's P(correct) from
    shrinkage alone), its account of practice would explain a number the student is not shown: the generic one."""
    from dataclasses import replace

    stack, split = fitted
    assert stack.members_ is not None and stack.blend_ is not None
    person, item = str(split.test.persons[0]), str(split.test.items[0])  # type: ignore[attr-defined]
    by_practice = Stack.assemble(stack.members_, replace(stack.blend_, accuracy=np.array([0.0, 1.0, 0.0])))
    assert getattr(by_practice.explain(person, item, history=split.train), "reason", "")  # type: ignore[attr-defined]
    by_shrinkage = Stack.assemble(stack.members_, replace(stack.blend_, accuracy=np.array([0.0, 0.0, 1.0])))
    why = by_shrinkage.explain(person, item, history=split.train)  # type: ignore[attr-defined]
    assert why.generic and not getattr(why, "reason", "")


def test_a_member_the_blend_does_not_use_is_not_called(fitted: tuple[Stack, object]) -> None:
    """A blend whose every part leaves a member out (it lost on the hold-out) serves what the full computation
    gives, without calling that member."""
    from dataclasses import replace

    stack, split = fitted
    assert stack.members_ is not None and stack.blend_ is not None
    alone = Stack.assemble(stack.members_, replace(stack.blend_, accuracy=np.array([0.1, 0.0, 1.2]),
                                                   time=np.array([0.0, 0.0, 1.0]),
                                                   spread=np.array([1.1, 0.0, 1.0])))
    queries = split.test.to_queries()  # type: ignore[attr-defined]
    members = [m.predict(queries, history=split.train) for m in stack.members_.values()]  # type: ignore[attr-defined]
    expected = combine(alone.blend_, members)  # type: ignore[arg-type]

    class Refuses:
        """Refuses every call but ``update_person``, which erasure needs from every member."""

        def __init__(self) -> None:
            self.updated: list[str] = []

        def update_person(self, person: str, history: object) -> None:
            self.updated.append(person)

        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the unused member was called: {name}")

    unused = Refuses()
    calls = Stack.assemble({"practice": unused, "shrinkage": stack.members_["shrinkage"]},  # type: ignore[dict-item]
                           alone.blend_)  # type: ignore[arg-type]
    served = calls.predict(queries, history=split.train)  # type: ignore[attr-defined]
    np.testing.assert_array_equal(served.p_correct, expected.p_correct)
    np.testing.assert_array_equal(served.mean_log_time, expected.mean_log_time)
    np.testing.assert_array_equal(served.sd_log_time, expected.sd_log_time)
    calls.update_person(str(split.test.persons[0]), split.train)  # type: ignore[attr-defined]
    assert unused.updated == [str(split.test.persons[0])]  # an erased student leaves every member
    online = calls.predict_sequence(split.train, split.test, sequential=True)  # type: ignore[attr-defined]
    np.testing.assert_allclose(online.p_correct, alone.predict_sequence(  # type: ignore[attr-defined]
        split.train, split.test, sequential=True).p_correct, rtol=1e-12)
