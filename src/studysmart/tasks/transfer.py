"""Tasks as CSV: the columns of the export's ``tasks.csv`` (one definition, shared by the export, the template
and the import), and the import of a student's past study sessions from such a file.

An import is validated row by row before anything is written: a file with one bad row imports nothing, and the
error names the row (counted like a spreadsheet's: the header is row 1), the column and the reason. Done rows
become the student's history at once (their predictions use them from the first day); open rows get a
prediction as a new task does. One transaction; the caller commits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from studysmart.core.db import on_commit
from studysmart.core.exceptions import DomainError
from studysmart.learning import serving as predictions
from studysmart.learning import tracker as training
from studysmart.learning.context import context_of
from studysmart.tasks import service
from studysmart.tasks.models import Difficulty, Task, TaskStatus, Topic, topic_key
from studysmart.tasks.schemas import Notes, Seconds, Title, TopicName
from studysmart.users.models import User

#: The columns of ``tasks.csv`` in the CSV export, in order; the import reads the same ones. ``id`` is the task's
#: id in the exporting account (it links the export's prediction_logs.csv) and is ignored on import, as are the
#: prediction columns of an open row (it is predicted afresh, like a new task); a done row keeps the prediction
#: it was shown (calibration and the time checks read it).
TASK_CSV_COLUMNS = ("id", "title", "topic", "difficulty", "status", "notes", "due_date", "created_at",
                    "started_at", "completed_at", "correct", "seconds_taken", "p_correct", "expected_seconds",
                    "seconds_low", "seconds_high", "model", "model_version", "source")
REQUIRED_COLUMNS = ("title", "topic", "difficulty")
PREDICTION_COLUMNS = ("p_correct", "expected_seconds", "seconds_low", "seconds_high", "model", "model_version",
                      "source")
OUTCOME_COLUMNS = ("completed_at", "correct", "seconds_taken")
#: The most rows one file may hold, and the most open (not done) ones: each open row gets a prediction logged
#: for every model, as a new task does.
MAX_IMPORT_ROWS = 5000
MAX_OPEN_ROWS = 200
#: How far in the future a timestamp may be (clocks differ a little).
CLOCK_SKEW = timedelta(minutes=5)
CSV_CONTENT_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel",
                               "text/comma-separated-values", "application/octet-stream", ""})


class ImportRefused(DomainError):
    """The file cannot be imported; nothing was. ``row`` (the header is row 1) and ``column`` say where, when the
    problem is in one cell."""

    status = 422

    def __init__(self, reason: str, *, row: int | None = None, column: str | None = None) -> None:
        where = f"row {row}: " if row is not None else ""
        super().__init__(f"{where}{reason}", field=column or "file", where="file")
        self.row = row
        self.column = column
        self.reason = reason


class ImportTooLarge(DomainError):
    """The file is over the size limit (``Settings.max_import_bytes``)."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is over {limit} bytes; split it into smaller files", field="file",
                         where="file")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(gt=0, le=7 * 86_400, allow_inf_nan=False)]


