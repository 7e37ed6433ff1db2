"""Everyone through the gateway, in a real browser: each person signs in and acts under their name.

Debian's Chromium (scripts/install-browser) driven by Playwright against the served world's
gateway, never Prefect's own port. A coordinator signs in with password and TOTP code, opens
both Prefect UIs under /prefect/, finds a case's run in the V2 UI and answers its travel
document with the Resume form (through the gateway's API proxy and its CSRF protocol). The BG
mission's officer signs in, sees the mission's case and not another mission's, accepts the
reception and later confirms the arrival with the portal's forms. The case's audit then names
each account, and the store holds both sign-ins.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from safepassage.demo.coordinator import play
from safepassage.demo.sample_answers import sample_answer
from safepassage.gateway import strings
from safepassage.models.case_view import artifact_key
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.settings import get_settings
from safepassage.models.store.audit import case_audit
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store, open_store
from safepassage.models.store.orm import CaseEvent
from safepassage.models.store.workflow import find_answer
from safepassage.services.accounts import Credentials, add_user
from tests.factories import PERSONAL_VALUES
from tests.flows.conftest import World
from tests.flows.helpers import take, wait_at
from tests.gateway.missions import code_now
from tests.waiting import eventually

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Locator, Page, Response, Route

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
#: Two shared cores run the server, the flow runs and the browser: be patient, in actions and
#: in assertions alike (expect's own default is 5 s).
UI_TIMEOUT_MS = 120_000
#: The V2 UI animates; a screenshot waits for nothing with animations off, but not for ever.
SCREENSHOT_TIMEOUT_MS = 30_000
DOCUMENT_NUMBER = "ETD 7700123"
OPERATOR = "cli:test"


@pytest.fixture
def case_store(served: World) -> Iterator[Store]:
    """The served world's case store, open in this test process."""
    opened = open_store(get_settings())
    yield opened
    opened.dispose()


def _context(browser: Browser, gateway: str) -> BrowserContext:
    """A browser profile of its own (cookies and all), patient, and kept on this machine."""

    def local_only(route: Route) -> None:
        # The V2 UI calls an analytics host; answer it here, so nothing leaves the machine.
        if route.request.url.startswith(gateway):
            route.continue_()
        else:
            route.fulfill(status=204, body="")

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)
    context.route("**/*", local_only)
    return context


def _sign_in(page: Page, gateway: str, account: Credentials) -> None:
    """Sign in with the gateway's form, as a person with an authenticator app would.

    Each account signs in once in this test: a TOTP code is accepted once per account.
    """
    from playwright.sync_api import expect

    page.goto(f"{gateway}/login")
    page.get_by_label("Name").fill(account.name)
    page.get_by_label("Password").fill(account.password)
    page.get_by_label("Code from your authenticator app").fill(code_now(account))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{gateway}/")
    expect(page.locator("main")).to_contain_text(f"You are signed in as {account.name}")


def _screenshot(page: Page, path: Path) -> None:
    page.screenshot(path=path, animations="disabled", timeout=SCREENSHOT_TIMEOUT_MS)


def _resume(page: Page, form: Locator) -> None:
    """Press Resume: POST /prefect/api/flow_runs/{id}/resume, through the gateway's proxy.

    A Prefect server on SQLite answers 503 when its database stays locked too long (two
    shared cores, other suites running); its own client retries, the UI leaves the form open
    for the person to press again: so does this.
    """
    from playwright.sync_api import expect

    for _ in range(3):
        with page.expect_response(lambda r: r.url.endswith("/resume")) as answered:
            form.get_by_role("button", name="Resume").click()
        if answered.value.status != 503:
            break
    assert answered.value.status < 300, answered.value.status
    expect(form).to_be_hidden()


def _stored(store: Store, reference: str) -> dict[str, Any]:
    """Return who entered the case's answers, its audit, and the sign-ins in the store."""
    with store.transaction() as session:
        case = get_case(session, reference)
        answers = {}
        for checkpoint in (Checkpoint.TRAVEL_DOCUMENT, Checkpoint.RECEPTION, Checkpoint.ARRIVAL):
            found = find_answer(session, case, checkpoint.value, 1)
            answers[checkpoint] = None if found is None else (found.entered_by, found.summary)
        audit = [(entry.what, entry.who, entry.detail) for entry in case_audit(session, case)]
        sign_ins = set(session.scalars(select(CaseEvent.actor).where(CaseEvent.kind == "sign-in")))
    return {"answers": answers, "audit": audit, "sign_ins": sign_ins}


