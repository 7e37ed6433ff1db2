"""`erase`, `retention`, `consent` and `audit` typed as a person would, on SQLite and PostgreSQL.

No Prefect server runs here: erasure must still happen in the store, and say what is left.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from tests.cli.helpers import cli_actor, run_cli
from tests.factories import PERSONAL_VALUES
from tests.stored import stored_case as take

NOW = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)


def erased(store: Store, reference: str) -> bool:
    with store.transaction() as session:
        return get_case(session, reference).erased_at is not None


def test_erasing_a_closed_case_without_a_server_erases_the_store_and_says_what_is_left(
    store: Store,
) -> None:
    ref = take(store, ended=NOW)
    result = run_cli("erase", ref, "--reason", "person-request", "--yes", "--by", "dpo")
    assert result.code == 0, result.stderr
    assert f"{ref} erased" in result.stdout
    assert "not yet removed from Prefect" in result.stderr
    assert erased(store, ref)
    reveal = run_cli("case", ref, "--reveal")
    assert reveal.code == 2
    assert "erased" in reveal.stderr
    shown = run_cli("case", ref, "--json")
    assert shown.code == 0
    assert shown.json()["case"]["status"] == "erased"
    again = run_cli("erase", ref, "--reason", "person-request", "--yes", "--json")
    assert again.json()["already_erased"] is True


def test_an_active_case_is_refused_without_force_and_nothing_changes(store: Store) -> None:
    ref = take(store)
    refused = run_cli("erase", ref, "--yes", "--reason", "person-request")
    assert refused.code == 2
    assert "still active" in refused.stderr
    assert "--force" in refused.stderr
    quoting = run_cli(
        "erase", ref, "--yes", "--force", "--reason", "legal-obligation",
        "--note", f"{PERSONAL_VALUES['given_name']} asked",
    )  # fmt: skip
    assert quoting.code == 2
    assert "--note" in quoting.stderr
    assert PERSONAL_VALUES["given_name"] not in quoting.stderr
    assert not erased(store, ref)
    forced = run_cli(
        "erase", ref, "--yes", "--force", "--reason", "legal-obligation",
        "--note", "court order 2026/114", "--json",
    )  # fmt: skip
    assert forced.code == 0, forced.stderr
    assert (forced.json()["forced"], forced.json()["reason"]) == (True, "legal-obligation")


#: What the hostile review typed as a free-text reason, and had accepted (issue 14, item 8).
FREE_TEXT_REASONS = [
    "I. Demo Popescu, born 08/01/1997",
    "asked by her brother Ion Popescu",
    "called from +40 7 2 1 0 0 0 1 1 1",
]


@pytest.mark.parametrize("reason", [*FREE_TEXT_REASONS, None])
def test_the_erase_reason_is_a_code_and_anything_else_is_refused_without_echoing_it(
    store: Store, reason: str | None
) -> None:
    ref = take(store, ended=NOW)
    given = [] if reason is None else ["--reason", reason]
    refused = run_cli("erase", ref, "--yes", *given)
    assert refused.code == 2
    assert "--reason" in refused.stderr
    assert "person-request, consent-withdrawn, retention, duplicate, legal-obligation" in (
        refused.stderr
    )
    for secret in ("Popescu", "08/01/1997", "brother", "0 0 0 1 1 1"):
        assert secret not in refused.stderr + refused.stdout
    assert not erased(store, ref)


def test_a_case_whose_passport_expired_while_it_waited_reveals_and_erases(store: Store) -> None:
    today = dt.datetime.now(dt.UTC).date()
    ref = take(
        store,
        taken_in=today - dt.timedelta(days=10),
        travel_document__holds_valid_passport=True,
        travel_document__passport_expires_on=(today - dt.timedelta(days=6)).isoformat(),
    )
    reveal = run_cli("case", ref, "--reveal", "--by", "officer")
    assert reveal.code == 0, reveal.stderr
    assert PERSONAL_VALUES["family_name"] in reveal.stdout
    assert "Traceback" not in reveal.stderr
    forced = run_cli("erase", ref, "--yes", "--force", "--reason", "person-request")
    assert forced.code == 0, forced.stderr
    assert erased(store, ref)


def test_erase_asks_first_and_a_no_keeps_the_case(store: Store, home: object) -> None:
    ref = take(store, ended=NOW)
    declined = run_cli("erase", ref, "--reason", "person-request", input_text="n\n")
    assert declined.code == 1
    assert not erased(store, ref)
    confirmed = run_cli("erase", ref, "--reason", "person-request", input_text="y\n")
    assert confirmed.code == 0, confirmed.stderr
    assert erased(store, ref)


def test_retention_erases_only_cases_ended_before_the_period(store: Store) -> None:
    old = take(store, ended=dt.datetime.now(dt.UTC) - dt.timedelta(days=70))
    recent = take(store, ended=dt.datetime.now(dt.UTC) - dt.timedelta(days=10))
    result = run_cli("retention", "--json", env={"SAFEPASSAGE_RETENTION_MONTHS": "2"})
    assert result.code == 0, result.stderr
    assert result.json()["erased"] == [old]
    assert result.json()["prefect_reachable"] is False
    assert erased(store, old)
    assert not erased(store, recent)
    bad = run_cli("retention", env={"SAFEPASSAGE_RETENTION_MONTHS": "0"})
    assert bad.code == 2
    assert "retention_months" in bad.stderr.lower() or "RETENTION_MONTHS" in bad.stderr


def test_consent_is_recorded_and_bad_options_are_named(store: Store) -> None:
    ref = take(store)
    missing = run_cli("consent", ref)
    assert missing.code == 2
    assert "--share-with-mission" in missing.stderr
    wrong = run_cli("consent", ref, "--share-with-mission", "maybe")
    assert wrong.code == 2
    changed = run_cli("consent", ref, "--share-with-mission", "no", "--by", "officer", "--json")
    assert changed.code == 0, changed.stderr
    assert changed.json()["share_with_mission"] is False
    assert changed.json()["changed"] is True
    with store.transaction() as session:
        assert get_case(session, ref).share_with_mission is False
    audit = run_cli("audit", ref, "--json").json()
    assert ("consent changed", cli_actor("officer")) in {
        (e["what"], e["who"]) for e in audit["entries"]
    }


def test_the_audit_lists_a_reveal_and_an_export_without_personal_data(store: Store) -> None:
    ref = take(store)
    assert run_cli("case", ref, "--reveal", "--by", "officer B").code == 0
    assert run_cli("case", ref, "--reveal", "--json", "--by", "officer C").code == 0
    result = run_cli("audit", ref)
    assert result.code == 0, result.stderr
    assert "revealed" in result.stdout
    assert "officer B" in result.stdout
    entries = run_cli("audit", ref, "--json").json()["entries"]
    # The login the machine vouches for, with the name the operator gave kept beside it.
    assert {(e["what"], e["who"]) for e in entries} >= {
        ("revealed", cli_actor("officer B")),
        ("exported", cli_actor("officer C")),
    }
    for value in PERSONAL_VALUES.values():
        assert value not in result.stdout


TAMPERING = {
    "edited": (["UPDATE case_events SET actor = 'someone else' WHERE seq = 3"], 3, "changed"),
    "deleted": (["DELETE FROM case_events WHERE seq = 4"], 4, "missing"),
    "reordered": (
        [
            "UPDATE case_events SET seq = 100 WHERE seq = 2",
            "UPDATE case_events SET seq = 2 WHERE seq = 3",
            "UPDATE case_events SET seq = 3 WHERE seq = 100",
        ],
        2,
        "does not follow",
    ),
    "newest deleted": (["DELETE FROM case_events WHERE seq >= 5"], 5, "missing"),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_audit_verify_names_the_first_broken_link(store: Store, how: str) -> None:
    for programme in ("BG", "RO", "HU"):
        take(store, programme)
    intact = run_cli("audit", "verify", "--json")
    assert intact.code == 0, intact.stderr
    found = intact.json()
    assert (found["intact"], found["events"], found["first_broken"]) == (True, 6, None)
    assert (found["forged_cases"], found["anchor_problems"]) == ([], [])
    statements, seq, problem = TAMPERING[how]
    with store.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    broken = run_cli("audit", "verify")
    assert broken.code == 1
    assert f"BROKEN at event {seq}:" in broken.stdout
    assert problem in broken.stdout
