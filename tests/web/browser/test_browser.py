"""The real browser: a uvicorn server on a temporary SQLite database with some history, Debian's Chromium
driven by Playwright. Logs in through the form, visits all six pages at desktop and phone width and in dark mode
and the API docs; adds an exam and checks that the dashboard's today is the preparation page's today before and
after adding the day's tasks and after a completion; runs axe-core on every page in light and dark mode (no
serious or critical violation) and checks that every button is at least 44 px at phone width; asserts that every
page carries the Content-Security-Policy and breaks none of it (``securitypolicyviolation`` events), no console
errors and no failed requests, and saves screenshots into ./screenshots/ (git-ignored). The NiceGUI websocket
refuses a handshake from another site.

Run on its own (Playwright's sync API and pytest-asyncio must not share an event loop):
``.venv/bin/pytest -m browser -p no:cacheprovider tests/web/browser``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.config import Settings
from studysmart.core.db import transaction, utcnow
from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task, TaskStatus
from studysmart.users import service as users
from studysmart.users.models import User
from studysmart.web import styles
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "screenshots"
EMAIL, PASSWORD = "ada@example.com", "correct horse battery"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
PAGES = {  # path -> text that shows the page is built
    "/dashboard": "Today's plan",
    "/dashboard/tasks": "New task",
    "/dashboard/analytics": "Model leaderboard",
    "/dashboard/preparation": "Add exam",
    "/dashboard/settings": "Delete account",
}
DOCS = {"/docs": "/api/v1/tasks", "/redoc": "/api/v1/tasks"}  # Swagger UI and ReDoc, assets from this server
TOPICS = ("Algebra", "Geometry", "Probability")


def _seed(sessions: sessionmaker[Session], now: datetime) -> None:
    """Two students; Ada has 36 answers over three weeks and three planned tasks (one started)."""
    rng = np.random.default_rng(3)
    with transaction(sessions) as session:
        ada = users.register(session=session, email=EMAIL, password=PASSWORD, display_name="Ada", now=now)
        bob = users.register(session=session, email="bob@example.com", password=PASSWORD, display_name="Bob",
                             now=now)
        ada_id, bob_id = ada.id, bob.id
    skill = {"Algebra": 0.8, "Geometry": 0.55, "Probability": 0.35}
    for k in range(48):
        owner_id = ada_id if k % 4 else bob_id
        topic = TOPICS[k % 3]
        difficulty = list(Difficulty)[int(rng.integers(0, 3))]
        when = now - timedelta(days=21) + timedelta(hours=10.5 * k)
        typical = 300 + 240 * list(Difficulty).index(difficulty)
        seconds = float(np.clip(rng.lognormal(np.log(typical), 0.4), 30, 3600))
        with transaction(sessions) as session:  # one transaction per answer, as the app does
            owner = session.get(User, owner_id)
            task = tasks.create_task(session=session, user=owner, title=f"{topic} practice {k}", topic=topic,
                                     difficulty=difficulty, now=when)
            tasks.complete_task(session=session, user=owner, task_id=task.id,
                                correct=bool(rng.random() < skill[topic]), seconds=round(seconds),
                                now=when + timedelta(seconds=seconds))
    with transaction(sessions) as session:
        ada = session.get(User, ada_id)
        for topic, title, due in (("Algebra", "Factorising quadratics", -3),
                                  ("Probability", "Conditional probability", 1), ("Geometry", "Circle theorems", None)):
            task = tasks.create_task(session=session, user=ada, title=title, topic=topic,
                                     difficulty=Difficulty.MEDIUM, now=now, notes="Exercises 4-9, odd ones",
                                     due_date=None if due is None else now.date() + timedelta(days=due))
        tasks.start_task(session=session, user=ada, task_id=task.id, now=now - timedelta(minutes=4))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(settings: Settings, migrated: str, sessions: sessionmaker[Session], tmp_path: Path) -> Iterator[str]:
    """A uvicorn process serving the app on a free loopback port; fails the test if the server logged an error."""
    _seed(sessions, utcnow())
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    env = {**os.environ, "STUDYSMART_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(  # our own interpreter and module
        [sys.executable, "-m", "uvicorn", "studysmart.asgi:app", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.3)
        else:
            pytest.fail("the server did not become healthy:\n" + (tmp_path / "server.log").read_text())
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    # engine.io logs a refused foreign Origin (the websocket test provokes it) as an error: expected, not a fault.
    logged = "\n".join(line for line in (tmp_path / "server.log").read_text().splitlines()
                       if "is not an accepted origin" not in line)
    assert "Traceback" not in logged and " ERROR " not in logged, logged


#: Reports every Content-Security-Policy violation of a page (the browser blocks the resource and fires this).
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => console.error(
    `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`));
"""


