"""`erase`, `retention`, `consent` and `audit` typed as a person would, on SQLite and PostgreSQL.

No Prefect server runs here: erasure must still happen in the store, and say what is left.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store
from safepassage.models.store.events import case_events
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


def test_consent_shorthands_are_recorded_and_bad_values_are_named_without_echo(
    store: Store,
) -> None:
    ref = take(store)
    wrong = run_cli("consent", ref, "--share-with-mission", "maybe")
    assert wrong.code == 2
    assert "--share-with-mission: must be one of yes, no" in wrong.stderr
    assert "maybe" not in wrong.stderr + wrong.stdout
    changed = run_cli("consent", ref, "--share-with-mission", "no", "--by", "officer", "--json")
    assert changed.code == 0, changed.stderr
    assert changed.json()["share_with_mission"] is False
    assert changed.json()["changed"] is True
    assert {(c["purpose"], c["agreed"], c["before"]) for c in changed.json()["changes"]} == {
        ("reception", False, True),
        ("reintegration", False, True),
        ("followup-contact", False, True),
    }
    with store.transaction() as session:
        assert get_case(session, ref).share_with_mission is False
    audit = run_cli("audit", ref, "--json").json()
    assert ("consent changed", cli_actor("officer")) in {
        (e["what"], e["who"]) for e in audit["entries"]
    }


def test_consent_without_options_shows_the_record_the_case_file_filled(store: Store) -> None:
    ref = take(store, consent__recorded_on="2026-11-02")
    shown = run_cli("consent", ref, "--json")
    assert shown.code == 0, shown.stderr
    rows = {(r["recipient"], r["purpose"]): r for r in shown.json()["consent"]}
    assert set(rows) == {
        ("mission", "reception"),
        ("mission", "reintegration"),
        ("mission", "followup-contact"),
        ("embassy", "travel-documents"),
    }  # the providers were never asked: no consent
    assert rows["mission", "followup-contact"] == {
        "recipient": "mission",
        "purpose": "followup-contact",
        "agreed": True,
        "recorded_on": "2026-11-02",
        "language": None,  # the case file does not say which language consent was given in
        "interpreter_used": False,
        "recorded_by": "t",
        "source": "case-file",
    }
    assert rows["embassy", "travel-documents"]["agreed"] is False
    table = run_cli("consent", ref)
    assert table.code == 0, table.stderr
    assert "followup-contact" in table.stdout
    assert "not listed: no consent" in table.stdout


#: One answer per purpose, as an operator would record them one after the other.
ANSWERS = [
    ("mission", "followup-contact", "no", "bg", False),
    ("providers", "reintegration", "yes", "bg", True),
    ("embassy", "travel-documents", "yes", "en", True),
    ("mission", "reception", "no", "bg", False),
]


def test_each_answer_per_recipient_and_purpose_is_recorded_and_audited(store: Store) -> None:
    ref = take(store)
    for recipient, purpose, agree, language, interpreter in ANSWERS:
        given = ["--recipient", recipient, "--purpose", purpose, "--agree", agree]
        given += ["--language", language.upper()] + (["--interpreter"] if interpreter else [])
        result = run_cli("consent", ref, *given, "--by", "officer D", "--json")
        assert result.code == 0, result.stderr
        assert result.json()["changes"] == [
            {
                "recipient": recipient,
                "purpose": purpose,
                "agreed": agree == "yes",
                "before": {"mission": True, "embassy": False}.get(recipient),
            }
        ]
        again = run_cli("consent", ref, *given, "--json")  # the same answer: nothing written
        assert again.json()["changed"] is False
    rows = {
        (r["recipient"], r["purpose"]): r
        for r in run_cli("consent", ref, "--json").json()["consent"]
    }
    assert rows["providers", "reintegration"] == {
        "recipient": "providers",
        "purpose": "reintegration",
        "agreed": True,
        "recorded_on": dt.datetime.now(dt.UTC).date().isoformat(),
        "language": "bg",
        "interpreter_used": True,
        "recorded_by": cli_actor("officer D"),
        "source": "cli",
    }
    assert rows["mission", "reintegration"]["agreed"] is True  # untouched by the others
    with store.transaction() as session:
        case = get_case(session, ref)
        assert (case.share_with_mission, case.share_with_embassy) == (False, True)
        events = [e for e in case_events(session, ref) if e.kind == "consent-changed"]
    assert [
        (e.detail["recipient"], e.detail["purpose"], e.detail["agreed"], e.actor) for e in events
    ] == [(r, p, a == "yes", cli_actor("officer D")) for r, p, a, _, _ in ANSWERS]
    for event in events:
        assert "language" not in event.detail  # the log keeps what changed, not how it was said
    audit = run_cli("audit", ref).stdout
    assert "purpose=followup-contact" in audit


def answer(
    recipient: str = "mission", purpose: str = "reception", agree: str = "yes", language: str = "ro"
) -> list[str]:
    return [
        "--recipient",
        recipient,
        "--purpose",
        purpose,
        "--agree",
        agree,
        "--language",
        language,
    ]


#: Bad answers typed at `consent`, what the error must name, and what it must not repeat.
BAD_ANSWERS: dict[str, tuple[list[str], str, str | None]] = {
    "unknown recipient": (
        answer(recipient="Popescu"),
        "--recipient: must be one of mission, embassy, providers",
        "Popescu",
    ),
    "unknown purpose": (
        answer(purpose="Vratsa"),
        "--purpose: must be one of reception, travel-documents, reintegration, followup-contact",
        "Vratsa",
    ),
    "agree not yes or no": (answer(agree="Zenobia"), "--agree: must be one of yes, no", "Zenobia"),
    "not a language code": (
        answer(language="Quillfeather"),
        "--language: must be an ISO 639-1 language code",
        "Quillfeather",
    ),
    "language missing": (answer()[:-2], "--language: is required", None),
    "purpose and agree missing": (
        ["--recipient", "embassy", "--language", "ro"],
        "--purpose: is required",
        None,
    ),
    "shorthand and one answer": (
        ["--share-with-embassy", "yes", *answer(agree="no")],
        "not both",
        None,
    ),
    "interpreter alone": (["--interpreter"], "--recipient: is required", None),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_a_bad_consent_answer_exits_2_naming_the_option_and_never_repeating_it(
    sqlite_store: Store, case: str
) -> None:
    ref = take(sqlite_store)
    given, named, secret = BAD_ANSWERS[case]
    refused = run_cli("consent", ref, *given)
    assert refused.code == 2
    assert named in refused.stderr
    if secret is not None:
        assert secret not in refused.stderr + refused.stdout
        assert secret.lower() not in (refused.stderr + refused.stdout).lower()
    if case == "purpose and agree missing":
        assert "--agree: is required" in refused.stderr
    with sqlite_store.transaction() as session:
        assert not [e for e in case_events(session, ref) if e.kind == "consent-changed"]


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
