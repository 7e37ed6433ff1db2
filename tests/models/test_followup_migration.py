"""Migration 0004 keeps the follow-ups planned before it, and matches the ORM's table."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from safepassage.models.store.db import MIGRATIONS, make_engine, migrate
from safepassage.models.store.orm import FollowUp


def test_followups_planned_before_0004_get_their_offsets_and_the_orm_columns(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO cases (id, reference, programme, destination_country, stage, status,"
                " decision_outcome, decision, rules_version, share_with_mission,"
                " share_with_embassy, escort_required, created_at, updated_at, master_key_id)"
                " VALUES (1, 'BG-AAAA-BBBB', 'BG', 'BG', 'reintegration', 'active', 'eligible',"
                " '{}', 'r1', 1, 0, 0, '2026-12-01', '2026-12-01', 'k')"
            )
        )
        for number, due in enumerate(("2027-01-15", "2027-03-15", "2027-06-15", "2027-12-15"), 1):
            connection.execute(
                text(
                    "INSERT INTO followups (case_id, number, due_on, window_days, state,"
                    " created_at, updated_at) VALUES (1, :n, :due, 14, 'planned',"
                    " '2026-12-01', '2026-12-01')"
                ),
                {"n": number, "due": due},
            )

    migrate(engine)

    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT number, offset_months, run_generation FROM followups ORDER BY number")
        ).all()
    columns = {c["name"] for c in inspect(engine).get_columns("followups")}
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, 1, 0), (2, 3, 0), (3, 6, 0), (4, 12, 0)]
    assert columns == {c.name for c in FollowUp.__table__.columns}
