"""The serving side: start the preloaded parent, fork runs from it, keep its code current.

The parent is the standard library's forkserver: a single-threaded Python started once, which
imports preload.py and then forks a child per request. The forkserver ends by itself when the
process that started it (`serve`) ends, through a pipe the kernel closes, however `serve` dies.

A code change: Prefect's own starter imports the flows afresh for every run, so a changed file
is picked up by the next run. A warm child would run what its parent imported. So each start
compares a fingerprint of the package's source files with the one taken when the parent
preloaded: if they differ, the run starts as Prefect starts it (cold, new code), and once no
child of the old parent is alive the parent is replaced by one that imports the new code. The
old parent is never stopped under a live child: its children die with it (child.py).
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import multiprocessing.forkserver
from collections.abc import Callable
from multiprocessing.context import ForkServerProcess
from pathlib import Path

import safepassage
from safepassage.deployments.warm import child
from safepassage.models.settings import Settings

logger = logging.getLogger("safepassage.warm")

#: The module the parent imports before it forks anything.
PRELOAD = "safepassage.deployments.warm.preload"
#: How long the first start may take: the parent imports Prefect and SafePassage (about 4 s).
PRELOAD_TIMEOUT_SECONDS = 120.0


def code_fingerprint(root: Path = Path(safepassage.__file__).parent) -> str:
    """Return a digest of the package's source files: their paths, sizes and modification times."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class WarmParent:
    """One preloaded parent and the children it forked for flow runs.

    Start and replace it from the main thread only: the kernel ties a child's death signal to
    the thread that started it, and the standard library starts the forkserver from the thread
    that asks first.
    """

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        # "__main__" too: each child would otherwise run the main script again (the
        # `safepassage` command's) before its target; preloaded, the children find it done.
        self._context.set_forkserver_preload(["__main__", PRELOAD])
        self._fingerprint: str | None = None
        self._live: dict[int, str] = {}

    @property
    def running(self) -> bool:
        """Whether a parent has preloaded and serves forks."""
        return self._fingerprint is not None

    def start(self) -> bool:
        """Start the parent and wait until it has preloaded; return whether it works.

        A probe child checks that the preload took: the forkserver ignores a failed import
        there, which would leave every child to import Prefect itself, silently.
        """
        fingerprint = code_fingerprint()
        probe = self.process(child.probe, name="safepassage-warm-probe")
        probe.start()
        probe.join(PRELOAD_TIMEOUT_SECONDS)
        if probe.exitcode != 0:
            logger.warning(
                "the warm parent did not preload (probe exit %s): runs start as Prefect's own",
                probe.exitcode,
            )
            self.stop()
            return False
        self._fingerprint = fingerprint
        return True

    def stop(self) -> None:
        """Stop the parent (its live children die with it: stop it only when none is left)."""
        server = multiprocessing.forkserver._forkserver
        if getattr(server, "_forkserver_pid", None) is not None:
            server._stop()  # type: ignore[attr-defined] # the guard test pins it
        self._fingerprint = None

    def ready(self) -> bool:
        """Return whether the next run can start warm: a parent runs the code on disk.

        A parent that preloaded older code is replaced here once its last child has ended;
        meanwhile runs start cold, with the new code.
        """
        if self._fingerprint is None:
            return False
        if code_fingerprint() == self._fingerprint:
            return True
        if self.live_flow_runs():
            return False
        logger.info("the flows' code changed: the warm parent is replaced")
        self.stop()
        return self.start()

    def process(
        self, target: Callable[..., object], args: tuple[object, ...] = (), name: str | None = None
    ) -> ForkServerProcess:
        """Return a child of the parent that will run `target(*args)` once started.

        `target` is pickled by reference: a module-level function the child can import.
        """
        return self._context.Process(target=target, args=args, name=name)

    def fork(
        self, environment: dict[str, str], cwd: str | None, flow_run_id: str
    ) -> ForkServerProcess:
        """Start a child that runs the flow run in `environment`; return it, started."""
        process = self.process(child.run_engine, (environment, cwd), name=f"flow-run-{flow_run_id}")
        process.start()
        self.track(process, flow_run_id)
        return process

    def track(self, process: ForkServerProcess, flow_run_id: str) -> None:
        """Count a started child as the live process of `flow_run_id` until `ended`."""
        if process.pid is not None:
            self._live[process.pid] = flow_run_id

    def ended(self, process: ForkServerProcess) -> None:
        """Forget a child that has ended."""
        if process.pid is not None:
            self._live.pop(process.pid, None)

    def live_flow_runs(self) -> set[str]:
        """Return the ids of the flow runs whose warm child is alive.

        While any is, a parent that preloaded older code is kept for them (`ready`). The reaper
        needs none of this: each child shows its run in /proc itself (child.py).
        """
        return set(self._live.values())


def start_warm_parent(settings: Settings) -> WarmParent | None:
    """Start a warm parent (SAFEPASSAGE_WARM_PROCESSES, the default); None if off or broken."""
    if not settings.warm_processes:
        logger.info("SAFEPASSAGE_WARM_PROCESSES is off: runs start as Prefect starts them")
        return None
    parent = WarmParent()
    return parent if parent.start() else None
