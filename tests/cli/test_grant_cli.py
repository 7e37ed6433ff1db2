"""`safepassage grant`, typed as a coordinator would: the amounts, a request on the mission's
behalf without a Prefect server (its run left for the scheduler), a logged reveal, refusals."""

from __future__ import annotations

import datetime as dt

from safepassage.models.grant import PLANNED
from safepassage.models.rules import decide
from safepassage.models.store.cases import create_case
from safepassage.models.store.db import Store
from safepassage.models.store.workflow import record_action, set_stage
from safepassage.models.vocabulary import Stage
from tests.cli.helpers import run_cli
from tests.factories import TODAY, intake

NOW = dt.datetime.now(dt.UTC)


def planned(store: Store) -> str:
    """Store a HU case in reintegration whose grant was planned with its plan."""
    case_file = intake("HU")
    with store.transaction() as session:
        case = create_case(
            session, store.master_key, case_file, decide(case_file, today=TODAY), actor="t", now=NOW
        )
        set_stage(session, case, Stage.REINTEGRATION, actor="t", now=NOW)
        record_action(session, case, PLANNED, now=NOW, detail={"amount_chf": "1500"})
        return case.reference


def test_a_request_without_a_server_is_recorded_and_its_run_left_for_the_scheduler(
    sqlite_store: Store,
) -> None:
    reference = planned(sqlite_store)
    shown = run_cli("grant", reference, "--json")
    assert shown.code == 0, shown.stderr
    assert (shown.json()["total_chf"], shown.json()["ceiling_leaves_chf"]) == ("1500", "3000")

    asked = run_cli(
        "grant", "request", reference, "--amount", "900", "--provider", "Vocational centre",
        "--recommendation", "Tools for a trade after the course.", "--by", "AB", "--json",
    )  # fmt: skip
    assert asked.code == 0, asked.stderr
    assert asked.json() == {"reference": reference, "request": 1, "approval_run_started": False}

    masked = run_cli("grant", reference).stdout
    assert "increase 1: CHF 900 recommended, pending" in masked
    assert "Tools for a trade" not in masked
    revealed = run_cli("grant", reference, "--reveal", "--by", "A. Coordinator")
    assert revealed.code == 0, revealed.stderr
    assert "Tools for a trade after the course." in revealed.stdout
    events = run_cli("case", reference, "--json").json()["events"]
    reads = [e["detail"] for e in events if e["kind"] == "personal-data-revealed"]
    assert [r["records"] for r in reads] == [["grant-increase-1"]]


def test_bad_options_exit_2_naming_the_option_and_write_nothing(sqlite_store: Store) -> None:
    reference = planned(sqlite_store)
    for args, said in [
        (["request", reference, "--amount", "900"], "--provider, --recommendation"),
        (["deliver", reference, "--recommendation", "Zenobia"], "--recommendation does not go"),
        ([reference, "--amount", "5"], "--amount does not go with showing a grant"),
        (["request", reference, "--reveal"], "--reveal does not go"),
    ]:
        refused = run_cli("grant", *args)
        assert refused.code == 2, args
        assert said in refused.stderr, refused.stderr
        assert "Zenobia" not in refused.stderr
    wrong = run_cli(
        "grant", "deliver", reference, "--amount", "-3", "--provider", "Zenobia Centre",
        "--what", "Tools", "--on", TODAY.isoformat(),
    )  # fmt: skip
    assert wrong.code == 2
    assert "amount_chf" in wrong.stderr
    assert "Zenobia" not in wrong.stderr
    assert run_cli("grant", reference, "--json").json()["deliveries"] == []
