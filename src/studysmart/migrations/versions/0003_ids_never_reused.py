"""ids of deleted users, tasks and exams are never reused on SQLite

Without AUTOINCREMENT, SQLite gives the next row the largest id plus one, so deleting the newest row and
creating another handed out the deleted id again: a deleted account's token (or web session) then belonged to
the next account, and a stale page, or an exam's record of the tasks it made, pointed at an unrelated task.
SQLite cannot add AUTOINCREMENT in place, so the tables are rebuilt
(copied with their ids; ``env.py`` turns foreign keys off for the rebuild and checks them afterwards).
PostgreSQL's sequences never reuse ids: nothing to do there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 20:40:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("users", "tasks", "exams")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
