"""Every detailed notification and every disclosure checks consent for its recipient and purpose.

Real deliveries to the local receivers of tests/notifications/conftest.py, on both databases:
a message goes detailed only with the person's consent for the recipient *and* the purpose its
details serve (notifications/purposes.py), decided when it is queued and again when it is sent.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from safepassage.models.consent_record import ConsentRecord, Purpose, Recipient
from safepassage.models.store.cases import get_case
from safepassage.models.store.consent import record_consent, set_record
from safepassage.models.store.orm import OutboxItem
from safepassage.models.store.workflow import set_stage
from safepassage.models.vocabulary import Stage
from safepassage.notifications.events import Audience, Event, audiences_for
from safepassage.notifications.purposes import EVENT_PURPOSES, consent_needed
from safepassage.services.mission import mission_case
from tests.cli.helpers import run_cli
from tests.models.test_consent_record import flip_by_sql
from tests.notifications.conftest import World
from tests.notifications.test_delivery import DETAILS, assert_no_personal_data


def answer(
    world: World, ref: str, recipient: Recipient, purpose: Purpose, agreed: bool
) -> list[str]:
    """Record the person's answer as a coordinator would; return the messages it made minimal."""
    with world.store.transaction() as session:
        change = record_consent(
            session, get_case(session, ref), recipient=recipient, purpose=purpose,
            agreed=agreed, recorded_on=world.clock().date(), language="bg",
            interpreter_used=True, actor="coordinator A", now=world.clock(),
        )  # fmt: skip
    return change.sent_minimal_instead


def mission_messages(world: World) -> dict[str, str]:
    """Return what the cleared mission target received, by event."""
    received = {}
    for payload in world.http.payloads("/mission-bg"):
        event = next(e.value for e in Event if f"Event: {e.value}." in payload["message"])
        received[event] = payload["message"]
    return received


def test_followup_details_go_minimal_when_followup_contact_is_withdrawn_and_reception_stays(
    world: World,
) -> None:
    ref = world.take_in("BG")  # the case file agreed to share with the mission: every purpose
    (followup, _) = world.queue(ref, "followup-due", details=DETAILS)
    world.queue(ref, "ticket-booked", details=DETAILS)

    stripped = answer(world, ref, Recipient.MISSION, Purpose.FOLLOWUP_CONTACT, False)

    assert followup in stripped  # its detailed body is gone at once
    report = world.deliver()
    assert report.detailed == 1
    received = mission_messages(world)
    assert_no_personal_data(received["followup-due"])
    assert DETAILS["name"] in received["ticket-booked"]  # reception's consent stands
    (changed,) = [e for e in world.events(ref) if e.kind == "consent-changed"]
    assert changed.detail["queued_detailed_sent_minimal"] == [followup]


def test_a_purpose_withdrawn_after_queueing_is_checked_again_when_sent(world: World) -> None:
    ref = world.take_in("BG")
    world.queue(ref, "arrival-confirmed", details=DETAILS)  # details for reintegration
    world.queue(ref, "departed", details=DETAILS)  # details for reception
    # The record changes without touching the queue (as a withdrawal racing a queued send
    # would): the send itself must look at the consent of now.
    with world.store.transaction() as session:
        case = get_case(session, ref)
        current = ConsentRecord.from_stored(case.consent)
        entry = current.entry(Recipient.MISSION, Purpose.REINTEGRATION)
        assert entry is not None
        withdrawn = replace(entry, agreed=False, recorded_by="coordinator A")
        set_record(case, current.with_entry(Recipient.MISSION, Purpose.REINTEGRATION, withdrawn))
    with world.store.transaction() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.sealed_body.is_not(None)))
        assert {i.event for i in items} == {"arrival-confirmed", "departed"}  # sealed before

    assert world.deliver().detailed == 1
    received = mission_messages(world)
    assert_no_personal_data(received["arrival-confirmed"])
    assert DETAILS["name"] in received["departed"]


