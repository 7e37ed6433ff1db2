"""`followups`, `arrival` and the follow-ups in `case REF`, typed as a coordinator would."""

from __future__ import annotations

import datetime as dt

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint, FollowUpReportAnswer
from safepassage.models.followup_plan import DEFAULT_PLAN, add_months
from safepassage.models.rules import decide
from safepassage.models.store.cases import create_case, get_case
from safepassage.models.store.db import Store
from safepassage.models.store.followups import case_followups, plan_followups
from safepassage.models.store.workflow import record_answer, set_stage
from safepassage.models.sustainability import CURRENT_VERSION
from safepassage.models.sustainability.records import score_followup
from safepassage.models.vocabulary import Stage
from safepassage.tasks.checkpoints import summarise
from tests.cli.helpers import cli_actor, run_cli
from tests.factories import TODAY, intake

NOW = dt.datetime.now(dt.UTC)


def arrived(store: Store, days_ago: int, *, reported: bool = False) -> str:
    """Store a case that arrived `days_ago` days ago; with `reported`, follow-up 1 reported."""
    case_file = intake("RO")
    with store.transaction() as session:
        case = create_case(
            session, store.master_key, case_file, decide(case_file, today=TODAY), actor="t", now=NOW
        )
        plan_followups(
            session, case, NOW.date() - dt.timedelta(days=days_ago), DEFAULT_PLAN, now=NOW
        )
        set_stage(session, case, Stage.FOLLOW_UP, actor="t", now=NOW)
        if reported:
            raw = sample_answer(
                Checkpoint.FOLLOWUP_REPORT,
                attempt=1,
                scenario=Scenario(risk_at_followups=frozenset({1})),
                today=TODAY,
            )
            answer = FollowUpReportAnswer.model_validate(raw)
            record_answer(
                session, store.master_key, case, "followup-report", 1,
                answer_json=answer.model_dump_json().encode(), entered_by="M. Mission",
                summary=summarise(Checkpoint.FOLLOWUP_REPORT, answer), now=NOW,
            )  # fmt: skip
            case_followups(session, case)[0].state = "reported"
        return case.reference


def test_followups_list_every_followup_and_filter_what_is_due_or_overdue(
    sqlite_store: Store,
) -> None:
    late = arrived(sqlite_store, 60)  # follow-up 1 was due 30 days ago: window passed
    due = arrived(sqlite_store, 35)  # follow-up 1 was due about 4 days ago: window open
    done = arrived(sqlite_store, 45, reported=True)

    everything = run_cli("followups", "--json")
    assert everything.code == 0, everything.stderr
    listed = everything.json()
    assert len(listed) == 12
    assert {k for row in listed for k in row} >= {"reference", "number", "due_on", "state"}
    firsts = {row["reference"]: row for row in listed if row["number"] == 1}
    assert {ref: firsts[ref]["state"] for ref in (late, due, done)} == {
        late: "overdue",
        due: "planned",
        done: "reported",
    }
    assert firsts[done]["risk_raised"] is True
    assert firsts[late]["due_on"] == add_months(NOW.date() - dt.timedelta(days=60), 1).isoformat()

    overdue = run_cli("followups", "--overdue", "--json").json()
    assert [(r["reference"], r["number"]) for r in overdue] == [(late, 1)]
    now_due = run_cli("followups", "--due", "--json").json()
    assert [(r["reference"], r["number"]) for r in now_due] == [(due, 1)]
    one_case = run_cli("followups", due.lower(), "--json").json()
    assert {r["reference"] for r in one_case} == {due}
    table = run_cli("followups", "--overdue")
    assert late in table.stdout
    assert "overdue" in table.stdout
    assert run_cli("followups", "RO-0000-0000").code == 2


def test_a_case_shows_its_plan_and_reports_masked_until_revealed(sqlite_store: Store) -> None:
    reference = arrived(sqlite_store, 45, reported=True)
    masked = run_cli("case", reference, "--json")
    assert masked.code == 0, masked.stderr
    plan = masked.json()["followups"]
    assert [p["number"] for p in plan] == [1, 2, 3, 4]
    report = plan[0]["report"]
    assert (report["risk_raised"], report["next_steps"], report["wellbeing"]) == (
        True,
        "•••",
        "•••",
    )
    assert "Mission visits again" not in run_cli("case", reference).stdout

    revealed = run_cli("case", reference, "--reveal", "--by", "A. Coordinator")
    assert revealed.code == 0, revealed.stderr
    assert "Mission visits again before follow-up 2." in revealed.stdout
    events = run_cli("case", reference, "--json").json()["events"]
    disclosures = [e["detail"]["records"] for e in events if e["kind"] == "personal-data-revealed"]
    assert ["checkpoint:followup-report:1"] in disclosures


