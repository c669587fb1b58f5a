"""channel options, prompt-cache prices, cache and reasoning token counts in the request log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channels') as batch:
        batch.add_column(sa.Column('options', sa.JSON(), nullable=True))
    with op.batch_alter_table('prices') as batch:
        batch.add_column(sa.Column('cache_read_per_1m', sa.Float(), nullable=True))
        batch.add_column(sa.Column('cache_write_per_1m', sa.Float(), nullable=True))
    with op.batch_alter_table('request_logs') as batch:
        for name in ('cached_tokens', 'cache_write_tokens', 'reasoning_tokens'):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('request_logs') as batch:
        for name in ('cached_tokens', 'cache_write_tokens', 'reasoning_tokens'):
            batch.drop_column(name)
    with op.batch_alter_table('prices') as batch:
        batch.drop_column('cache_write_per_1m')
        batch.drop_column('cache_read_per_1m')
    with op.batch_alter_table('channels') as batch:
        batch.drop_column('options')
