"""Export -> import into a new account reproduces the same analytics: the export's tasks.csv carries everything
the analytics read (outcomes, times, completion moments, the predictions shown), and the import restores it."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from studysmart import export
from studysmart.tasks import transfer
from studysmart.users.models import User
from tests.factories import create_task, register


def _upload(client: TestClient, headers: dict[str, str], data: bytes) -> Any:
    return client.post("/api/v1/tasks/import", headers=headers, files={"file": ("tasks.csv", data, "text/csv")})


def test_export_then_import_into_a_new_account_gives_the_same_analytics(client: TestClient) -> None:
    first = register(client, email="first@example.com")
    for i in range(5):
        task = create_task(client, first, title=f"Set {i}", topic="Algebra" if i % 2 else "Geometry",
                           difficulty="easy" if i < 2 else "hard")
        assert client.post(f"/api/v1/tasks/{task['id']}/complete", headers=first,
                           json={"correct": i != 2, "seconds": 60 + 30 * i}).status_code == 200
    create_task(client, first, title="Still to do", topic="Algebra", notes="chapter 4")
    sessions = client.app.state.sessionmaker  # type: ignore[attr-defined]
    with sessions() as session:
        owner = session.scalars(select(User).where(User.email == "first@example.com")).one()
        archive = zipfile.ZipFile(io.BytesIO(export.export_csv_zip(session=session, user=owner)))
    tasks_csv = archive.read("tasks.csv")
    assert tuple(next(csv.reader(io.StringIO(tasks_csv.decode())))) == transfer.TASK_CSV_COLUMNS

    second = register(client, email="second@example.com")
    assert _upload(client, second, tasks_csv).json() == {"imported": 6}

    def analytics(headers: dict[str, str], name: str) -> Any:
        response = client.get(f"/api/v1/analytics/{name}", headers=headers, params={"tz": "Europe/Berlin"})
        assert response.status_code == 200, response.text
        return response.json()

    def without_ids(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: without_ids(v) for k, v in value.items() if k not in ("id", "task_id")}
        if isinstance(value, list):
            return [without_ids(v) for v in value]
        return value

    for name in ("summary", "progress", "calibration", "times", "abilities", "weekly-time"):
        assert without_ids(analytics(second, name)) == without_ids(analytics(first, name)), name
    assert analytics(second, "summary")["week_answered"] == 5
