"""Run one student action from the UI: the service call off the event loop, domain errors as messages.

Every action re-checks the web session (``auth.act``), so an expired or revoked session sends the browser back
to the log-in page instead of acting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from nicegui import ui
from sqlalchemy.orm import Session

from studysmart.tasks.service import (
    AlreadyCompleted,
    InvalidTaskInput,
    NotCompleted,
    TaskNotFound,
    TimerRunning,
    UndoExpired,
)
from studysmart.users.models import User
from studysmart.users.service import InvalidCredentials
from studysmart.web import auth

R = TypeVar("R")

FIELD_NAMES = {"title": "Title", "topic": "Topic", "difficulty": "Difficulty", "seconds": "Time taken",
               "due_date": "Due date", "notes": "Notes", "correct": "Outcome"}


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """Whether the action went through, and its result."""

    ok: bool
    value: R | None = None


FIXED_MESSAGES: dict[type[Exception], str] = {
    TaskNotFound: "That task no longer exists.",
    AlreadyCompleted: "That task is already done.",
    NotCompleted: "That task is not done, so there is nothing to undo.",
    UndoExpired: "Too late to undo; edit the task to correct its outcome or time.",
}


def message_for(error: Exception) -> str:
    """The sentence a student reads for a domain error."""
    for kind, message in FIXED_MESSAGES.items():
        if isinstance(error, kind):
            return message
    if isinstance(error, TimerRunning):
        return f"“{error.running_title[:60]}” is running: complete it or stop its timer before starting another."
    if isinstance(error, InvalidTaskInput):
        return f"{FIELD_NAMES.get(error.field, error.field)}: {error.reason}."
    if isinstance(error, InvalidCredentials):
        return str(error).capitalize() + "."
    return "Something went wrong; please try again."


async def perform(who: auth.Identity, work: Callable[[Session, User], R], *, path: str,
                  success: str | None = None) -> Outcome[R]:
    """Run ``work(session, user)`` in one transaction for the logged-in user.

    Args:
        who: the browser's identity.
        work: the service call.
        path: the current page, to come back to after logging in again.
        success: a notification shown when it worked.

    Returns:
        The outcome; domain errors are shown as a notification and give ``ok=False``.
    """
    try:
        value = await auth.act(who, work)
    except auth.SessionExpired:
        auth.expire_and_leave(path)
        return Outcome(False)
    except (TaskNotFound, AlreadyCompleted, NotCompleted, UndoExpired, TimerRunning, InvalidTaskInput,
            InvalidCredentials) as error:
        ui.notify(message_for(error), type="negative")
        return Outcome(False)
    if success:
        ui.notify(success, type="positive")
    return Outcome(True, value)
