"""A model keeps what it derives from a read-only history (``ml.memo``): predictions from it are the numbers a
fresh, writable copy of the same history gives, the student is derived once per history rather than once per call,
and a refit forgets what the old parameters derived."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace

import numpy as np
import pytest

from studysmart.ml.base import Model, Prediction
from studysmart.ml.data import Responses
from studysmart.ml.lnirt import LNIRT
from studysmart.ml.memo import is_frozen
from studysmart.ml.practice import PracticeModel
from studysmart.ml.shrinkage import Shrinkage
from studysmart.ml.synthetic import generate_learning

MODELS: dict[str, Callable[[], Model]] = {"shrinkage": Shrinkage, "practice": PracticeModel,
                                          "lnirt": lambda: LNIRT(seed=1)}


@pytest.fixture(scope="module")
def data() -> Responses:
    return generate_learning(n_persons=60, n_topics=3, items_per_topic=8, answers_per_person=25, seed=11).responses


def _person_history(data: Responses, person: int, *, frozen: bool) -> Responses:
    history = data.subset(np.flatnonzero(data.person == person))
    copy = replace(history, **{f.name: getattr(history, f.name).copy() for f in fields(history)
                               if isinstance(getattr(history, f.name), np.ndarray)})
    if frozen:
        for f in fields(copy):
            value = getattr(copy, f.name)
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
    return copy


def _equal(a: Prediction, b: Prediction) -> None:
    for name in ("p_correct", "mean_log_time", "sd_log_time"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert list(a.source) == list(b.source)


@pytest.mark.parametrize("name", list(MODELS))
def test_a_read_only_history_predicts_what_a_writable_copy_does_and_is_derived_once(
        name: str, data: Responses, monkeypatch: pytest.MonkeyPatch) -> None:
    model: Model = MODELS[name]().fit(data.subset(np.flatnonzero(data.person >= 10)))
    frozen, writable = _person_history(data, 3, frozen=True), _person_history(data, 3, frozen=False)
    assert is_frozen(frozen) and not is_frozen(writable)
    queries = data.subset(np.flatnonzero(data.person == 3)[:5]).to_queries()
    expected = model.predict(queries, history=writable)
    _equal(model.predict(queries, history=frozen), expected)

    derivations = {"shrinkage": "_history_shifts", "practice": "_state", "lnirt": "_posteriors"}[name]
    calls = []
    original = getattr(type(model), derivations)
    monkeypatch.setattr(type(model), derivations, lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    for _ in range(3):
        _equal(model.predict(queries, history=frozen), expected)
    assert not calls  # kept from the first call
    model.predict(queries, history=writable)
    assert calls  # a writable history is derived every time


@pytest.mark.parametrize("name", list(MODELS))
def test_a_refit_forgets_what_the_old_parameters_derived(name: str, data: Responses) -> None:
    model: Model = MODELS[name]().fit(data.subset(np.flatnonzero(data.person >= 30)))
    frozen = _person_history(data, 3, frozen=True)
    queries = data.subset(np.flatnonzero(data.person == 3)[:5]).to_queries()
    before = model.predict(queries, history=frozen)
    model.fit(data.subset(np.flatnonzero((data.person >= 10) & (data.person < 30))))
    after = model.predict(queries, history=frozen)
    _equal(after, model.predict(queries, history=_person_history(data, 3, frozen=False)))
    assert not np.array_equal(before.p_correct, after.p_correct)
