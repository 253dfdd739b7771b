"""The served prediction's shortcuts change no number: the practice model's label coding (one pass by first
appearance) against the sorting reference it replaced, its all-known-items path against the general one, and the
blend's combination of stacked columns against the per-member arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit

from studysmart.ml._shared import clean_label
from studysmart.ml.base import Prediction
from studysmart.ml.data import Queries, Responses
from studysmart.ml.practice import PracticeModel
from studysmart.ml.practice.coding import Vocab
from studysmart.ml.stack.blend import Blend, combine
from studysmart.ml.synthetic import generate_learning


def _sorted_reference(vocab: Vocab, item: np.ndarray, topic: np.ndarray, new_items: dict[str, int],
                      new_topics: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Item and topic codes as the coding computed them before (np.unique of the labels, then first appearance)."""
    names, first, inverse = np.unique(item.astype(str), return_index=True, return_inverse=True)
    codes = np.empty(names.size, dtype=np.int64)
    for u in np.argsort(first, kind="stable"):
        k = vocab._items.get(names[u])
        codes[u] = k if k is not None else new_items.setdefault(str(names[u]), vocab.n_items + len(new_items))
    items = codes[inverse]
    known = items < vocab.n_items
    topics = np.where(known, vocab.item_topic[np.where(known, items, 0)], -1)
    values, first, inverse = np.unique(np.asarray([str(v) for v in topic], dtype=object).astype(str),
                                       return_index=True, return_inverse=True)
    mapped = np.empty(values.size, dtype=np.int64)
    for u in np.argsort(first, kind="stable"):
        label = clean_label(values[u])
        code = -2 if label is None else vocab._topics.get(label)
        mapped[u] = code if code is not None else new_topics.setdefault(label, vocab.n_topics + len(new_topics))
    row = mapped[inverse]
    return items, np.where(row == -2, topics, row)


@pytest.fixture(scope="module")
def learning() -> Responses:
    return generate_learning(n_persons=80, n_topics=3, items_per_topic=10, answers_per_person=30, seed=5).responses


@pytest.fixture(scope="module")
def fitted(learning: Responses) -> PracticeModel:
    return PracticeModel().fit(learning)


def test_labels_are_coded_as_the_sorting_reference_did(fitted: PracticeModel) -> None:
    vocab = fitted.vocab_
    rng = np.random.default_rng(0)
    pool_items = np.array([*vocab.items[:12], "new-b", "new-a", "new-c"], dtype=object)
    pool_topics = np.array([*vocab.topics, "fresh-z", "fresh-a", None, np.nan, "", " None "], dtype=object)
    maps: tuple[dict[str, int], dict[str, int]] = ({}, {})
    ref_maps: tuple[dict[str, int], dict[str, int]] = ({}, {})
    for n in (1, 7, 60):  # three calls continuing the same maps of new labels
        item, topic = rng.choice(pool_items, n), rng.choice(pool_topics, n)
        items, topics, _ = vocab.code(item, topic, None, new_items=maps[0], new_topics=maps[1])
        ref_items, ref_topics = _sorted_reference(vocab, item, topic, *ref_maps)
        np.testing.assert_array_equal(items, ref_items)
        np.testing.assert_array_equal(topics, ref_topics)
        assert maps == ref_maps
    assert maps[0] and maps[1]  # new labels were numbered


def test_a_known_item_is_priced_alike_alone_and_beside_a_new_one(fitted: PracticeModel,
                                                                 learning: Responses) -> None:
    person = str(learning.persons[learning.person[0]])
    items = [str(i) for i in fitted.vocab_.items[:4]]
    topics = [str(fitted.vocab_.topics[t]) for t in fitted.vocab_.item_topic[:4]]
    when = float(np.nanmax(learning.order)) + 3600.0
    together = fitted.predict(Queries.from_columns([person] * 5, [*items, "never-seen"],
                                                   topic=[*topics, topics[0]], order=[when] * 5))
    assert "never-seen" not in set(fitted.vocab_.items)  # so the batch goes through the group priors' path
    for j, (item, topic) in enumerate(zip(items, topics, strict=True)):
        alone = fitted.predict(Queries.from_columns([person], [item], topic=[topic], order=[when]))
        np.testing.assert_allclose(alone.p_correct[0], together.p_correct[j], rtol=0, atol=1e-12)
        np.testing.assert_allclose(alone.mean_log_time[0], together.mean_log_time[j], rtol=0, atol=1e-12)
        np.testing.assert_allclose(alone.sd_log_time[0], together.sd_log_time[j], rtol=0, atol=1e-12)
        assert alone.source[0] == together.source[j]


def test_the_blend_combines_stacked_columns_as_member_by_member() -> None:
    rng = np.random.default_rng(1)
    n = 50
    preds = []
    for m in range(3):
        p = rng.uniform(0, 1, n)
        p[:4] = [np.nan, 0.0, 1.0, 1e-9]
        preds.append(Prediction(np.roll(p, m), rng.normal(3, 1, n), rng.uniform(0.2, 1.5, n),
                                np.full(n, f"m{m}", dtype=object)))
    blend = Blend(accuracy=np.array([0.1, 0.5, 0.3, 0.4]), time=np.array([0.2, 0.3, 0.5, 0.1]),
                  spread=np.array([1.1, 0.3, 0.6, 0.1]))
    got = combine(blend, preds)
    logits = np.column_stack([logit(np.clip(np.nan_to_num(q.p_correct, nan=0.5), 1e-6, 1 - 1e-6)) for q in preds])
    variances = np.column_stack([np.square(q.sd_log_time) for q in preds])
    np.testing.assert_allclose(got.p_correct, expit(0.1 + logits @ blend.accuracy[1:]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.sd_log_time, 1.1 * np.sqrt(variances @ blend.spread[1:]), rtol=0, atol=1e-12)
    assert set(got.source) == {"m0"}
