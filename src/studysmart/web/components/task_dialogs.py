"""The dialogs of the tasks page: complete (outcome + time, prefilled from the timer), edit, delete.

Enter in a field submits; Esc (or a click outside) closes without saving. Each dialog is created on demand in
a stable host element and deleted when it closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from nicegui import ui

from studysmart.tasks.models import Task, TaskStatus
from studysmart.web.components.format import DIFFICULTY_LABELS, duration
from studysmart.web.components.timer import elapsed_seconds

MAX_MINUTES = 24 * 60
SaveComplete = Callable[[bool, float], Awaitable[bool]]
SaveEdit = Callable[[dict[str, Any]], Awaitable[bool]]
Confirm = Callable[[], Awaitable[bool]]


def _dialog(host: ui.element, title: str) -> tuple[ui.dialog, ui.card]:
    with host:
        dialog = ui.dialog()
    dialog.on("hide", dialog.delete)
    with dialog:
        card = ui.card().classes("w-[min(92vw,28rem)] gap-3").props('role=dialog aria-modal=true')
        with card:
            ui.label(title).classes("text-lg font-semibold").props('role=heading aria-level="2"')
    return dialog, card


def _buttons(dialog: ui.dialog, label: str, on_click: Callable[[], Awaitable[None]], *, marker: str,
             color: str = "primary") -> None:
    with ui.row().classes("w-full justify-end gap-2"):
        ui.button("Cancel", on_click=dialog.close).props("flat no-caps").mark("cancel")
        ui.button(label, on_click=on_click, color=color).props("no-caps").mark(marker)


def prefilled_minutes(task: Task) -> float | None:
    """The time to prefill: the running timer's minutes for a started task (None if it was not started)."""
    if task.started_at is None:
        return None
    return round(max(elapsed_seconds(task.started_at) / 60.0, 0.1), 1)


def open_complete(host: ui.element, task: Task, on_save: SaveComplete) -> ui.dialog:
    """Ask for the outcome and the time taken (minutes, prefilled from the timer, editable)."""
    dialog, card = _dialog(host, f"Complete “{task.title}”")
    with card:
        outcome = ui.radio({"correct": "Correct", "incorrect": "Incorrect"}, value="correct") \
            .props('inline aria-label="Outcome"').mark("outcome")
        minutes = ui.number("Minutes taken", value=prefilled_minutes(task), min=0.1, max=MAX_MINUTES,
                            step=0.5, format="%.1f").props("autofocus").classes("w-full").mark("minutes")
        if task.expected_seconds:
            ui.label(f"Predicted ~{duration(task.expected_seconds)}").classes("text-sm ss-muted")

        async def save() -> None:
            value = minutes.value
            if value is None or not 0 < float(value) <= MAX_MINUTES:
                minutes.error = f"Enter the minutes taken (more than 0, at most {MAX_MINUTES})."
                return
            minutes.error = None
            if await on_save(outcome.value == "correct", float(value) * 60.0):
                dialog.close()

        minutes.on("keydown.enter", save)
        _buttons(dialog, "Save", save, marker="save-complete")
    dialog.open()
    return dialog


def open_edit(host: ui.element, task: Task, topics: list[str], on_save: SaveEdit) -> ui.dialog:
    """Edit title, topic, difficulty (not once done), due date and notes; once done, correct the outcome and
    the minutes taken."""
    dialog, card = _dialog(host, "Edit task")
    done = task.status is TaskStatus.DONE
    with card:
        title = ui.input("Title", value=task.title).classes("w-full").props("autofocus maxlength=200") \
            .mark("edit-title")
        topic = ui.input("Topic", value=task.topic.name, autocomplete=topics).classes("w-full") \
            .props("maxlength=100").mark("edit-topic")
        difficulty = ui.select(DIFFICULTY_LABELS, value=task.difficulty.value, label="Difficulty") \
            .classes("w-full").mark("edit-difficulty")
        outcome, minutes = None, None
        if done:
            topic.disable()
            difficulty.disable()
            ui.label("A completed task keeps its topic and difficulty.").classes("text-xs ss-muted")
            outcome = ui.radio({"correct": "Correct", "incorrect": "Incorrect"},
                               value="correct" if task.correct else "incorrect") \
                .props('inline aria-label="Outcome"').mark("edit-outcome")
            minutes = ui.number("Minutes taken", value=round((task.seconds_taken or 60.0) / 60.0, 1), min=0.1,
                                max=MAX_MINUTES, step=0.5, format="%.1f").classes("w-full").mark("edit-minutes")
        due = ui.input("Due date", value=task.due_date.isoformat() if task.due_date else "") \
            .props("type=date stack-label").classes("w-full").mark("edit-due")
        notes = ui.textarea("Notes", value=task.notes or "").props("autogrow maxlength=10000") \
            .classes("w-full")

        async def save() -> None:
            changes: dict[str, Any] = {}
            if not title.value.strip():
                title.error = "A title is needed."
                return
            changes["title"] = title.value.strip()[:200]
            if not done:
                if not topic.value.strip():
                    topic.error = "A topic is needed."
                    return
                changes["topic"] = topic.value.strip()[:100]
                changes["difficulty"] = difficulty.value
            if outcome is not None and minutes is not None:
                if minutes.value is None or not 0 < float(minutes.value) <= MAX_MINUTES:
                    minutes.error = f"Enter the minutes taken (more than 0, at most {MAX_MINUTES})."
                    return
                changes.update(_corrected(task, outcome.value == "correct", float(minutes.value) * 60.0))
            changes["due_date"] = date.fromisoformat(due.value) if due.value else None
            changes["notes"] = notes.value or None
            if await on_save(changes):
                dialog.close()

        for field in (title, topic, due):
            field.on("keydown.enter", save)
        _buttons(dialog, "Save", save, marker="save-edit")
    dialog.open()
    return dialog


def _corrected(task: Task, correct: bool, seconds: float) -> dict[str, Any]:
    """The outcome and time changes of a done task's edit (only what changed; the minutes field rounds to 0.1)."""
    changes: dict[str, Any] = {}
    if correct != task.correct:
        changes["correct"] = correct
    if abs(seconds - (task.seconds_taken or 0.0)) >= 3.0:
        changes["seconds"] = max(seconds, 1.0)
    return changes


def open_delete(host: ui.element, task: Task, on_confirm: Confirm) -> ui.dialog:
    """Confirm deleting a task (and its prediction history)."""
    dialog, card = _dialog(host, "Delete task?")
    with card:
        ui.label(f"“{task.title}” and its predictions will be deleted. This cannot be undone.")

        async def confirm() -> None:
            if await on_confirm():
                dialog.close()

        _buttons(dialog, "Delete", confirm, marker="confirm-delete", color="negative")
    dialog.open()
    return dialog
