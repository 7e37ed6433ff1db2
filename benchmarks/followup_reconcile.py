"""Measure the follow-up reconcile's query over years of follow-ups, and show its plan.

Run: .venv/bin/python benchmarks/followup_reconcile.py [--sizes 10000,25000,50000,100000]
         [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--repeat 9]

Builds stores of N cases with 4 follow-ups each (bulk-inserted rows, no encryption needed), at
a constant intake of 12,500 cases a year: 100,000 cases is 8 years of a busy office with
400,000 follow-ups, 10,000 about 10 months. Almost all past follow-ups are reported; the last
three months hold late reports, the last two weeks open windows, the next month scheduled runs,
the year after planned rows. Then it times, per size:
- the due/overdue query (`pending_query`, what the daily reconcile reads), median of --repeat;
- the whole reconcile in its steady state (every run exists: a fake Prefect answers `find`).
Goal: the query under 100 ms at 100,000 cases, growing with what is due, not the store's size.
It prints the query plan at the largest size: EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on
PostgreSQL. SQLite uses a temporary file; with --database-url naming a PostgreSQL server, a
scratch database is created on it (safepassage_bench_*) and dropped at the end. The default
--repeat is 9; the machine's other load shows as the gap between the median and the best.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from safepassage.models.crypto import MasterKey
from safepassage.models.followup_plan import DEFAULT_OFFSETS_MONTHS, add_months, run_time
from safepassage.models.followup_reconcile import RunInfo, RunSpec, reconcile
from safepassage.models.keyring import EnvironmentKeySource
from safepassage.models.store.anchor import Anchor
from safepassage.models.store.db import Store, make_engine, migrate, session_factory
from safepassage.models.store.followups import pending_followups, pending_query
from safepassage.models.store.orm import Case, FollowUp
from safepassage.tasks.followups import notify_closed, notify_rung

CASES_PER_YEAR = 12_500
HORIZON_DAYS = 30
WINDOW_DAYS = 14
LATE_REPORT_DAYS = 90  # reports come late, not never: older ones were all reported
PROGRAMMES = ("BG", "CZ", "RO", "HU")
TODAY = dt.datetime.now(dt.UTC).date()
NOW = dt.datetime.now(dt.UTC)


class SteadyPrefect:
    """Prefect as a daily reconcile finds it: every run the store names exists, on time."""

    def __init__(self, scheduled: dict[str, dt.datetime]) -> None:
        self.scheduled = scheduled
        self.created = 0

    def find(self, run_ids: Sequence[str]) -> dict[str, RunInfo]:
        return {
            i: RunInfo(i, "SCHEDULED" if i in self.scheduled else "PAUSED", self.scheduled.get(i))
            for i in run_ids
        }

    def create(self, spec: RunSpec) -> str:
        self.created += 1
        return str(uuid.uuid4())

    def delete(self, run_id: str) -> None:
        pass

    def cancel(self, run_id: str) -> None:
        pass


def state_of(due_on: dt.date, rng: random.Random) -> str:
    """Return a generated follow-up's state from its due date, as a real office would have it."""
    if due_on > TODAY + dt.timedelta(days=HORIZON_DAYS):
        return "planned"
    if due_on > TODAY:
        return "scheduled"
    if due_on >= TODAY - dt.timedelta(days=WINDOW_DAYS):
        return "waiting" if rng.random() < 0.6 else "reported"
    if due_on >= TODAY - dt.timedelta(days=LATE_REPORT_DAYS):
        return "overdue" if rng.random() < 0.1 else "reported"
    return "reported"


