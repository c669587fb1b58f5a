"""all-tools models (file analysis) and the fetcher's allow-list kept in the store

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'all_tools_models',
        sa.Column('model', sa.String(length=128), nullable=False),
        sa.Column('base_model', sa.String(length=128), nullable=False),
        sa.Column('vision', sa.Boolean(), nullable=True),
        sa.Column('context_tokens', sa.Integer(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('model', name=op.f('pk_all_tools_models')),
    )
    op.create_table(
        'fetch_allow',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('entry', sa.String(length=255), nullable=False),
        sa.Column('note', sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fetch_allow')),
        sa.UniqueConstraint('entry', name=op.f('uq_fetch_allow_entry')),
    )


def downgrade() -> None:
    op.drop_table('fetch_allow')
    op.drop_table('all_tools_models')
