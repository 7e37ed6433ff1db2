"""The flows: orchestration only (see each module).

A flow-run process that `safepassage serve` started dies with it, even when `serve` is killed
outright: the earliest SafePassage code such a process runs is this package's import, when
Prefect's engine loads the flow (see orchestration/tether.py). Elsewhere this does nothing.
"""

from safepassage.orchestration.tether import tether_from_environment

tether_from_environment()
