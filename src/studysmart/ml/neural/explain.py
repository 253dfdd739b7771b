"""Explanations of one neural prediction, as one sentence for the UI plus the numbers behind it.

The sentence compares the prediction with the student's history against the prior (the same item for a new
student with no history), counts the answers it is based on (overall and in the item's topic), and for the
attention model says which past answers weighed most (the attention weights of the query over the history).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from studysmart.ml.data import Queries, Responses
from studysmart.ml.neural.data import Seq
from studysmart.ml.neural.train import torch_session

if TYPE_CHECKING:
    from studysmart.ml.neural.model import NeuralModel

__all__ = ["Explanation", "explain", "format_seconds"]


@dataclass(frozen=True)
class Explanation:
    """One prediction explained.

    Attributes:
        sentence: the text for the UI.
        p_correct, expected_seconds: the prediction (median seconds).
        p_correct_prior, expected_seconds_prior: the same item for a new student without history.
        source: the prediction's source (model, item-prior, population-prior).
        n_answers, n_correct: the answers read (the latest ``window``) and how many were correct.
        topic, n_topic_answers, n_topic_correct: the item's topic and those answers in it.
        recent: for attention, k when the last k answers carry most of the weight (else None).
        weights: for attention, the most weighted past answers as (item, correct, weight), largest first.
    """

    sentence: str
    p_correct: float
    expected_seconds: float
    p_correct_prior: float
    expected_seconds_prior: float
    source: str
    n_answers: int
    n_correct: int
    topic: str | None = None
    n_topic_answers: int = 0
    n_topic_correct: int = 0
    recent: int | None = None
    weights: list[tuple[str, bool | None, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def format_seconds(seconds: float) -> str:
    """'45 s', '3 min', '1.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _focus(seq: Seq, weights: np.ndarray | None, model: NeuralModel) -> tuple[str, int | None, list[Any]]:
    """The attention part of the sentence: 'mostly the last k' or 'mostly your answers to ...'."""
    n = len(seq)
    if weights is None or n == 0:
        return "", None, []
    history = weights[1:n + 1]
    total = float(history.sum())
    top = np.argsort(-history, kind="stable")[:3]
    listed = [(model.items_.label(int(seq.item[i])) or "a new task",
               None if not np.isfinite(seq.correct[i]) else bool(seq.correct[i] == 1), float(history[i]))
              for i in top]
    if total <= 0:
        return "", None, listed
    share_from_latest = np.cumsum(history[::-1]) / total
    recent = int(np.searchsorted(share_from_latest, 0.5) + 1)
    if recent <= max(3, n // 3):
        return (", mostly the last one" if recent == 1 else f", mostly the last {recent}"), recent, listed
    names = [name for name, _, _ in listed]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f", mostly your answers to {joined}", None, listed


def explain(model: NeuralModel, person: str, item: str, *, topic: str | None = None,
            difficulty: str | None = None, order: float | None = None,
            history: Responses | None = None, label: str | None = None) -> Explanation:
    """Explain the prediction of ``model`` for one (person, item); see ``NeuralModel.explain``."""
    query = Queries.from_columns([person], [item], None if topic is None else [topic],
                                 None if difficulty is None else [difficulty], None if order is None else [order])
    with torch_session(model.num_threads), torch.inference_mode():
        raw = model._outputs(query, history)
        prior_raw = model._outputs(query, None, cold=True)
    now, prior = model._prediction(raw), model._prediction(prior_raw)
    stored = model._history_of(history, [person]) if history is not None else {}
    seq = stored.get(person, model.histories_.get(person, Seq.empty())).tail(model.window)
    topic_code = int(raw.topic[0])
    topic_label = (label if topic_code else None) or model.topics_.label(topic_code)
    n, n_correct = len(seq), int(np.sum(seq.correct == 1))
    in_topic = seq.topic == topic_code if topic_code else np.zeros(n, dtype=bool)
    n_topic, n_topic_correct = int(in_topic.sum()), int(np.sum(seq.correct[in_topic] == 1))
    p, p0 = float(now.p_correct[0]), float(prior.p_correct[0])
    seconds, seconds0 = float(now.expected_seconds[0]), float(prior.expected_seconds[0])
    if n == 0:
        basis = ("everyone's answers to this task" if raw.item[0] > 0 else
                 f"everyone's answers in {topic_label}" if topic_label else "everyone's answers")
        sentence = (f"No answers from you yet, so this is based on {basis}: {p:.0%} likely correct, "
                    f"about {format_seconds(seconds)}.")
        return Explanation(sentence, p, seconds, p0, seconds0, str(now.source[0]), 0, 0, topic_label)
    focus, recent, listed = _focus(seq, raw.weights[0] if raw.weights else None, model)
    basis = f"your {n} answer{'s' if n != 1 else ''} ({n_correct} correct)"
    if topic_label and n_topic:
        basis += f", {n_topic} of them in {topic_label} ({n_topic_correct} correct)"
    sentence = (f"Based on {basis}{focus}: {p:.0%} likely correct (a new student: {p0:.0%}), "
                f"about {format_seconds(seconds)} (a new student: {format_seconds(seconds0)}).")
    return Explanation(sentence, p, seconds, p0, seconds0, str(now.source[0]), n, n_correct, topic_label,
                       n_topic, n_topic_correct, recent, listed)
