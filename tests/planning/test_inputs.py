"""The planner's reading of a model of learning (``inputs.learning_of``): through the model's own predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studysmart.ml.base import SOURCE_MODEL, Prediction
from studysmart.ml.data import Queries, Responses
from studysmart.planning import inputs

PERSON, TOPIC, WHEN = "p1", "algebra", 1_700_000_000.0


class SaturatingModel:
    """A model of learning whose gain saturates with the answers in a topic: logit = -0.5 + 2 (1 - exp(-n / 25)),
    with no forgetting (the planner's protocol, ``LearnsFromPractice``, plus ``predict``)."""

    def practice_gain(self, topic, *, correct=0.0, wrong=0.0, hardness=0.0):  # the protocol's other parts
        raise NotImplementedError

    def hardness_of(self, topic, difficulty):
        return 0.0

    def forgetting(self, gap):
        return (1.0, 1.0)

    @staticmethod
    def gain(n: float) -> float:
        return 2.0 * (1.0 - math.exp(-n / 25.0))

    def predict(self, queries: Queries, history: Responses | None = None) -> Prediction:
        n = len(history) if history is not None else 0
        p = np.full(len(queries), 1.0 / (1.0 + math.exp(0.5 - self.gain(n))))
        size = len(queries)
        return Prediction(p, np.full(size, math.log(60.0)), np.full(size, 0.4), np.full(size, SOURCE_MODEL))


def _empty_history() -> Responses:
    return Responses.from_columns([], [], [], [], order=[], topic=[], difficulty=[])


def test_a_saturating_model_is_read_at_the_volume_a_plan_allocates():
    """The planner's gain of 100 and 300 problems is the model's, not the log(1 + count) curve fitted at 3 and
    10 problems extrapolated (which keeps growing where the model has stopped)."""
    model = SaturatingModel()
    learning = inputs.learning_of(model, person=PERSON, history=_empty_history(), topic=TOPIC, name="Algebra",
                                  when=WHEN, days=10, p_correct={"easy": 0.6, "medium": 0.6, "hard": 0.6})
    for n in (10, 100, 300):
        planned = learning.practice_gain({"medium": float(n)}, {"medium": 0.6})
        print(f"{n} problems: model {model.gain(n):.3f}, planner {planned:.3f}")
        assert planned == pytest.approx(model.gain(n), rel=0.05)
    more = learning.practice_gain({"medium": 400.0}, {"medium": 0.6})
    assert more == pytest.approx(learning.practice_gain({"medium": 300.0}, {"medium": 0.6}))  # held, not grown


class StaticModel:
    """A model without learning: the same P(correct) whatever the history."""

    def predict(self, queries: Queries, history: Responses | None = None) -> Prediction:
        size = len(queries)
        return Prediction(np.full(size, 0.7), np.full(size, math.log(60.0)), np.full(size, 0.4),
                          np.full(size, SOURCE_MODEL))


def test_a_blend_is_read_through_itself_when_it_has_a_model_of_learning():
    """A blend with a learning member forecasts the gains its own predictions will show: the member's, times its
    accuracy weight; a blend that predicts from a static member alone shows none (before: a blend was always read
    as a model without learning, whatever its weights)."""
    from studysmart.ml.stack.blend import Blend
    from studysmart.ml.stack.model import Stack

    learner = SaturatingModel()
    p = {"easy": 0.6, "medium": 0.6, "hard": 0.6}

    def read(model: object) -> float:
        learning = inputs.learning_of(model, person=PERSON, history=_empty_history(), topic=TOPIC, name="Algebra",
                                      when=WHEN, days=10, p_correct=p)
        return learning.practice_gain({"medium": 10.0}, p)

    def stack(weights: list[float]) -> Stack:
        blend = Blend(accuracy=np.array(weights), time=np.array([0.0, 0.0, 1.0]), spread=np.array([1.0, 0.0, 1.0]))
        return Stack.assemble({"practice": learner, "shrinkage": StaticModel()}, blend)  # type: ignore[dict-item]

    assert inputs.learner_of(stack([0.0, 0.5, 0.5])) is learner and inputs.learner_of(StaticModel()) is None
    assert inputs.learner_of(Stack()) is None  # not fitted
    alone = read(learner)
    assert alone == pytest.approx(learner.gain(10), rel=0.05)
    assert read(stack([0.0, 0.5, 0.5])) == pytest.approx(0.5 * alone, rel=0.05)
    assert read(stack([0.0, 0.0, 1.0])) == pytest.approx(0.0, abs=1e-9)
