"""Measure the outbox's throughput against plain Apprise sending to the same local receiver.

Run: .venv/bin/python benchmarks/outbox_throughput.py [--messages 1000] [--database-url URL]

Queues N notifications across the four programme missions (one transaction per queue call, as
stages do), delivers them with `deliver_due`, and compares messages per second with
`apprise.Apprise.notify` called in a loop for the same number of messages to the same HTTP
receiver. Goal: the outbox's bookkeeping costs under 20% on top of Apprise's own sending.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

COUNTRIES = ("BG", "CZ", "RO", "HU")


class Counter:
    """A thread-safe count of accepted requests."""

    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()

    def add(self) -> None:
        with self.lock:
            self.value += 1


def start_receiver(counter: Counter) -> tuple[ThreadingHTTPServer, int]:
    """Start a local HTTP server that accepts every POST and counts it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            counter.add()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


def write_config(folder: Path, port: int) -> Path:
    lines = ["version: 1", "urls:"]
    for tag in [f"mission-{c.lower()}" for c in COUNTRIES] + ["coordinators"]:
        lines += [f"  - json://127.0.0.1:{port}/{tag}:", f"      tag: {tag}"]
    path = folder / "notify.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def plain_apprise(port: int, messages: int) -> float:
    """Send `messages` with Apprise alone, round-robin over the four missions; return seconds."""
    import apprise

    sender = apprise.Apprise()
    for country in COUNTRIES:
        tag = f"mission-{country.lower()}"
        sender.add(f"json://127.0.0.1:{port}/{tag}", tag=tag)
    body = "Case BG-7Q2K-4MXD, Bulgaria programme.\nEvent: departed.\n" + "x" * 400

    def run() -> None:
        for n in range(messages):
            tag = f"mission-{COUNTRIES[n % 4].lower()}"
            assert sender.notify(body=body, title="SafePassage BG-7Q2K-4MXD: departed", tag=tag)

    return timed(run)


def plain_services(port: int, messages: int) -> float:
    """Send with each target's Apprise service directly (the outbox's own send path)."""
    import apprise

    services = []
    for country in COUNTRIES:
        service = apprise.Apprise.instantiate(f"json://127.0.0.1:{port}/mission-{country.lower()}")
        assert service is not None, "apprise refused a json:// URL"
        services.append(service)
    body = "Case BG-7Q2K-4MXD, Bulgaria programme.\nEvent: departed.\n" + "x" * 400

    def run() -> None:
        for n in range(messages):
            service = services[n % 4]
            assert service.notify(
                body=body,
                title="SafePassage BG-7Q2K-4MXD: departed",
                body_format=apprise.NotifyFormat.TEXT,
            )

    return timed(run)


def case_file(country: str) -> Any:
    """Return a valid, fictional intake for the programme of `country`."""
    from safepassage.models.intake import Intake

    return Intake.model_validate(
        {
            "programme": country,
            "destination_country": country,
            "beneficiary": {
                "given_name": "Bench",
                "family_name": "Mark",
                "date_of_birth": "1990-01-01",
                "sex": "undisclosed",
                "nationality": country,
                "home_locality": "Nowhere",
                "preferred_language": {"BG": "bg", "CZ": "cs", "RO": "ro", "HU": "hu"}[country],
            },
            "identification": {
                "basis": "nrm_conclusive_grounds",
                "decided_on": "2026-10-02",
                "evidence_provided": True,
            },
            "consent": {
                "voluntary_return": True,
                "share_with_receiving_mission": True,
                "recorded_on": "2026-11-20",
            },
            "travel_document": {"holds_valid_passport": True},
            "needs": [],
            "risk_level": "low",
            "earliest_departure": "2026-12-10",
        },
        context={"today": dt.date(2026, 11, 29)},
    )


@dataclass
class Bench:
    """An open store with one case per programme, and the loaded targets."""

    store: Any
    settings: Any
    targets: Any
    case_ids: list[int]
    round: int = 0


def open_bench() -> Bench:
    from safepassage.models.clock import utcnow
    from safepassage.models.rules import decide
    from safepassage.models.settings import get_settings
    from safepassage.models.store.cases import create_case
    from safepassage.models.store.db import open_store
    from safepassage.notifications import load_targets

    get_settings.cache_clear()
    settings = get_settings()
    store = open_store(settings)
    ids = []
    with store.transaction() as session:
        for country in COUNTRIES:
            intake = case_file(country)
            decision = decide(intake, today=dt.date(2026, 11, 29))
            case = create_case(
                session, store.master_key, intake, decision, actor="bench", now=utcnow()
            )
            ids.append(case.id)
    return Bench(store, settings, load_targets(settings), ids)


