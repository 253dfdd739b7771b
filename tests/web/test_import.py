"""Bring your history on the tasks page: the template to download and the upload control (all or nothing, the bad
row named)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.tasks import transfer
from studysmart.tasks.models import Task, TaskStatus
from studysmart.users.models import User as Account
from tests.web.conftest import log_in, see

PATH = "/dashboard/tasks"


def _file(now: datetime, *, bad_difficulty: bool = False) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["title", "topic", "difficulty", "status", "completed_at", "correct",
                                              "seconds_taken"], lineterminator="\n")
    writer.writeheader()
    for i in range(3):
        writer.writerow({"title": f"Old worksheet {i}", "topic": "Chemistry",
                         "difficulty": "tricky" if bad_difficulty and i == 1 else "easy", "status": "done",
                         "completed_at": (now - timedelta(days=i + 1)).isoformat(), "correct": "yes",
                         "seconds_taken": "300"})
    return text.getvalue().encode()


async def _upload(user: User, data: bytes) -> None:
    upload = user.find(marker="import-upload").elements.pop()
    assert isinstance(upload, ui.upload)
    await upload.handle_uploads([SmallFileUpload("history.csv", "text/csv", data)])


def _tasks(sessions: sessionmaker[Session], owner: Account) -> list[Task]:
    with sessions() as session:
        return list(session.scalars(select(Task).where(Task.owner_id == owner.id).order_by(Task.id)))


async def test_the_template_downloads_from_the_tasks_page(user: User, student: Account) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "Bring your history (CSV)")
    user.find(marker="import-template").click()
    response = await user.download.next(timeout=5)
    assert tuple(next(csv.reader(io.StringIO(response.content.decode())))) == transfer.TASK_CSV_COLUMNS


async def test_uploading_past_sessions_adds_them_as_history(user: User, student: Account, now: datetime,
                                                           sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "No tasks yet")
    await _upload(user, _file(now))
    await see(user, "Imported 3 tasks.")
    await see(user, "Old worksheet 2")  # the list shows them at once
    imported = _tasks(sessions, student)
    assert [(t.title, t.status, t.correct) for t in imported] == [
        (f"Old worksheet {i}", TaskStatus.DONE, True) for i in range(3)]
    user.find(marker="new-topic").type("Chemistry")
    await see(user, "From your 3 Chemistry answers.")  # the preview is personal from the first day


async def test_a_file_with_a_bad_row_imports_nothing_and_names_it(user: User, student: Account, now: datetime,
                                                                 sessions: sessionmaker[Session]) -> None:
    await log_in(user, student.email, path=f"/?next={PATH}")
    await see(user, "No tasks yet")
    await _upload(user, _file(now, bad_difficulty=True))
    await see(user, "Nothing was imported. row 3, column difficulty: Input should be 'easy', 'medium' or 'hard'.")
    assert _tasks(sessions, student) == []
