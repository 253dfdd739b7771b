"""account keys, the auth epoch and login tickets

Tokens and web sessions named the account by its row id, which a database restore hands out again (the
restored sequence/AUTOINCREMENT counter is older than the accounts created after the backup): an old token then
belonged to a new account. Every account gets a random ``account_key`` (unique, never reused; existing rows are
backfilled with fresh random keys) that tokens and sessions name instead. ``auth_state`` holds one row, the auth
epoch: tokens and sessions carry it, and ``studysmart restore`` writes a new one, so nothing issued before a restore
is accepted after it. ``login_tickets`` holds the single-use tickets that turn a web login into a fresh session
cookie (session fixation).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:00:00
"""
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import studysmart.core.db

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> str:
    return secrets.token_urlsafe(32)


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('users', schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column('account_key', sa.String(length=43), nullable=True))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('account_key', sa.String))
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(users.update().where(users.c.id == user_id).values(account_key=_key()))
    # Rebuilt on SQLite (keeping AUTOINCREMENT from 0003).
    with op.batch_alter_table('users', schema=None, recreate='auto',
                              table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.alter_column('account_key', existing_type=sa.String(length=43), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_users_account_key'), ['account_key'])

    auth_state = op.create_table('auth_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.String(length=43), nullable=False),
    sa.Column('changed_at', studysmart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_state'))
    )
    op.bulk_insert(auth_state, [{"id": 1, "epoch": _key(), "changed_at": datetime.now(UTC)}])

    op.create_table('login_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('browser', sa.String(length=64), nullable=False),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.String(length=43), nullable=False),
    sa.Column('tz', sa.String(length=64), nullable=False),
    sa.Column('next_path', sa.String(length=512), nullable=False),
    sa.Column('expires_at', studysmart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_tickets_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_tickets')),
    sa.UniqueConstraint('digest', name=op.f('uq_login_tickets_digest'))
    )
    with op.batch_alter_table('login_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_tickets_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_tickets_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_tickets_user_id'))
        batch_op.drop_index(batch_op.f('ix_login_tickets_expires_at'))
    op.drop_table('login_tickets')
    op.drop_table('auth_state')
    with op.batch_alter_table('users', schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_account_key'), type_='unique')
        batch_op.drop_column('account_key')
