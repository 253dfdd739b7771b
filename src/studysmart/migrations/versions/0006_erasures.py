"""erasures: deleted accounts whose fitted parameters leave the models

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import studysmart.core.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('erasures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person', sa.String(length=40), nullable=False),
    sa.Column('requested_at', studysmart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('applied_at', studysmart.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures')),
    sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table('erasures')