@pytest.mark.browser
def test_an_officer_and_a_coordinator_each_act_under_their_own_name_through_the_gateway(
    served: World, case_store: Store, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run scripts/install-browser (README, command 2)")
    from playwright.sync_api import expect, sync_playwright

    # No valid passport and no consent to share with the embassy: the office records the
    # person's consent (the demo's answer), the embassy issues a document, then reception.
    case = take("BG")
    other = take("RO", travel_document__holds_valid_passport=True)  # another mission's case
    play([case, other], stop_at={Checkpoint.TRAVEL_DOCUMENT, Checkpoint.RECEPTION}, timeout=240)
    wait_at(case.reference, "travel-document")
    wait_at(other.reference, "reception")  # the RO mission's to answer: shown to it alone
    # One name per case: the served store lives for the whole session.
    officer = add_user(f"ivana-{case.reference.lower()}", "mission", "BG", actor=OPERATOR)
    coordinator = add_user(f"ana-{case.reference.lower()}", "coordinator", actor=OPERATOR)
    gateway = served.serving.gateway_url
    pages: list[Page] = []
    refusals: list[str] = []  # what the gateway refused the Prefect UI
    seen: list[str] = []  # every other error and every write, for a failure's report

    def note(response: Response) -> None:
        said = f"{response.status} {response.request.method} {response.url}"
        if response.url.startswith(f"{gateway}/prefect/") and response.status in {401, 403}:
            refusals.append(said)
        elif response.status >= 400 or response.request.method == "POST":
            seen.append(said)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        try:
            # -- the coordinator: both Prefect UIs, the run found, its travel document resumed
            page = _context(browser, gateway).new_page()
            pages.append(page)
            page.on("response", note)
            _sign_in(page, gateway, coordinator)

            page.goto(f"{gateway}/prefect/")  # the default UI (V2), as Prefect's server opens it
            page.wait_for_url(f"{gateway}/prefect/v2/dashboard**")
            expect(page.get_by_text("Switch to V1 UI")).to_be_visible()
            expect(page.get_by_text("Flow Runs", exact=True).first).to_be_visible()
            page.goto(f"{gateway}/prefect/dashboard")  # V1, at the base as Prefect lays it out
            page.wait_for_url(f"{gateway}/prefect/dashboard**")
            expect(page.get_by_text("Switch to V2 UI")).to_be_visible()
            expect(page.get_by_text("Flow Runs", exact=True).first).to_be_visible()

            page.goto(f"{gateway}/prefect/v2/runs")
            page.get_by_placeholder("Search by flow run name").fill(case.reference)
            # The list writes the search into its address a moment later (debounced): were the
            # run's link clicked first, that write would land on the run's page and take it back
            # to the list. So wait for it, then click the link once it is the only one left.
            page.wait_for_url(f"**flow-run-search={case.reference}**")
            link = page.get_by_role("link", name=f"return-{case.reference}")
            expect(link).to_have_count(1)
            link.click()
            page.wait_for_url(f"{gateway}/prefect/v2/runs/flow-run/**")

            page.get_by_role("button", name="Open menu").click()
            page.get_by_role("menuitem", name="Resume").click()
            form = page.get_by_role("dialog")
            expect(form).to_contain_text(case.reference)
            expect(form).to_contain_text("Enter the document the embassy issued")
            expect(form).to_contain_text("Time limit: 21 days")
            # Entered by is optional and left as it is: the gateway writes the signed-in name.
            form.get_by_label("Select Document type").click()
            page.get_by_role("option", name="emergency_travel_document").click()
            form.get_by_label("Document number").fill(DOCUMENT_NUMBER)
            form.get_by_label("Valid until").click()
            page.get_by_label("Date (yyyy-MM-dd)").fill("2027-06-30")
            page.get_by_label("Date (yyyy-MM-dd)").press("Enter")
            form.get_by_role("heading", name="Resume Flow Run").click()  # closes the calendar
            expect(form.get_by_label("Valid until")).to_contain_text("2027")
            _screenshot(page, tmp_path / "resume-travel-document.png")
            _resume(page, form)
            # The run's Artifacts tab holds the case's view.
            page.get_by_role("tab", name="Artifacts").click()
            expect(page.get_by_text(artifact_key(case.reference), exact=True)).to_be_visible()

            # -- the BG mission's officer: its cases only, the reception accepted ------------
            # (after the office's pre-departure assistance: the demo's answer)
            play([case], stop_at={Checkpoint.RECEPTION}, timeout=240)
            wait_at(case.reference, "reception")
            portal = _context(browser, gateway).new_page()
            pages.append(portal)
            portal.on("response", note)
            _sign_in(portal, gateway, officer)
            portal.goto(f"{gateway}/mission/")
            cases = portal.get_by_role("table")
            expect(cases).to_contain_text(case.reference)
            expect(cases).not_to_contain_text(other.reference)
            _screenshot(portal, tmp_path / "mission-cases.png")
            # Opened by its address, another mission's case is as unknown as a made-up one.
            elsewhere = portal.goto(f"{gateway}/mission/cases/{other.reference}")
            assert elsewhere is not None
            assert elsewhere.status == 404
            portal.goto(f"{gateway}/mission/")
            portal.get_by_role("link", name=case.reference).click()
            expect(portal.get_by_role("heading", level=1)).to_have_text(f"Case {case.reference}")
            # The person consented to share with the mission: the details, logged as a view.
            expect(portal.locator("main")).to_contain_text(PERSONAL_VALUES["given_name"])
            portal.get_by_role("link", name=strings.ANSWER_NOW).click()
            expect(portal.get_by_role("heading", level=1)).to_have_text(strings.RECEPTION_TITLE)
            accepted = portal.get_by_role("group", name=strings.LABELS["accepted"])
            accepted.get_by_label(strings.YES).check()
            portal.get_by_label(strings.LABELS["notes"]).fill("A shelter place is ready.")
            portal.get_by_role("button", name=strings.SEND).click()
            expect(portal.get_by_role("status")).to_have_text(strings.SENT)

            # -- the office books the flight and sees the person off (the demo's answers) ----
            play([case], stop_at={Checkpoint.ARRIVAL}, timeout=240)
            wait_at(case.reference, "arrival")

            # -- the officer confirms the arrival ---------------------------------------------
            flight_day = sample_answer(  # the day of the demo's first flight
                Checkpoint.TICKET, attempt=1, scenario=case.scenario, today=dt.date.today()
            )["departure_at"][:10]
            portal.goto(f"{gateway}/mission/cases/{case.reference}")
            portal.get_by_role("link", name=strings.ANSWER_NOW).click()
            expect(portal.get_by_role("heading", level=1)).to_have_text(strings.ARRIVAL_TITLE)
            portal.locator("#arrived_at").fill(f"{flight_day}T14:35")  # a datetime-local input
            portal.get_by_label(strings.OFFSET_LABEL).fill("+02:00")
            onward = portal.get_by_role("group", name=strings.LABELS["onward_transport"])
            onward.get_by_label(strings.YES).check()
            portal.get_by_label(strings.LABELS["accommodation"]).select_option("shelter")
            _screenshot(portal, tmp_path / "mission-arrival.png")
            portal.get_by_role("button", name=strings.SEND).click()
            expect(portal.get_by_role("status")).to_have_text(strings.SENT)
        except Exception:
            # What each page showed when it failed: in tmp_path, named in the report.
            for number, shown in enumerate(pages):
                path = tmp_path / f"failed-{number}.png"
                with contextlib.suppress(Exception):
                    _screenshot(shown, path)
                print(f"page {number} at {shown.url}: {path}; refused: {refusals}; {seen[-40:]}")
                with contextlib.suppress(Exception):
                    print(shown.locator("body").inner_text(timeout=5_000)[:3000])
            raise
        finally:
            browser.close()

    refused_log = [
        line
        for line in served.serving.log_path.read_text(errors="replace").splitlines()
        if "refused" in line and (coordinator.name in line or officer.name in line)
    ]
    assert refusals == [], (refusals, refused_log)  # the UI needed nothing the gateway refuses
    assert refused_log == []

    stored = eventually(
        lambda: _stored(case_store, case.reference),
        until=lambda s: s["answers"][Checkpoint.ARRIVAL] is not None,
        timeout=180,
        what=f"{case.reference}'s arrival to be stored",
    )
    answers = stored["answers"]
    # Each answer under the name of the account that was signed in, whatever the form said.
    assert answers[Checkpoint.TRAVEL_DOCUMENT][0] == coordinator.name
    for checkpoint in (Checkpoint.RECEPTION, Checkpoint.ARRIVAL):
        entered_by, summary = answers[checkpoint]
        assert entered_by == officer.name, checkpoint
        assert summary["on_behalf_of_mission"] is False, checkpoint  # the mission's own answer
    assert answers[Checkpoint.RECEPTION][1]["accepted"] is True
    # The case's audit shows each account by name: its answers, and the officer's view.
    audit = stored["audit"]
    answered = {detail: who for what, who, detail in audit if what == "answered checkpoint"}
    assert answered["travel-document #1"] == coordinator.name
    assert answered["reception #1"] == officer.name
    assert answered["arrival #1"] == officer.name
    assert ("revealed", officer.name) in {(what, who) for what, who, _ in audit}
    assert {officer.name, coordinator.name} <= stored["sign_ins"]
    for shot in ("resume-travel-document.png", "mission-cases.png", "mission-arrival.png"):
        assert (tmp_path / shot).stat().st_size > 10_000, shot
