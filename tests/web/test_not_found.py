"""The "not found" page: inside the app frame and in the student's theme, with HTTP 404, for unknown /dashboard
paths and for a task page whose task is missing or another student's; one task's own page works."""

from __future__ import annotations

import re
from datetime import datetime

from nicegui import Client, ui
from nicegui.testing import User
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.users.models import User as Account
from tests.factories import make_task, make_user
from tests.web.conftest import log_in, see


async def _page(user: User, path: str) -> tuple[int, Client]:
    """GET a page as this browser: the status and the page's client (its elements)."""
    response = await user.http_client.get(path)
    match = re.search(r"'client_id': '([0-9a-f-]+)'", response.text)
    assert match is not None, response.text[:300]
    return response.status_code, Client.instances[match.group(1)]


def _texts(client: Client) -> list[str]:
    return [element.text for element in client.elements.values() if isinstance(element, ui.label)]


def _dark(client: Client) -> bool | None:
    [dark] = [element for element in client.elements.values() if isinstance(element, ui.dark_mode)]
    return dark.value


def _in_the_frame(client: Client) -> bool:
    return any("logout" in element._markers for element in client.elements.values())


def _dark_student(sessions: sessionmaker[Session], student: Account) -> None:
    with transaction(sessions) as session:
        owner = session.get(Account, student.id)
        owner.preferences = {**owner.preferences, "theme": "dark"}


async def test_an_unknown_dashboard_path_is_a_404_in_the_frame_and_theme(
        user: User, student: Account, sessions: sessionmaker[Session]) -> None:
    _dark_student(sessions, student)
    await log_in(user, student.email)
    status, page = await _page(user, "/dashboard/whatever")
    assert status == 404
    assert _in_the_frame(page) and _dark(page) is True
    assert "Page not found" in _texts(page)
    assert any(text.startswith("There is no such page here.") for text in _texts(page))

    trailing = await user.http_client.get("/dashboard/tasks/")
    assert (trailing.status_code, trailing.headers["location"]) == (307, "/dashboard/tasks")


async def test_a_missing_or_someone_elses_task_is_a_404_and_ones_own_task_has_a_page(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        own = make_task(session, session.get(Account, student.id), now=now, title="My vectors").id
        theirs = make_task(session, make_user(session, now=now), now=now, title="Their secret").id
    _dark_student(sessions, student)
    await log_in(user, student.email)
    for path in (f"/dashboard/tasks/{theirs}", "/dashboard/tasks/999999", "/dashboard/tasks/abc",
                 "/dashboard/tasks/99999999999"):
        status, page = await _page(user, path)
        assert status == 404, path
        assert _in_the_frame(page) and _dark(page) is True, path
        assert any(text.startswith("There is no such task among yours.") for text in _texts(page)), path
        assert not any("Their secret" in text for text in _texts(page))

    await user.open(f"/dashboard/tasks/{own}")
    await see(user, marker=f"task-{own}")
    await user.should_see("My vectors")
    await user.should_see(marker="edit")


async def test_logged_out_an_unknown_path_asks_to_log_in_first(user: User) -> None:
    response = await user.http_client.get("/dashboard/whatever")
    assert response.status_code == 303
    assert response.headers["location"] == "/?next=/dashboard/whatever"
