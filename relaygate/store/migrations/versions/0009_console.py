"""console: user passwords, sessions, login failures, redemption codes, the hourly usage rollup

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_HOUR = {'sqlite': 'CAST(created_at / 3600 AS INTEGER) * 3600',
         'postgresql': 'CAST(floor(created_at / 3600) AS BIGINT) * 3600'}


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('password_hash', sa.String(length=255), nullable=True))
    op.create_table(
        'sessions',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_sessions')),
    )
    op.create_index('ix_sessions_user', 'sessions', ['user_id'], unique=False)
    op.create_table(
        'login_failures',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('username', sa.String(length=128), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures')),
    )
    op.create_index('ix_login_failures_who', 'login_failures', ['username', 'address', 'created_at'], unique=False)
    op.create_table(
        'redemption_codes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('hint', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=True),
        sa.Column('redeemed_at', sa.Float(), nullable=True),
        sa.Column('redeemed_by', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption_codes')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_redemption_codes_code_hash')),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'usage_rollup',
        sa.Column('bucket', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('channel_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('model', sa.String(length=128), nullable=False),
        sa.Column('requests', sa.BigInteger(), nullable=False),
        sa.Column('failures', sa.BigInteger(), nullable=False),
        sa.Column('prompt_tokens', sa.BigInteger(), nullable=False),
        sa.Column('completion_tokens', sa.BigInteger(), nullable=False),
        sa.Column('cost', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('bucket', 'user_id', 'channel_id', 'model', name=op.f('pk_usage_rollup')),
        sqlite_with_rowid=False,
    )
    op.create_index('ix_usage_rollup_user', 'usage_rollup', ['user_id', 'bucket'], unique=False)
    # the request logs written before this migration, summed once
    hour = _HOUR.get(op.get_bind().dialect.name, _HOUR['postgresql'])
    op.execute(
        "INSERT INTO usage_rollup (bucket, user_id, channel_id, model, requests, failures, prompt_tokens, "
        "completion_tokens, cost) "
        f"SELECT {hour}, coalesce(user_id, 0), coalesce(channel_id, 0), model, count(*), "
        "sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), sum(prompt_tokens), sum(completion_tokens), sum(cost) "
        f"FROM request_logs GROUP BY {hour}, coalesce(user_id, 0), coalesce(channel_id, 0), model"
    )


def downgrade() -> None:
    op.drop_index('ix_usage_rollup_user', table_name='usage_rollup')
    op.drop_table('usage_rollup')
    op.drop_table('redemption_codes')
    op.drop_index('ix_login_failures_who', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index('ix_sessions_user', table_name='sessions')
    op.drop_table('sessions')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('password_hash')
