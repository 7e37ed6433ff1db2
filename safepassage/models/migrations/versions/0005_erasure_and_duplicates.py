"""erasure and duplicates: intake fingerprint, Prefect purge mark

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD COLUMN and a unique index, not a batch rebuild: on SQLite a batch rebuild drops and
# recreates `cases`, and with foreign keys on, dropping it cascades to every child table's rows.


def upgrade() -> None:
    op.add_column('cases', sa.Column('intake_fingerprint', sa.String(length=64), nullable=True))
    op.add_column('cases', sa.Column('prefect_purged_at', sa.DateTime(), nullable=True))
    op.create_index('ix_cases_intake_fingerprint', 'cases', ['intake_fingerprint'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_cases_intake_fingerprint', table_name='cases')
    op.drop_column('cases', 'prefect_purged_at')
    op.drop_column('cases', 'intake_fingerprint')
