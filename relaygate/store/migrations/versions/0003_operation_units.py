"""prices and log rows in every unit (characters, seconds, images); reservations that survive a crash

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('prices') as batch:
        for name in ('image_input_per_1m', 'per_1m_characters', 'per_second'):
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch.add_column(sa.Column('per_image', sa.JSON(), nullable=True))
    with op.batch_alter_table('request_logs') as batch:
        batch.add_column(sa.Column('characters', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('audio_seconds', sa.Float(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('images', sa.Integer(), nullable=False, server_default='0'))
    op.create_table(
        'ledger_holders',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_holders')),
    )
    op.create_table(
        'reservations',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
        sa.Column('holder', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('key_limited', sa.Boolean(), nullable=False),
        sa.Column('endpoint', sa.String(length=32), nullable=False),
        sa.Column('model', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations')),
    )


def downgrade() -> None:
    op.drop_table('reservations')
    op.drop_table('ledger_holders')
    with op.batch_alter_table('request_logs') as batch:
        for name in ('images', 'audio_seconds', 'characters'):
            batch.drop_column(name)
    with op.batch_alter_table('prices') as batch:
        for name in ('per_image', 'per_second', 'per_1m_characters', 'image_input_per_1m'):
            batch.drop_column(name)
