"""sealed case state: a MAC over the clear-text fields that decide who may see what

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 15:30:00

The MAC itself needs the key ring, which a migration does not have: the store fills the column
when it keys the audit chain (models/store/events.key_the_chain), in the same transaction as
the epoch entry.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('state_mac', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('cases', 'state_mac')  # not a batch rebuild: see 0005
