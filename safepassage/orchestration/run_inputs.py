"""Read and delete what a suspended ask left in Prefect: its form, description and answer.

Prefect keeps run inputs readable for as long as the run exists, and the answer can hold
personal data: once it is sealed in the case store, every input of the ask is deleted.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.input import delete_flow_run_input, read_flow_run_input

from safepassage.orchestration.pause_key import PauseKey


def read_answer_input(flow_run_id: UUID, key: PauseKey) -> Any:
    """Return the answer submitted to the ask `key` (None if none was)."""
    return read_flow_run_input(key=key.input_key("response"), flow_run_id=flow_run_id)


def forget_ask_inputs(flow_run_id: UUID, key: PauseKey) -> None:
    """Delete an ask's stored answer, schema and description from Prefect (already gone is fine)."""
    for name in key.input_keys():
        try:
            delete_flow_run_input(key=name, flow_run_id=flow_run_id)
        except (ObjectNotFound, PrefectHTTPStatusError):
            continue
