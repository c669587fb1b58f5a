"""audit log of operator changes; SQLite ids of users, keys and channels never reused (AUTOINCREMENT)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# table -> the request_logs column that may name ids deleted before this migration (seeds the high-water mark)
_NEVER_REUSED = {'users': 'user_id', 'keys': 'key_id', 'channels': 'channel_id'}


def upgrade() -> None:
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('actor_key_id', sa.Integer(), nullable=True),
        sa.Column('actor_user_id', sa.Integer(), nullable=True),
        sa.Column('request_id', sa.String(length=64), nullable=True),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=255), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_audit_log_created', 'audit_log', ['created_at'], unique=False)
    if op.get_bind().dialect.name != 'sqlite':
        return  # PostgreSQL sequences never hand out an id twice
    for table, logged in _NEVER_REUSED.items():
        # Rebuilt with AUTOINCREMENT (Database.upgrade turns foreign keys off around migrations for this).
        with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
            pass
        # Ids deleted before now may still be named by log rows: the sequence starts past them too.
        op.execute(f"INSERT INTO sqlite_sequence (name, seq) SELECT '{table}', 0 "
                   f"WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = '{table}')")
        op.execute(f"UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT max(id) FROM {table}), 0), "
                   f"coalesce((SELECT max({logged}) FROM request_logs), 0)) WHERE name = '{table}'")


def downgrade() -> None:
    op.drop_index('ix_audit_log_created', table_name='audit_log')
    op.drop_table('audit_log')
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table in _NEVER_REUSED:
        with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': False}):
            pass
