"""The practice model: a joint model of accuracy and log-time that change with practice and with time away
(``model.PracticeModel``, registered as ``practice``)."""

from studysmart.ml.practice.model import PracticeGain, PracticeModel

__all__ = ["PracticeGain", "PracticeModel"]
