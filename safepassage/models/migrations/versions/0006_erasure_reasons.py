"""erasure reasons: the erasure's free-text note, sealed, outside the event log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# A new table only: `cases` is not touched (a batch rebuild of it would cascade-delete every
# child table's rows on SQLite with foreign keys on).


def upgrade() -> None:
    op.create_table(
        'erasure_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('written_at', sa.DateTime(), nullable=False),
        sa.Column('delete_after', sa.DateTime(), nullable=False),
        sa.Column('data_key', sa.LargeBinary(), nullable=False),
        sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ['case_id'], ['cases.id'], name=op.f('fk_erasure_notes_case_id_cases'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_notes')),
        sa.UniqueConstraint('case_id', name=op.f('uq_erasure_notes_case_id')),
    )
    op.create_index(
        op.f('ix_erasure_notes_delete_after'), 'erasure_notes', ['delete_after'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_erasure_notes_delete_after'), table_name='erasure_notes')
    op.drop_table('erasure_notes')
