"""model scores: running sums of the scored predictions (per model, arm and hour; per student and model)

The leaderboards read these sums instead of every prediction log. Triggers on ``prediction_logs`` keep them equal
to the logs in the same transaction as any insert, update or delete of a log (scoring, unscoring, shadow logs,
erasure); the upgrade fills them from the logs already stored. Rows whose sums fall back to zero stay (readers
skip ``n = 0``). SQLite: row triggers (upserts); PostgreSQL:
statement triggers over transition tables, which upsert each statement's rows grouped and in key order (so two
concurrent completions lock the shared hour rows in the same order). The index on (model, scored_at) becomes one
on (model, scored_at, correct, p_correct, served, arm), and one on (user_id, model, scored_at, correct, p_correct)
is added: a model's (or a student's model's) latest outcomes, for the AUC, are read from the index alone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 20:30:00
"""
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import studysmart.core.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Z80 = "1.2815515655446004"  # studysmart.ml.base.Z80, frozen here
SUMS = ("n", "n_outcome", "sum_log_loss", "sum_brier", "n_time", "sum_abs_seconds", "n_covered")


def _terms(r: str, sqlite: bool) -> list[str]:
    """The per-log values summed into SUMS, for the row alias ``r`` (NULL outcome or time: 0)."""
    least, greatest = ("min", "max") if sqlite else ("least", "greatest")
    f = "" if sqlite else "::double precision"
    p = f"{greatest}({least}({r}.p_correct, 1{f} - 1e-15{f}), 1e-15{f})"
    y = f"{r}.correct" if sqlite else f"(CASE WHEN {r}.correct THEN 1.0 ELSE 0.0 END)"
    return [
        "1",
        f"(CASE WHEN {r}.correct IS NULL THEN 0 ELSE 1 END)",
        f"(CASE WHEN {r}.correct IS NULL THEN 0.0 WHEN {r}.correct THEN -ln({p}) ELSE -ln(1{f} - {p}) END)",
        f"(CASE WHEN {r}.correct IS NULL THEN 0.0 ELSE ({r}.p_correct - {y}) * ({r}.p_correct - {y}) END)",
        f"(CASE WHEN {r}.log_time IS NULL THEN 0 ELSE 1 END)",
        f"(CASE WHEN {r}.log_time IS NULL THEN 0.0 ELSE abs(exp({least}({r}.mean_log_time, 700{f}))"
        f" - exp({least}({r}.log_time, 700{f}))) END)",
        f"(CASE WHEN {r}.log_time IS NOT NULL AND abs({r}.log_time - {r}.mean_log_time) <= {Z80} * {r}.sd_log_time"
        " THEN 1 ELSE 0 END)",
    ]


def _hour(r: str, sqlite: bool) -> str:
    if sqlite:  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
        return f"substr({r}.scored_at, 1, 13) || ':00:00.000000'"
    return f"(date_trunc('hour', {r}.scored_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"


_KEYS = {"model_score_hours": ("model", "arm", "served", "hour"), "model_score_users": ("user_id", "model")}


def _key_values(table: str, r: str, sqlite: bool) -> list[str]:
    values = {"model": f"{r}.model", "arm": f"coalesce({r}.arm, '')", "served": f"{r}.served",
              "hour": _hour(r, sqlite), "user_id": f"{r}.user_id"}
    return [values[k] for k in _KEYS[table]]


def _grouped(table: str, source: str, r: str, sqlite: bool) -> str:
    keys = _KEYS[table]
    exprs = [f"{e} AS {k}" for k, e in zip(keys, _key_values(table, r, sqlite), strict=True)]
    sums = [f"sum({t}) AS {c}" for c, t in zip(SUMS, _terms(r, sqlite), strict=True)]
    order = ", ".join(str(i + 1) for i in range(len(keys)))
    return (f"SELECT {', '.join(exprs)}, {', '.join(sums)} FROM {source} {r} "  # noqa: S608 - constant names
            f"WHERE {r}.scored_at IS NOT NULL GROUP BY {order}")


def _subtract_grouped(table: str, source: str) -> str:
    """Subtract the grouped sums of ``source`` rows from the rows of ``table`` (a row already gone, e.g. deleted
    with its student, is skipped)."""
    sets = ", ".join(f"{c} = {table}.{c} - g.{c}" for c in SUMS)
    where = " AND ".join(f"{table}.{k} = g.{k}" for k in _KEYS[table])
    return f"UPDATE {table} SET {sets} FROM ({_grouped(table, source, 'r', False)}) g WHERE {where}"  # noqa: S608


def _upsert_grouped(table: str, source: str, r: str, sqlite: bool) -> str:
    """INSERT the grouped sums of ``source`` rows (alias ``r``) into ``table``, adding them to existing rows."""
    keys = _KEYS[table]
    key_exprs = _key_values(table, r, sqlite)
    sums = [f"sum({t})" for t in _terms(r, sqlite)]
    update = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in SUMS)
    order = ", ".join(str(i + 1) for i in range(len(keys)))
    return (f"INSERT INTO {table} ({', '.join(keys)}, {', '.join(SUMS)}) "  # noqa: S608 - constant names
            f"SELECT {', '.join(key_exprs)}, {', '.join(sums)} FROM {source} {r} "
            f"WHERE {r}.scored_at IS NOT NULL GROUP BY {order} ORDER BY {order} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}")


