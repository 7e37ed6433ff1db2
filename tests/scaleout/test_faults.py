"""Faults a scaled-out office meets, on PostgreSQL with two `prefect worker start` workers.

Each test ends with every case at reintegration and every side effect exactly once: stage
changes and answers in the event log, booking requests in the ledger, one outbox item per
(case, event, target, attempt), and every message delivered at least once under its stable id.
Run with `pytest -m scaleout` (a CI step of its own).
"""

from __future__ import annotations

import collections
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from sqlalchemy import Engine, create_engine, select, text

from safepassage.demo.coordinator import FollowedCase, play
from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import open_store
from safepassage.models.store.events import case_events
from safepassage.models.store.orm import OutboxItem
from safepassage.notifications.deliver import MESSAGE_ID_HEADER
from safepassage.orchestration.catalog import RETURN_CASE
from safepassage.orchestration.runs import run_status
from safepassage.services.checkpoints import answer_checkpoint
from tests.cli.helpers import run_cli
from tests.factories import intake_json
from tests.flows.helpers import actions, take, task_running
from tests.receivers import HttpReceiver
from tests.scaleout.conftest import OfficeWorld
from tests.scaleout.office import WARM
from tests.waiting import eventually

pytestmark = pytest.mark.scaleout

TIMEOUT = 600.0


def passport_case(programme: str) -> FollowedCase:
    """A case that travels on its own passport: first checkpoint the ticket."""
    return take(programme, None, travel_document__holds_valid_passport=True)


def assert_each_side_effect_once(world: OfficeWorld, reference: str) -> None:
    """Stage changes and answers once; every outbox item delivered, under its own id only."""
    store = open_store(get_settings())
    try:
        with store.transaction() as session:
            case = get_case(session, reference)
            assert case.stage == "reintegration", (reference, case.stage)
            events = case_events(session, reference)
            items = list(session.scalars(select(OutboxItem).where(OutboxItem.case_id == case.id)))
    finally:
        store.dispose()
    stages = collections.Counter(e.stage for e in events if e.kind == "stage-changed")
    assert all(n == 1 for n in stages.values()), (reference, stages)
    answers = collections.Counter(
        (e.detail.get("checkpoint"), e.detail.get("attempt"))
        for e in events
        if e.kind == "checkpoint-answered"
    )
    assert answers, reference
    assert all(n == 1 for n in answers.values()), (reference, answers)
    ledger = actions(reference)
    assert len(ledger) == len(set(ledger))
    assert ledger.count(("booking-requested", 1)) == 1, ledger
    sent = {item.uuid for item in items}
    assert all(item.state == "sent" for item in items), [(i.event, i.state) for i in items]
    received = collections.Counter(
        next(v for k, v in r.headers.items() if k.lower() == MESSAGE_ID_HEADER.lower())
        for r in world.http.accepted
        if reference in r.text
    )
    assert set(received) == sent  # each message arrived, and nothing that was not queued


def test_two_workers_share_a_burst_and_a_second_run_of_a_case_does_nothing(
    at_office: OfficeWorld,
) -> None:
    cases = [passport_case(p) for p in ("BG", "CZ", "RO", "HU", "BG", "RO")]
    doubled = cases[:2]
    with get_client(sync_client=True) as client:  # "Run" clicked again for two cases
        deployment = client.read_deployment_by_name(RETURN_CASE.full_name)
        extra = [
            client.create_flow_run_from_deployment(
                deployment.id, parameters={"reference": c.reference}, name=f"again-{c.reference}"
            ).id
            for c in doubled
        ]
    play(cases, timeout=TIMEOUT)
    for case in cases:
        assert_each_side_effect_once(at_office, case.reference)
    for run_id in extra:
        status = run_status(str(run_id))
        assert status.state_name == "Cancelled"
    logs = [(at_office.office.root / f"worker-{n}.log").read_text() for n in (1, 2)]
    assert all("flow run" in log.lower() for log in logs)  # both workers took runs


def _engine_process_of(flow_run_id: str) -> int | None:
    """Return the pid of the process running `flow_run_id` (Prefect puts the id in its env)."""
    needle = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                return int(entry.name)
        except OSError:
            continue
    return None


def _waiting_for_locks_of(engine: Engine, holder: int) -> set[str]:
    """Return who waits for a lock that backend `holder` holds: their application names, which
    are the names of the office processes (a worker's name for the flow runs it started)."""
    query = text(
        "SELECT application_name FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND :holder = ANY(pg_blocking_pids(pid))"
    )
    with engine.connect() as probe:  # a transaction of its own: pg_stat_activity as of now
        return set(probe.scalars(query, {"holder": holder}))


def _run_waits_for_locks_of(
    world: OfficeWorld, flow_run_id: str, engine: Engine, holder: int
) -> bool:
    """Whether the process running `flow_run_id` is blocked, in a transaction, by `holder`."""
    pid = _engine_process_of(flow_run_id)
    return pid is not None and _worker_of(world, pid) in _waiting_for_locks_of(engine, holder)


def _worker_of(world: OfficeWorld, pid: int) -> str:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(stat[1])
            except (OSError, IndexError, ValueError):
                continue
    by_pid = {p.pid: name for name, p in world.office.workers.items()}
    current: int | None = pid
    while current:
        if current in by_pid:
            return by_pid[current]
        current = parents.get(current)
    raise AssertionError(f"process {pid} belongs to no worker")


