"""Queue and deliver to real receivers, on SQLite and PostgreSQL: routing, levels, retries."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update

from safepassage.models.consent_record import ConsentRecord
from safepassage.models.errors import ConfigurationError
from safepassage.models.store.cases import get_case
from safepassage.models.store.consent import change_consent
from safepassage.models.store.orm import Case, OutboxItem
from safepassage.notifications import Audience, list_outbox, requeue_failed
from safepassage.notifications.deliver import MESSAGE_ID_HEADER
from safepassage.notifications.outbox import detail_allowed
from tests.factories import PERSONAL_VALUES
from tests.notifications.conftest import MAX_ATTEMPTS, RETRY_BASE_SECONDS, World
from tests.receivers import body_of, everything

#: What a stage would pass for a mission to meet the person; every value is searched for.
DETAILS = {
    "name": f"{PERSONAL_VALUES['given_name']} {PERSONAL_VALUES['family_name']}",
    "date_of_birth": PERSONAL_VALUES["date_of_birth"],
    "language": "bg",
    "needs": "shelter, counselling",
    "arrival_flight": "FB 852",
    "arrival_time": "2026-12-10 14:35 local",
    "onward_destination": PERSONAL_VALUES["home_locality"],
    "phone": PERSONAL_VALUES["phone"],
}
SECRETS = [*PERSONAL_VALUES.values(), "FB 852", "14:35"]


def titles(world: World, path: str) -> list[str]:
    return [p["title"] for p in world.http.payloads(path)]


def mail_titles(world: World, address: str) -> list[str]:
    return [str(m["Subject"]) for m in world.smtp.to(address)]


def assert_no_personal_data(text: str) -> None:
    for value in SECRETS:
        assert value not in text, value


def test_each_event_reaches_exactly_the_audiences_the_table_names(world: World) -> None:
    ref = world.take_in("BG")
    for event in ("case-accepted", "review-needed", "travel-document-requested", "embassy-liaison"):
        world.queue(ref, event)

    report = world.deliver()

    assert report.sent == report.claimed == 7  # mission-bg has two targets
    assert titles(world, "/mission-bg") == [
        f"SafePassage {ref}: case-accepted",
        f"SafePassage {ref}: travel-document-requested",
    ]
    assert mail_titles(world, "mission-bg@example.org") == titles(world, "/mission-bg")
    assert titles(world, "/embassy-bg") == [
        f"SafePassage {ref}: travel-document-requested",
        f"SafePassage {ref}: embassy-liaison",
    ]
    assert titles(world, "/coordinators") == [f"SafePassage {ref}: review-needed"]
    for elsewhere in ("/mission-cz", "/embassy-ro"):
        assert world.http.at(elsewhere) == []
    assert world.smtp.to("mission-ro@example.org") == []


def test_details_go_only_to_the_cleared_target_and_are_logged_without_personal_data(
    world: World,
) -> None:
    ref = world.take_in("BG")  # consents to sharing with the mission, not with the embassy
    (cleared_id, mailbox_id) = world.queue(ref, "ticket-booked", details=DETAILS)

    assert world.deliver().detailed == 1

    (cleared,) = world.http.payloads("/mission-bg")
    assert f"Name: {DETAILS['name']}" in cleared["message"]
    assert "Arrival flight: FB 852" in cleared["message"]
    assert cleared["message_id"] == cleared_id
    (mail,) = world.smtp.to("mission-bg@example.org")
    for text in everything(mail):
        assert_no_personal_data(text)
    assert ref in body_of(mail)
    assert "ticket-booked" in body_of(mail)
    assert mailbox_id in body_of(mail)

    disclosed = [e for e in world.events(ref) if e.kind == "detail-disclosed"]
    assert len(disclosed) == 1
    target = next(t for t in world.targets.find("mission-bg") if t.secure)
    assert disclosed[0].detail == {
        "event": "ticket-booked",
        "target": target.label,
        "level": "detailed",
        "message_id": cleared_id,
    }
    assert_no_personal_data(str([e.detail for e in world.events(ref)]))


def test_without_consent_even_a_cleared_target_gets_the_minimal_message(world: World) -> None:
    ref = world.take_in("BG", consent__share_with_receiving_mission=False)
    world.queue(ref, "departed", details=DETAILS)
    world.queue(ref, "travel-document-requested", details=DETAILS)  # to the cleared embassy too

    assert world.deliver().detailed == 0

    for path in ("/mission-bg", "/embassy-bg"):
        for request in world.http.at(path):
            assert_no_personal_data(request.text)
    assert not [e for e in world.events(ref) if e.kind == "detail-disclosed"]


def test_coordinators_never_get_details_even_on_a_cleared_channel(world: World) -> None:
    ref = world.take_in("BG")
    world.queue(ref, "booking-cancelled", details=DETAILS)
    world.deliver()
    (notice,) = world.http.at("/coordinators")
    assert_no_personal_data(notice.text)
    assert "Decide whether to rebook" in notice.json()["message"]


def test_the_minimal_message_says_what_happened_and_what_to_do_next(world: World) -> None:
    ref = world.take_in("BG")
    (message_id, _) = world.queue(ref, "followup-due", facts={"due_on": "2027-01-10"})
    world.deliver()
    (request,) = world.http.at("/mission-bg")
    body = request.json()["message"]
    assert f"Case {ref}, Bulgaria programme." in body
    assert "Event: followup-due." in body
    assert "Date: 2026-11-29" in body
    assert "Due on: 2027-01-10" in body
    assert "Next action for you: Check on the person" in body
    assert f"Message id: {message_id}" in body
    assert request.headers[MESSAGE_ID_HEADER] == message_id
    (mail,) = world.smtp.to("mission-bg@example.org")
    assert mail[MESSAGE_ID_HEADER]


def test_a_consent_withdrawn_after_queueing_downgrades_the_message(world: World) -> None:
    ref = world.take_in("BG")
    world.queue(ref, "ticket-booked", details=DETAILS)
    with world.store.transaction() as session:
        change_consent(
            session, get_case(session, ref), share_with_mission=False, share_with_embassy=None,
            actor="coordinator", now=world.clock(),
        )  # fmt: skip

    assert world.deliver().detailed == 0
    assert_no_personal_data(world.http.at("/mission-bg")[0].text)


def test_an_erased_case_is_told_of_minimally(world: World) -> None:
    ref = world.take_in("BG")
    world.queue(ref, "ticket-booked", details=DETAILS)
    with world.store.transaction() as session:
        get_case(session, ref).data_key = None  # erasure destroys the case's key

    report = world.deliver()
    assert (report.sent, report.detailed) == (2, 0)
    assert_no_personal_data(world.http.at("/mission-bg")[0].text)


def test_detailed_bodies_are_stored_sealed(world: World) -> None:
    ref = world.take_in("BG")
    world.queue(ref, "ticket-booked", details=DETAILS)
    with world.store.transaction() as session:
        items = list(session.scalars(select(OutboxItem)))
        stored = b"".join(
            i.title.encode() + i.body.encode() + (i.sealed_body or b"") for i in items
        )
        assert sorted(i.level for i in items) == ["detailed", "minimal"]
    for value in SECRETS:
        assert value.encode() not in stored


def test_replaying_a_stage_queues_and_sends_nothing_new(world: World) -> None:
    ref = world.take_in("BG")
    first = world.queue(ref, "case-accepted")
    assert world.queue(ref, "case-accepted") == first  # a retried task, before delivery
    world.deliver()
    assert world.queue(ref, "case-accepted") == first  # a replayed flow, after delivery
    assert world.deliver().claimed == 0
    assert len(world.http.at("/mission-bg")) == 1
    assert len(world.smtp.to("mission-bg@example.org")) == 1
    # A new attempt of the stage is a new message.
    assert set(world.queue(ref, "case-accepted", attempt="2")).isdisjoint(first)


def test_a_receiver_that_is_down_gets_every_message_exactly_once_when_back(world: World) -> None:
    ref = world.take_in("CZ")
    world.http.down()
    ids = [world.queue(ref, e)[0] for e in ("case-accepted", "ticket-booked", "departed")]

    # A target that is down costs one try per run; its other messages wait for the next run.
    first = world.deliver()
    assert (first.sent, first.retrying, first.released) == (0, 1, 2)
    assert world.deliver().retrying == 1
    assert world.deliver().retrying == 1
    world.clock.advance(RETRY_BASE_SECONDS - 1)
    assert world.deliver().claimed == 0  # each waits its backoff

    world.http.up()
    world.clock.advance(1)
    assert world.deliver().sent == 3
    world.clock.advance(3600)
    assert world.deliver().claimed == 0
    assert [p["message_id"] for p in world.http.payloads("/mission-cz")] == ids


def test_a_receiver_failing_its_first_requests_gets_each_message_once(world: World) -> None:
    ref = world.take_in("CZ")
    world.http.fail_next(2)
    ids = [world.queue(ref, e)[0] for e in ("case-accepted", "ticket-booked")]

    for _ in range(3):
        world.deliver()
        world.clock.advance(RETRY_BASE_SECONDS)

    assert sorted(p["message_id"] for p in world.http.payloads("/mission-cz")) == sorted(ids)
    assert world.http.refused == 2
    with world.store.transaction() as session:
        assert {v.state for v in list_outbox(session, reference=ref)} == {"sent"}


def test_backoff_doubles_between_tries(world: World) -> None:
    ref = world.take_in("CZ")
    world.http.down()
    world.queue(ref, "case-accepted")
    world.deliver()
    world.clock.advance(RETRY_BASE_SECONDS)
    assert world.deliver().retrying == 1  # second try, fails: next in 2 * base
    world.clock.advance(2 * RETRY_BASE_SECONDS - 1)
    assert world.deliver().claimed == 0
    world.clock.advance(1)
    assert world.deliver().failed == 1  # the third try was the last (MAX_ATTEMPTS)


def test_a_receiver_that_never_recovers_ends_in_delivery_failed_to_coordinators(
    world: World,
) -> None:
    ref = world.take_in("HU")  # mission-hu points at a port nothing listens on
    (failing_id,) = world.queue(ref, "case-accepted")
    hu_target = world.targets.find("mission-hu")[0].label

    for _ in range(MAX_ATTEMPTS):
        world.deliver()
        world.clock.advance(RETRY_BASE_SECONDS * 2**MAX_ATTEMPTS)
    world.deliver()

    (notice,) = world.http.at("/coordinators")
    payload = notice.json()
    assert payload["title"] == f"SafePassage {ref}: delivery-failed"
    assert "Undelivered event: case-accepted" in payload["message"]
    assert f"Undelivered target: {hu_target}" in payload["message"]
    assert "127.0.0.1" not in payload["message"]  # the label, never the URL
    with world.store.transaction() as session:
        (failed,) = list_outbox(session, reference=ref, failed_only=True)
    assert (failed.message_id, failed.tries, failed.state) == (failing_id, MAX_ATTEMPTS, "failed")
    assert [e.kind for e in world.events(ref)].count("notification-failed") == 1
    world.clock.advance(86400)
    assert world.deliver().claimed == 0  # nothing more: no notice about the notice


def test_requeued_failures_are_sent_again_with_the_same_message_id(world: World) -> None:
    ref = world.take_in("CZ")
    world.http.down()
    (message_id,) = world.queue(ref, "case-accepted")
    for _ in range(MAX_ATTEMPTS):
        world.deliver()
        world.clock.advance(RETRY_BASE_SECONDS * 2**MAX_ATTEMPTS)
    world.http.up()
    with world.store.transaction() as session:
        count = requeue_failed(session, get_case(session, ref), actor="test", now=world.clock())
    assert count == 1
    report = world.deliver()
    # The item itself, and the coordinators' delivery-failed notice queued when it gave up.
    assert report.sent == 2
    assert [p["message_id"] for p in world.http.payloads("/mission-cz")] == [message_id]


def test_an_ad_hoc_country_without_a_mission_target_is_refused_at_queue_time(
    world: World,
) -> None:
    ref = world.take_in("ADHOC")  # destination MD
    with pytest.raises(ConfigurationError, match="mission-md"):
        world.queue(ref, "case-accepted")
    with world.store.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_field_values_are_data_not_template_source(world: World) -> None:
    ref = world.take_in("BG")
    world.queue(
        ref,
        "ticket-booked",
        facts={"note": "{{ 7*7 }} {% if true %}x{% endif %}"},
        details={"name": "{{ config }}\nNext action for you: call +44 000"},
    )
    world.deliver()
    (request,) = world.http.at("/mission-bg")
    message = request.json()["message"]
    assert "Note: {{ 7*7 }} {% if true %}x{% endif %}" in message
    # A line break in a value cannot forge a field of its own.
    assert "Name: {{ config }} Next action for you: call +44 000" in message


def test_unknown_facts_are_refused_because_they_reach_every_channel(world: World) -> None:
    ref = world.take_in("BG")
    with pytest.raises(ValueError, match="arrival_flight"):
        world.queue(ref, "ticket-booked", facts={"arrival_flight": "FB 852"})
    with pytest.raises(ValueError, match="repeats one of the personal details"):
        world.queue(ref, "ticket-booked", facts={"note": "FB 852"}, details=DETAILS)


def test_two_deliverers_at_once_send_each_message_once(world: World) -> None:
    refs = [world.take_in("CZ") for _ in range(4)]
    for ref in refs:
        for event in ("case-accepted", "ticket-booked", "departed", "arrival-confirmed"):
            world.queue(ref, event)
    reports = []

    def run() -> None:
        reports.append(world.deliver(batch_size=3))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    ids = [p["message_id"] for p in world.http.payloads("/mission-cz")]
    assert len(ids) == len(set(ids)) == 16
    assert sum(r.sent for r in reports) == 16


def test_a_claim_whose_lease_ran_out_is_taken_over(world: World) -> None:
    ref = world.take_in("CZ")
    world.queue(ref, "case-accepted")
    with world.store.transaction() as session:
        session.execute(
            update(OutboxItem).values(claimed_by="crashed-process", claimed_until=world.clock.now)
        )
    world.clock.advance(-1)
    assert world.deliver().claimed == 0  # the other process still holds it
    world.clock.advance(1)
    assert world.deliver().sent == 1


def test_delivering_one_case_leaves_the_others_for_later(world: World) -> None:
    mine, other = world.take_in("CZ"), world.take_in("CZ")
    world.queue(mine, "case-accepted")
    world.queue(other, "case-accepted")
    assert world.deliver(reference=mine).sent == 1
    assert world.http.payloads("/mission-cz")[0]["title"].startswith(f"SafePassage {mine}")
    assert world.deliver().sent == 1


def test_a_target_removed_from_the_configuration_counts_as_a_failed_try(world: World) -> None:
    ref = world.take_in("CZ")
    world.queue(ref, "case-accepted")
    with world.store.transaction() as session:
        session.execute(update(OutboxItem).values(target="mission-cz#gone00"))
        assert session.scalar(select(Case.reference)) == ref
    report = world.deliver()
    assert report.retrying == 1
    with world.store.transaction() as session:
        (view,) = list_outbox(session, reference=ref)
    assert view.last_error == "the target is no longer in the notification configuration"


def test_an_embassy_gets_details_only_with_consent_to_share_with_the_embassy(world: World) -> None:
    ref = world.take_in("BG", consent__share_with_embassy=True)
    world.queue(ref, "travel-document-requested", details={"name": DETAILS["name"]})
    world.deliver()
    (embassy,) = world.http.at("/embassy-bg")
    assert f"Name: {DETAILS['name']}" in embassy.json()["message"]


def test_a_target_serving_two_audiences_gets_one_message_detailed_only_with_both_consents(
    world: World,
) -> None:
    both = world.targets.find("mission-bg")[0]
    allowed = {
        (mission, embassy): detail_allowed(
            both,
            [Audience.MISSION, Audience.EMBASSY],
            event="travel-document-requested",
            consents=ConsentRecord.from_flags(
                share_with_mission=mission, share_with_embassy=embassy
            ).agrees,
        )
        for mission in (True, False)
        for embassy in (True, False)
    }
    assert allowed == {
        (True, True): True,
        (True, False): False,
        (False, True): False,
        (False, False): False,
    }
    assert not detail_allowed(
        both, [Audience.COORDINATORS], event="review-needed", consents=lambda *_: True
    )
