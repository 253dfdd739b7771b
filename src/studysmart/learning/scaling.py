"""Bounded training data: the population (item-level) parameters are fitted on a stated sample of whole students
when the answers exceed ``Settings.training_max_answers``, and the neural models on a smaller sample that fits
their time budget. Students outside a sample are still served from their own history (every model predicts
with ``history=``), so a sample bounds the fit, not whom the model serves.

The sample is uniform over students, not weighted toward recent ones: item parameters are averages over the
students who answer an item, and the newest students are those with the shortest histories, so favouring them
would tilt the practice and forgetting estimates toward early practice. Its seed is fixed, so two trainings on
the same data fit the same sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studysmart.core.config import Settings
from studysmart.learning import registry
from studysmart.ml.data import Responses
from studysmart.ml.sampling import compact, sample_students

#: The seed of every training sample (the same data give the same sample).
SAMPLE_SEED = 0
#: Answers a neural model trains on per second of its time budget, so that it runs about ``NEURAL_EPOCHS``
#: epochs before the budget stops it (measured with ``benchmarks.scale`` on one core: about 10k answers/s per epoch).
NEURAL_ANSWERS_PER_SECOND = 1000.0
#: Fewest answers a neural sample keeps, whatever the budget.
NEURAL_MIN_ANSWERS = 5000


@dataclass(frozen=True)
class TrainingData:
    """What the models are fitted on: ``data`` (all answers, or the sample), and how many were read."""

    data: Responses
    answers: int
    students: int

    @property
    def sampled(self) -> bool:
        return len(self.data) < self.answers

    def note(self) -> str | None:
        """The sentence a candidate's record carries when it was fitted on a sample."""
        if not self.sampled:
            return None
        return (f"fitted on a uniform sample of {self.data.n_persons} of {self.students} students "
                f"({len(self.data)} of {self.answers} answers, seed {SAMPLE_SEED}); the others are served "
                "from their own history")


def sample(data: Responses, max_answers: int) -> Responses:
    """Whole students of ``data`` up to ``max_answers`` answers (``ml.sampling.sample_students``), or all of it
    when ``max_answers`` is 0 or the data fit."""
    if max_answers <= 0 or len(data) <= max_answers:
        return data
    return compact(data.subset(sample_students(data, max_answers, seed=SAMPLE_SEED)))


def training_data(data: Responses, settings: Settings) -> TrainingData:
    """The data the population fit uses: all answers up to ``settings.training_max_answers``, else the sample."""
    return TrainingData(sample(data, settings.training_max_answers), answers=len(data), students=data.n_persons)


def budget_answers(name: str, max_seconds: float | None) -> int | None:
    """The answers a model fits within its time budget (None: no bound beyond the population sample)."""
    if not registry.needs_torch(name) or max_seconds is None:
        return None
    return max(NEURAL_MIN_ANSWERS, int(max_seconds * NEURAL_ANSWERS_PER_SECOND))


def within_budget(full: Responses, train: Responses, budget: int) -> tuple[Responses, Responses, str | None]:
    """``full`` and its training part ``train`` (two subsets of one data set's vocabularies) cut to the same sample of
    whole students of ``full`` up to ``budget`` answers, and the note the candidate's record carries (None and the
    data as given when they fit)."""
    if len(full) <= budget:
        return full, train, None
    chosen = np.zeros(full.n_persons, dtype=bool)
    chosen[full.person[sample_students(full, budget, seed=SAMPLE_SEED)]] = True
    full, train = compact(full.subset(chosen[full.person])), compact(train.subset(chosen[train.person]))
    return full, train, f"fitted on {full.n_persons} students ({len(full)} answers) to fit its time budget"
