"""consent record: the person's consent per recipient and purpose

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00

Each case gets its consent record (`cases.consent`), filled from its two flags: the mission's
reception, reintegration and follow-up contact from `share_with_mission`, the embassy's travel
documents from `share_with_embassy`, when and by whom unknown (source `migration`). The entries
written here must stay exactly `ConsentRecord.from_flags` (models/consent_record.py): a case's
state seal, written before the record existed and not re-computable here without the key ring,
vouches for the record only in that form (models/store/state_seal.py).

Outbox items get `consent_for`, the consents a detailed body was sealed on; NULL for the items
queued before (a withdrawal for their audience strips their detailed body, as it did).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD COLUMN, not a batch rebuild: see 0005. SQLite adds a NOT NULL column only with a
# default; '{}' (no consent at all) is also what a row inserted without a record gets.

#: The purposes each flag stands for (consent_record.CASE_FILE_PURPOSES), as of this migration.
_PURPOSES = {
    'mission': ('reception', 'reintegration', 'followup-contact'),
    'embassy': ('travel-documents',),
}
_MIGRATED_BY = 'unknown: from the case\'s consent flags'


def _record(share_with_mission: bool, share_with_embassy: bool) -> dict[str, dict[str, object]]:
    agreed = {'mission': bool(share_with_mission), 'embassy': bool(share_with_embassy)}
    return {
        f'{recipient}/{purpose}': {
            'agreed': agreed[recipient],
            'recorded_on': None,
            'language': None,
            'interpreter_used': False,
            'recorded_by': _MIGRATED_BY,
            'source': 'migration',
        }
        for recipient, purposes in _PURPOSES.items()
        for purpose in purposes
    }


def upgrade() -> None:
    op.add_column(
        'cases', sa.Column('consent', sa.JSON(), server_default='{}', nullable=False)
    )
    op.add_column('outbox_items', sa.Column('consent_for', sa.String(length=200), nullable=True))
    cases = sa.table(
        'cases',
        sa.column('id', sa.Integer()),
        sa.column('share_with_mission', sa.Boolean()),
        sa.column('share_with_embassy', sa.Boolean()),
        sa.column('consent', sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(cases.c.id, cases.c.share_with_mission, cases.c.share_with_embassy)
    ).all()
    for case_id, mission, embassy in rows:
        bind.execute(
            cases.update().where(cases.c.id == case_id).values(consent=_record(mission, embassy))
        )


def downgrade() -> None:
    op.drop_column('outbox_items', 'consent_for')  # not a batch rebuild: see 0005
    op.drop_column('cases', 'consent')