class ImportRow(BaseModel):
    """One row of an import file, its cells parsed (empty cells are None; times without a zone are UTC)."""

    model_config = ConfigDict(extra="ignore")

    title: Title
    topic: TopicName
    difficulty: Difficulty
    status: TaskStatus | None = None
    notes: Notes | None = None
    due_date: date | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    correct: bool | None = None
    seconds_taken: Seconds | None = None
    p_correct: Fraction | None = None
    expected_seconds: PositiveSeconds | None = None
    seconds_low: PositiveSeconds | None = None
    seconds_high: PositiveSeconds | None = None
    model: Label | None = None
    model_version: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    source: Label | None = None

    @field_validator("created_at", "started_at", "completed_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


@dataclass(frozen=True)
class ParsedRow:
    """A checked row and where it was in the file."""

    row: int
    cells: ImportRow
    status: TaskStatus


def task_csv_row(task: Task, topic_name: str) -> dict[str, Any]:
    """One task as a row of ``tasks.csv`` (plain values: ISO dates and times, ``true``/``false``)."""
    values: dict[str, Any] = {name: getattr(task, name, None) for name in TASK_CSV_COLUMNS}
    values["topic"] = topic_name
    values["difficulty"] = Difficulty(task.difficulty).value
    values["status"] = TaskStatus(task.status).value
    return {name: spreadsheet_text(_cell(value)) if name in TEXT_COLUMNS else _cell(value)
            for name, value in values.items()}


#: The student's own words: a spreadsheet would run one starting with a formula character (OWASP "CSV
#: injection"), so the export prefixes it with an apostrophe, which the import takes off again. A text that
#: starts with an apostrophe gets one more, so that it comes back as written.
TEXT_COLUMNS = frozenset({"title", "topic", "notes"})
_QUOTED_START = ("=", "+", "-", "@", "\t", "\r", "'")


def spreadsheet_text(value: str) -> str:
    """``value`` as an exported CSV cell: quoted with an apostrophe if a spreadsheet would run it as a formula."""
    return "'" + value if value.startswith(_QUOTED_START) else value


def _untext(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_QUOTED_START) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def write_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """``tasks.csv`` text: the header, then the rows."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(TASK_CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def template_csv(*, now: datetime) -> bytes:
    """A template to fill in: the export's columns, one done example row (yesterday) and one planned (due in a
    week); replace them with your own."""
    yesterday = (now - timedelta(days=1)).replace(hour=18, minute=30, second=0, microsecond=0)
    done = {"title": "Example: exercise set 3 (replace me)", "topic": "Algebra", "difficulty": "medium",
            "status": "done", "completed_at": yesterday.isoformat(), "correct": "true", "seconds_taken": "420"}
    planned = {"title": "Example: past paper (replace me)", "topic": "Calculus", "difficulty": "hard",
               "status": "planned", "due_date": (now + timedelta(days=7)).date().isoformat()}
    return write_csv([done, planned]).encode("utf-8")


def export_rows(*, session: Session, user: User) -> str:
    """The user's tasks as ``tasks.csv`` (oldest first)."""
    stmt = (select(Task, Topic.name).join(Topic, Task.topic_id == Topic.id).where(Task.owner_id == user.id)
            .order_by(Task.id))
    return write_csv(task_csv_row(task, name) for task, name in session.execute(stmt))


