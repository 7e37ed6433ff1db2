"""gateway sessions: server-side sessions of people signed in at the gateway

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A new table only, as in 0008: no existing table is rebuilt.


def upgrade() -> None:
    op.create_table(
        'gateway_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['account_id'], ['accounts.id'],
            name=op.f('fk_gateway_sessions_account_id_accounts'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_sessions')),
        sa.UniqueConstraint('id_hash', name=op.f('uq_gateway_sessions_id_hash')),
    )
    op.create_index(
        op.f('ix_gateway_sessions_account_id'), 'gateway_sessions', ['account_id'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_gateway_sessions_account_id'), table_name='gateway_sessions')
    op.drop_table('gateway_sessions')
