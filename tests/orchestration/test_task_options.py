"""Which failed stage attempts are retried: I/O faults and an unreachable store, not our errors."""

from __future__ import annotations

from typing import Any, cast

import pytest
from prefect.states import Failed
from sqlalchemy.exc import OperationalError

from safepassage.models.errors import CaseNotFound, ConfigurationError, StoreUnreachable
from safepassage.orchestration.task_options import retry_unless_our_error


def _retried(exc: BaseException) -> bool:
    # The task and task run are not read by the predicate; the failed state carries the exception.
    return retry_unless_our_error(cast(Any, None), cast(Any, None), Failed(data=exc))


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, Exception("the database system is shutting down")),
        ConnectionRefusedError("receiver down"),
        StoreUnreachable("cannot open the case store; check SAFEPASSAGE_DATABASE_URL"),
    ],
)
def test_io_faults_and_an_unreachable_store_are_retried(exc: BaseException) -> None:
    assert _retried(exc)


@pytest.mark.parametrize(
    "exc",
    [ConfigurationError("SAFEPASSAGE_X is wrong"), CaseNotFound("no case SP-0000")],
)
def test_our_own_errors_fail_at_once(exc: BaseException) -> None:
    assert not _retried(exc)
