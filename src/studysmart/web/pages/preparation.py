"""/dashboard/preparation: the student's exams with their readiness (expected score now, with a range), the
day-by-day plan and its calendar export, as far as the planning service provides them (see
``components/exams.py``: until it is wired, the page says there are no exams yet)."""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from studysmart.core.db import utcnow
from studysmart.web import auth, context
from studysmart.web.actions import perform
from studysmart.web.components import exams
from studysmart.web.layout import empty_state, frame, placeholder_until_connected

PATH = "/dashboard/preparation"


async def _download_ics(exam: exams.ExamView) -> None:
    if exam.ics is None:
        return
    calendar = await context.in_thread(exam.ics)
    slug = re.sub(r"[^a-z0-9]+", "-", exam.name.lower()).strip("-") or "exam"
    ui.download.content(calendar, f"{slug}.ics", "text/calendar")


def register() -> None:
    """Register the page."""

    @ui.page(PATH)
    async def preparation_page(request: Request) -> RedirectResponse | None:
        checked = auth.require_user(request)
        if isinstance(checked, RedirectResponse):
            return checked
        user, who = checked
        with frame("Preparation", user=user, path=PATH):
            placeholder = await placeholder_until_connected(blocks=1, height="8rem")
            outcome = await perform(who, lambda s, u: exams.load_exams(session=s, user=u, now=utcnow()),
                                    path=PATH)
            placeholder.delete()
            if not outcome.ok:
                return None
            upcoming = outcome.value or []
            ui.label("Your exams, how ready you are for each (expected score now, with its range), and a "
                     "plan that fits the minutes you have.").classes("text-sm ss-muted")
            with ui.column().classes("w-full gap-3").mark("exams"):
                if not upcoming:
                    empty_state("No exams yet. Once you add an exam with its date and topics, its readiness "
                                "and a day-by-day plan appear here.", icon="event")
                today = utcnow().astimezone(who.zone).date()
                for exam in upcoming:
                    exams.exam_card(exam, today=today, on_ics=_download_ics)
        return None
