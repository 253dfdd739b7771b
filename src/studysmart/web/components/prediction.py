"""Predictions on the page: the live preview while creating a task (``tasks.service.preview``, as the API's), and
the compact badge on each task.

The preview always occupies the same space (a fixed minimum height with placeholder text), so the form does
not jump when a prediction arrives. P(correct) carries a "±" only when the student has answered this topic
before: it is one standard deviation of a Beta distribution with the model's mean and as many observations as
those answers (plus two), a plain statement of how much of the student's own evidence is behind the number.
"""

from __future__ import annotations

import math

from nicegui import ui

from studysmart.learning import registry
from studysmart.learning.prediction import ShownPrediction
from studysmart.tasks import service as tasks
from studysmart.web.components.format import duration, interval, percent

SOURCE_LABELS = {
    "model": "fitted to your answers",
    "item-prior": "from all students (you have no answers here yet)",
    "population-prior": "from all students (nobody has answered this yet)",
}


def model_sentence(shown: ShownPrediction) -> str:
    """The model behind a prediction in a student's words (its plain name and one-line meaning from the
    registry, and where the numbers come from): ``'Predicted by "Your practice curve": learns from each answer
    and forgets over time; fitted to your answers.'``"""
    model = shown.model or None
    return (f'Predicted by "{registry.plain_name(model)}": {registry.meaning(model)}; '
            f"{SOURCE_LABELS.get(shown.source, 'from all students')}.")


def p_text(preview: tasks.Preview) -> str:
    """``"72% (±8)"``, or ``"≈72%"`` without own answers in the topic. The "±" is one standard deviation of a Beta
    with the model's mean and the student's answers in this topic (plus three) as its observations."""
    p = preview.prediction.p_correct
    if preview.topic_answers <= 0:
        return f"≈{percent(p)}"
    return f"{percent(p)} (±{100 * math.sqrt(p * (1 - p) / (preview.topic_answers + 3)):.0f})"


class PreviewPanel:
    """The reserved-space preview block of the create form."""

    def __init__(self) -> None:
        with ui.card().props("flat bordered").classes("w-full gap-1 min-h-[6.5rem]").mark("preview") as card:
            with ui.row().classes("w-full items-baseline gap-x-6 gap-y-1"):
                with ui.column().classes("gap-0"):
                    ui.label("Likely correct").classes("text-xs uppercase ss-muted")
                    self.p_label = ui.label("—").classes("text-2xl font-semibold").mark("preview-p")
                with ui.column().classes("gap-0"):
                    ui.label("Expected time").classes("text-xs uppercase ss-muted")
                    self.time_label = ui.label("—").classes("text-2xl font-semibold").mark("preview-time")
                self.range_label = ui.label("").classes("text-sm ss-muted").mark("preview-range")
            self.why_label = ui.label("Type a topic to see the prediction.").classes("text-sm") \
                .mark("preview-why")
        self.card = card

    def loading(self) -> None:
        """Dim the current numbers while a new prediction is computed (same size, no jump)."""
        self.card.classes(add="opacity-60")

    def show(self, preview: tasks.Preview | None, message: str | None = None) -> None:
        """Show a prediction, or a message in the reserved space."""
        self.card.classes(remove="opacity-60")
        if preview is None:
            self.p_label.set_text("—")
            self.time_label.set_text("—")
            self.range_label.set_text("")
            self.why_label.set_text(message or "Type a topic to see the prediction.")
            return
        shown = preview.prediction
        self.p_label.set_text(p_text(preview))
        self.time_label.set_text(f"~{duration(shown.expected_seconds)}")
        self.range_label.set_text(f"80% range {interval(shown.seconds_low, shown.seconds_high)}")
        self.why_label.set_text(f"Why: {shown.explanation} {model_sentence(shown)}")


def prediction_badge(shown: ShownPrediction | None, *, current: bool = False) -> None:
    """A task's prediction, compactly, with its range and source as a tooltip: ``current`` for an open task's
    live one (from the student's answers so far), otherwise the one the done task was shown and scored on."""
    if shown is None:
        ui.label("no prediction").classes("text-xs ss-muted")
        return
    with ui.row().classes("items-center gap-2 text-sm").mark("task-prediction"):
        ui.icon("psychology").classes("text-base ss-muted")
        ui.label(f"{percent(shown.p_correct)} likely correct · ~{duration(shown.expected_seconds)}") \
            .mark("task-prediction-p")
        if shown.seconds_low and shown.seconds_high:
            ui.label(f"({interval(shown.seconds_low, shown.seconds_high)})").classes("ss-muted whitespace-nowrap")
        when = "now, from your answers so far" if current else "when you started it"
        ui.tooltip(f"Predicted {when}. {model_sentence(shown)}")
