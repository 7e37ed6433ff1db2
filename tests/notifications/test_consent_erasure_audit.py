"""Consent withdrawn and erasure act on queued messages at once; the audit lists every disclosure.

Real deliveries to the local receivers of tests/notifications/conftest.py, on both databases.
"""

from __future__ import annotations

from sqlalchemy import select, text, update

from safepassage.models.store.audit import case_audit
from safepassage.models.store.cases import get_case, reveal_intake
from safepassage.models.store.consent import change_consent
from safepassage.models.store.erasure import erase_case
from safepassage.models.store.orm import OutboxItem
from safepassage.models.store.workflow import record_answer
from safepassage.models.vocabulary import ErasureReason
from tests.notifications.conftest import World
from tests.notifications.test_delivery import DETAILS, assert_no_personal_data


def consent(world: World, ref: str, **flags: bool | None) -> list[str]:
    with world.store.transaction() as session:
        change = change_consent(
            session,
            get_case(session, ref),
            share_with_mission=flags.get("mission"),
            share_with_embassy=flags.get("embassy"),
            actor="coordinator A",
            now=world.clock(),
        )
    return change.sent_minimal_instead


def test_withdrawing_consent_turns_queued_detailed_messages_minimal_and_logs_which(
    world: World,
) -> None:
    ref = world.take_in("BG", consent__share_with_embassy=True)
    world.queue(ref, "ticket-booked", details=DETAILS)  # mission (cleared + mailbox)
    world.queue(ref, "travel-document-requested", details=DETAILS)  # embassy (cleared)
    with world.store.transaction() as session:
        detailed = [
            (i.audience, i.uuid)
            for i in session.scalars(select(OutboxItem).where(OutboxItem.level == "detailed"))
        ]
    for_mission = sorted(uuid for audience, uuid in detailed if audience.startswith("mission"))
    assert for_mission
    assert any(audience.startswith("embassy") for audience, _ in detailed)

    downgraded = consent(world, ref, mission=False)

    assert sorted(downgraded) == for_mission
    report = world.deliver()
    assert report.detailed == 1  # the embassy's consent stands
    for request in world.http.at("/mission-bg"):
        assert_no_personal_data(request.text)
    (embassy,) = world.http.payloads("/embassy-bg")
    assert DETAILS["name"] in embassy["message"]
    # The mission shorthand withdraws each of the mission's purposes: one event per purpose.
    changed = [e for e in world.events(ref) if e.kind == "consent-changed"]
    assert {(e.detail["recipient"], e.detail["purpose"]) for e in changed} == {
        ("mission", "reception"),
        ("mission", "reintegration"),
        ("mission", "followup-contact"),
    }
    for event in changed:
        assert event.actor == "coordinator A"
        assert (event.detail["agreed"], event.detail["before"]) == (False, True)
        assert event.detail["share_with_mission"] is False
        assert event.detail["share_with_embassy"] is True
    # Both queued messages to the mission carried details for its reception.
    by_purpose = {e.detail["purpose"]: e.detail["queued_detailed_sent_minimal"] for e in changed}
    assert sorted(by_purpose["reception"]) == sorted(downgraded)
    assert by_purpose["reintegration"] == by_purpose["followup-contact"] == []
    with world.store.transaction() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.uuid.in_(downgraded)))
        for item in items:
            assert item.sealed_body is None  # the detailed text itself is gone
            assert item.level_sent == "minimal"


def test_giving_the_same_consent_again_writes_nothing(world: World) -> None:
    ref = world.take_in("BG")
    assert consent(world, ref, mission=True) == []
    assert not [e for e in world.events(ref) if e.kind == "consent-changed"]


def test_consent_given_again_applies_to_messages_queued_after_it(world: World) -> None:
    ref = world.take_in("BG")
    consent(world, ref, mission=False)
    world.queue(ref, "departed", details=DETAILS)
    consent(world, ref, mission=True)
    world.queue(ref, "arrival-confirmed", details=DETAILS)
    world.deliver()
    bodies = [p["message"] for p in world.http.payloads("/mission-bg")]
    assert DETAILS["name"] in bodies[1]
    assert_no_personal_data(bodies[0])  # queued while consent was withdrawn: never detailed


