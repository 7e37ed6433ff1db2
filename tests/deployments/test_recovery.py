"""The reaper never restarts a run whose process is alive on this machine, however late its
heartbeat: a restarted live run would run twice."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from safepassage.deployments.recovery import flow_runs_alive_here


def test_a_live_flow_run_process_is_seen_and_a_dead_one_is_not() -> None:
    run_id = str(uuid.uuid4())
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={**os.environ, "PREFECT__FLOW_RUN_ID": run_id},
    )
    try:
        assert run_id in flow_runs_alive_here()
    finally:
        process.kill()
        process.wait()
    assert run_id not in flow_runs_alive_here()
