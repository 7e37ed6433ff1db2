"""Take a case in: store it sealed, then start its return-case run."""

from __future__ import annotations

from typing import Any

from safepassage.models.clock import utcnow
from safepassage.models.errors import ConfigurationError
from safepassage.models.intake import Intake
from safepassage.models.rules import Decision
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import create_case, get_case
from safepassage.models.store.db import opened_store
from safepassage.notifications import load_targets
from safepassage.orchestration.connection import connect
from safepassage.orchestration.runs import start_case_run


def take_in(case_file: Intake, decision: Decision, *, actor: str) -> dict[str, Any]:
    """Store the case and start its flow run; the server is checked before anything is written."""
    address = connect(get_settings())
    check_targets_for(case_file.destination_country)
    with opened_store() as store:
        with store.transaction() as session:
            case = create_case(
                session, store.master_key, case_file, decision, actor=actor, now=utcnow()
            )
            reference, programme, country = case.reference, case.programme, case.destination_country
        # Created after the commit, so the run never starts on a case that is not stored. If
        # this fails the command fails, and the case is stored without a run: nothing starts
        # one for it later yet (the server was checked just before, so the window is small).
        flow_run_id = start_case_run(reference, programme, country)
        with store.transaction() as session:
            stored = get_case(session, reference)
            stored.flow_run_id = flow_run_id
            status = {"stage": stored.stage, "status": stored.status}
    return {
        "reference": reference,
        **status,
        "flow_run_id": flow_run_id,
        "ui_url": address.run_url(flow_run_id),
    }


def check_targets_for(country: str) -> None:
    """Refuse a case whose mission or embassy has no notification target, before storing it.

    Missions learn of a case only through notifications: a case nobody can be told of must not
    start. The programme countries are checked at start-up; ad hoc countries are checked here.
    """
    targets = load_targets(get_settings())
    for tag in (f"mission-{country.lower()}", f"embassy-{country.lower()}"):
        if not targets.find(tag):
            raise ConfigurationError(
                f"no notification target is tagged {tag} in {targets.path}: add one "
                "(docs/notifications.md) before taking in a case to this country"
            )