def test_consent_for_one_purpose_does_not_carry_another_purposes_details(world: World) -> None:
    ref = world.take_in("BG", consent__share_with_receiving_mission=False)
    answer(world, ref, Recipient.MISSION, Purpose.FOLLOWUP_CONTACT, True)
    world.queue(ref, "ticket-booked", details=DETAILS)  # reception: not agreed
    world.queue(ref, "followup-due", details=DETAILS)  # follow-up contact: agreed
    world.queue(ref, "booking-cancelled", details=DETAILS)  # serves no purpose: never details
    with world.store.transaction() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.level == "detailed"))
        detailed = {(i.event, i.consent_for) for i in items}
    assert detailed == {("followup-due", "mission/followup-contact")}
    world.deliver()
    received = mission_messages(world)
    assert DETAILS["name"] in received["followup-due"]
    assert_no_personal_data(received["ticket-booked"])
    assert_no_personal_data(received["booking-cancelled"])


def test_the_embassy_needs_consent_for_travel_documents_and_the_mission_for_reception(
    world: World,
) -> None:
    ref = world.take_in("BG", consent__share_with_embassy=True)
    answer(world, ref, Recipient.MISSION, Purpose.RECEPTION, False)
    world.queue(ref, "travel-document-requested", details=DETAILS)
    world.deliver()
    (embassy,) = world.http.payloads("/embassy-bg")
    assert DETAILS["name"] in embassy["message"]
    assert_no_personal_data(mission_messages(world)["travel-document-requested"])


def test_a_consent_entry_flipped_by_sql_sends_minimal_and_audit_verify_names_the_case(
    world: World,
) -> None:
    ref = world.take_in("BG")
    answer(world, ref, Recipient.MISSION, Purpose.FOLLOWUP_CONTACT, False)
    flip_by_sql(world.store.engine, ref, "mission/followup-contact", agreed=True)
    # The next stage queues after the forgery: the row now says yes, and a body is sealed ...
    world.queue(ref, "followup-due", details=DETAILS)
    with world.store.transaction() as session:
        assert session.scalar(select(OutboxItem).where(OutboxItem.level == "detailed"))

    # ... but the send checks the row against its seal, and the forgery shares nothing.
    assert world.deliver().detailed == 0
    assert_no_personal_data(mission_messages(world)["followup-due"])
    verify = run_cli("audit", "verify", "--json")
    assert verify.code == 1
    assert verify.json()["forged_cases"] == [ref]
    said = run_cli("audit", "verify")
    assert f"case {ref}: consent or stage fields were changed outside SafePassage" in said.stdout


def test_a_mission_officer_sees_the_details_only_with_consent_for_reception(
    world: World,
) -> None:
    ref = world.take_in("BG")
    with world.store.transaction() as session:
        set_stage(session, get_case(session, ref), Stage.TICKETING, actor="t", now=world.clock())
    answer(world, ref, Recipient.MISSION, Purpose.RECEPTION, False)  # follow-up contact stays
    view = mission_case(ref, viewer="officer O", country="BG", store=world.store)
    assert (view.consented, view.details) == (False, None)
    answer(world, ref, Recipient.MISSION, Purpose.RECEPTION, True)
    view = mission_case(ref, viewer="officer O", country="BG", store=world.store)
    assert view.consented is True
    assert view.details is not None
    revealed = [e for e in world.events(ref) if e.kind == "personal-data-revealed"]
    assert [e.actor for e in revealed] == ["officer O"]


def test_every_purpose_is_for_an_event_its_audience_is_sent_and_never_for_coordinators() -> None:
    for name, by_audience in EVENT_PURPOSES.items():
        event = Event(name)  # a name that is no event would never match: a silent gap
        for audience in by_audience:
            assert audience in audiences_for(event), (name, audience)
            assert audience is not Audience.COORDINATORS
    assert consent_needed("no-such-event", Audience.MISSION) is None
    assert consent_needed(Event.FOLLOWUP_DUE, Audience.COORDINATORS) is None
    assert consent_needed(Event.FOLLOWUP_DUE, Audience.MISSION) == (
        Recipient.MISSION,
        Purpose.FOLLOWUP_CONTACT,
    )