class Watch:
    """Console errors (CSP violations among them), page errors, failed requests, requests to any other host
    (assets are local), documents served without the Content-Security-Policy, and Tailwind's in-browser compiler
    (the pages use the stylesheet compiled ahead, web.styles)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.problems: list[str] = []
        self.documents = 0
        self.compiled_styles = 0

    def _check_document(self, response: object) -> None:
        if response.request.resource_type != "document":  # type: ignore[attr-defined]
            return
        self.documents += 1
        policy = response.headers.get("content-security-policy", "")  # type: ignore[attr-defined]
        if "default-src 'self'" not in policy:
            self.problems.append(f"no CSP default-src 'self' on {response.url}: {policy!r}")  # type: ignore[attr-defined]

    def _check_host(self, url: str) -> None:
        if not url.startswith((self.base, "data:", "blob:")):
            self.problems.append(f"request to another host: {url}")
        if "tailwindcss.min.js" in url:
            self.problems.append(f"Tailwind compiled in the browser: {url}")
        if url.startswith(self.base + styles.URL):
            self.compiled_styles += 1

    def attach(self, page: object) -> None:
        page.add_init_script(CSP_LISTENER)  # type: ignore[attr-defined]
        page.on("response", self._check_document)  # type: ignore[attr-defined]
        page.on("request", lambda r: self._check_host(r.url))  # type: ignore[attr-defined]
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")  # type: ignore[attr-defined]
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))  # type: ignore[attr-defined]
        # ERR_ABORTED is the browser cancelling a request when the test navigates on (e.g. a component's module
        # still loading): not a failure of the app. Every other failure, and every HTTP error, counts.
        page.on("requestfailed", lambda r: self.problems.append(  # type: ignore[attr-defined]
            f"request failed: {r.method} {r.url} {r.failure}") if "ERR_ABORTED" not in str(r.failure) else None)
        page.on("response", lambda r: self.problems.append(f"HTTP {r.status}: {r.url}")  # type: ignore[attr-defined]
                if r.status >= 400 else None)


def _visit(page: object, base: str, path: str, text: str, shot: str) -> None:
    page.goto(base + path)  # type: ignore[attr-defined]
    page.get_by_text(text, exact=False).first.wait_for(timeout=15_000)  # type: ignore[attr-defined]
    if path == "/dashboard/analytics":
        page.locator("canvas").first.wait_for(timeout=15_000)  # type: ignore[attr-defined]
    page.wait_for_timeout(600)  # type: ignore[attr-defined]  # charts and fonts settle
    page.screenshot(path=str(SHOTS / shot), full_page=True)  # type: ignore[attr-defined]


def _log_in(page: object, base: str) -> None:
    page.goto(base + "/")  # type: ignore[attr-defined]
    page.get_by_label("Email").first.fill(EMAIL)  # type: ignore[attr-defined]
    page.get_by_label("Password", exact=True).fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_label("Password", exact=True).press("Enter")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/dashboard", timeout=20_000)  # type: ignore[attr-defined]


def _today_titles(page: object, base: str, path: str) -> list[str]:
    """The titles of today's list on a page, in order."""
    page.goto(base + path)  # type: ignore[attr-defined]
    page.get_by_text("Today", exact=False).first.wait_for(timeout=15_000)  # type: ignore[attr-defined]
    page.locator(".ss-today-title").first.wait_for(timeout=15_000)  # type: ignore[attr-defined]
    return list(page.locator(".ss-today-title").all_inner_texts())  # type: ignore[attr-defined]


