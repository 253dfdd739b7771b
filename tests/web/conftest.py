"""Web UI tests: NiceGUI's simulated ``user`` on the app that ``create_app`` builds, over a migrated SQLite
database per test (the UI's behaviour does not depend on the backend, so these run on SQLite only).

NiceGUI's ``user_plugin`` is loaded here by importing its hook and using its public ``user_simulation`` (a
``pytest_plugins`` line is only allowed in the top-level conftest).
"""

from __future__ import annotations

import asyncio
import gc
import re
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nicegui import app, storage
from nicegui.persistence import PersistentDict
from nicegui.testing import User, user_simulation
from nicegui.testing.general_fixtures import pytest_configure  # noqa: F401 - temporary dir for app.storage
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings
from studysmart.core.db import transaction, utcnow
from studysmart.users.models import User as Account
from tests.factories import PASSWORD, make_user

MAIN_FILE = Path(__file__).with_name("main_app.py")
BROWSER_ZONE = "Europe/Berlin"


def browser_today() -> date:
    """Today in the simulated browser's zone (the pages count days there; it differs from UTC near midnight)."""
    return datetime.now(ZoneInfo(BROWSER_ZONE)).date()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only for the UI tests (overrides the per-backend parametrisation)."""
    return f"sqlite:///{tmp_path / 'web.db'}"


def _act_in_the_pages_request(simulated: User) -> None:
    """Run simulated clicks and key presses with the request of the page they happen on, as the server does for
    a real event (``Element._handle_event``). NiceGUI's simulation runs them with whatever request the test task
    saw last, and a navigation opens the new page in a background task, so ``app.storage.user`` would be the
    storage of an earlier page's browser id; that matters since the browser id changes at login and logout."""
    find = simulated.find

    def find_on_the_current_page(*args: Any, **kwargs: Any) -> Any:
        if simulated.client is not None:
            storage.request_contextvar.set(simulated.client.request)
        return find(*args, **kwargs)

    simulated.find = find_on_the_current_page  # type: ignore[method-assign]


def _wait_patiently(simulated: User) -> None:
    """``should_see`` waits up to ``WAIT`` tries by default (NiceGUI's 3 tries of 0.1 s fail on a loaded machine,
    where a navigation or the thread pool takes longer)."""
    should_see = simulated.should_see

    async def should_see_patiently(*args: Any, retries: int = WAIT, **kwargs: Any) -> None:
        await should_see(*args, retries=retries, **kwargs)

    simulated.should_see = should_see_patiently  # type: ignore[method-assign]


def stored(user: User) -> PersistentDict:
    """``app.storage.user`` of the simulated browser's current page (its browser id)."""
    assert user.client is not None
    storage.request_contextvar.set(user.client.request)
    return app.storage.user


@pytest.fixture
async def user(migrated: str, caplog: pytest.LogCaptureFixture) -> AsyncIterator[User]:
    """A simulated browser on the full app; fails the test on any ERROR log, like NiceGUI's own fixture."""
    # NiceGUI's simulation runs a full gc.collect() before and after each test; after a few hundred tests in
    # one process (torch, numba, hypothesis loaded) each took ~10 s. Objects that exist now are left out of it.
    gc.freeze()
    async with user_simulation(main_file=MAIN_FILE) as simulated:
        loaded = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "studysmart"}
        simulated.javascript_rules[re.compile(r".*Intl\.DateTimeFormat.*")] = lambda _: BROWSER_ZONE
        _act_in_the_pages_request(simulated)
        _wait_patiently(simulated)
        yield simulated
    # NiceGUI drops the modules of page functions (and their parents, ``studysmart`` itself) so that
    # module-level @ui.page decorators run again; ours register inside mount(), so keep the modules intact.
    sys.modules.update(loaded)
    errors = [record for record in caplog.get_records("call") if record.levelname == "ERROR"]
    if errors:
        pytest.fail(f"unexpected ERROR logs: {[r.getMessage() for r in errors]}", pytrace=False)


@pytest.fixture
def now() -> datetime:
    return utcnow()


@pytest.fixture
def student(sessions: sessionmaker[Session], now: datetime) -> Account:
    """A registered student (password ``tests.factories.PASSWORD``)."""
    with transaction(sessions) as session:
        return make_user(session, now=now)


WAIT = 60  # retries of 0.1 s for steps that hash a password or compute predictions in the thread pool


async def see(user: User, target: str | None = None, *, marker: str | None = None) -> None:
    """``should_see`` that waits up to 6 s (work in the thread pool, a busy CI machine)."""
    if target is not None:
        await user.should_see(target, retries=WAIT)
    else:
        await user.should_see(marker=marker, retries=WAIT)


async def see_inside(user: User, scope: str, *, marker: str) -> None:
    """``see`` inside the element marked ``scope``, entered again on each try: a list that re-renders replaces
    its cards, and a scope entered before the re-render would point at a deleted card."""
    for _ in range(WAIT):
        try:
            with user.scope(marker=scope):
                await user.should_see(marker=marker, retries=1)
            return
        except AssertionError:
            await asyncio.sleep(0.1)
    with user.scope(marker=scope):
        await user.should_see(marker=marker, retries=1)


async def log_in(user: User, email: str, password: str = PASSWORD, *, path: str = "/") -> None:
    """Log in through the form of the home page and wait for the page after it."""
    await user.open(path)
    user.find(marker="login-email").type(email)
    user.find(marker="login-password").type(password).trigger("keydown.enter")
    await see(user, marker="logout")


def web_settings() -> Settings:
    """The settings of the app the simulated user talks to (NiceGUI's app holds its context; see web.mount)."""
    from nicegui import core

    settings: Settings = core.app.state.context.settings
    return settings