def test_erasure_destroys_queued_detailed_bodies_and_they_go_out_minimal(world: World) -> None:
    ref = world.take_in("BG")
    world.queue(ref, "ticket-booked", details=DETAILS)
    with world.store.transaction() as session:
        case = get_case(session, ref)
        case.stage, case.ended_at = "closed", world.clock()
        erasure = erase_case(
            session, world.store.master_key, case, actor="dpo", now=world.clock(),
            reason=ErasureReason.PERSON_REQUEST,
        )  # fmt: skip
    assert erasure.notification_bodies_destroyed == 1
    assert world.deliver().detailed == 0
    for request in world.http.at("/mission-bg"):
        assert_no_personal_data(request.text)


def test_the_audit_lists_reveals_answers_and_what_each_target_was_sent(world: World) -> None:
    ref = world.take_in("BG")
    world.queue(ref, "ticket-booked", details=DETAILS)
    world.deliver()
    with world.store.transaction() as session:
        case = get_case(session, ref)
        reveal_intake(
            session, world.store.master_key, case, actor="officer B",
            purpose="export: cli case --reveal --json", now=world.clock(),
        )  # fmt: skip
        record_answer(
            session, world.store.master_key, case, "ticket", 1, entered_by="officer C",
            answer_json=b"{}", summary={}, now=world.clock(),
        )  # fmt: skip
    consent(world, ref, mission=False)
    with world.store.transaction() as session:
        entries = case_audit(session, get_case(session, ref))
    seen = {(e.what, e.who) for e in entries}
    cleared = next(t for t in world.targets.find("mission-bg") if t.secure)
    mailbox = next(t for t in world.targets.find("mission-bg") if not t.secure)
    assert ("sent detailed", cleared.label) in seen
    assert ("sent minimal", mailbox.label) in seen
    assert ("exported", "officer B") in seen
    assert ("answered checkpoint", "officer C") in seen
    assert ("consent changed", "coordinator A") in seen
    for entry in entries:
        assert_no_personal_data(str(entry.as_dict()))


def test_details_redirected_to_another_target_in_the_database_go_out_minimal(
    world: World,
) -> None:
    # The person consented to the mission only; the row is pointed at the embassy by SQL.
    ref = world.take_in("BG", consent__share_with_embassy=False)
    world.queue(ref, "ticket-booked", details=DETAILS)
    world.queue(ref, "travel-document-requested")  # for the embassy's target label
    with world.store.transaction() as session:
        mission_item = session.scalar(
            select(OutboxItem.uuid).where(
                OutboxItem.audience.like("mission%"), OutboxItem.level == "detailed"
            )
        )
    assert mission_item is not None
    with world.store.transaction() as session:
        embassy_target = (
            session.scalar(select(OutboxItem.target).where(OutboxItem.audience.like("embassy%")))
            or "embassy-bg"
        )
        session.execute(
            update(OutboxItem)
            .where(OutboxItem.uuid == mission_item)
            .values(target=embassy_target)  # the audience still says "mission": consented
        )
    world.deliver()
    received = world.http.at("/embassy-bg")
    assert len(received) == 2  # its own message, and the redirected one: minimal
    for request in received:
        assert_no_personal_data(request.text)


def test_a_consent_flag_forged_in_the_database_sends_nothing_detailed(world: World) -> None:
    ref = world.take_in("BG", consent__share_with_receiving_mission=False)
    with world.store.engine.begin() as connection:
        connection.execute(
            text("UPDATE cases SET share_with_mission = :yes WHERE reference = :ref"),
            {"yes": True, "ref": ref},
        )
    world.queue(ref, "ticket-booked", details=DETAILS)  # the next stage, after the forgery
    world.deliver()
    for request in world.http.at("/mission-bg"):
        assert_no_personal_data(request.text)
