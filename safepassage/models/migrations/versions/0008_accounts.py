"""accounts: people who sign in (password hash, sealed TOTP secret), mission API tokens

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# New tables only: `cases` is not touched (a batch rebuild of it would cascade-delete every
# child table's rows on SQLite with foreign keys on).


def upgrade() -> None:
    op.create_table(
        'accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.Column('mission', sa.String(length=2), nullable=True),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('data_key', sa.LargeBinary(), nullable=False),
        sa.Column('totp_secret', sa.LargeBinary(), nullable=False),
        sa.Column('disabled', sa.Boolean(), nullable=False),
        sa.Column('failed_attempts', sa.Integer(), nullable=False),
        sa.Column('locked_until', sa.DateTime(), nullable=True),
        sa.Column('last_totp_step', sa.Integer(), nullable=True),
        sa.Column('signed_in_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('coordinator', 'mission', 'auditor')", name=op.f('ck_accounts_role')
        ),
        sa.CheckConstraint(
            "(role = 'mission') = (mission IS NOT NULL)", name=op.f('ck_accounts_mission_only')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
        sa.UniqueConstraint('name', name=op.f('uq_accounts_name')),
    )
    op.create_table(
        'mission_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('mission', sa.String(length=2), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mission_tokens')),
        sa.UniqueConstraint('name', name=op.f('uq_mission_tokens_name')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_mission_tokens_token_hash')),
    )


def downgrade() -> None:
    op.drop_table('mission_tokens')
    op.drop_table('accounts')
