"""Tests of exam planning; ``cells`` builds predictions from compact per-topic profiles."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from studysmart.planning.engine import DIFFICULTIES, CellPrediction, StudentPredictions, TopicAbility


def cells(
    profile: Mapping[str, Sequence[float]],
    *,
    seconds: float = 120.0,
    sd_log_time: float = 0.4,
    theta_sd: float | None = None,
) -> StudentPredictions:
    """Predictions from topic -> (p_easy, p_medium, p_hard); items take ``seconds`` (median) each.

    With ``theta_sd`` the topics get abilities (theta 0) of that uncertainty; otherwise p-only predictions.
    """
    out = [
        CellPrediction(topic=topic, difficulty=d, p_correct=p, mean_log_time=math.log(seconds), sd_log_time=sd_log_time)
        for topic, ps in profile.items()
        for d, p in zip(DIFFICULTIES, ps, strict=True)
    ]
    abilities = {} if theta_sd is None else {t: TopicAbility(topic=t, theta=0.0, theta_sd=theta_sd) for t in profile}
    return StudentPredictions(cells=tuple(out), abilities=abilities)
