"""The task list: views by due date (today, upcoming, overdue, done), sorting, title search and paging, all in
one SQL query (filtered, ordered and limited by the database, never over all of a student's tasks in Python).

"Today" is a calendar date the caller gives: the pages use the browser's time zone, the API its ``tz`` parameter
(UTC by default). Accounts keep no time zone of their own.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from studysmart.tasks.models import Task, TaskStatus, Topic, topic_key
from studysmart.users.models import User

MAX_QUERY_LENGTH = 200


class TaskView(StrEnum):
    """Which tasks a list shows, by due date: open tasks due today, open tasks due later (or without a due date),
    open tasks whose due date has passed, and done tasks."""

    TODAY = "today"
    UPCOMING = "upcoming"
    OVERDUE = "overdue"
    DONE = "done"


class TaskSort(StrEnum):
    """The order of a list after the running task: newest first, or by due date (soonest first, no date last)."""

    CREATED = "created"
    DUE = "due"


def _in_view(stmt: Select[Task], view: TaskView, today: date) -> Select[Task]:
    is_open = Task.status != TaskStatus.DONE
    if view is TaskView.DONE:
        return stmt.where(Task.status == TaskStatus.DONE)
    if view is TaskView.TODAY:
        return stmt.where(is_open, Task.due_date == today)
    if view is TaskView.OVERDUE:
        return stmt.where(is_open, Task.due_date < today)
    return stmt.where(is_open, (Task.due_date > today) | Task.due_date.is_(None))


def is_overdue(task: Task, today: date) -> bool:
    """Whether an open task's due date has passed (a done task is never overdue)."""
    return task.status is not TaskStatus.DONE and task.due_date is not None and task.due_date < today


def list_tasks(*, session: Session, user: User, today: date, status: TaskStatus | None = None,
               topic: str | None = None, view: TaskView | None = None, sort: TaskSort = TaskSort.CREATED,
               query: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Task], int]:
    """The user's tasks with the total before paging: the running (in progress) task first, then by ``sort``.

    Args:
        session: a database session.
        user: whose tasks.
        today: the student's date, for the views.
        status: only tasks in this status.
        topic: only tasks of this topic (case-insensitive).
        view: only the tasks of this view (see ``TaskView``).
        sort: the order after the running task.
        query: only tasks whose title contains this text (case-insensitive).
        limit: at most this many tasks.
        offset: skip this many first.

    Returns:
        The tasks of the page and how many match in all.
    """
    stmt = select(Task).where(Task.owner_id == user.id)
    if status is not None:
        stmt = stmt.where(Task.status == status)
    if view is not None:
        stmt = _in_view(stmt, view, today)
    if topic:
        stmt = stmt.join(Topic, Task.topic_id == Topic.id).where(Topic.key == topic_key(topic))
    words = " ".join((query or "").split())[:MAX_QUERY_LENGTH]
    if words:
        stmt = stmt.where(Task.title.icontains(words, autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    running_first = case((Task.status == TaskStatus.IN_PROGRESS, 0), else_=1)
    order: list[ColumnElement[Any]] = [running_first]
    if sort is TaskSort.DUE:
        order += [Task.due_date.is_(None), Task.due_date.asc()]
    order += [Task.created_at.desc(), Task.id.desc()]
    rows = session.scalars(stmt.order_by(*order).limit(limit).offset(offset))
    return list(rows), total
