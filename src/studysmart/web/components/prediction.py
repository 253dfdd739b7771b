"""Predictions on the page: the live preview while creating a task, and the compact badge on each task.

The preview always occupies the same space (a fixed minimum height with placeholder text), so the form does
not jump when a prediction arrives. P(correct) carries a "±" only when the student has answered this topic
before: it is one standard deviation of a Beta distribution with the model's mean and as many observations as
those answers (plus two), a plain statement of how much of the student's own evidence is behind the number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from nicegui import ui
from sqlalchemy.orm import Session

from studysmart.learning import history as stored_answers
from studysmart.learning import serving as predictions
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, Topic, topic_key
from studysmart.users.models import User
from studysmart.web.components.format import duration, interval, percent

SOURCE_LABELS = {
    "model": "fitted to your answers",
    "item-prior": "from all students (you have no answers here yet)",
    "population-prior": "from all students (nobody has answered this yet)",
}


@dataclass(frozen=True)
class Preview:
    """What the serving model expects for a (topic, difficulty) task of this student."""

    p_correct: float
    expected_seconds: float
    seconds_low: float
    seconds_high: float
    model: str
    source: str
    explanation: str
    topic_answers: int

    @property
    def p_spread(self) -> float | None:
        """The "±" of P(correct) from the student's own answers in this topic (None without any)."""
        if self.topic_answers <= 0:
            return None
        p = self.p_correct
        return math.sqrt(p * (1 - p) / (self.topic_answers + 3))

    @property
    def p_text(self) -> str:
        """``"72% (±8)"``, or ``"≈72%"`` without own answers in the topic."""
        spread = self.p_spread
        if spread is None:
            return f"≈{percent(self.p_correct)}"
        return f"{percent(self.p_correct)} (±{100 * spread:.0f})"


def preview_task(*, session: Session, user: User, topic: str, difficulty: Difficulty | str,
                 now: datetime) -> Preview:
    """The prediction a new task would get; nothing is written (a new topic is priced, not created).

    Args:
        session: a database session.
        user: the student.
        topic: the topic name as typed.
        difficulty: easy, medium or hard.
        now: the current time.

    Returns:
        The preview.
    """
    name = " ".join(topic.split())
    subject = tasks.find_topic(session=session, name=name) or Topic(name=name, key=topic_key(name))
    history = stored_answers.user_history(session, user)  # read once: for the prediction and the answer count
    served = predictions.predict_task(session=session, user=user, topic=subject,
                                      difficulty=Difficulty(difficulty), now=now, history=history)
    topics = history.row_topic()
    answers = int(np.sum(topics == subject.key)) if topics is not None and len(history) else 0
    return Preview(p_correct=served.p_correct, expected_seconds=served.expected_seconds,
                   seconds_low=served.seconds_low, seconds_high=served.seconds_high, model=served.model,
                   source=served.source, explanation=served.explanation, topic_answers=answers)


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

    def show(self, preview: Preview | None, message: str | None = None) -> None:
        """Show a prediction, or a message in the reserved space."""
        self.card.classes(remove="opacity-60")
        if preview is None:
            self.p_label.set_text("—")
            self.time_label.set_text("—")
            self.range_label.set_text("")
            self.why_label.set_text(message or "Type a topic to see the prediction.")
            return
        self.p_label.set_text(preview.p_text)
        self.time_label.set_text(f"~{duration(preview.expected_seconds)}")
        self.range_label.set_text(f"80% range {interval(preview.seconds_low, preview.seconds_high)}")
        self.why_label.set_text(f"Why: {preview.explanation} Model: {preview.model}, "
                                f"{SOURCE_LABELS.get(preview.source, preview.source)}.")


def prediction_badge(task: Task) -> None:
    """The prediction shown when the task was created, compactly, with its range and source as a tooltip."""
    if task.p_correct is None or task.expected_seconds is None:
        ui.label("no prediction").classes("text-xs ss-muted")
        return
    with ui.row().classes("items-center gap-2 text-sm").mark("task-prediction"):
        ui.icon("psychology").classes("text-base ss-muted")
        ui.label(f"{percent(task.p_correct)} likely correct · ~{duration(task.expected_seconds)}")
        if task.seconds_low and task.seconds_high:
            ui.label(f"({interval(task.seconds_low, task.seconds_high)})").classes("ss-muted whitespace-nowrap")
        ui.tooltip(f"Model {task.model or '?'}; {SOURCE_LABELS.get(task.source or '', task.source or '')}")
