"""Cases per minute with one and with two Prefect workers, on the PostgreSQL office set-up.

Run: .venv/bin/python benchmarks/workers_scaleout.py [--cases 100] [--limit 4] [--workers 1 2]
     [--worker-type warm|process|both]

For each worker type and count, a fresh office (tests/scaleout/office.py: Prefect's server on
PostgreSQL, the prefect.yaml deployments on a work pool of that type, `prefect worker start`
workers, `safepassage maintain`, the case store on PostgreSQL) takes in `--cases` cases that
travel on a passport; it times (1) the intakes until every case waits at its first checkpoint
(pre-departure) and (2) all of them answered until every case waits at the next (reception), and
samples the peak memory (PSS) of the workers' process trees. The worker types: SafePassage's
warm worker (`safepassage-warm`, deployments/warm/worker.py) and Prefect's own `process`
worker. Prints cases per minute per phase, the speed-up of more workers, and the warm worker
against the process worker; writes benchmarks/results/workers-<type>-<n>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline_vs_skeleton import pss_of_tree, wait_all  # noqa: E402
from tests.scaleout.office import PROCESS, WARM, Office, office  # noqa: E402

WORKER_TYPES = {"warm": [WARM], "process": [PROCESS], "both": [WARM, PROCESS]}


def cpu_seconds(pid: int) -> float:
    """Return the CPU seconds of `pid` and of its children that have exited and were reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """Return the CPU time the whole machine spent busy since boot (all cores, not idle)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


class CpuSplit:
    """Where the CPU went during a measurement: the server, the workers (with their flow-run
    processes), and everything else (PostgreSQL, this client, `maintain`)."""

    def __init__(self, running: Office) -> None:
        self.running = running

    def __enter__(self) -> CpuSplit:
        self.start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        self.split = {k: end[k] - self.start[k] for k in end}
        self.split["other_s"] = self.split["machine_s"] - self.split["server_s"]
        self.split["other_s"] -= self.split["workers_s"]

    def _sample(self) -> dict[str, float]:
        return {
            "machine_s": machine_busy_seconds(),
            "server_s": cpu_seconds(self.running.server.pid),
            "workers_s": sum(cpu_seconds(p.pid) for p in self.running.workers.values()),
        }


class WorkerMemory:
    """Sample the summed RSS of every worker's process tree every 0.5 s; keep the peak."""

    def __init__(self, running: Office) -> None:
        self.running = running
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            total = sum(pss_of_tree(p.pid, set()) for p in self.running.workers.values())
            self.peak = max(self.peak, total)


def measure(workers: int, cases: int, limit: int, worker_type: str) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix=f"office-{workers}-") as tmp,
        office(Path(tmp), workers=workers, limit=limit, worker_type=worker_type) as running,
    ):
        for name, value in running.env.items():
            if name.startswith(("SAFEPASSAGE_", "PREFECT_")):
                os.environ[name] = value
        # Imported once the first office's address is in the environment; each later office
        # is named through temporary_settings (prefect reads its settings once).
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from safepassage.models.settings import get_settings

        get_settings.cache_clear()
        with temporary_settings(updates={PREFECT_API_URL: running.api_url}):
            return _burst(running, workers, cases, limit)


def _burst(running: Office, workers: int, cases: int, limit: int) -> dict[str, Any]:
    from safepassage.demo.sample_answers import Scenario, sample_answer
    from safepassage.models.checkpoints import Checkpoint
    from safepassage.models.intake import Intake
    from safepassage.models.rules import decide
    from safepassage.services.checkpoints import answer_checkpoint
    from safepassage.services.intake import take_in

    base = Intake.model_validate_json((ROOT / "examples" / "bg-eligible.json").read_text())
    travel = base.travel_document.model_copy(update={"holds_valid_passport": True})
    references: dict[str, str] = {}
    with WorkerMemory(running) as memory, CpuSplit(running) as cpu:
        began = time.monotonic()
        for number in range(cases):
            person = base.beneficiary.model_copy(update={"phone": f"+359 {number:09d}"})
            case_file = base.model_copy(update={"beneficiary": person, "travel_document": travel})
            taken = take_in(case_file, decide(case_file, today=dt.date.today()), actor="b")
            references[str(taken["flow_run_id"])] = taken["reference"]
        # Cases on a passport first wait at pre-departure, then at the mission's reception.
        first = wait_all(list(references), "pre-departure", timeout=3600) - began
        answer = sample_answer(
            Checkpoint.PRE_DEPARTURE, attempt=1, scenario=Scenario(), today=dt.date.today()
        )
        began = time.monotonic()
        for reference in references.values():
            answer_checkpoint(reference, answer, expected="pre-departure")
        second = wait_all(list(references), "reception", timeout=3600) - began
    return {
        "worker_type": running.worker_type,
        "workers": workers,
        "limit_per_worker": limit,
        "cases": cases,
        "to_first_checkpoint_s": first,
        "through_it_to_the_next_s": second,
        "cases_per_minute_first": cases / first * 60,
        "cases_per_minute_through": cases / second * 60,
        "peak_pss_workers_mb": memory.peak / 2**20,
        "cpu_seconds": cpu.split,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--worker-type", choices=sorted(WORKER_TYPES), default="both")
    args = parser.parse_args()
    results: dict[tuple[str, int], dict[str, Any]] = {}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    for worker_type in WORKER_TYPES[args.worker_type]:
        for workers in args.workers:
            print(f"measuring {workers} {worker_type} worker(s), {args.cases} cases", flush=True)
            result = measure(workers, args.cases, args.limit, worker_type)
            print(json.dumps(result, indent=2), flush=True)
            named = out / f"workers-{worker_type}-{workers}.json"
            named.write_text(json.dumps(result, indent=2))
            results[worker_type, workers] = result
    for (worker_type, workers), more in results.items():
        one = results.get((worker_type, min(args.workers)))
        if one is not None and one is not more:
            print(f"speed-up, {workers} {worker_type} workers against {one['workers']}:")
            print(json.dumps(_ratios(one, more), indent=2))
        cold = results.get((PROCESS, workers))
        if worker_type == WARM and cold is not None:
            print(f"{workers} warm worker(s) against as many process workers:")
            print(json.dumps(_ratios(cold, more), indent=2))
    os._exit(0)  # prefect's background threads would hold the exit


def _ratios(slower: dict[str, Any], faster: dict[str, Any]) -> dict[str, float]:
    """Return how many times faster each phase is, and the ratio of the peak memories."""
    return {
        "first_checkpoint": slower["to_first_checkpoint_s"] / faster["to_first_checkpoint_s"],
        "through": slower["through_it_to_the_next_s"] / faster["through_it_to_the_next_s"],
        "peak_pss": faster["peak_pss_workers_mb"] / slower["peak_pss_workers_mb"],
    }


if __name__ == "__main__":
    main()
