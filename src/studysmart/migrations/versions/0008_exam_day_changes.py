"""exam day changes and planning options: skipped and moved days, the productive band, tasks per day

``exams.day_changes`` maps an ISO date to None (the student skipped the day) or to the ISO date its minutes
moved to; ``band_low``/``band_high`` are the P(correct) range of planned tasks and ``max_tasks_per_day`` the
most tasks on one day (existing exams get the defaults: 0.55-0.9 and 12).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rebuilt on SQLite when needed (keeping AUTOINCREMENT from 0003).
    with op.batch_alter_table('exams', schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column('day_changes', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('band_low', sa.Float(), server_default='0.55', nullable=False))
        batch_op.add_column(sa.Column('band_high', sa.Float(), server_default='0.9', nullable=False))
        batch_op.add_column(sa.Column('max_tasks_per_day', sa.Integer(), server_default='12', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('exams', schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_column('max_tasks_per_day')
        batch_op.drop_column('band_high')
        batch_op.drop_column('band_low')
        batch_op.drop_column('day_changes')
