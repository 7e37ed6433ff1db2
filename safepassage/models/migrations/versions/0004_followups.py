"""followups: plan offsets, arrival anchor, scheduled run and its key generation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offset_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('arrived_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('scheduled_for', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('run_generation', sa.Integer(), nullable=False, server_default='0'))

    # Before this revision every case had the default plan (1, 3, 6, 12 months), numbered in
    # that order, so each row's offset follows from its number.
    op.execute(
        "UPDATE followups SET offset_months = CASE number "
        "WHEN 1 THEN 1 WHEN 2 THEN 3 WHEN 3 THEN 6 ELSE 12 END"
    )
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.alter_column('offset_months', existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_column('run_generation')
        batch_op.drop_column('scheduled_for')
        batch_op.drop_column('arrived_on')
        batch_op.drop_column('offset_months')
