"""foundation: cases, sealed records, event log

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 10:24:09.947556
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_events',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('stage', sa.String(length=24), nullable=True),
    sa.Column('rules_version', sa.String(length=20), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_reference'), ['reference'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('programme', sa.String(length=8), nullable=False),
    sa.Column('destination_country', sa.String(length=2), nullable=False),
    sa.Column('stage', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decision_outcome', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.JSON(), nullable=False),
    sa.Column('rules_version', sa.String(length=20), nullable=False),
    sa.Column('share_with_mission', sa.Boolean(), nullable=False),
    sa.Column('share_with_embassy', sa.Boolean(), nullable=False),
    sa.Column('escort_required', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('data_key', sa.LargeBinary(), nullable=True),
    sa.Column('master_key_id', sa.String(length=16), nullable=False),
    sa.Column('erased_at', sa.DateTime(), nullable=True),
    sa.Column('flow_run_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('reference', name=op.f('uq_cases_reference'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_programme'), ['programme'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_stage'), ['stage'], unique=False)

    op.create_table('chain_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chain_head'))
    )
    op.create_table('store_meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_store_meta'))
    )
    op.create_table('sealed_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_sealed_records_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sealed_records')),
    sa.UniqueConstraint('case_id', 'purpose', name=op.f('uq_sealed_records_case_id'))
    )


def downgrade() -> None:
    op.drop_table('sealed_records')
    op.drop_table('store_meta')
    op.drop_table('chain_head')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_stage'))
        batch_op.drop_index(batch_op.f('ix_cases_programme'))

    op.drop_table('cases')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_reference'))

    op.drop_table('case_events')
