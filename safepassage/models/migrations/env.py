"""Alembic environment: run with the connection SafePassage hands over (see store.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from safepassage.models.store.orm import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run against the caller's connection, or one made from `sqlalchemy.url` for autogenerate."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as fresh:
        context.configure(connection=fresh, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