def stage_commits(bench: Bench, messages: int) -> float:
    """Time the stages' own transactions alone: begin, touch the case, commit."""
    from safepassage.models.clock import utcnow
    from safepassage.models.store.orm import Case

    def run() -> None:
        for n in range(messages):
            with bench.store.transaction() as session:
                case = session.get(Case, bench.case_ids[n % 4])
                assert case is not None
                case.updated_at = utcnow()

    return timed(run)


def outbox(bench: Bench, messages: int) -> tuple[float, float]:
    """Queue (one stage transaction each) then deliver; return (queue s, deliver s)."""
    from safepassage.models.clock import utcnow
    from safepassage.models.store.orm import Case
    from safepassage.notifications import deliver_due, queue_notifications

    bench.round += 1

    def queue_all() -> None:
        for n in range(messages):
            with bench.store.transaction() as session:
                case = session.get(Case, bench.case_ids[n % 4])
                assert case is not None
                case.updated_at = utcnow()  # the stage's own change, as in stage_commits
                queue_notifications(
                    session,
                    bench.store.master_key,
                    case,
                    "departed",
                    attempt=f"{bench.round}.{n}",
                    now=utcnow(),
                    targets=bench.targets,
                )

    def deliver_all() -> None:
        report = deliver_due(
            bench.store, limit=messages, targets=bench.targets, settings=bench.settings
        )
        assert report.sent == messages, f"the outbox sent {report.sent} of {messages}"

    return timed(queue_all), timed(deliver_all)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians shown")
    parser.add_argument(
        "--database-url", default=None, help="a case store to use (default: SQLite in a temp dir)"
    )
    args = parser.parse_args()
    messages: int = args.messages

    counter = Counter()
    server, port = start_receiver(counter)
    plain: list[float] = []
    direct: list[float] = []
    stages: list[float] = []
    queued: list[float] = []
    delivered: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        os.environ["SAFEPASSAGE_HOME"] = folder
        os.environ["SAFEPASSAGE_MASTER_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
        os.environ["SAFEPASSAGE_NOTIFY_CONFIG"] = str(write_config(Path(folder), port))
        if args.database_url:
            os.environ["SAFEPASSAGE_DATABASE_URL"] = args.database_url
        bench = open_bench()
        try:
            plain_apprise(port, 20)  # warm up imports, plugins and the receiver's threads
            outbox(bench, 20)
            # Interleaved rounds: the machine's load drifts, and each figure sees the same drift.
            for _ in range(args.rounds):
                plain.append(plain_apprise(port, messages))
                direct.append(plain_services(port, messages))
                stages.append(stage_commits(bench, messages))
                queue_seconds, deliver_seconds = outbox(bench, messages)
                queued.append(queue_seconds)
                delivered.append(deliver_seconds)
        finally:
            bench.store.dispose()
    server.shutdown()

    apprise_s, stage_s = statistics.median(plain), statistics.median(stages)
    direct_s = statistics.median(direct)
    queue_s, deliver_s = statistics.median(queued), statistics.median(delivered)
    outbox_s = queue_s + deliver_s
    database = "PostgreSQL" if args.database_url else "SQLite (embedded default)"

    def line(label: str, seconds: float, rate: bool = True) -> None:
        shown = f"{messages / seconds:7.1f} msg/s" if rate else " " * 13
        print(f"  {label:<40} {shown}  {seconds:6.3f} s")

    print(
        f"{messages} notifications across {len(COUNTRIES)} missions, {database}, "
        f"median of {args.rounds} rounds"
    )
    line("plain Apprise.notify(tag=...) loop", apprise_s)
    line("Apprise service.notify() loop", direct_s)
    line("outbox: queue + deliver", outbox_s)
    line("  queue (one stage transaction each)", queue_s, rate=False)
    line("  deliver (claim, send, record)", deliver_s)
    line("the stages' own transactions alone", stage_s, rate=False)
    bookkeeping = outbox_s - stage_s - direct_s
    print(f"ratio outbox / plain Apprise.notify loop: {outbox_s / apprise_s:.3f}")
    print(
        "ratio outbox / (stage transactions + Apprise.notify), i.e. against sending from the "
        f"task after its commit: {outbox_s / (stage_s + apprise_s):.3f}"
    )
    print(
        f"outbox bookkeeping (queue insert, claim, record): {bookkeeping:.3f} s = "
        f"{100 * bookkeeping / direct_s:+.1f}% on top of the same sends (goal under +20%)"
    )
    per = 1000 / messages
    print(
        f"per notification: queueing adds {(queue_s - stage_s) * per:.3f} ms to its stage's "
        f"transaction; claim, send and record take {deliver_s * per:.3f} ms against "
        f"{direct_s * per:.3f} ms for the send alone"
    )


if __name__ == "__main__":
    main()
