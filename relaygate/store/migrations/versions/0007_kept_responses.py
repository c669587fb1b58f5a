"""kept_responses: Responses API responses remembered for their follow-ups (channel, key, conversation)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'kept_responses',
        sa.Column('id', sa.String(length=128), nullable=False),
        sa.Column('key_id', sa.Integer(), nullable=False),
        sa.Column('channel_id', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(length=128), nullable=False),
        sa.Column('relayed', sa.Boolean(), nullable=False),
        sa.Column('billed', sa.Boolean(), nullable=False),
        sa.Column('conversation', sa.Text(), nullable=True),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_kept_responses')),
    )
    op.create_index('ix_kept_responses_expires_at', 'kept_responses', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_kept_responses_expires_at', table_name='kept_responses')
    op.drop_table('kept_responses')
