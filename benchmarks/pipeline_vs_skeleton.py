"""Measure the return-case pipeline against Prefect's own floor (benchmarks/skeleton.py).

Run: .venv/bin/python benchmarks/pipeline_vs_skeleton.py [--database sqlite|postgresql]
         [--cases 50] [--resumes 20] [--poll 1] [--limit 4] [--heartbeat 30|off]
         [--starter warm|prefect|both]

For each system (the real flow served by `safepassage serve`, and the skeleton with the same
tasks and suspends served by Prefect's runner) and each way of starting a flow-run process
(`warm`: a fork of the preloaded parent, deployments/warm; `prefect`: Prefect's own
`python -m prefect.engine`), on a fresh Prefect server and case store: (a) resume latency:
from a resume to the next checkpoint reached, median and p90 over `--resumes` resumes, one
at a time; (b) a burst of `--cases` intakes: time until all wait at their first checkpoint,
then all resumed, time until all wait at the next; with the peak memory of the serving process
tree (serve, the warm parent and the flow-run processes) and of the server, as PSS (RSS counts
the pages forked children share once per child). Prints each and the ratios; writes
benchmarks/results/pipeline-<db>-....json.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safepassage.orchestration.catalog import RETURN_CASE

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pss(entry: Path) -> int:
    """Return a process's proportional set size in bytes (shared pages split among sharers)."""
    for line in (entry / "smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def pss_of_tree(root: int, exclude: set[int]) -> int:
    """Return the summed PSS (bytes) of `root` and its descendants, minus `exclude`'s."""
    parents: dict[int, list[int]] = {}
    pss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pss[int(entry.name)] = _pss(entry)
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(int(stat[1]), []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in exclude:
            continue
        total += pss.get(pid, 0)
        todo += parents.get(pid, [])
    return total


@dataclass
class PeakMemory:
    """Sample the PSS of the serving tree and of the server every 0.2 s."""

    serve_pid: int
    server_pid: int
    serving_peak: int = 0
    server_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> PeakMemory:
        threading.Thread(target=self._loop, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self.serving_peak = max(
                self.serving_peak, pss_of_tree(self.serve_pid, {self.server_pid})
            )
            self.server_peak = max(self.server_peak, pss_of_tree(self.server_pid, set()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def databases(kind: str, tag: str) -> Iterator[dict[str, str]]:
    """Yield the environment for fresh Prefect and case-store databases (dropped afterwards)."""
    if kind == "sqlite":
        yield {}
        return
    import psycopg

    names = [
        f"bench_{tag}_prefect_{uuid.uuid4().hex[:6]}",
        f"bench_{tag}_store_{uuid.uuid4().hex[:6]}",
    ]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            "PREFECT_API_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{names[0]}",
            "SAFEPASSAGE_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{names[1]}",
        }
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class System:
    """A served flow the benchmark drives: how to take a case in, resume it, and read it."""

    name: str
    start: Callable[[str], str]  # label -> flow run id
    resume: Callable[[str, str], None]  # flow run id, checkpoint -> resumed
    first: str
    second: str


def wait_all(run_ids: list[str], checkpoint: str, *, timeout: float) -> float:
    """Wait until every run is suspended at `checkpoint`'s first ask; return when (monotonic)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    pending = {uuid.UUID(r) for r in run_ids}
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while pending and time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(pending))), limit=200
            )
            for run in runs:
                state = run.state
                if (
                    state
                    and state.name == "Suspended"
                    and state.state_details.pause_key == f"{checkpoint}-1"
                ):
                    pending.discard(run.id)
                if state and state.is_final():
                    raise RuntimeError(f"run {run.name} ended {state.name}")
            if pending:
                time.sleep(0.2)
    if pending:
        raise TimeoutError(f"{len(pending)} runs never reached {checkpoint}")
    return time.monotonic()


#: A resume's phases, from the flow run's own state history (server clock, this machine):
#: until the server records the answer (Resuming); until a runner takes the run (Pending);
#: until its process has started the engine (Running); until it suspends at the next checkpoint.
RESUME_PHASES = ("answer", "pickup", "start", "stage")


def resume_phases(run_id: str, since: dt.datetime) -> dict[str, float]:
    """Return how long each of a resume's phases took (RESUME_PHASES), in seconds."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        states = sorted(client.read_flow_run_states(uuid.UUID(run_id)), key=lambda s: s.timestamp)
    after = [s for s in states if s.timestamp >= since]

    def first(name: str) -> dt.datetime:
        return next(s.timestamp for s in after if s.name == name)

    marks = [since, first("Resuming"), first("Pending"), first("Running"), first("Suspended")]
    phases = {
        name: (end - start).total_seconds()
        for name, (start, end) in zip(RESUME_PHASES, itertools.pairwise(marks), strict=True)
    }
    # From the answer the server recorded to the next checkpoint: the system's own part, without
    # the caller's (the skeleton's resume call waits on retries the pipeline's does not).
    phases["recorded"] = (marks[-1] - marks[1]).total_seconds()
    return phases


def measure(system: System, *, cases: int, resumes: int) -> dict[str, Any]:
    """Run the resume-latency and burst measurements on one served system."""
    # (a) resume latency, one resume at a time
    runs = [system.start(f"lat{i}") for i in range(resumes)]
    wait_all(runs, system.first, timeout=900)
    latencies = []
    resumed_at = {}
    for run in runs:
        began = time.monotonic()
        resumed_at[run] = dt.datetime.now(dt.UTC)
        system.resume(run, system.first)
        latencies.append(wait_all([run], system.second, timeout=300) - began)
    phases = [resume_phases(run, since) for run, since in resumed_at.items()]
    # (b) a burst of intakes, then of resumes
    began = time.monotonic()
    burst = [system.start(f"burst{i}") for i in range(cases)]
    intake_done = time.monotonic() - began
    first_wait = wait_all(burst, system.first, timeout=1800) - began
    began = time.monotonic()
    for run in burst:
        system.resume(run, system.first)
    second_wait = wait_all(burst, system.second, timeout=1800) - began
    return {
        "resume_median_s": statistics.median(latencies),
        "resume_p90_s": percentile(latencies, 0.9),
        **{
            f"resume_{name}_median_s": statistics.median(p[name] for p in phases)
            for name in (*RESUME_PHASES, "recorded")
        },
        "burst_intake_calls_s": intake_done,
        "burst_to_first_checkpoint_s": first_wait,
        "burst_resume_to_next_checkpoint_s": second_wait,
    }


def pipeline_system() -> System:
    from safepassage.demo.sample_answers import Scenario, sample_answer
    from safepassage.models.checkpoints import Checkpoint
    from safepassage.models.intake import Intake
    from safepassage.models.rules import decide
    from safepassage.services.checkpoints import answer_checkpoint
    from safepassage.services.intake import take_in

    case_file = Intake.model_validate_json((ROOT / "examples" / "bg-eligible.json").read_text())
    decision = decide(case_file, today=dt.date.today())
    references: dict[str, str] = {}

    def start(label: str) -> str:
        # Each case a different person (a duplicate intake would be refused).
        person = case_file.beneficiary.model_copy(update={"phone": f"+359 {len(references):09d}"})
        taken = take_in(case_file.model_copy(update={"beneficiary": person}), decision, actor="b")
        references[taken["flow_run_id"]] = taken["reference"]
        return str(taken["flow_run_id"])

    def resume(run_id: str, checkpoint: str) -> None:
        answer = sample_answer(
            Checkpoint(checkpoint), attempt=1, scenario=Scenario(), today=dt.date.today()
        )
        answer_checkpoint(references[run_id], answer, expected=checkpoint)

    # Since the pre-departure assistance (issue 16), the checkpoint after the travel document.
    return System("pipeline", start, resume, "travel-document", "pre-departure")


def skeleton_system() -> System:
    from prefect import get_client

    from safepassage.orchestration.runs import resume_run

    def start(label: str) -> str:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("skeleton-case/skeleton-case")
            run = client.create_flow_run_from_deployment(
                deployment.id, parameters={"reference": label}, name=f"skeleton-{label}"
            )
        return str(run.id)

    def resume(run_id: str, checkpoint: str) -> None:
        resume_run(run_id, f"{checkpoint}-1", {"entered_by": "benchmark", "note": "ok"})

    return System("skeleton", start, resume, "travel-document", "pre-departure")


def run_one(which: str, starter: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start a fresh server and one served system, measure it, stop everything."""
    from safepassage.demo.background import free_port
    from safepassage.deployments.server_process import ServerProcess

    with (
        tempfile.TemporaryDirectory(prefix=f"bench-{which}-") as tmp,
        databases(args.database, which) as db_env,
    ):
        home = Path(tmp)
        port = free_port()
        api_url = f"http://127.0.0.1:{port}/api"
        env = {
            "SAFEPASSAGE_HOME": str(home),
            "SAFEPASSAGE_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "SAFEPASSAGE_RUNNER_POLL_SECONDS": str(args.poll),
            "PREFECT_RUNNER_POLL_FREQUENCY": str(args.poll),
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "prefect" / "results"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_URL": api_url,
            "SAFEPASSAGE_WARM_PROCESSES": str(starter == "warm").lower(),
            **db_env,
        }
        if args.heartbeat != "off":
            env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] = args.heartbeat
        os.environ.update(env)
        if args.heartbeat == "off":
            os.environ.pop("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", None)
        from safepassage.models.settings import get_settings

        get_settings.cache_clear()
        server = ServerProcess.start(host="127.0.0.1", port=port, log_path=home / "server.log")
        command = (
            [sys.executable, "-m", "safepassage.cli.app", "serve", "--limit", str(args.limit)]
            if which == "pipeline"
            else [
                sys.executable,
                str(ROOT / "benchmarks" / "skeleton.py"),
                str(args.limit),
                starter,
            ]
        )
        log = (home / "serve.log").open("ab")
        serving = subprocess.Popen(
            command,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                name = (
                    RETURN_CASE.full_name if which == "pipeline" else "skeleton-case/skeleton-case"
                )
                _wait_deployment(name)
                system = pipeline_system() if which == "pipeline" else skeleton_system()
                with PeakMemory(serving.pid, server.pid) as memory:
                    result = measure(system, cases=args.cases, resumes=args.resumes)
                result["serving_peak_pss_mb"] = memory.serving_peak / 2**20
                result["server_peak_pss_mb"] = memory.server_peak / 2**20
                return result
        finally:
            import signal

            os.killpg(serving.pid, signal.SIGINT)
            serving.wait(60)
            server.stop()


def _wait_deployment(name: str, timeout: float = 120) -> None:
    from prefect import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            try:
                client.read_deployment_by_name(name)
                return
            except Exception:
                time.sleep(0.5)
    raise TimeoutError(f"deployment {name} never appeared")


def main() -> None:
    import signal

    # A shell's background job ignores SIGINT, and the served systems would inherit that and
    # not stop on the SIGINT run_one sends them; a handler (reset to the default at exec) fixes it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--resumes", type=int, default=20)
    parser.add_argument("--poll", type=int, default=1)
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--heartbeat", default="30", help="seconds, or 'off'")
    parser.add_argument("--only", choices=["pipeline", "skeleton"])
    parser.add_argument("--starter", choices=["warm", "prefect", "both"], default="both")
    args = parser.parse_args()
    starters = ("warm", "prefect") if args.starter == "both" else (args.starter,)
    results: dict[str, Any] = {}
    for which in ("skeleton", "pipeline"):
        if args.only and which != args.only:
            continue
        for starter in starters:
            print(
                f"measuring {which} ({starter} starter) on {args.database} "
                f"(poll {args.poll} s, heartbeat {args.heartbeat})...",
                flush=True,
            )
            results[f"{which}-{starter}"] = run_one(which, starter, args)
            print(json.dumps(results[f"{which}-{starter}"], indent=2), flush=True)
    results["ratio"] = ratios(results)
    print("ratios:", json.dumps(results["ratio"], indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    only = f"-{args.only}" if args.only else ""
    name = f"pipeline-{args.database}-poll{args.poll}-hb{args.heartbeat}-{args.starter}{only}.json"
    (out / name).write_text(json.dumps({"args": vars(args), **results}, indent=2))
    os._exit(0)  # prefect's background threads would hold the exit


def ratios(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Return each comparison the issue asks for, figure by figure, where both were measured."""
    pairs = {
        "pipeline/skeleton, warm": ("pipeline-warm", "skeleton-warm"),
        "pipeline/skeleton, prefect": ("pipeline-prefect", "skeleton-prefect"),
        "pipeline warm/prefect": ("pipeline-warm", "pipeline-prefect"),
        "skeleton warm/prefect": ("skeleton-warm", "skeleton-prefect"),
    }
    found = {}
    for label, (top, bottom) in pairs.items():
        if top in results and bottom in results:
            found[label] = {
                key: value / results[bottom][key]
                for key, value in results[top].items()
                if isinstance(value, float) and results[bottom].get(key)
            }
    return found


if __name__ == "__main__":
    main()
