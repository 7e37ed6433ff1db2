"""Imported by the warm parent (the forkserver) alone: everything a flow run needs, opened never.

The forkserver imports this module before it forks anything, so each child starts with Prefect,
the flows and their libraries already in memory (shared copy-on-write with its siblings). It
opens nothing: no thread, no event loop, no database or HTTP connection, no file of the case
store; each child opens its own. A test (tests/deployments/test_warm_preload.py) holds it to
that.

The parent ignores the stop signals a process group receives (SIGTERM, SIGHUP; the standard
library already ignores SIGINT here): it ends when `serve` does, through the forkserver's
"alive" pipe, and a group-wide SIGTERM must reach the children as it reaches Prefect's own, not
kill their parent first (the children die with it, see child.py). Each child restores them.
"""

from __future__ import annotations

import importlib
import os
import signal

import pycountry
from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH
from prefect.settings import PREFECT_LOGGING_SETTINGS_PATH

from safepassage.deployments.warm import child, logging_memo
from safepassage.orchestration import catalog
from safepassage.orchestration.tether import TETHER_VARIABLE

# The parent is tied to `serve` by the forkserver's alive pipe, not by the tether: the pid in
# the variable is for the children's engine, which child.py handles.
os.environ.pop(TETHER_VARIABLE, None)
for _spec in catalog.DEPLOYMENTS:
    importlib.import_module(_spec.module)
for _module in child.WARM_MODULES:
    importlib.import_module(_module)
# Data the children would each read again: ISO 3166 and 639 (the case file's and the consent
# record's checks load them on first use), and Prefect's logging configuration (logging_memo).
pycountry.countries.get(alpha_2="GB")
pycountry.languages.get(alpha_2="en")
logging_memo.install()
_custom = PREFECT_LOGGING_SETTINGS_PATH.value()
logging_memo.load_logging_config(_custom if _custom.exists() else DEFAULT_LOGGING_SETTINGS_PATH)

signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
child.PARENT_PID = os.getpid()
