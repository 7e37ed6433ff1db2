"""The warm parent (deployments/warm/parent.py): what it preloads opens nothing; its children
die with it and the next start makes a new one; a code change replaces it once its children
have ended; a forked child costs a fraction of a spawned process's memory (copy-on-write)."""

from __future__ import annotations

import json
import multiprocessing.forkserver
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from safepassage.deployments.recovery import flow_runs_alive_here
from safepassage.deployments.warm import child, parent
from safepassage.deployments.warm.parent import WarmParent
from safepassage.orchestration.tether import TETHER_VARIABLE
from tests.waiting import eventually

OPENS_NOTHING = """
import json, os, threading
def fds():
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed meanwhile
            pass
    return found
before = fds()
import safepassage.deployments.warm.preload
after = fds()
opened = [target for fd, target in after.items() if fd not in before and "/fd" not in target]
print(json.dumps({"threads": threading.active_count(), "opened": opened}))
"""


def _forkserver_pid() -> int:
    pid: int = multiprocessing.forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    return pid


def _as_a_run(seconds: float) -> None:
    """Sleep as a flow run's child would run: tied to the warm parent (child.run_engine)."""
    assert child.PARENT_PID is not None
    child.become_a_run(child.PARENT_PID)
    time.sleep(seconds)


def _as_a_named_run(flow_run_id: str, seconds: float) -> None:
    """Take a run's environment as child.run_engine does, then sleep."""
    assert child.PARENT_PID is not None
    child.become_a_run(child.PARENT_PID)
    os.environ.clear()
    os.environ.update({child.RUN_ID_VARIABLE: flow_run_id, "PGAPPNAME": "worker-1"})
    child.show_the_run_in_proc(flow_run_id)
    assert os.environ["PGAPPNAME"] == "worker-1"  # the environment it runs in is untouched
    time.sleep(seconds)


def _pss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/smaps_rollup").read().splitlines():  # noqa: SIM115
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise AssertionError(f"no Pss in /proc/{pid}/smaps_rollup")


@pytest.fixture(scope="module")
def warm() -> Iterator[WarmParent]:
    started = WarmParent()
    assert started.start(), "the warm parent did not preload"
    yield started
    started.stop()


def test_what_the_warm_parent_preloads_opens_no_thread_connection_or_file() -> None:
    env = {key: value for key, value in os.environ.items() if key != TETHER_VARIABLE}
    done = subprocess.run(
        [sys.executable, "-c", OPENS_NOTHING], env=env, capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"threads": 1, "opened": []}


def test_a_child_dies_with_its_parent_and_the_next_start_makes_a_new_parent(
    warm: WarmParent,
) -> None:
    first = _forkserver_pid()
    run = warm.process(_as_a_run, (60.0,))
    run.start()
    warm.track(run, "a-run")
    assert warm.live_flow_runs() == {"a-run"}

    os.kill(first, signal.SIGKILL)
    run.join(20)
    warm.ended(run)

    # The runner reads what the standard library reports for a lost parent: a crash it
    # reports, and the reaper restarts (deployments/recovery.py).
    assert run.exitcode == 255
    assert run.pid is not None
    eventually(
        lambda: _zombie_or_gone(run.pid), timeout=10, what="the child to die with its parent"
    )
    assert warm.live_flow_runs() == set()
    probe = warm.process(child.probe)
    probe.start()
    probe.join(120)
    assert probe.exitcode == 0  # preloaded again, by a new parent
    assert _forkserver_pid() != first


def test_a_forked_child_shows_its_runs_id_in_proc_as_a_process_prefect_starts_does(
    warm: WarmParent,
) -> None:
    flow_run_id = "0b6c1a52-6f3e-4c39-9d8e-2f1f6f0e7a11"
    assert flow_run_id not in flow_runs_alive_here()
    run = warm.process(_as_a_named_run, (flow_run_id, 60.0))
    run.start()
    try:
        eventually(
            lambda: flow_run_id in flow_runs_alive_here(),
            timeout=10,
            what="/proc to show the run's id in the child's environment",
        )
        assert run.is_alive()
    finally:
        run.kill()
        run.join(10)
    assert flow_run_id not in flow_runs_alive_here()


SERVE_KILLED = """
import sys, time
from safepassage.deployments.warm.parent import WarmParent
from tests.deployments.test_warm_parent import _as_a_run, _forkserver_pid
if __name__ == "__main__":
    warm = WarmParent()
    assert warm.start()
    run = warm.process(_as_a_run, (120.0,))
    run.start()
    print(_forkserver_pid(), run.pid, flush=True)
    time.sleep(120)
"""


def test_a_killed_serve_takes_its_warm_parent_and_the_runs_with_it(tmp_path: Path) -> None:
    script = tmp_path / "serve.py"
    script.write_text(SERVE_KILLED)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    serve = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert serve.stdout is not None
        pids = [int(pid) for pid in serve.stdout.readline().split()]
        assert len(pids) == 2
        assert not any(_zombie_or_gone(pid) for pid in pids)
        os.kill(serve.pid, signal.SIGKILL)  # as the out-of-memory killer would
        serve.wait(10)
        eventually(
            lambda: all(_zombie_or_gone(pid) for pid in pids),
            timeout=10,
            what="the warm parent and its child to end with the killed `serve`",
        )
    finally:
        serve.kill()
        serve.wait(10)


def _zombie_or_gone(pid: int | None) -> bool:
    try:
        return "\nState:\tZ" in open(f"/proc/{pid}/status").read()
    except OSError:
        return True


def test_a_code_change_replaces_the_parent_only_once_its_children_have_ended(
    warm: WarmParent, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert warm.ready()
    first = _forkserver_pid()
    run = warm.process(_as_a_run, (60.0,))
    run.start()
    warm.track(run, "a-run")
    monkeypatch.setattr(parent, "code_fingerprint", lambda: "the code changed")

    # A live child of the old parent: new runs start cold, the old parent stays.
    assert not warm.ready()
    assert _forkserver_pid() == first
    assert run.is_alive()

    run.terminate()
    run.join(20)
    warm.ended(run)
    assert warm.ready()  # replaced by a parent that imported the new code
    assert _forkserver_pid() != first
    assert warm.running


def test_a_forked_child_costs_a_fraction_of_a_spawned_processs_memory(warm: WarmParent) -> None:
    assert warm.ready()
    forked = [warm.process(time.sleep, (60.0,)) for _ in range(3)]
    spawned = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import safepassage.deployments.warm.preload, time\n"
            "print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for process in forked:
            process.start()
        assert spawned.stdout is not None
        assert spawned.stdout.readline().strip() == "ready"
        time.sleep(1)
        each_forked = sum(_pss_kib(p.pid) for p in forked if p.pid) / len(forked)
        # Shared copy-on-write pages count once across the parent and its children.
        assert each_forked < 0.5 * _pss_kib(spawned.pid)
    finally:
        spawned.kill()
        spawned.wait()
        for process in forked:
            process.kill()
            process.join(10)