def populate(engine: Engine, cases: int, seed: int = 7) -> dict[str, dt.datetime]:
    """Bulk-insert `cases` cases and their follow-ups; return the scheduled runs' times by id."""
    rng = random.Random(seed)
    years = cases / CASES_PER_YEAR
    span_days = int(years * 365)  # arrivals up to today: the rate is the same at every size
    scheduled: dict[str, dt.datetime] = {}
    case_rows: list[dict[str, Any]] = []
    followup_rows: list[dict[str, Any]] = []
    at = NOW
    for case_id in range(1, cases + 1):
        # Spread evenly over the span, ending today: the office's rate stays the same.
        arrived = TODAY - dt.timedelta(days=int(span_days * (cases - case_id) / cases))
        programme = PROGRAMMES[case_id % 4]
        states = [state_of(add_months(arrived, m), rng) for m in DEFAULT_OFFSETS_MONTHS]
        stage = "closed" if all(s == "reported" for s in states) else "follow-up"
        case_rows.append(
            {
                "id": case_id,
                "reference": f"{programme}-{case_id:09d}",
                "programme": programme,
                "destination_country": programme,
                "stage": stage,
                "status": "ended" if stage == "closed" else "active",
                "decision_outcome": "eligible",
                "decision": {},
                "rules_version": "bench",
                "share_with_mission": True,
                "share_with_embassy": False,
                "escort_required": False,
                "created_at": at,
                "updated_at": at,
                "master_key_id": "bench",
            }
        )
        for number, (months, state) in enumerate(
            zip(DEFAULT_OFFSETS_MONTHS, states, strict=True), 1
        ):
            due_on = add_months(arrived, months)
            run_id = str(uuid.UUID(int=rng.getrandbits(128))) if state != "planned" else None
            if state == "scheduled" and run_id:
                scheduled[run_id] = run_time(due_on, 9)
            followup_rows.append(
                {
                    "case_id": case_id,
                    "number": number,
                    "due_on": due_on,
                    "window_days": WINDOW_DAYS,
                    "state": state,
                    "flow_run_id": run_id,
                    "reported_at": at if state == "reported" else None,
                    "created_at": at,
                    "updated_at": at,
                    "offset_months": months,
                    "arrived_on": arrived,
                    "scheduled_for": run_time(due_on, 9) if run_id else None,
                    "run_generation": 0,
                }
            )
    with engine.begin() as connection:
        for start in range(0, len(case_rows), 20_000):
            connection.execute(insert(Case), case_rows[start : start + 20_000])
        for start in range(0, len(followup_rows), 20_000):
            connection.execute(insert(FollowUp), followup_rows[start : start + 20_000])
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE cases"))
            connection.execute(text("ANALYZE followups"))
        else:
            connection.execute(text("ANALYZE"))
    return scheduled


def plan_text(engine: Engine) -> str:
    """Return the database's plan of the due/overdue query, with the horizon's date bound."""
    through = TODAY + dt.timedelta(days=HORIZON_DAYS)
    query = pending_query(through=through, dialect=engine.dialect.name)
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    with engine.connect() as connection:
        rows = connection.execute(text(explain + str(compiled))).all()
    if engine.dialect.name == "sqlite":
        return "\n".join(f"  {row[-1]}" for row in rows)
    return "\n".join(f"  {row[0]}" for row in rows)


def timings(action: Any, repeat: int) -> tuple[float, float]:
    """Return the median and best time of `action` in milliseconds (the first call warms up)."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times)


@contextmanager
def database(url: str | None) -> Iterator[Engine]:
    """Yield an engine on a scratch database: a temporary SQLite file, or a new PostgreSQL one."""
    if url is None or make_url(url).get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(url or f"sqlite:///{Path(folder) / 'bench.db'}")
            try:
                yield engine
            finally:
                engine.dispose()
        return
    name = f"safepassage_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(url).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(url: str | None, size: int, repeat: int) -> tuple[str, str]:
    """Load a fresh store of `size` cases, time the query and the reconcile; return a row, plan."""
    with database(url) as engine:
        migrate(engine)
        # No case is opened: the reconcile reads and writes clear columns only.
        master_key = MasterKey(EnvironmentKeySource(b"b" * 32))
        anchor = Anchor(Path(tempfile.mkdtemp(prefix="anchor-")))
        store = Store(engine, session_factory(engine, master_key, anchor), master_key, anchor)
        started = time.perf_counter()
        scheduled = populate(engine, size)
        load = time.perf_counter() - started
        through = TODAY + dt.timedelta(days=HORIZON_DAYS)

        def query() -> int:
            with store.sessions() as session:
                return len(pending_followups(session, through=through))

        found = query()
        query_ms, query_best = timings(query, repeat)
        prefect = SteadyPrefect(scheduled)
        reconcile_ms, _ = timings(
            lambda: reconcile(
                store,
                prefect,
                now=NOW,
                horizon_days=HORIZON_DAYS,
                notify=notify_rung,
                closed=notify_closed,
            ),
            max(3, repeat // 2),
        )
        assert prefect.created == 0, "steady state: the reconcile should create nothing"
        row = (
            f"{size:>8} {4 * size:>11} {size / CASES_PER_YEAR:>6.1f} {found:>12} "
            f"{query_ms:>9.1f} {query_best:>8.1f} {reconcile_ms:>13.1f} {load:>7.1f}"
        )
        return row, plan_text(engine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,25000,50000,100000")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    backend = make_url(args.database_url).get_backend_name() if args.database_url else "sqlite"
    print(f"database: {backend}; horizon {HORIZON_DAYS} days; today {TODAY}; fresh store per size")
    print(
        f"{'cases':>8} {'follow-ups':>11} {'years':>6} {'due/overdue':>12} "
        f"{'query ms':>9} {'best ms':>8} {'reconcile ms':>13} {'load s':>7}"
    )
    plan = ""
    for size in (int(s) for s in args.sizes.split(",")):
        row, plan = measure(args.database_url, size, args.repeat)
        print(row)
        sys.stdout.flush()
    print("query plan at the largest size:")
    print(plan)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
