"""Taking cases in and reading what happened to them, for the flow tests."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from sqlalchemy import select

from safepassage.demo.coordinator import FollowedCase
from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.rules import decide
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import open_store
from safepassage.models.store.events import case_events
from safepassage.models.store.orm import CaseAction, FollowUp
from safepassage.services.checkpoints import answer_checkpoint, case_status
from safepassage.services.intake import take_in
from tests.factories import intake
from tests.flows.conftest import MISSION_BG_MAILBOX, World
from tests.waiting import eventually


def take(programme: str, scenario: Scenario | None = None, **changes: Any) -> FollowedCase:
    """Take a test case in through the same operation as `safepassage intake`."""
    case_file = intake(programme, **changes)
    taken = take_in(case_file, decide(case_file, today=dt.date.today()), actor="test")
    return FollowedCase(taken["reference"], programme, scenario or Scenario())


def event_kinds(reference: str) -> list[str]:
    """Return the kinds of the case's event log entries, in order."""
    store = open_store(get_settings())
    try:
        with store.transaction() as session:
            return [e.kind for e in case_events(session, reference)]
    finally:
        store.dispose()


def actions(reference: str) -> list[tuple[str, int]]:
    """Return the case's ledger of side effects as (action, attempt), in order."""
    store = open_store(get_settings())
    try:
        with store.transaction() as session:
            case = get_case(session, reference)
            rows = session.scalars(
                select(CaseAction).where(CaseAction.case_id == case.id).order_by(CaseAction.id)
            )
            return [(row.action, row.attempt) for row in rows]
    finally:
        store.dispose()


def followup_dates(reference: str) -> list[dt.date]:
    """Return the due dates of the case's follow-ups."""
    store = open_store(get_settings())
    try:
        with store.transaction() as session:
            case = get_case(session, reference)
            rows = session.scalars(
                select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.number)
            )
            return [row.due_on for row in rows]
    finally:
        store.dispose()


def _event_of(title: str, reference: str) -> str | None:
    prefix = f"SafePassage {reference}: "
    return title[len(prefix) :] if title.startswith(prefix) else None


def received(world: World, tag: str, reference: str) -> list[str]:
    """Return the events the receiver behind `tag` got for the case, in arrival order."""
    if tag == "mission-bg":
        titles = [str(m["Subject"]) for m in world.smtp.to(MISSION_BG_MAILBOX)]
    else:
        titles = [p.get("title", "") for p in world.http.payloads(f"/{tag}")]
    return [e for t in titles if (e := _event_of(t, reference)) is not None]


def received_texts(world: World, tag: str, reference: str) -> list[str]:
    """Return every message text the receiver behind `tag` got for the case."""
    if tag == "mission-bg":
        from tests.receivers import everything

        return [
            "\n".join(everything(m))
            for m in world.smtp.to(MISSION_BG_MAILBOX)
            if reference in str(m["Subject"])
        ]
    return [r.text for r in world.http.at(f"/{tag}") if reference in r.text]


def task_running(flow_run_id: str, task_name: str) -> bool:
    """Return whether a task of the flow run named `task_name` is running right now."""
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)]))
        )
    return any(
        t.name.startswith(task_name) and t.state is not None and t.state.is_running() for t in tasks
    )


def wait_at(reference: str, checkpoint: str, timeout: float = 180) -> dict[str, object]:
    """Wait until the case waits at `checkpoint`; return its status (as `safepassage status`)."""
    status: dict[str, object] = eventually(
        lambda: case_status(reference),
        until=lambda status: status["waiting_for"] == checkpoint,
        timeout=timeout,
        interval=0.5,
        what=f"{reference} to wait at {checkpoint}",
    )
    return status


@contextlib.contextmanager
def resumed_and_held_mid_stage(home: Path, reference: str) -> Iterator[str]:
    """Answer the case's travel document and hold its resumed run inside its first stage.

    The case waits at the travel document. The store's write lock is held (SQLite, under
    `home`): the resumed run's first stage takes the case's row lock first thing, then waits
    for the store inside its transaction. Yields the run's id once it waits there; the lock is
    let go on leaving.
    """
    flow_run_id = str(case_status(reference)["flow_run_id"])
    document = sample_answer(
        Checkpoint.TRAVEL_DOCUMENT, attempt=1, scenario=Scenario(), today=dt.date.today()
    )
    answer_checkpoint(reference, document)
    lock = sqlite3.connect(home / "safepassage.db", isolation_level=None, timeout=30)
    lock.execute("BEGIN IMMEDIATE")
    try:
        eventually(
            lambda: task_running(flow_run_id, "claim_case_run"),
            timeout=60,
            what="the resumed run's first stage to wait for the store",
        )
        yield flow_run_id
    finally:
        lock.execute("ROLLBACK")
        lock.close()