def _same_today(page: object, base: str) -> list[str]:
    """The dashboard's "Today's plan" is the preparation page's today (the dashboard shows the first 8)."""
    prepared = _today_titles(page, base, "/dashboard/preparation")
    count = page.locator(".ss-today-total").inner_text().split()[0]  # type: ignore[attr-defined]  # "9 tasks · ..."
    shown = _today_titles(page, base, "/dashboard")
    assert shown == prepared[:8], (shown, prepared)
    planned = page.get_by_text("Planned today").locator("xpath=..").inner_text()  # type: ignore[attr-defined]
    assert f"\n{count}\n" in f"\n{planned}\n", (planned, count)
    return prepared


def _percent(text: str) -> str:
    """The first percentage in a text ("72% (±8)" -> "72")."""
    found = re.search(r"(\d+)\s*%", text)
    assert found is not None, text
    return found.group(1)


def _live_prediction(page: object, base: str) -> None:
    """Complete an Algebra task on the tasks page: the open Algebra card's percentage changes to the preview's
    (the open task shows the current prediction, not the one from when it was planned)."""
    page.goto(base + "/dashboard/tasks")  # type: ignore[attr-defined]
    page.get_by_text("likely correct").first.wait_for(timeout=20_000)  # the list is loaded: the page is connected
    for title in ("Algebra warm-up", "Algebra drill"):
        page.get_by_label("Title", exact=True).fill(title)  # type: ignore[attr-defined]
        page.get_by_label("Topic", exact=True).first.fill("Algebra")  # type: ignore[attr-defined]
        page.get_by_role("button", name="Add task").click()  # type: ignore[attr-defined]
        page.get_by_text(f"Added “{title}”").first.wait_for(timeout=20_000)  # type: ignore[attr-defined]
    done = page.locator(".q-card").filter(has_text="Algebra warm-up")  # type: ignore[attr-defined]
    card = page.locator(".q-card").filter(has_text="Algebra drill")  # type: ignore[attr-defined]
    shown = card.get_by_text("likely correct")
    try:
        shown.wait_for(timeout=20_000)
    except Exception:
        page.screenshot(path=str(SHOTS / "live-prediction-failure.png"), full_page=True)  # type: ignore[attr-defined]
        raise
    before = _percent(shown.inner_text())
    done.get_by_role("button", name="Complete").click()
    page.get_by_role("dialog").get_by_text("Incorrect", exact=True).click()  # type: ignore[attr-defined]
    page.get_by_label("Minutes taken").fill("9")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Save").click()  # type: ignore[attr-defined]
    page.get_by_text("Recorded as incorrect").first.wait_for(timeout=20_000)  # type: ignore[attr-defined]
    page.get_by_label("Topic", exact=True).first.fill("Algebra")  # type: ignore[attr-defined]
    preview = page.get_by_text("Likely correct", exact=True).locator("xpath=following-sibling::*[1]")  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while True:
        card_p, preview_p = _percent(shown.inner_text()), preview.inner_text()
        if preview_p != "—" and card_p == _percent(preview_p) and card_p != before:
            break
        assert time.monotonic() < deadline, (before, card_p, preview_p)
        page.wait_for_timeout(250)  # type: ignore[attr-defined]
    page.screenshot(path=str(SHOTS / "tasks-live-prediction.png"), full_page=False)  # type: ignore[attr-defined]


