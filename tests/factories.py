"""Small builders for tests: accounts, tokens, tasks, through the API or the services."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from studysmart.tasks import service as tasks
from studysmart.tasks.models import Difficulty, Task
from studysmart.users import service as users
from studysmart.users.models import User

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def register(client: TestClient, email: str | None = None, password: str = PASSWORD) -> dict[str, str]:
    """Register and log in through the API; returns the Authorization header."""
    email = email or f"student{next(_counter)}@example.com"
    response = client.post("/api/v1/auth/register",
                           json={"email": email, "password": password, "display_name": "Student"})
    assert response.status_code == 201, response.text
    return login(client, email, password)


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def create_task(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {"title": "Solve quadratic equations", "topic": "Algebra", "difficulty": "medium", **overrides}
    response = client.post("/api/v1/tasks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_user(session: Session, *, now: datetime, email: str | None = None) -> User:
    user = users.register(session=session, email=email or f"user{next(_counter)}@example.com", password=PASSWORD,
                          display_name="Student", now=now)
    session.flush()
    return user


def make_task(session: Session, user: User, *, now: datetime, topic: str = "Algebra",
              difficulty: Difficulty = Difficulty.MEDIUM, title: str = "Practice") -> Task:
    return tasks.create_task(session=session, user=user, title=title, topic=topic, difficulty=difficulty, now=now)