def test_a_corrected_arrival_replans_without_a_server_and_says_the_scheduler_moves_runs(
    sqlite_store: Store,
) -> None:
    reference = arrived(sqlite_store, 20)
    corrected = NOW.date() - dt.timedelta(days=23)
    result = run_cli(
        "arrival", reference, "--date", corrected.isoformat(), "--by", "A. Coordinator", "--json"
    )
    assert result.code == 0, result.stderr
    moved = result.json()
    assert [m["due_on"] for m in moved["moved"]] == [
        add_months(corrected, m).isoformat() for m in (1, 3, 6, 12)
    ]
    assert moved["runs"] is None
    with sqlite_store.transaction() as session:
        case = get_case(session, reference)
        assert [r.due_on for r in case_followups(session, case)] == [
            add_months(corrected, m) for m in (1, 3, 6, 12)
        ]
    future = run_cli("arrival", reference, "--date", "2999-01-01")
    assert future.code == 2
    assert "--date: is in the future" in future.stderr
    reconcile = run_cli("followups", "reconcile")
    assert reconcile.code == 2
    assert "start `safepassage serve`" in reconcile.stderr


def test_add_and_close_refuse_a_bad_code_naming_the_option_without_echo_and_write_nothing(
    sqlite_store: Store,
) -> None:
    reference = arrived(sqlite_store, 400)
    before = run_cli("case", reference, "--json").json()

    close = run_cli("close", reference, "--reason", "Ana Popescu went to Iasi")
    add = run_cli("followups", "add", reference, "--months", "Iasi", "--reason", "Ana Popescu")
    missing = run_cli("close", reference)
    misplaced = run_cli("followups", reference, "--months", "2")

    for result in (close, add, missing):
        assert result.code == 2, result.stderr
        assert "--reason" in result.stderr
        assert "Popescu" not in result.stderr + result.stdout
        assert "Iasi" not in result.stderr + result.stdout
    assert "--months" in add.stderr
    assert "risk-resolved" in close.stderr  # the codes are listed
    assert misplaced.code == 2
    assert run_cli("case", reference, "--json").json() == before


def test_add_and_close_work_without_a_prefect_server(sqlite_store: Store) -> None:
    reference = arrived(sqlite_store, 400)

    added = run_cli(
        "followups", "add", reference, "--months", "3", "--reason", "risk-raised", "--by", "A. C"
    )
    assert added.code == 0, added.stderr
    due = add_months(NOW.date(), 3).isoformat()
    assert f"follow-up 5 added, due {due}" in added.stdout
    assert "followup-scheduler" in added.stderr + added.stdout
    listed = run_cli("followups", reference, "--json").json()
    assert [(r["number"], r["due_on"]) for r in listed][-1] == (5, due)

    closed = run_cli(
        "close", reference, "--reason", "risk-resolved", "--note", "NGO ticket 42", "--json"
    )
    assert closed.code == 0, closed.stderr
    result = closed.json()
    assert (result["stage"], result["reason"], result["note_kept"]) == (
        "closed",
        "risk-resolved",
        True,
    )
    assert result["runs"] is None  # no server: the daily scheduler stops what has a run
    case = run_cli("case", reference, "--json").json()
    assert case["case"]["stage"] == "closed"
    assert "NGO ticket 42" not in run_cli("audit", reference).stdout


def test_declining_followup_contact_with_the_consent_command_declines_the_followups(
    sqlite_store: Store,
) -> None:
    reference = arrived(sqlite_store, 10)
    result = run_cli(
        "consent", reference, "--recipient", "mission", "--purpose", "followup-contact",
        "--agree", "no", "--language", "ro", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    listed = run_cli("followups", reference, "--json").json()
    assert {r["state"] for r in listed} == {"declined"}


def test_followups_of_a_case_show_each_reports_scores_and_log_the_read(
    sqlite_store: Store,
) -> None:
    reference = arrived(sqlite_store, 45, reported=True)
    with sqlite_store.transaction() as session:  # as the concluding task scores it
        case = get_case(session, reference)
        score_followup(session, sqlite_store.master_key, case, 1, now=NOW)
    # Follow-up 1 raised a risk: the sample answers put every indicator at 2, (2 - 1) / 4.
    everyone = run_cli("followups", "--json")
    assert everyone.code == 0, everyone.stderr
    assert all("scores" not in row for row in everyone.json())  # no case's scores in a list

    listed = run_cli("followups", reference, "--json", "--by", "A. Coordinator")
    assert listed.code == 0, listed.stderr
    scores = [row["scores"] for row in listed.json()]
    assert scores[0] == {"version": CURRENT_VERSION, "economic": "0.250", "social": "0.250",
                         "psychosocial": "0.250", "composite": "0.250"}  # fmt: skip
    assert scores[1:] == [None, None, None]
    table = run_cli("followups", reference)
    assert "0.250; 0.250 / 0.250 / 0.250" in table.stdout

    events = run_cli("case", reference, "--json").json()["events"]
    reads = [
        (e["actor"], e["detail"]["purpose"], e["detail"]["records"])
        for e in events
        if e["kind"] == "personal-data-revealed"
    ]
    assert reads[:2] == [
        (cli_actor("A. Coordinator"), "export: cli followups REF --json", ["followup-scores-1"]),
        (cli_actor_without_by(), "cli followups REF", ["followup-scores-1"]),
    ]


def cli_actor_without_by() -> str:
    return cli_actor("x").removesuffix(" (by x)")
