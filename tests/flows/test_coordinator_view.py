"""The coordinator's view: each case's story in the Prefect UI, and nobody named in it.

This test reads what the UI shows through the API: tags, artifacts, form descriptions, the
daily report, and checks none of it names the person. A coordinator answering a checkpoint in
the UI itself, in Chromium and through the gateway, is tests/flows/test_gateway_browser.py.
"""

from __future__ import annotations

from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from safepassage.demo.coordinator import play
from safepassage.models.case_view import artifact_key, progress_key
from safepassage.models.checkpoints import Checkpoint
from safepassage.orchestration.catalog import CASE_REPORT
from safepassage.tasks.report import SUMMARY_KEY, TABLE_KEY
from tests.factories import PERSONAL_VALUES
from tests.flows.conftest import World
from tests.flows.helpers import take, wait_at


def _run_tags(flow_run_id: str) -> list[str]:
    with get_client(sync_client=True) as client:
        return list(client.read_flow_run(UUID(flow_run_id)).tags)


def test_each_run_shows_its_stage_timeline_and_the_daily_report_and_nobody_is_named(
    served: World,
) -> None:
    case = take("RO", consent__share_with_embassy=True, needs=["escort"])
    play([case], stop_at={Checkpoint.TICKET}, timeout=240)
    status = wait_at(case.reference, "ticket")
    run_id = str(status["flow_run_id"])

    tags = _run_tags(run_id)
    assert {"programme:RO", "mission:ro", "stage:ticketing"} <= set(tags)
    assert [t for t in tags if t.startswith("stage:")] == ["stage:ticketing"]

    with httpx.Client(base_url=served.api_url, timeout=30) as api:
        artifacts = api.post(
            "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}}
        ).json()
        by_key = {a["key"]: a for a in artifacts}
        view = by_key[artifact_key(case.reference)]
        assert "**Waiting for:** `ticket` (attempt 1)" in view["data"]
        assert "| travel-document |" in view["data"]  # the stage it came through
        assert by_key[progress_key(case.reference)]["data"] == 33.3  # fourth of ten stages
        # Re-executed on every resume, each artifact was updated in place: one per key.
        assert sorted(a["key"] for a in artifacts) == sorted(by_key)

        report = run_deployment(CASE_REPORT.full_name, timeout=180)
        assert isinstance(report, FlowRun)  # the sync call returns the run, not a coroutine
        assert report.state is not None
        assert report.state.is_completed(), report.state
        latest = api.post(
            "/artifacts/latest/filter",
            json={"artifacts": {"key": {"any_": [TABLE_KEY, SUMMARY_KEY]}}},
        ).json()
        table = next(a for a in latest if a["key"] == TABLE_KEY)
        assert any(
            row["section"] == "waiting at checkpoint" and row["item"] == "ticket"
            for row in _table_rows(table["data"])
        )

        # Everything the UI shows of the runs and the report: no personal detail anywhere.
        shown = [
            api.post("/artifacts/filter", json={"limit": 200}).text,
            api.post("/flow_runs/filter", json={"limit": 200}).text,  # names, tags, parameters
            api.post("/deployments/filter", json={"limit": 200}).text,  # descriptions
            api.post(
                f"/flow_runs/{run_id}/input/filter", json={"prefix": "", "limit": 100}
            ).text,  # the open form's description
        ]
    assert case.reference in shown[0]
    for text in shown:
        for value in PERSONAL_VALUES.values():
            assert value not in text, value


def _table_rows(data: object) -> list[dict[str, object]]:
    import json

    rows = json.loads(data) if isinstance(data, str) else data
    assert isinstance(rows, list)
    return rows
