"""Baseline predictors registered as ``avg``, ``item-means``, ``person-median``, ``shrinkage`` and ``irt2pl``.

Every model here predicts P(correct) and a normal distribution of log(seconds), works with zero responses
(population priors in ``studysmart.ml._shared``: P(correct) = 0.7, a median of 60 s, sd 1.0 of log-seconds),
serialises without pickle, and reports per row where its numbers come from (``Prediction.source``):
``model`` (the person's own responses were used, on a known item or group), ``item-prior`` (the item or its
topic|difficulty group is known, nothing personal is used) or ``population-prior`` (neither is known).
The hierarchical shrinkage model lives in ``studysmart.ml.shrinkage`` and is re-exported here.
"""

from __future__ import annotations

from studysmart.ml._shared import PRIOR_P, PRIOR_SD_LOG_TIME, PRIOR_SECONDS, PRIOR_STRENGTH, NotFittedError
from studysmart.ml.shrinkage import Shrinkage

__all__ = [
    "PRIOR_P",
    "PRIOR_SD_LOG_TIME",
    "PRIOR_SECONDS",
    "PRIOR_STRENGTH",
    "NotFittedError",
    "Shrinkage",
]
