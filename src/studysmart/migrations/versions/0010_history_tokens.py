"""history tokens: a random token per student that changes whenever their answers change

``users.history_token`` is rewritten (a fresh random value) in the same transaction as any insert, update or delete of
a done task of theirs (a completion, an undo, a corrected outcome, a deleted or imported answer), by triggers on
``tasks``, so every path that writes tasks keeps it true, bulk statements included. A process caches each student's
history under it (``learning.history.HistoryCache``): a request reads the token (one row) instead of the history.
Random rather than a counter, so that a restored older database never matches a token cached after the backup; a
new account starts at "0" (no answers yet).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The columns of a task that its owner's history is made of (learning.history reads these).
HISTORY_COLUMNS = "status, correct, seconds_taken, completed_at, topic_id, difficulty, owner_id"
SQLITE_TOKEN = "lower(hex(randomblob(8)))"  # noqa: S105 - SQL, not a secret
POSTGRES_TOKEN = "substr(md5(random()::text || clock_timestamp()::text), 1, 16)"  # noqa: S105 - SQL, not a secret


def _sqlite_triggers() -> list[str]:
    renew = f"UPDATE users SET history_token = {SQLITE_TOKEN} WHERE id"  # noqa: S608 - constant SQL
    return [
        "CREATE TRIGGER tasks_history_insert AFTER INSERT ON tasks WHEN NEW.status = 'done' "
        f"BEGIN {renew} = NEW.owner_id; END",
        "CREATE TRIGGER tasks_history_delete AFTER DELETE ON tasks WHEN OLD.status = 'done' "
        f"BEGIN {renew} = OLD.owner_id; END",
        f"CREATE TRIGGER tasks_history_update AFTER UPDATE OF {HISTORY_COLUMNS} ON tasks "
        f"WHEN OLD.status = 'done' OR NEW.status = 'done' BEGIN {renew} IN (OLD.owner_id, NEW.owner_id); END",
    ]


def _postgres_triggers() -> list[str]:
    changed = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in (c.strip() for c in HISTORY_COLUMNS.split(",")))
    # A plain UPDATE (FOR NO KEY UPDATE): it does not wait for the KEY SHARE locks that foreign keys to users take
    # (other transactions' tasks and prediction logs), which a FOR UPDATE would, and deadlock with them.
    renew = "UPDATE users SET history_token = " + POSTGRES_TOKEN + " WHERE id IN ({owners})"  # noqa: S608 - constant
    inserted = "SELECT owner_id FROM new_rows WHERE status = 'done'"
    deleted = "SELECT owner_id FROM old_rows WHERE status = 'done'"
    pairs = "old_rows o JOIN new_rows n ON n.id = o.id"
    touched = f"(o.status = 'done' OR n.status = 'done') AND ({changed})"
    updated = (f"SELECT o.owner_id FROM {pairs} WHERE {touched} "  # noqa: S608 - constant SQL
               f"UNION SELECT n.owner_id FROM {pairs} WHERE {touched}")
    return [
        f"""CREATE FUNCTION tasks_history_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {renew.format(owners=inserted)};
    ELSIF TG_OP = 'DELETE' THEN {renew.format(owners=deleted)};
    ELSE {renew.format(owners=updated)};
    END IF;
    RETURN NULL;
END $$""",
        "CREATE TRIGGER tasks_history_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION tasks_history_token()",
        "CREATE TRIGGER tasks_history_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows "
        "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tasks_history_token()",
        "CREATE TRIGGER tasks_history_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION tasks_history_token()",
    ]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('history_token', sa.String(length=16), nullable=False, server_default='0'))
    # Existing students get a random token each (a new account's "0" means "no answer yet"), so no history kept
    # under a token from before this upgrade, or from a database restored across it, is taken for theirs.
    op.execute(f"UPDATE users SET history_token = {SQLITE_TOKEN if sqlite else POSTGRES_TOKEN}")  # noqa: S608
    for statement in _sqlite_triggers() if sqlite else _postgres_triggers():
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS tasks_history_{name}" + ("" if sqlite else " ON tasks"))
    if not sqlite:
        op.execute("DROP FUNCTION IF EXISTS tasks_history_token()")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('history_token')
