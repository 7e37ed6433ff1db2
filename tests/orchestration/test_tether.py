"""A tethered child dies with its parent, even a parent killed outright (SIGKILL).

Both ways `serve` tethers its children, without Prefect (fast): the launcher that starts the
Prefect server, and the variable a flow-run process reads when it imports safepassage.flows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safepassage.orchestration.tether import TETHER_VARIABLE

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")

#: A parent that starts one child the way `serve` does, prints its pid, and waits.
PARENT = """
import os, subprocess, sys, time
from safepassage.orchestration.tether import TETHER_VARIABLE, tethered
sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
if sys.argv[1] == "launcher":  # as `serve` starts the Prefect server
    child = subprocess.Popen(tethered(sleeper), start_new_session=True)
else:  # as Prefect's runner starts a flow-run process, which imports safepassage.flows
    flow_run = [sys.executable, "-c", "import safepassage.flows, time; time.sleep(120)"]
    child = subprocess.Popen(flow_run, env={**os.environ, TETHER_VARIABLE: str(os.getpid())})
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("how", ["launcher", "environment"])
def test_a_tethered_child_dies_when_its_parent_is_killed(how: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, how], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(1.5)  # the child has started, and tethered itself
        assert _alive(child)

        parent.kill()
        parent.wait(10)

        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        parent.kill()
        parent.wait(10)


def test_a_child_whose_parent_died_before_it_tethered_itself_dies_at_once() -> None:
    # The variable names a pid that is not its parent: that parent is gone already.
    done = subprocess.run(
        [sys.executable, "-c", "import safepassage.flows; print('outlived')"],
        env={**os.environ, TETHER_VARIABLE: "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL
    assert "outlived" not in done.stdout


def test_the_variable_is_not_passed_on_to_what_a_flow_run_starts() -> None:
    # A grandchild holding it would take its own parent for a dead `serve`, and die.
    probe = f"import os, safepassage.flows; print(os.environ.get({TETHER_VARIABLE!r}, 'unset'))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, TETHER_VARIABLE: str(os.getpid())},  # we are its parent
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "unset"
