"""Content-ready time of every dashboard page in a real browser (Debian's Chromium driven by Playwright).

    .venv/bin/python -m benchmarks.pages [--rounds 5] [--answers 1000] [--json OUT]

A server on a fresh embedded (SQLite) database with the demo data (``studysmart demo``) and one more student with
1,000 completed answers (``--answers``; bulk inserts) and a few planned tasks. For each student, in its own browser
context (logged in through the form), every page is visited once to warm the browser's cache, then ``--rounds`` times;
a visit's time is from navigation start (``performance.timeOrigin``) to the first animation frame in which the
page's real content is visible: an element that is built only once the page's data has loaded, never the
skeleton or the frame:

- /dashboard: the "Today's plan" card's heading (built after the day's summary and predictions are loaded);
- /dashboard/tasks: a task card's title link (``a[href^="/dashboard/tasks/"]``, after the list is loaded);
- /dashboard/analytics: a drawn chart (an ECharts ``canvas``, after the analytics are computed);
- /dashboard/preparation: the "Add exam" button (built after the exams and their readiness are loaded);
- /dashboard/settings: the "Delete my account" button (the last section; the page loads no data of its own).

Writes ``{"students": {"demo": {"/dashboard": p50_ms, ...}, "1000": {...}}}`` (medians in milliseconds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

from benchmarks.bulk import BASE_SECONDS, SHIFT, TOPICS
from benchmarks.paths import RESULTS
from benchmarks.server import running_server, wait_for_training_idle

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
MANY_EMAIL, MANY_PASSWORD = "many@bench.example", "many answers password"
MANY_ANSWERS = 1000
#: The models the initial training fits (the quick ones: the benchmark measures pages, not training).
TRAINING = {"STUDYSMART_TRAINING_MODELS": "shrinkage,lnirt"}
#: path -> (CSS selector, text the element contains or "") of the element that shows the page's data is there
CONTENT: dict[str, tuple[str, str]] = {
    "/dashboard": ("[role=heading]", "Today's plan"),
    "/dashboard/tasks": ('a[href^="/dashboard/tasks/"]', ""),
    "/dashboard/analytics": ("canvas", ""),
    "/dashboard/preparation": ("button", "Add exam"),
    "/dashboard/settings": ("button", "Delete my account"),
}
#: The page's clock (milliseconds since navigation start) at the first frame with a visible match, else null.
READY_JS = """([selector, text]) => {
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.height > 0 && el.offsetParent !== null && (!text || el.textContent.includes(text)))
      return performance.now();
  }
  return null;
}"""


def _many_answers(var_dir: Path, answers: int = MANY_ANSWERS) -> None:
    """A student who can log in, with ``answers`` completed tasks over 60 days and five planned ones."""
    os.environ["STUDYSMART_VAR_DIR"] = str(var_dir)
    from studysmart.core.config import Settings
    from studysmart.core.db import transaction, utcnow
    from studysmart.learning.context import make_context
    from studysmart.tasks import service as tasks
    from studysmart.tasks.models import Difficulty, Task, TaskStatus
    from studysmart.users import service as users
    from studysmart.users.models import User

    rng = np.random.default_rng(5)
    context = make_context(Settings(var_dir=var_dir))
    now = utcnow()
    try:
        with transaction(context.sessions) as session:
            user = users.register(session=session, email=MANY_EMAIL, password=MANY_PASSWORD,
                                  display_name="Many", now=now)
            topic_ids = [tasks.get_or_create_topic(session=session, name=name, user=user).id for name in TOPICS]
            user_id = user.id
        levels = list(Difficulty)
        start = now - timedelta(days=60)
        rows = []
        for k, when in enumerate(np.sort(rng.uniform(0, 60 * 86400 - 3600, answers))):
            level = levels[int(rng.integers(0, 3))]
            seconds = BASE_SECONDS[level] * float(np.exp(rng.normal(0, 0.4)))
            done = start + timedelta(seconds=float(when))
            rows.append({"owner_id": user_id, "topic_id": topic_ids[k % len(topic_ids)],
                         "title": f"Answer {k}", "difficulty": level, "status": TaskStatus.DONE,
                         "created_at": done, "started_at": done,
                         "completed_at": done + timedelta(seconds=seconds),
                         "correct": bool(rng.random() < 1 / (1 + np.exp(SHIFT[level] - 0.3))),
                         "seconds_taken": float(round(seconds))})
        with transaction(context.sessions) as session:
            session.execute(insert(Task), rows)
        with transaction(context.sessions) as session:
            owner = session.get(User, user_id)
            for k in range(5):
                tasks.create_task(session=session, user=owner, title=f"Planned {k}", topic=TOPICS[k],
                                  difficulty=levels[k % 3], now=now)
    finally:
        context.dispose()


def _log_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(base + "/")
    page.get_by_label("Email").first.fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password", exact=True).press("Enter")
    page.wait_for_url(f"{base}/dashboard", timeout=30_000)


def _visit(page: Any, base: str, path: str) -> float:
    """Milliseconds from navigation start to the page's content being visible."""
    page.goto(base + path, wait_until="commit")
    try:
        ready = page.wait_for_function(READY_JS, arg=list(CONTENT[path]), polling="raf", timeout=30_000)
    except Exception:
        page.screenshot(path=str(RESULTS / "pages-timeout.png"))
        print(f"no content on {page.url} ({path}):\n{page.inner_text('body')[:2000]}", file=sys.stderr)
        raise
    return float(ready.json_value())


def _student(browser: Any, base: str, email: str, password: str, rounds: int) -> dict[str, float]:
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light")
    try:
        page = context.new_page()
        _log_in(page, base, email, password)
        for path in CONTENT:  # warm the browser's cache (scripts, fonts) and the server's first-use paths
            _visit(page, base, path)
        times: dict[str, list[float]] = {path: [] for path in CONTENT}
        for _ in range(rounds):
            for path in CONTENT:
                times[path].append(_visit(page, base, path))
        for path, values in times.items():
            print(f"  {path:24s} " + " ".join(f"{v:6.0f}" for v in values), file=sys.stderr)
        return {path: round(statistics.median(values), 1) for path, values in times.items()}
    finally:
        context.close()


def run(*, rounds: int, out: Path | None, answers: int = MANY_ANSWERS) -> dict[str, Any]:
    """Run the benchmark; returns (and writes to ``out``) the medians per student and page."""
    from playwright.sync_api import sync_playwright

    from studysmart.users.demo_account import DEMO_EMAIL, DEMO_PASSWORD

    result: dict[str, Any] = {"students": {}}
    with running_server(TRAINING, prepare=lambda var_dir: _many_answers(var_dir, answers)) as (base, var_dir):
        wait_for_training_idle(var_dir, timeout=600)  # measure the pages alone, with a trained champion
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for name, email, password in (("demo", DEMO_EMAIL, DEMO_PASSWORD),
                                              (str(answers), MANY_EMAIL, MANY_PASSWORD)):
                    print(f"{name}:", file=sys.stderr)
                    result["students"][name] = _student(browser, base, email, password, rounds)
            finally:
                browser.close()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pages", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="visits of each page per student (median)")
    parser.add_argument("--answers", type=int, default=MANY_ANSWERS, help="completed tasks of the second student")
    parser.add_argument("--json", type=Path, default=RESULTS / "pages.json")
    args = parser.parse_args(argv)
    print(json.dumps(run(rounds=args.rounds, out=args.json, answers=args.answers), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