def test_a_worker_killed_mid_stage_loses_nothing_and_repeats_nothing(
    at_office: OfficeWorld,
) -> None:
    case = passport_case("RO")
    control = passport_case("BG")
    play([case, control], stop_at={Checkpoint.TICKET}, timeout=TIMEOUT)
    store_url = at_office.office.env["SAFEPASSAGE_DATABASE_URL"]
    engine = create_engine(store_url)
    connection = engine.connect()
    try:
        # Hold the event log's head: the next stage blocks inside its transaction.
        holder: int = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        connection.execute(text("SELECT seq FROM chain_head FOR UPDATE"))
        answer = sample_answer(Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=_today())
        answer_checkpoint(case.reference, answer)
        run_id = _run_of(case.reference)
        eventually(
            lambda: run_status(run_id).state_type == "RUNNING",
            timeout=120,
            interval=0.5,
            what="the resumed run",
        )
        eventually(
            lambda: task_running(run_id, "accept_answer"),
            timeout=180,  # a fresh process replays the run's earlier tasks first
            interval=0.5,
            what="the answer's stage",
        )
        eventually(
            lambda: _run_waits_for_locks_of(at_office, run_id, engine, holder),
            timeout=180,
            interval=0.5,
            what="the answer's stage to wait for the log's head, inside its transaction",
        )
        pid = _engine_process_of(run_id)
        assert pid is not None
        victim = _worker_of(at_office, pid)
        at_office.office.kill_worker(victim)
        assert run_status(run_id).state_type == "RUNNING"  # what the server believes: a zombie
    finally:
        connection.rollback()
        connection.close()
        engine.dispose()
    at_office.office.start_worker(f"{victim}-restarted", limit=4)
    play([case, control], timeout=TIMEOUT)
    for followed in (case, control):
        assert_each_side_effect_once(at_office, followed.reference)


def _run_of(reference: str) -> str:
    store = open_store(get_settings())
    try:
        with store.transaction() as session:
            run_id = get_case(session, reference).flow_run_id
    finally:
        store.dispose()
    assert run_id is not None
    return run_id


def _today() -> Any:
    import datetime as dt

    return dt.date.today()


def test_a_receiver_down_for_the_whole_run_gets_everything_once_it_is_back(
    at_office: OfficeWorld,
) -> None:
    port = at_office.http.port
    at_office.http.stop()
    try:
        case = passport_case("CZ")
        play([case], timeout=TIMEOUT)
    finally:
        at_office.http = HttpReceiver(port=port).start()
    store = open_store(get_settings())
    try:

        def all_sent() -> bool:
            with store.transaction() as session:
                ref_case = get_case(session, case.reference)
                states = session.scalars(
                    select(OutboxItem.state).where(OutboxItem.case_id == ref_case.id)
                )
                return all(state == "sent" for state in states)

        eventually(
            all_sent,
            timeout=120,
            interval=0.5,
            what="the drainer to deliver after the receiver came back",
        )
    finally:
        store.dispose()
    assert_each_side_effect_once(at_office, case.reference)


def test_postgresql_restarted_while_cases_run_loses_nothing(at_office: OfficeWorld) -> None:
    cases = [passport_case(p) for p in ("BG", "HU", "RO")]
    play(cases, stop_at={Checkpoint.TICKET}, timeout=TIMEOUT)
    for case in cases:
        answer = sample_answer(Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=_today())
        answer_checkpoint(case.reference, answer)
    # A fixed pause, as before this issue: waiting for the runs to be Running again moved the
    # restart later and left a case at ticketing (see the note on issue 13); not resolved yet.
    time.sleep(2)
    version = subprocess.run(
        ["ls", "/etc/postgresql"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=120,
    )
    play(cases, timeout=TIMEOUT)
    for case in cases:
        assert_each_side_effect_once(at_office, case.reference)


def test_the_same_intake_file_twice_makes_one_case(at_office: OfficeWorld, tmp_path: Path) -> None:
    case_file = tmp_path / "case.json"
    case_file.write_text(intake_json("HU"))
    env = {
        k: v for k, v in at_office.office.env.items() if k.startswith(("SAFEPASSAGE_", "PREFECT_"))
    }
    first = run_cli("intake", str(case_file), "--json", env=env)
    assert first.code == 0, first.stderr
    second = run_cli("intake", str(case_file), "--json", env=env)
    assert second.code == 2
    assert first.json()["reference"] in second.stderr
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    named = [r for r in runs if r.name == f"return-{first.json()['reference']}"]
    assert len(named) == 1
    assert UUID(str(named[0].id))


def _flow_run_processes() -> dict[int, bytes]:
    """Return the processes that run a flow run (their environment names it), with their
    parent's command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"PREFECT__FLOW_RUN_ID=" not in (entry / "environ").read_bytes():
                continue
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            found[int(entry.name)] = Path(f"/proc/{parent}/cmdline").read_bytes()
        except (OSError, IndexError):  # ended meanwhile
            continue
    return found


def test_the_warm_workers_start_every_run_as_a_fork_of_their_preloaded_parent(
    at_office: OfficeWorld,
) -> None:
    if at_office.office.worker_type != WARM:
        pytest.skip("the office runs Prefect's own process workers")
    seen: dict[int, bytes] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.1):
            seen.update(_flow_run_processes())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        cases = [passport_case(p) for p in ("CZ", "HU")]
        play(cases, timeout=TIMEOUT)
    finally:
        stop.set()
        watcher.join(10)
    assert seen, "no flow-run process was seen"
    # Prefect's process worker would show itself or its workspace supervisor as the parent.
    assert all(b"multiprocessing.forkserver" in parent for parent in seen.values()), seen
    for case in cases:
        assert_each_side_effect_once(at_office, case.reference)
