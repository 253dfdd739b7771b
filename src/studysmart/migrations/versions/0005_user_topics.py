"""each student sees only their own topics and a shared list

``user_topics`` records the topics a student added themselves (topics of their tasks and exams are theirs
anyway); the shared list of common subjects is created in the catalog so everyone can pick from it. Topic rows
stay shared: the models pool answers on one topic across students.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import studysmart.core.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy of tasks.service.SHARED_TOPICS when this migration was written (migrations do not import app code).
_SHARED = ("Algebra", "Biology", "Calculus", "Chemistry", "Computer science", "Economics", "English", "French",
           "Geography", "Geometry", "German", "History", "Literature", "Physics", "Probability", "Spanish",
           "Statistics")


def upgrade() -> None:
    op.create_table('user_topics',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('created_at', studysmart.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_user_topics_topic_id_topics'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_topics_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'topic_id', name=op.f('pk_user_topics'))
    )
    with op.batch_alter_table('user_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_topics_topic_id'), ['topic_id'], unique=False)

    topics = sa.table('topics', sa.column('name', sa.String), sa.column('key', sa.String),
                      sa.column('created_at', studysmart.core.db.UTCDateTime(timezone=True)))
    bind = op.get_bind()
    existing = set(bind.execute(sa.select(topics.c.key)).scalars())
    now = datetime.now(UTC)
    missing = [{'name': name, 'key': name.casefold(), 'created_at': now} for name in _SHARED
               if name.casefold() not in existing]
    if missing:
        op.bulk_insert(topics, missing)


def downgrade() -> None:
    # The shared topics stay: tasks may use them now.
    with op.batch_alter_table('user_topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_topics_topic_id'))
    op.drop_table('user_topics')