def _one_plan_for_today(page: object, base: str, sessions: sessionmaker[Session]) -> None:
    """Add an exam, then the dashboard's today equals the preparation page's today: before and after adding the
    day's tasks, and after a completion."""
    page.goto(base + "/dashboard/preparation")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Add exam").click()  # type: ignore[attr-defined]
    page.get_by_label("Name", exact=True).fill("Maths finals")  # type: ignore[attr-defined]
    page.get_by_label("Topics (name: weight, ...)").fill("Algebra: 2, Geometry, Probability")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Save").click()  # type: ignore[attr-defined]
    page.get_by_text("Added “Maths finals”.").wait_for(timeout=20_000)  # type: ignore[attr-defined]
    before = _same_today(page, base)
    # Ada's open tasks for today (overdue, undated; not the one due tomorrow) and the exam's problems for today
    assert {"Factorising quadratics", "Circle theorems"} <= set(before) and "Conditional probability" not in before
    assert len(before) > 2, before
    page.goto(base + "/dashboard/preparation")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Add today's").click()  # type: ignore[attr-defined]
    page.get_by_text("Today's tasks are in your task list.").wait_for(timeout=20_000)  # type: ignore[attr-defined]
    added = _same_today(page, base)
    assert sorted(added) == sorted(before)  # the planned problems became those tasks, nothing more
    with transaction(sessions) as session:
        ada = session.scalars(select(User).where(User.email == EMAIL)).one()
        task = session.scalars(select(Task).where(Task.owner_id == ada.id, Task.status == TaskStatus.PLANNED,
                                                  Task.notes.is_not(None)).order_by(Task.id)).first()
        assert task is not None
        tasks.complete_task(session=session, user=ada, task_id=task.id, correct=True, seconds=90.0, now=utcnow())
        open_today = session.scalar(select(func.count()).select_from(Task).where(
            Task.owner_id == ada.id, Task.status != TaskStatus.DONE,
            or_(Task.due_date.is_(None), Task.due_date <= utcnow().date())))
    after = _same_today(page, base)
    assert page.get_by_text("Planned today").locator("xpath=..").inner_text().split("\n")[1] == \
        str(open_today)  # type: ignore[attr-defined]  # the completed task left both lists
    assert set(after) <= set(added)


def test_six_pages_in_a_real_browser(server: str, sessions: sessionmaker[Session]) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    watch = Watch(server)
    accessibility: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, viewport, mobile in (("desktop", DESKTOP, False), ("phone", PHONE, True)):
                context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                              color_scheme="light")
                page = context.new_page()
                watch.attach(page)
                _visit(page, server, "/", "Know how a study task will go", f"home-{name}.png")
                accessibility += _accessibility(page, f"{name} /", phone=mobile)
                _log_in(page, server)
                for path, text in PAGES.items():
                    _visit(page, server, path, text, f"{path.strip('/').replace('/', '-')}-{name}.png")
                    accessibility += _accessibility(page, f"{name} {path}", phone=mobile)
                for path, text in DOCS.items():
                    _visit(page, server, path, text, f"api{path.replace('/', '-')}-{name}.png")
                page.goto(server + "/dashboard/tasks")
                if mobile:
                    accessibility += _delete_apart_from_edit(page)
                page.get_by_label("Topic", exact=True).first.fill("Probability")
                page.get_by_text("Why: From your").first.wait_for(timeout=15_000)
                page.screenshot(path=str(SHOTS / f"tasks-preview-{name}.png"), full_page=False)
                if not mobile:  # from here on Ada has an exam: the phone and dark walks check its page too
                    _one_plan_for_today(page, server, sessions)
                    _live_prediction(page, server)
                context.close()
            dark = browser.new_context(viewport=DESKTOP, color_scheme="dark")
            page = dark.new_page()
            watch.attach(page)
            _visit(page, server, "/", "Know how a study task will go", "home-dark.png")
            accessibility += _accessibility(page, "dark /", phone=False)
            _log_in(page, server)
            for path, text in PAGES.items():
                _visit(page, server, path, text, f"{path.strip('/').replace('/', '-')}-dark.png")
                accessibility += _accessibility(page, f"dark {path}", phone=False)
            dark.close()
        finally:
            browser.close()
    assert watch.problems == [], "\n".join(watch.problems)
    assert accessibility == [], "\n".join(accessibility)
    assert watch.documents >= 20
    assert watch.compiled_styles >= 1
    assert len(list(SHOTS.glob("*.png"))) >= 20


