"""MidJourney: tasks, their pending notifyHook calls, signing keys, and the key's default mode

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('keys') as batch:
        batch.add_column(sa.Column('mj_mode', sa.String(length=8), nullable=True))
    op.create_table(
        'mj_tasks',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('upstream_id', sa.String(length=64), nullable=False),
        sa.Column('channel_id', sa.Integer(), nullable=False),
        sa.Column('key_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('modal_request_id', sa.String(length=64), nullable=True),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('mode', sa.String(length=8), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('finished', sa.Boolean(), nullable=False),
        sa.Column('progress', sa.String(length=8), nullable=False),
        sa.Column('prompt', sa.Text(), nullable=True),
        sa.Column('prompt_en', sa.Text(), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('state', sa.Text(), nullable=True),
        sa.Column('image_url', sa.Text(), nullable=True),
        sa.Column('buttons', sa.JSON(), nullable=False),
        sa.Column('properties', sa.JSON(), nullable=False),
        sa.Column('submit_time', sa.BigInteger(), nullable=False),
        sa.Column('start_time', sa.BigInteger(), nullable=True),
        sa.Column('finish_time', sa.BigInteger(), nullable=True),
        sa.Column('fail_reason', sa.Text(), nullable=True),
        sa.Column('timed_out', sa.Boolean(), nullable=False),
        sa.Column('billing', sa.String(length=16), nullable=False),
        sa.Column('refunded', sa.BigInteger(), nullable=False),
        sa.Column('notify_hook', sa.Text(), nullable=True),
        sa.Column('seed', sa.String(length=64), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mj_tasks')),
    )
    op.create_index('ix_mj_tasks_key', 'mj_tasks', ['key_id', 'submit_time'])
    op.create_index('ix_mj_tasks_unfinished', 'mj_tasks', ['finished', 'submit_time'])
    op.create_index('ix_mj_tasks_billing', 'mj_tasks', ['billing', 'status'])
    op.create_table(
        'mj_notifications',
        sa.Column('task_id', sa.String(length=32), nullable=False),
        sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.Float(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('task_id', 'version', name=op.f('pk_mj_notifications')),
    )
    op.create_index('ix_mj_notifications_due', 'mj_notifications', ['next_attempt_at'])
    op.create_table(
        'signing_keys',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('secret', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_signing_keys')),
    )


def downgrade() -> None:
    op.drop_table('signing_keys')
    op.drop_index('ix_mj_notifications_due', table_name='mj_notifications')
    op.drop_table('mj_notifications')
    for name in ('ix_mj_tasks_billing', 'ix_mj_tasks_unfinished', 'ix_mj_tasks_key'):
        op.drop_index(name, table_name='mj_tasks')
    op.drop_table('mj_tasks')
    with op.batch_alter_table('keys') as batch:
        batch.drop_column('mj_mode')
