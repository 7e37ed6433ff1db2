"""The case store: SQLAlchemy models, the engine, and data functions that take a session."""