def _handshake(base: str, origin: str) -> httpx.Response:
    return httpx.get(f"{base}/_nicegui_ws/socket.io/", params={"EIO": "4", "transport": "polling"},
                     headers={"Origin": origin}, timeout=10)


def test_the_websocket_refuses_other_sites(server: str) -> None:
    """A page of another site must not open a student's NiceGUI websocket (cross-site websocket hijacking)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    refused = _handshake(server, "https://evil.example")
    assert refused.status_code == 400, refused.text
    assert "not an accepted origin" in refused.text
    accepted = _handshake(server, server)
    assert accepted.status_code == 200 and '"sid"' in accepted.text
    socket_url = server.replace("http://", "ws://") + "/_nicegui_ws/socket.io/?EIO=4&transport=websocket"
    with pytest.raises(InvalidStatus):
        connect(socket_url, origin="https://evil.example", open_timeout=10).close()  # type: ignore[arg-type]
    with connect(socket_url, origin=server, open_timeout=10) as socket:  # type: ignore[arg-type]
        assert socket.recv(timeout=10).startswith("0{")  # engine.io's open packet


SERIOUS = ("serious", "critical")
#: Buttons narrower or lower than this at phone width are hard to hit (WCAG 2.5.5's 44 CSS px).
TOUCH_PX = 44
SMALL_BUTTONS_JS = """(limit) => [...document.querySelectorAll('button, .q-btn, [role=button]')]
  .filter(el => el.offsetParent !== null && !el.closest('.q-field, .q-tab, .q-header .q-toolbar__title'))
  .map(el => [el, el.getBoundingClientRect()])
  .filter(([el, r]) => r.width > 0 && (r.width < limit || r.height < limit))
  .map(([el, r]) => `${(el.getAttribute('aria-label') || el.innerText || el.className).trim().slice(0, 40)}`
       + ` ${Math.round(r.width)}x${Math.round(r.height)}`)"""


def _accessibility(page: object, where: str, *, phone: bool) -> list[str]:
    """At desktop width axe-core's serious and critical violations; at phone width the buttons under 44 px."""
    if phone:
        return [f"{where}: small button {b}" for b in page.evaluate(SMALL_BUTTONS_JS, TOUCH_PX)]  # type: ignore[attr-defined]
    return _violations(page, where)


def _violations(page: object, where: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return [f"{where}: {v['id']} ({v['impact']}) x{len(v['nodes'])}: "
            + "; ".join(f"{node['html'][:90]} ({(node['any'] or node['all'] or [{'message': ''}])[0]['message'][:90]})"
                        for node in v["nodes"][:4])
            for v in results["violations"] if v["impact"] in SERIOUS]


def _delete_apart_from_edit(page: object) -> list[str]:
    """At phone width: no Delete button next to Edit on a card; Delete is in the "More actions" menu, 44 px high."""
    problems = []
    card = page.locator(".q-card", has_text="Circle theorems").first  # type: ignore[attr-defined]
    card.get_by_role("button", name="Edit").wait_for(timeout=15_000)
    if card.get_by_role("button", name="Delete").count():
        problems.append("phone /dashboard/tasks: a Delete button sits among the card's actions")
    card.get_by_role("button", name="More actions").click()
    item = page.locator(".q-menu .q-item", has_text="Delete…")  # type: ignore[attr-defined]
    item.wait_for(timeout=5_000)
    box = item.bounding_box()
    if box is None or box["height"] < TOUCH_PX:
        problems.append(f"phone /dashboard/tasks: the menu's Delete is {box} (under {TOUCH_PX} px)")
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    return problems
