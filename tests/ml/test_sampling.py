"""Samples of whole students: bounded, whole, deterministic; ``compact`` keeps the rows' labels."""

from __future__ import annotations

import numpy as np
import pytest

from studysmart.ml.sampling import compact, sample_students
from studysmart.ml.synthetic import generate_learning


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    # students with 5 to 40 answers (uneven, so the bound cannot be met by counting students)
    full = generate_learning(n_persons=60, answers_per_person=40, seed=3).responses
    rng = np.random.default_rng(0)
    keep = np.concatenate([np.flatnonzero(full.person == p)[: rng.integers(5, 41)] for p in range(full.n_persons)])
    return full.subset(np.sort(keep))


def test_a_sample_holds_whole_students_within_the_bound(data) -> None:  # type: ignore[no-untyped-def]
    rows = sample_students(data, 500, seed=1)
    assert 0 < len(rows) <= 500 and len(rows) > 500 - 40  # filled up to less than one student's answers
    assert np.all(np.diff(rows) > 0)  # in the data's order
    counts = np.bincount(data.person, minlength=data.n_persons)
    sampled = np.bincount(data.person[rows], minlength=data.n_persons)
    assert np.all((sampled == 0) | (sampled == counts))  # every sampled student with all their answers
    assert 0 < np.count_nonzero(sampled) < data.n_persons


def test_a_sample_is_deterministic_and_seeded(data) -> None:  # type: ignore[no-untyped-def]
    assert np.array_equal(sample_students(data, 500, seed=1), sample_students(data, 500, seed=1))
    assert not np.array_equal(sample_students(data, 500, seed=1), sample_students(data, 500, seed=2))


def test_data_that_fit_are_kept_whole(data) -> None:  # type: ignore[no-untyped-def]
    assert np.array_equal(sample_students(data, len(data)), np.arange(len(data)))
    with pytest.raises(ValueError, match="max_rows"):
        sample_students(data, 0)


def test_a_student_larger_than_the_bound_is_never_sampled(data) -> None:  # type: ignore[no-untyped-def]
    rows = sample_students(data, 10, seed=4)
    assert len(rows) <= 10
    assert np.all(np.bincount(data.person, minlength=data.n_persons)[np.unique(data.person[rows])] <= 10)


def test_compact_keeps_each_rows_labels(data) -> None:  # type: ignore[no-untyped-def]
    sub = data.subset(sample_students(data, 300, seed=5))
    small = compact(sub)
    assert small.n_persons == len(np.unique(sub.person)) < data.n_persons
    assert np.array_equal(small.persons[small.person], sub.persons[sub.person])
    assert np.array_equal(small.items[small.item], sub.items[sub.item])
    assert np.array_equal(small.row_topic(), sub.row_topic())
    assert list(small.persons) == sorted(small.persons)
