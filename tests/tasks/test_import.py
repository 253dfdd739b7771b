"""Bring your history: ``POST /api/v1/tasks/import`` reads a CSV file with the columns of the export's tasks.csv,
all or nothing, row by row; imported done tasks are the student's history at once and ask for one training at
most; another student's data is untouched."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from studysmart.core.db import utcnow
from studysmart.tasks import transfer
from studysmart.tasks.models import Task
from studysmart.users.models import User
from tests.factories import create_task, register

IMPORT = "/api/v1/tasks/import"


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...] = transfer.TASK_CSV_COLUMNS) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def _done(i: int, **changes: Any) -> dict[str, Any]:
    when = utcnow() - timedelta(days=3, hours=i)
    return {"title": f"Past set {i}", "topic": "Algebra" if i % 2 else "Geometry", "difficulty": "medium",
            "status": "done", "completed_at": when.isoformat(), "correct": "true" if i % 3 else "false",
            "seconds_taken": str(120 + 10 * i), **changes}


def _upload(client: TestClient, headers: dict[str, str], data: bytes, *, name: str = "history.csv",
            content_type: str = "text/csv") -> Any:
    return client.post(IMPORT, headers=headers, files={"file": (name, data, content_type)})


def _count(client: TestClient, owner_email: str | None = None) -> int:
    sessions = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with sessions() as session:
        stmt = select(func.count()).select_from(Task)
        if owner_email is not None:
            stmt = stmt.join(User, Task.owner_id == User.id).where(User.email == owner_email)
        return int(session.scalar(stmt) or 0)


def test_import_makes_the_history_the_students_own_at_once(client: TestClient) -> None:
    me = register(client)
    planned = {"title": "Next paper", "topic": "Algebra", "difficulty": "hard", "status": "planned",
               "due_date": (utcnow() + timedelta(days=2)).date().isoformat()}
    response = _upload(client, me, _csv([_done(i) for i in range(6)] + [planned]))
    assert response.status_code == 201, response.text
    assert response.json() == {"imported": 7}
    listed = client.get("/api/v1/tasks", headers=me, params={"limit": 50}).json()
    assert listed["total"] == 7
    [open_task] = [t for t in listed["items"] if t["status"] == "planned"]
    assert open_task["due_date"] == planned["due_date"] and open_task["created_prediction"] is not None
    preview = client.get("/api/v1/predictions/preview", headers=me,
                         params={"topic": "Algebra", "difficulty": "medium"}).json()
    assert preview["source"] == "model"  # from the student's own imported answers, not the population
    summary = client.get("/api/v1/analytics/summary", headers=me).json()
    assert summary["week_answered"] == 6


def test_an_import_counts_its_answers_and_asks_for_one_training_at_most(client: TestClient) -> None:
    me = register(client)
    jobs = client.app.state.context.jobs  # type: ignore[attr-defined]
    assert jobs.depth() == 0
    assert _upload(client, me, _csv([_done(i) for i in range(12)])).status_code == 201  # threshold 5
    status = client.get("/api/v1/training/status", headers=me).json()
    assert (status["samples"], status["completed_since_training"]) == (12, 12)
    assert status["queued"] is True and jobs.depth() == 1  # one coalesced job, not one per 5 rows
    assert _upload(client, me, _csv([_done(i) for i in range(7)])).status_code == 201
    assert jobs.depth() == 1  # still queued: the second import joins it


@pytest.mark.parametrize(("row", "column", "reason"), [
    ({"difficulty": "impossible"}, "difficulty", "'easy', 'medium' or 'hard'"),
    ({"correct": "maybe"}, "correct", "valid boolean"),
    ({"seconds_taken": "0"}, "seconds_taken", "greater than or equal to 1"),
    ({"completed_at": "yesterday"}, "completed_at", "valid datetime"),
    ({"completed_at": ""}, "completed_at", "required for a done task"),
    ({"title": ""}, "title", "title is required"),
    ({"status": "planned"}, "completed_at", "only a done task"),
    ({"completed_at": (utcnow() + timedelta(days=2)).isoformat()}, "completed_at", "in the future"),
    ({"p_correct": "1.5", "expected_seconds": "60"}, "p_correct", "less than or equal to 1"),
])
def test_a_bad_row_imports_nothing_and_is_named(client: TestClient, row: dict[str, Any], column: str,
                                                reason: str) -> None:
    me = register(client)
    rows = [_done(0), _done(1), _done(2, **row), _done(3)]
    response = _upload(client, me, _csv(rows))
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["file", column]
    assert detail["msg"].startswith("row 4: ") and reason in detail["msg"], detail["msg"]  # header is row 1
    assert client.get("/api/v1/tasks", headers=me).json()["total"] == 0


@pytest.mark.parametrize(("data", "content_type", "reason"), [
    (b"", "text/csv", "the file is empty"),
    (b"\n\n", "text/csv", "the file is empty"),
    (",".join(transfer.TASK_CSV_COLUMNS).encode() + b"\n", "text/csv", "a header but no rows"),
    (b"title,topic,colour\nA,Algebra,red\n", "text/csv", "unknown column 'colour'"),
    (b"title,topic\nA,Algebra\n", "text/csv", "missing column 'difficulty'"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", "must be a CSV file"),
    (b"title,topic,difficulty\n\xff\xfeA,Algebra,easy\n", "text/csv", "not UTF-8"),
])
def test_a_file_that_is_not_a_task_csv_is_refused(client: TestClient, data: bytes, content_type: str,
                                                  reason: str) -> None:
    me = register(client)
    response = _upload(client, me, data, content_type=content_type)
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["loc"][0] == "file" and reason in detail["msg"], detail
    assert _count(client) == 0


def test_the_file_field_is_required_and_the_size_is_limited(client: TestClient) -> None:
    me = register(client)
    missing = client.post(IMPORT, headers=me, data={"other": "x"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "file"]
    limit = client.app.state.settings.max_import_bytes  # type: ignore[attr-defined]
    row = _done(0, notes="n" * 900)
    per_row = len(_csv([row, row])) - len(_csv([row]))
    data = _csv([row] * (limit // per_row + 1))  # just over the limit: refused by the route
    assert limit < len(data) < limit + 4096
    too_big = _upload(client, me, data)
    assert too_big.status_code == 413, too_big.text
    assert str(limit) in too_big.text
    assert _count(client) == 0
    assert client.post(IMPORT, headers=me, files={"file": ("big.csv", b"x" * (2 * limit), "text/csv")}) \
        .status_code == 413  # far over: the body limit refuses it before it is read


def test_another_students_data_is_untouched(client: TestClient) -> None:
    other_email = "other-student@example.com"
    other = register(client, email=other_email)
    theirs = create_task(client, other, title="Their own task")
    assert client.post(f"/api/v1/tasks/{theirs['id']}/complete", headers=other,
                       json={"correct": False, "seconds": 90}).status_code == 200
    before = client.get("/api/v1/tasks", headers=other).json()
    me = register(client)
    assert _upload(client, me, _csv([_done(i, title="Their own task") for i in range(3)])).status_code == 201
    assert client.get("/api/v1/tasks", headers=other).json() == before
    assert _count(client, other_email) == 1
    assert client.get("/api/v1/tasks/import/template", headers=me).status_code == 200
    assert client.post(IMPORT, files={"file": ("a.csv", _csv([_done(0)]), "text/csv")}).status_code == 401


def test_the_template_has_the_export_columns_and_imports(client: TestClient) -> None:
    me = register(client)
    response = client.get("/api/v1/tasks/import/template", headers=me)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    header = next(csv.reader(io.StringIO(response.text)))
    assert tuple(header) == transfer.TASK_CSV_COLUMNS
    assert _upload(client, me, response.content).json() == {"imported": 2}


def test_words_a_spreadsheet_would_run_are_exported_quoted_and_imported_as_written(client: TestClient) -> None:
    me = register(client)
    words = ["=HYPERLINK(\"http://x.example\",\"click\")", "+1 more", "-5 minutes", "@SUM(A1)", "'quoted", "'=1+1",
             "plain"]
    for title in words:
        create_task(client, me, title=title, notes=title)
    sessions = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with sessions() as session:
        owner = session.scalars(select(User)).one()
        exported = transfer.export_rows(session=session, user=owner)
    cells = {row["title"]: row for row in csv.DictReader(io.StringIO(exported))}
    assert set(cells) == {"'" + w if w[0] in "=+-@'" else w for w in words}  # no cell starts with a formula
    assert all(row["notes"] == row["title"] for row in cells.values())
    again = register(client)
    assert _upload(client, again, exported.encode()).status_code == 201
    listed = client.get("/api/v1/tasks", headers=again, params={"limit": 50}).json()["items"]
    assert sorted(t["title"] for t in listed) == sorted(words)
    assert sorted(t["notes"] for t in listed) == sorted(words)


def test_every_file_of_the_data_export_quotes_what_a_spreadsheet_would_run(client: TestClient) -> None:
    import zipfile

    from studysmart import export

    me = register(client)
    assert client.patch("/api/v1/auth/me", json={"display_name": "=cmd|' /C calc'!A0"}, headers=me).status_code == 200
    sessions = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with sessions() as session:
        owner = session.scalars(select(User)).one()
        archive = zipfile.ZipFile(io.BytesIO(export.export_csv_zip(session=session, user=owner)))
    [account] = list(csv.DictReader(io.StringIO(archive.read("users.csv").decode())))
    assert account["display_name"] == "'=cmd|' /C calc'!A0"
