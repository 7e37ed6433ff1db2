"""The outbox migration creates exactly what the model declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from safepassage.models.store.db import Store
from safepassage.models.store.orm import Base


def test_the_migration_matches_the_outbox_model(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if "outbox_items" in repr(d)] == []
