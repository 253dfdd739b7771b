"""One practice-model prediction explained: a sentence for the UI that names the practice gain and the forgetting
it used, and the numbers behind it (the logit of P(correct) split into the student's level, the topic's
practice gain as it was right after practice, and what time away has taken of it)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from studysmart.ml.data import Queries, Responses
from studysmart.ml.practice.design import COLUMN_NAMES, linear

if TYPE_CHECKING:
    from studysmart.ml.practice.model import PracticeModel

__all__ = ["Explanation", "explain_prediction", "headed"]


@dataclass(frozen=True)
class Explanation:
    """One prediction explained.

    Attributes:
        sentence: the text for the UI (``headed`` with this prediction's numbers and ``reason``).
        p_correct, expected_seconds: the prediction (median seconds).
        topic, n_topic_answers, n_topic_correct: the query's topic and the student's earlier answers on it.
        practice_logit: what the earlier answers on the query's topic and item add to the logit of P(correct) now
            (fading part after time away plus lasting part; the student's overall practice, session and pace terms
            are not counted); practice_logit_fresh: the same right after practice (no time away).
        practice_log_time: what they add to the mean log-time now (negative: faster).
        days_away: days since the topic was last practised (None: never, or positions without clock time).
        reason: the sentence without its opening numbers, for a caller that shows other numbers (a blend that
            explains by this member states its own P(correct) and time: ``headed``).
    """

    sentence: str
    p_correct: float
    expected_seconds: float
    topic: str | None
    n_topic_answers: int
    n_topic_correct: int
    practice_logit: float
    practice_logit_fresh: float
    practice_log_time: float
    days_away: float | None
    reason: str = ""  # the sentence after its head of numbers: what practice and time away did

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def headed(p_correct: float, expected_seconds: float, reason: str) -> str:
    """The explanation's sentence: the prediction's numbers, then ``reason``."""
    return f"{p_correct:.0%} likely right, about {_seconds(expected_seconds)}: {reason}"


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value < 90 else f"{value / 60:.0f} min"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _points(p: float, logit_term: float) -> float:
    """Percentage points a term of the logit adds to the probability ``p`` (the one it is part of)."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    without = 1.0 / (1.0 + math.exp(-(math.log(p / (1 - p)) - logit_term)))
    return 100.0 * (p - without)


#: The columns about all of a student's answers, not the query's topic and item: the sentence's "your N <topic>
#: answers add ..." leaves them out (they are the student's overall practice, session and pace).
_OVERALL = [COLUMN_NAMES.index(name) for name in
            ("all_correct", "all_wrong", "all_last", "session_gap", "last_speed", "last_speed_outcome")]


def _own(weights: np.ndarray) -> np.ndarray:
    """``weights`` with the overall columns' set to 0: the part of the practice term due to the topic's answers."""
    out = np.array(weights, dtype=np.float64)
    out[_OVERALL] = 0.0
    return out


def _terms(model: PracticeModel, cols: Any, topic: np.ndarray) -> tuple[float, float, float]:
    """What the topic's and item's earlier answers add to the accuracy logit now, the same with no time away, and
    to the mean log-time now."""
    a, t = model.acc_, model.time_
    slope_topic = np.where((topic >= 0) & (topic < model.vocab_.n_topics), topic, -1)
    now = float(linear(cols, _own(a.w), a.delta, a.u, slope_topic)[0])
    fresh = float(linear(cols, _own(a.w), 0.0, a.u, slope_topic)[0])
    time_now = float(linear(cols, _own(t.v), t.delta, t.u, slope_topic)[0])
    return now, fresh, time_now


def explain_prediction(model: PracticeModel, person: str, item: str, *, topic: str | None, difficulty: str | None,
                       order: float | None, history: Responses | None, label: str | None = None) -> Explanation:
    """The explanation of one prediction (see ``PracticeModel.explain``); ``label``: the topic's name as the student
    sees it (else the topic as given)."""
    queries = Queries.from_columns([person], [item], topic=None if topic is None else [topic],
                                   difficulty=None if difficulty is None else [difficulty],
                                   order=None if order is None else [order])
    hist = model._split(history).get(person) if history is not None and len(history) else None
    hist = hist if hist is not None else model.histories_.get(person)
    student, coded, feats, _ = model._query(person, hist, queries)
    priced, mean, _ = model._price(student, coded)
    p, seconds = float(priced[0]), math.exp(float(mean[0]))  # predict's P(correct) and median seconds
    if model.practice_:
        now, fresh, time_now = _terms(model, coded.cols, coded.topic)
    else:
        now = fresh = time_now = 0.0
    n_topic = round(feats.topic_s[0] + feats.topic_f[0])
    n_correct = round(feats.topic_s[0])
    gap = float(feats.topic_gap[0])
    days = gap / 86_400.0 if model.timestamps_ and n_topic else None
    label = label or topic or "this topic"
    if not n_topic:
        reason = f"no {label} answers yet, so no practice gain; from your other answers and all students."
    else:
        gained = round(_points(p, now))
        effect = (f"add {_count(gained, 'point')} to" if gained > 0 else
                  f"take {_count(-gained, 'point')} off" if gained < 0 else "do not change")
        reason = (f"your {n_topic} {label} answers ({n_correct} right) {effect} your chance and "
                  f"{'save' if time_now < 0 else 'add'} {abs(math.expm1(time_now)):.0%} of the time")
        faded = round(-_points(p, now - fresh))  # what time away has taken
        if days is not None and days >= 1 and fresh - now > 0.005 and faded >= 1:
            reason += (f"; {_count(round(days), 'day')} away {'has' if round(days) == 1 else 'have'} faded "
                       f"{_count(faded, 'point')} "
                       f"{'of that' if gained > 0 else 'it gave'}")
        reason += "."
    sentence = headed(p, seconds, reason)
    return Explanation(sentence, p, seconds, topic, n_topic, n_correct, now, fresh, time_now, days, reason)
