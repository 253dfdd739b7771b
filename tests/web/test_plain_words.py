"""The student's pages speak plain words: each model by its plain name and one-line meaning from the registry,
the leaderboard's scores in words, task titles on the time chart, and a training line that only the student's own
answers move (operators keep the technical view: ``studysmart models``, the API)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from nicegui import ui
from nicegui.testing import User
from sqlalchemy.orm import Session, sessionmaker

from studysmart.core.db import transaction
from studysmart.learning import registry
from studysmart.tasks import service as tasks
from studysmart.users.models import User as Account
from tests.factories import make_task, make_user
from tests.web.conftest import log_in, see

JARGON = re.compile(r"log.?loss|\bAUC\b|\bBrier\b|\bMAE\b|logit|log-odds|\bIRT\b|\b2PL\b|shrinkage|LNIRT|Gibbs",
                    re.IGNORECASE)

ENGLISH = {"practice", "blend", "neural"}  # model names that are plain words too


def _offset(i: int) -> timedelta:
    return timedelta(days=i % 3, minutes=10 + i)


def _answers(sessions: sessionmaker[Session], owner: Account, now: datetime, n: int = 6) -> None:
    with transaction(sessions) as session:
        account = session.get(Account, owner.id)
        assert account is not None
        for i in range(n):
            when = now - _offset(i)
            task = make_task(session, account, now=when, topic="Algebra" if i % 2 else "Geometry",
                             title=f"Exercise sheet {i}")
            tasks.complete_task(session=session, user=account, task_id=task.id, correct=i % 3 != 0,
                                seconds=200 + 20 * i, now=when + timedelta(minutes=1))


def test_every_model_has_a_plain_name_and_a_one_line_meaning() -> None:
    plain = {registry.plain_name(name) for name in registry.BY_NAME}
    assert len(plain) == len(registry.BY_NAME)  # no two models read the same
    for name in registry.BY_NAME:
        words = f"{registry.plain_name(name)} {registry.meaning(name)}"
        assert registry.meaning(name) and "\n" not in words
        assert not JARGON.search(words), words
        raw = [other for other in registry.BY_NAME if other not in ENGLISH]
        assert not any(re.search(rf"\b{re.escape(other)}\b", words, re.IGNORECASE) for other in raw), words


async def test_the_preview_names_the_model_in_plain_words(user: User, student: Account) -> None:
    await log_in(user, student.email, path="/?next=/dashboard/tasks")
    user.find(marker="new-topic").type("Algebra")
    await see(user, "Why: ")
    why = user.find(marker="preview-why").elements.pop()
    assert isinstance(why, ui.label)
    assert f'"{registry.plain_name(registry.FALLBACK)}": {registry.meaning(registry.FALLBACK)}' in why.text
    assert registry.FALLBACK not in why.text and "Model:" not in why.text


async def test_the_leaderboard_speaks_in_words_and_the_time_chart_shows_titles(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    _answers(sessions, student, now)
    await log_in(user, student.email, path="/?next=/dashboard/analytics")
    await see(user, marker="leaderboard")
    table = user.find(marker="leaderboard").elements.pop()
    assert isinstance(table, ui.table)
    headers = " ".join(str(column["label"]) for column in table.columns)
    assert not JARGON.search(headers), headers
    plain = {registry.plain_name(name) for name in registry.BY_NAME}
    for row in table.rows:
        assert row["model"].removesuffix(" (serving you now)") in plain
        assert row["model"] not in registry.BY_NAME
        assert re.fullmatch(r"right about \d+% of the time|not known yet .*", row["right"]), row["right"]
        assert re.fullmatch(r"off by about .+", row["time"]), row["time"]
    serving = [row for row in table.rows if row["model"].endswith("(serving you now)")]
    assert [row["meaning"] for row in serving] == [registry.meaning(registry.FALLBACK)]

    chart = user.find(marker="chart-times").elements.pop()
    assert isinstance(chart, ui.echart)
    oldest_first = sorted(range(6), key=_offset, reverse=True)
    assert chart.options["xAxis"]["data"] == [f"Exercise sheet {i}" for i in oldest_first]


def _training_line(user: User) -> str:
    row = user.find(marker="training-status").elements.pop()
    return " ".join(e.text for e in row.descendants() if isinstance(e, ui.label))


async def test_another_accounts_answers_do_not_move_the_students_training_line(
        user: User, student: Account, now: datetime, sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        other = make_user(session, now=now)
    _answers(sessions, student, now, n=2)
    await log_in(user, student.email, path="/?next=/dashboard")
    await see(user, marker="training-status")
    before = _training_line(user)

    _answers(sessions, other, now, n=3)  # another account answers: nothing the student sees may move
    await user.open("/dashboard")
    await see(user, marker="training-status")
    assert _training_line(user) == before

    _answers(sessions, student, now, n=1)  # the student's own answer does
    await user.open("/dashboard")
    await see(user, marker="training-status")
    after = _training_line(user)
    assert after != before and "3 answers" in after
