"""The prediction a student is shown, as one value: served by ``serving``, kept by a task, read by the API and
the pages (nothing copies it field by field)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["SHOWN_FIELDS", "ServedPrediction", "ShownPrediction"]


class ShownPrediction(BaseModel):
    """What a student is shown for a task: P(correct), the expected time with its 80% range, and which model (and
    version, and which of its parameters: ``source``) said so. A task keeps the one it was shown at creation; the
    API's ``PredictionRead`` is this value (read with ``model_validate``)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    p_correct: float
    expected_seconds: float
    seconds_low: float
    seconds_high: float
    model: str
    model_version: int | None
    source: str


class ServedPrediction(ShownPrediction):
    """A prediction as served: what is shown, the log-time distribution behind it, the sentence that explains it
    and the A/B arm that chose its model."""

    mean_log_time: float
    sd_log_time: float
    explanation: str
    arm: str = "champion"

    def shown(self) -> ShownPrediction:
        """The part a task keeps."""
        return ShownPrediction(**{name: getattr(self, name) for name in SHOWN_FIELDS})


SHOWN_FIELDS = tuple(ShownPrediction.model_fields)
