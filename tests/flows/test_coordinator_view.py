"""The coordinator's view: each case's story in the Prefect UI, answered in a real browser.

The browser test drives Debian's Chromium (scripts/install-browser) through Playwright, as a
coordinator would: find the run by its reference, open Resume, fill the form, submit. The
other test reads what the UI shows through the API: tags, artifacts, form descriptions, the
daily report, and checks none of it names the person.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import httpx
import pytest
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from safepassage.demo.coordinator import play
from safepassage.models.case_view import artifact_key, progress_key
from safepassage.models.checkpoints import Checkpoint
from safepassage.orchestration.catalog import CASE_REPORT
from safepassage.services.checkpoints import case_status
from safepassage.tasks.report import SUMMARY_KEY, TABLE_KEY
from tests.factories import PERSONAL_VALUES
from tests.flows.conftest import World
from tests.flows.helpers import take
from tests.waiting import eventually

CHROMIUM = Path("/usr/bin/chromium")
#: As the machine notes say: no GPU, no sandbox as root, and nothing that calls out.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCUMENT_NUMBER = "ETD 7700123"
UI_TIMEOUT_MS = 120_000


def _wait_for(reference: str, checkpoint: str, timeout: float = 120) -> dict[str, object]:
    return eventually(
        lambda: case_status(reference),
        until=lambda status: status["waiting_for"] == checkpoint,
        timeout=timeout,
        interval=0.5,
        what=f"{reference} to wait at {checkpoint}",
    )


@pytest.mark.browser
def test_a_coordinator_answers_the_travel_document_in_the_prefect_ui(
    served: World, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run scripts/install-browser (README, command 2)")
    from playwright.sync_api import Route, expect, sync_playwright

    case = take("BG")  # no valid passport: the embassy issues a document
    play([case], stop_at={Checkpoint.TRAVEL_DOCUMENT}, timeout=240)
    _wait_for(case.reference, "travel-document")
    ui = served.api_url.removesuffix("/api")

    def local_only(route: Route) -> None:
        # The V2 UI calls an analytics host; answer it here, so nothing leaves the machine.
        if route.request.url.startswith(ui):
            route.continue_()
        else:
            route.fulfill(status=204, body="")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # Two shared cores run the server, the flow runs and the browser: be patient, in
            # actions and in assertions alike (expect's own default is 5 s).
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            page.route("**/*", local_only)
            page.goto(f"{ui}/v2/runs")
            page.get_by_placeholder("Search by flow run name").fill(case.reference)
            # The list re-renders as the search applies: click the run's link once it is the
            # only one left, not the first row that happened to be there.
            link = page.get_by_role("link", name=f"return-{case.reference}")
            expect(link).to_have_count(1)
            link.click()
            page.wait_for_url("**/runs/flow-run/**")

            page.get_by_role("button", name="Open menu").click()
            page.get_by_role("menuitem", name="Resume").click()
            form = page.get_by_role("dialog")
            expect(form).to_contain_text(case.reference)
            expect(form).to_contain_text("Enter the document the embassy issued")
            expect(form).to_contain_text("Time limit: 21 days")
            # Entered by is optional (the gateway fills it in from the signed-in account); the
            # UI renders it as a string-or-null choice, left as it is here.
            form.get_by_label("Select Document type").click()
            page.get_by_role("option", name="emergency_travel_document").click()
            form.get_by_label("Document number").fill(DOCUMENT_NUMBER)
            form.get_by_label("Valid until").click()
            page.get_by_label("Date (yyyy-MM-dd)").fill("2027-06-30")
            page.get_by_label("Date (yyyy-MM-dd)").press("Enter")
            form.get_by_role("heading", name="Resume Flow Run").click()  # closes the calendar
            expect(form.get_by_label("Valid until")).to_contain_text("2027")
            page.screenshot(path=tmp_path / "resume-travel-document.png")
            form.get_by_role("button", name="Resume").click()
            expect(form).to_be_hidden()

            # The run's Artifacts tab holds the case's view.
            page.get_by_role("tab", name="Artifacts").click()
            expect(page.get_by_text(artifact_key(case.reference), exact=True)).to_be_visible()
        finally:
            browser.close()

    # Next, before any booking: the mission confirms it can receive the person.
    status = _wait_for(case.reference, "reception")
    assert status["stage"] == "reception"
    assert (tmp_path / "resume-travel-document.png").stat().st_size > 20_000


def _run_tags(flow_run_id: str) -> list[str]:
    with get_client(sync_client=True) as client:
        return list(client.read_flow_run(UUID(flow_run_id)).tags)


def test_each_run_shows_its_stage_timeline_and_the_daily_report_and_nobody_is_named(
    served: World,
) -> None:
    case = take("RO", consent__share_with_embassy=True, needs=["escort"])
    play([case], stop_at={Checkpoint.TICKET}, timeout=240)
    status = _wait_for(case.reference, "ticket")
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
