"""The daily `retention` flow: erase cases closed longer than the retention period.

The period is `SAFEPASSAGE_RETENTION_MONTHS` (default 24) after a case ended (closed,
withdrawn or found ineligible). The run's result lists references only.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from safepassage.orchestration.catalog import RETENTION
from safepassage.tasks.erasure import erase_expired_cases


@flow(name=RETENTION.flow_name, log_prints=False)
def retention() -> dict[str, Any]:
    """Erase expired cases and finish any removal from Prefect still owed."""
    return erase_expired_cases().model_dump()
