"""The daily `retention` flow: erase cases closed longer than the retention period, then
rotate the master key and retire the versions older than the backup window.

The period is `SAFEPASSAGE_RETENTION_MONTHS` (default 24) after a case ended (closed,
withdrawn or found ineligible). The run's result lists references and key numbers only.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from safepassage.orchestration.catalog import RETENTION
from safepassage.tasks.erasure import erase_expired_cases
from safepassage.tasks.keys import rotate_and_retire_keys


@flow(name=RETENTION.flow_name, log_prints=False)
def retention() -> dict[str, Any]:
    """Erase expired cases, finish any removal from Prefect still owed, then rotate the keys.

    The rotation comes after the erasures, so today's erased cases are not re-wrapped.
    """
    swept = erase_expired_cases().model_dump()
    return {**swept, "keys": rotate_and_retire_keys().model_dump()}
