"""Export everything stored about one user: as one JSON document, or as CSV files (one per table) in a zip.

The export follows the foreign keys: every table with a column referencing ``users.id`` contributes the rows
of this user, every table referencing one of those rows contributes its rows too (so exams and their topics
are included once the planning tables exist), and rows of shared catalogs they reference (topics) are added so
ids can be read. Secrets are left out: the password hash, the token version, the account key (tokens name it)
and pending login tickets.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from studysmart import models as _all_models  # noqa: F401 - every table registered on Base.metadata
from studysmart.core.db import Base
from studysmart.tasks import transfer
from studysmart.users.models import User

FORMAT_VERSION = 1
SECRET_COLUMNS = {"users": {"password_hash", "token_version", "account_key"}}
SECRET_TABLES = {"login_tickets"}
#: Running sums of the user's prediction logs (kept by the database for the leaderboard): the logs themselves
#: are exported, and these follow from them.
DERIVED_TABLES = {"model_score_users"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return None  # no binary columns belong to a user today; never dump raw bytes
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value  # enums
    return value


def _rows(session: Session, table: Table, where: Any) -> list[dict[str, Any]]:
    hidden = SECRET_COLUMNS.get(table.name, set())
    columns = [c for c in table.columns if c.name not in hidden]
    result = session.execute(select(*columns).where(where).order_by(*table.primary_key.columns))
    return [{key: _plain(value) for key, value in row._mapping.items()} for row in result]


def collect(*, session: Session, user: User) -> dict[str, list[dict[str, Any]]]:
    """Table name -> the user's rows (plus referenced catalog rows), following foreign keys from ``users``.

    Args:
        session: a database session.
        user: whose data.

    Returns:
        Rows as plain JSON-able dicts per table, tables in dependency order.
    """
    users = Base.metadata.tables["users"]
    owned: dict[str, list[dict[str, Any]]] = {"users": _rows(session, users, users.c.id == user.id)}
    ids: dict[str, set[Any]] = {"users": {user.id}}
    for table in Base.metadata.sorted_tables:
        if table.name in owned or table.name in SECRET_TABLES | DERIVED_TABLES:
            continue
        conditions = []
        for fk in table.foreign_keys:
            parent = fk.column.table.name
            if parent in ids and fk.column.name == "id":
                conditions.append(fk.parent.in_(sorted(ids[parent])))
        direct = [c for c in conditions if str(c.left.name) in ("owner_id", "user_id")]
        chosen = direct[0] if direct else (conditions[0] if conditions else None)
        if chosen is None:
            continue
        rows = _rows(session, table, chosen)
        if rows:
            owned[table.name] = rows
            if "id" in table.columns:
                ids[table.name] = {row["id"] for row in rows}
    for name, rows in list(owned.items()):  # shared catalogs the user's rows point at (topics)
        for fk in Base.metadata.tables[name].foreign_keys:
            catalog = fk.column.table
            if catalog.name in owned or catalog.name == "users":
                continue
            wanted = {row[fk.parent.name] for row in rows if row.get(fk.parent.name) is not None}
            if wanted:
                owned[catalog.name] = _rows(session, catalog, fk.column.in_(sorted(wanted)))
    return owned


def export_json(*, session: Session, user: User, now: datetime) -> bytes:
    """All of the user's data as one UTF-8 JSON document.

    Args:
        session: a database session.
        user: whose data.
        now: the export time, recorded in the document.

    Returns:
        The JSON bytes: ``{"format_version", "exported_at", "tables": {name: [rows]}}``.
    """
    document = {"format_version": FORMAT_VERSION, "exported_at": now.isoformat(),
                "tables": collect(session=session, user=user)}
    return json.dumps(document, indent=2, ensure_ascii=False, default=str).encode("utf-8")


def export_csv_zip(*, session: Session, user: User) -> bytes:
    """All of the user's data as one CSV file per table (header row first), in a zip archive.

    Args:
        session: a database session.
        user: whose data.

    Returns:
        The zip bytes; JSON-valued cells (preferences) are written as JSON text, and a text a spreadsheet would
        run as a formula is quoted (``tasks.transfer.spreadsheet_text``). ``tasks.csv`` has the columns
        the import reads (``tasks.transfer.TASK_CSV_COLUMNS``: the topic by name), so it can be imported into
        another account.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, rows in collect(session=session, user=user).items():
            if name == "tasks":  # the columns the import reads (topic by name), one definition in tasks.transfer
                archive.writestr("tasks.csv", transfer.export_rows(session=session, user=user))
                continue
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({key: json.dumps(value) if isinstance(value, dict | list)
                                 else transfer.spreadsheet_text(value) if isinstance(value, str) else value
                                 for key, value in row.items()})
            archive.writestr(f"{name}.csv", text.getvalue())
    return buffer.getvalue()