def _sqlite_add(table: str) -> str:
    keys = _KEYS[table]
    values = [*_key_values(table, "NEW", True), *_terms("NEW", True)]
    update = ", ".join(f"{c} = {c} + excluded.{c}" for c in SUMS)
    return (f"INSERT INTO {table} ({', '.join(keys)}, {', '.join(SUMS)}) SELECT {', '.join(values)} "
            f"WHERE NEW.scored_at IS NOT NULL ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update};")


def _sqlite_remove(table: str) -> str:
    keys = _KEYS[table]
    where = " AND ".join(f"{k} = {v}" for k, v in zip(keys, _key_values(table, "OLD", True), strict=True))
    sets = ", ".join(f"{c} = {c} - {t}" for c, t in zip(SUMS, _terms("OLD", True), strict=True))
    return f"UPDATE {table} SET {sets} WHERE OLD.scored_at IS NOT NULL AND {where};"  # noqa: S608 - constants


def _sqlite_triggers() -> list[str]:
    tables = list(_KEYS)
    add = " ".join(_sqlite_add(t) for t in tables)
    remove = " ".join(_sqlite_remove(t) for t in tables)
    return [
        f"CREATE TRIGGER prediction_logs_scores_insert AFTER INSERT ON prediction_logs BEGIN {add} END",
        f"CREATE TRIGGER prediction_logs_scores_delete AFTER DELETE ON prediction_logs BEGIN {remove} END",
        f"CREATE TRIGGER prediction_logs_scores_update AFTER UPDATE ON prediction_logs BEGIN {remove} {add} END",
    ]


def _postgres_function() -> str:
    tables = list(_KEYS)
    remove = " ".join(_subtract_grouped(t, "old_rows") + ";" for t in tables)
    add = " ".join(_upsert_grouped(t, "new_rows", "r", False) + ";" for t in tables)
    return f"""CREATE FUNCTION prediction_logs_scores() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN {remove} END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN {add} END IF;
    RETURN NULL;
END $$"""


def _postgres_triggers() -> list[str]:
    return [
        _postgres_function(),
        "CREATE TRIGGER prediction_logs_scores_insert AFTER INSERT ON prediction_logs "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION prediction_logs_scores()",
        "CREATE TRIGGER prediction_logs_scores_update AFTER UPDATE ON prediction_logs "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION prediction_logs_scores()",
        "CREATE TRIGGER prediction_logs_scores_delete AFTER DELETE ON prediction_logs "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION prediction_logs_scores()",
    ]


def _sums_columns() -> list[sa.Column[Any]]:
    return [sa.Column('n', sa.Integer(), nullable=False), sa.Column('n_outcome', sa.Integer(), nullable=False),
            sa.Column('sum_log_loss', sa.Float(), nullable=False), sa.Column('sum_brier', sa.Float(), nullable=False),
            sa.Column('n_time', sa.Integer(), nullable=False),
            sa.Column('sum_abs_seconds', sa.Float(), nullable=False),
            sa.Column('n_covered', sa.Integer(), nullable=False)]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table('model_score_hours',
    sa.Column('model', sa.String(length=40), nullable=False),
    sa.Column('arm', sa.String(length=20), nullable=False),
    sa.Column('served', sa.Boolean(), nullable=False),
    sa.Column('hour', studysmart.core.db.UTCDateTime(timezone=True), nullable=False),
    *_sums_columns(),
    sa.PrimaryKeyConstraint('model', 'arm', 'served', 'hour', name=op.f('pk_model_score_hours')))
    with op.batch_alter_table('model_score_hours', schema=None) as batch_op:
        batch_op.create_index('ix_model_score_hours_hour', ['hour'], unique=False)
    op.create_table('model_score_users',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=40), nullable=False),
    *_sums_columns(),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_model_score_users_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'model', name=op.f('pk_model_score_users')))
    with op.batch_alter_table('prediction_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_prediction_logs_model_scored')
        batch_op.create_index('ix_prediction_logs_model_outcomes',
                              ['model', 'scored_at', 'correct', 'p_correct', 'served', 'arm'], unique=False)
        batch_op.create_index('ix_prediction_logs_user_model_outcomes',
                              ['user_id', 'model', 'scored_at', 'correct', 'p_correct'], unique=False)
    for table in _KEYS:
        op.execute(_upsert_grouped(table, "prediction_logs", "r", sqlite))
    for statement in _sqlite_triggers() if sqlite else _postgres_triggers():
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS prediction_logs_scores_{name}" + ("" if sqlite else " ON prediction_logs"))
    if not sqlite:
        op.execute("DROP FUNCTION IF EXISTS prediction_logs_scores()")
    with op.batch_alter_table('prediction_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_prediction_logs_user_model_outcomes')
        batch_op.drop_index('ix_prediction_logs_model_outcomes')
        batch_op.create_index('ix_prediction_logs_model_scored', ['model', 'scored_at'], unique=False)
    op.drop_table('model_score_users')
    op.drop_table('model_score_hours')
