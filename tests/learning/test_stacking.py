"""The training pipeline's stack: built from the candidates' own hold-out predictions (nothing refitted), scored
by its cross-fitted predictions of the hold-out (not by coefficients fitted on the very answers they score), and
recorded as a failure, without stopping the run, when there is nothing to blend."""

from __future__ import annotations

import numpy as np
import pytest

from studysmart.core.config import Settings
from studysmart.learning import registry
from studysmart.learning import trainer as pipeline
from studysmart.ml.metrics import all_metrics
from studysmart.ml.stack import Stack
from studysmart.ml.stack.blend import combine
from studysmart.ml.synthetic import generate_learning


@pytest.fixture(scope="module")
def fitted() -> tuple[list[pipeline.Candidate], pipeline.Split]:
    data = generate_learning(n_persons=60, n_topics=3, items_per_topic=8, answers_per_person=30, seed=5).responses
    split = pipeline.holdout_split(data)
    failures: pipeline.Failures = {}
    names = pipeline.models_to_train(Settings(training_models="blend,shrinkage,practice,avg"), len(data))
    assert names[-1] == "blend"  # stacked models come last: they blend the others
    candidates = pipeline.fit_candidates(names, split, data, Settings(), run_id=0, failures=failures)
    assert failures == {}
    return candidates, split


def test_the_stack_blends_the_servable_candidates_from_their_hold_out_predictions(
        fitted: tuple[list[pipeline.Candidate], pipeline.Split]) -> None:
    candidates, _ = fitted
    by_name = {c.name: c for c in candidates}
    stack = by_name["blend"]
    assert isinstance(stack.model, Stack) and stack.model.members_ is not None
    assert list(stack.model.members_) == registry.stack_members(["shrinkage", "practice", "avg"]) == [
        "shrinkage", "practice"]
    # the served members are the candidates' own final models (nothing fitted twice)
    assert stack.model.members_["practice"] is by_name["practice"].model
    assert isinstance(stack.evaluated, Stack) and stack.evaluated.members_ is not None
    assert stack.evaluated.members_["practice"] is by_name["practice"].evaluated


def test_the_stack_is_scored_cross_fitted_not_in_sample(fitted: tuple[list[pipeline.Candidate], pipeline.Split],
                                                        ) -> None:
    candidates, split = fitted
    by_name = {c.name: c for c in candidates}
    stack = by_name["blend"]
    assert stack.model.blend_ is not None and stack.holdout is not None  # type: ignore[attr-defined]
    members = [by_name[n].holdout for n in ("shrinkage", "practice")]
    in_sample = combine(stack.model.blend_, members)  # type: ignore[arg-type,attr-defined]
    scored = all_metrics(stack.holdout, split.test.correct, split.test.log_time)
    assert stack.metrics == scored
    assert not np.allclose(stack.holdout.p_correct, in_sample.p_correct)
    assert stack.metrics["log_loss"] >= all_metrics(in_sample, split.test.correct, split.test.log_time)["log_loss"]


def test_a_stack_with_nothing_to_blend_is_a_recorded_failure_and_the_run_goes_on() -> None:
    data = generate_learning(n_persons=30, n_topics=2, items_per_topic=5, answers_per_person=20, seed=6).responses
    split = pipeline.holdout_split(data)
    failures: pipeline.Failures = {}
    candidates = pipeline.fit_candidates(["shrinkage", "avg", "blend"], split, data, Settings(), run_id=0,
                                         failures=failures)
    assert [c.name for c in candidates] == ["shrinkage", "avg"]
    assert "two members" in failures["blend"]["error"]
