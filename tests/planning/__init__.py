"""Tests of exam planning; ``cells`` builds predictions from compact per-topic profiles."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from studysmart.planning.engine import DIFFICULTIES, CellPrediction, StudentPredictions, TopicAbility, TopicLearning


def cells(
    profile: Mapping[str, Sequence[float]],
    *,
    seconds: float = 120.0,
    sd_log_time: float = 0.4,
    theta_sd: float | None = None,
    learns: bool = True,
    forgetting: float = 0.3,
) -> StudentPredictions:
    """Predictions from topic -> (p_easy, p_medium, p_hard); items take ``seconds`` (median) each.

    With ``theta_sd`` the topics get abilities (theta 0) of that uncertainty; otherwise p-only predictions. With
    ``learns`` each topic learns as ``learning()`` says (else no gains: a model without learning).
    """
    out = [
        CellPrediction(topic=topic, difficulty=d, p_correct=p, mean_log_time=math.log(seconds), sd_log_time=sd_log_time)
        for topic, ps in profile.items()
        for d, p in zip(DIFFICULTIES, ps, strict=True)
    ]
    abilities = {} if theta_sd is None else {t: TopicAbility(topic=t, theta=0.0, theta_sd=theta_sd) for t in profile}
    return StudentPredictions(cells=tuple(out), abilities=abilities,
                              learning={t: learning(t, forgetting=forgetting) for t in profile} if learns else {})


def learning(topic: str, *, forgetting: float = 0.3, days: int = 400) -> TopicLearning:
    """Typical gains of a model of learning (logit slopes per log(1 + count), larger for harder problems) and
    power-law forgetting (1 + days)^-forgetting."""
    return TopicLearning(topic=topic, past_correct=5, past_wrong=5,
                         gain_correct={"easy": 0.15, "medium": 0.3, "hard": 0.4},
                         gain_wrong={"easy": 0.05, "medium": 0.15, "hard": 0.2},
                         retention=tuple((1 + k) ** -forgetting for k in range(days + 1)))