# -- reading a file ---------------------------------------------------------------------------------------------
def _decode(data: bytes) -> str:
    if not data.strip():
        raise ImportRefused("the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"the file is not UTF-8 text (byte {exc.start + 1})") from None
    if "\x00" in text:
        raise ImportRefused("the file contains NUL characters (is it a spreadsheet rather than CSV?)")
    return text


def _header(reader: Any) -> list[str]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise ImportRefused("the file is empty") from None
    except csv.Error as exc:
        raise ImportRefused(f"not readable as CSV: {exc}", row=1) from None
    unknown = [name for name in header if name not in TASK_CSV_COLUMNS]
    if unknown:
        raise ImportRefused(f"unknown column {unknown[0]!r}; the columns are {', '.join(TASK_CSV_COLUMNS)}",
                            row=1, column=unknown[0])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ImportRefused(f"column {repeated[0]!r} appears twice", row=1, column=repeated[0])
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ImportRefused(f"missing column {missing[0]!r}", row=1, column=missing[0])
    return header


def _parse_row(row: int, header: list[str], record: list[str]) -> ImportRow:
    if len(record) > len(header):
        raise ImportRefused(f"{len(record)} cells but {len(header)} columns", row=row)
    cells = {name: _untext(value.strip()) if name in TEXT_COLUMNS else value.strip()
             for name, value in zip(header, record, strict=False)}
    for name in REQUIRED_COLUMNS:
        if not cells.get(name):
            raise ImportRefused(f"{name} is required", row=row, column=name)
    values = {name: (value if value != "" else None) for name, value in cells.items() if name != "id"}
    try:
        return ImportRow.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        column = str(error["loc"][0]) if error["loc"] else None
        raise ImportRefused(error["msg"], row=row, column=column) from None


def _check(row: int, cells: ImportRow, now: datetime) -> TaskStatus:
    """The row's status (given, or done when it has an outcome), after the checks across its cells."""
    status = cells.status or (TaskStatus.DONE if cells.correct is not None or cells.completed_at else
                              TaskStatus.PLANNED)
    for name in ("created_at", "started_at", "completed_at"):
        moment = getattr(cells, name)
        if moment is not None and moment > now + CLOCK_SKEW:
            raise ImportRefused("is in the future", row=row, column=name)
    if status is TaskStatus.DONE:
        for name in OUTCOME_COLUMNS:
            if getattr(cells, name) is None:
                raise ImportRefused(f"{name} is required for a done task", row=row, column=name)
        completed = cells.completed_at
        assert completed is not None
        for name in ("created_at", "started_at"):
            moment = getattr(cells, name)
            if moment is not None and moment > completed:
                raise ImportRefused("must not be after completed_at", row=row, column=name)
        if any(getattr(cells, name) is not None for name in PREDICTION_COLUMNS):
            _check_prediction(row, cells)
    else:
        for name in OUTCOME_COLUMNS:
            if getattr(cells, name) is not None:
                raise ImportRefused(f"only a done task has {name}", row=row, column=name)
        if status is TaskStatus.IN_PROGRESS and cells.started_at is None:
            raise ImportRefused("started_at is required for a task in progress", row=row, column="started_at")
    return status


def _check_prediction(row: int, cells: ImportRow) -> None:
    for name in ("p_correct", "expected_seconds"):
        if getattr(cells, name) is None:
            raise ImportRefused(f"{name} is required with the other prediction columns", row=row, column=name)
    expected = cells.expected_seconds or 0.0
    if cells.seconds_low is not None and cells.seconds_low > expected:
        raise ImportRefused("must not be above expected_seconds", row=row, column="seconds_low")
    if cells.seconds_high is not None and cells.seconds_high < expected:
        raise ImportRefused("must not be below expected_seconds", row=row, column="seconds_high")


def parse(data: bytes, *, now: datetime) -> list[ParsedRow]:
    """Every row of an import file, checked; ImportRefused at the first bad one (nothing is written here)."""
    reader = csv.reader(io.StringIO(_decode(data), newline=""), strict=True)
    header = _header(reader)
    rows: list[ParsedRow] = []
    number = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ImportRefused(f"not readable as CSV: {exc}", row=number + 1) from None
        number += 1
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        if len(rows) >= MAX_IMPORT_ROWS:
            raise ImportRefused(f"more than {MAX_IMPORT_ROWS} rows; split the file", row=number)
        cells = _parse_row(number, header, record)
        rows.append(ParsedRow(number, cells, _check(number, cells, now)))
    if not rows:
        raise ImportRefused("the file has a header but no rows")
    if sum(parsed.status is not TaskStatus.DONE for parsed in rows) > MAX_OPEN_ROWS:
        raise ImportRefused(f"more than {MAX_OPEN_ROWS} open (not done) tasks; import them in parts")
    return rows


# -- writing ---------------------------------------------------------------------------------------------------
def _task(user: User, parsed: ParsedRow, topic: Topic, now: datetime) -> Task:
    cells = parsed.cells
    done = parsed.status is TaskStatus.DONE
    completed = cells.completed_at if done else None
    created = cells.created_at or (completed - timedelta(seconds=cells.seconds_taken or 0.0)
                                   if completed is not None else now)
    task = Task(owner_id=user.id, title=cells.title, topic=topic, difficulty=cells.difficulty, notes=cells.notes,
                due_date=cells.due_date, status=parsed.status, created_at=created, started_at=cells.started_at,
                completed_at=completed, correct=cells.correct if done else None,
                seconds_taken=cells.seconds_taken if done else None)
    if done and cells.p_correct is not None:
        expected = cells.expected_seconds or 0.0
        task.p_correct, task.expected_seconds = cells.p_correct, expected
        task.seconds_low = cells.seconds_low if cells.seconds_low is not None else expected
        task.seconds_high = cells.seconds_high if cells.seconds_high is not None else expected
        task.model, task.model_version, task.source = cells.model, cells.model_version, cells.source
    return task


def import_tasks(*, session: Session, user: User, data: bytes, max_bytes: int, now: datetime) -> int:
    """Import the tasks of a CSV file (the columns of the export) for ``user``; returns how many.

    Done rows join the student's history at once, and the training tracker's counts in one atomic statement
    (so one import requests at most one training, never one per row); open rows are predicted as new tasks
    are. Nothing is
    written unless every row is acceptable (ImportRefused names the first bad one; ImportTooLarge for a file
    over ``max_bytes``). One transaction: the caller commits.
    """
    if len(data) > max_bytes:
        raise ImportTooLarge(max_bytes)
    rows = parse(data, now=now)
    topics: dict[str, Topic] = {}
    for parsed in rows:
        key = topic_key(parsed.cells.topic)
        if key not in topics:
            try:
                topics[key] = service.get_or_create_topic(session=session, name=parsed.cells.topic, user=user)
            except service.InvalidTaskInput as exc:
                raise ImportRefused(exc.reason, row=parsed.row, column="topic") from None
    tasks = [_task(user, parsed, topics[topic_key(parsed.cells.topic)], now) for parsed in rows]
    session.add_all(tasks)
    session.flush()
    for task in tasks:  # after the done rows are in: open tasks are predicted from the imported history
        if task.status is not TaskStatus.DONE:
            task.prediction = predictions.predict_and_log(session=session, user=user, task=task, now=now)
    done = sum(task.status is TaskStatus.DONE for task in tasks)
    if done and training.count_completions(session=session, n=done, now=now).training_due:
        context = context_of(session)

        def request() -> None:
            context.jobs.request_training(trigger="import")

        on_commit(session, request)
    return len(tasks)
