"""`intake`, `status` and `resume` typed as a coordinator would, against the served world."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from safepassage.demo.coordinator import FollowedCase, play
from safepassage.models.checkpoints import Checkpoint
from tests.cli.helpers import cli_actor, run_cli
from tests.factories import PERSONAL_VALUES, intake_json
from tests.flows.conftest import World

ANSWERS = Path(__file__).resolve().parents[2] / "examples" / "answers"


def test_a_coordinator_takes_a_case_in_and_answers_its_checkpoint_from_the_cli(
    served: World, tmp_path: Path
) -> None:
    env = {"PREFECT_API_URL": served.api_url}
    case_file = tmp_path / "case.json"
    case_file.write_text(intake_json("RO"))
    taken = run_cli("intake", str(case_file), "--json", env=env)
    assert taken.code == 0, taken.stderr
    result = taken.json()
    reference = result["reference"]
    assert result["decision"]["outcome"] == "eligible"
    assert result["ui_url"].endswith(result["flow_run_id"])

    play([FollowedCase(reference, "RO")], stop_at={Checkpoint.TRAVEL_DOCUMENT}, timeout=120)
    status = run_cli("status", reference, "--json", env=env).json()
    assert {k: status[k] for k in ("stage", "status", "waiting_for")} == {
        "stage": "travel-document",
        "status": "waiting",
        "waiting_for": "travel-document",
    }

    wrong = run_cli("resume", reference, "--input", str(ANSWERS / "ticket.json"), env=env)
    assert wrong.code == 2
    assert "is not a field of this form" in wrong.stderr

    not_this = run_cli(
        "resume", reference, "--input", str(ANSWERS / "travel-document.json"),
        "--checkpoint", "ticket", env=env,
    )  # fmt: skip
    assert not_this.code == 2
    assert "waits at travel-document, not ticket" in not_this.stderr

    leaky = json.loads((ANSWERS / "travel-document.json").read_text())
    leaky["document_number"] = PERSONAL_VALUES["family_name"] + "!"
    bad_answer = tmp_path / "bad.json"
    bad_answer.write_text(json.dumps(leaky))
    refused = run_cli("resume", reference, "--input", str(bad_answer), env=env)
    assert refused.code == 2
    assert "document_number: has the wrong format" in refused.stderr
    assert PERSONAL_VALUES["family_name"] not in refused.stderr + refused.stdout

    resumed = run_cli(
        "resume", reference, "--input", str(ANSWERS / "travel-document.json"), env=env
    )
    assert resumed.code == 0, resumed.stderr
    assert f"resumed {reference} at travel-document" in resumed.stdout

    play([FollowedCase(reference, "RO")], stop_at={Checkpoint.TICKET}, timeout=120)
    after = run_cli("status", reference, "--json", env=env).json()
    assert after["waiting_for"] == "ticket"
    # The login answered the travel document, with the initials the file gave kept beside it.
    events = run_cli("case", reference, "--json", env=env).json()["events"]
    answered = {e["detail"].get("checkpoint"): e["actor"] for e in events
                if e["kind"] == "checkpoint-answered"}  # fmt: skip
    assert answered["travel-document"] == cli_actor("AB")

    # No travel before the recovery period ends: a ticket two days early is refused, by name.
    earliest = dt.date.fromisoformat(json.loads(case_file.read_text())["earliest_departure"])
    early = json.loads((ANSWERS / "ticket.json").read_text())
    early_day = earliest - dt.timedelta(days=2)
    early["departure_at"] = f"{early_day}T09:40:00+00:00"
    early["arrival_at"] = f"{early_day}T14:20:00+02:00"
    early_ticket = tmp_path / "early-ticket.json"
    early_ticket.write_text(json.dumps(early))
    too_early = run_cli("resume", reference, "--input", str(early_ticket), env=env)
    assert too_early.code == 2
    assert "departure_at: is before the person's earliest departure" in too_early.stderr
    # The sample ticket flies after it: booked.
    booked = run_cli("resume", reference, "--input", str(ANSWERS / "ticket.json"), env=env)
    assert booked.code == 0, booked.stderr
    assert f"resumed {reference} at ticket" in booked.stdout


def test_resume_refuses_a_case_that_waits_for_nothing(served: World, tmp_path: Path) -> None:
    env = {"PREFECT_API_URL": served.api_url}
    case_file = tmp_path / "ineligible.json"
    case_file.write_text(intake_json("RO", identification__evidence_provided=False))
    reference = run_cli("intake", str(case_file), "--json", env=env).json()["reference"]
    answer = str(ANSWERS / "ticket.json")
    refused = run_cli("resume", reference, "--input", answer, env=env)
    assert refused.code == 2
    assert "not waiting at a checkpoint" in refused.stderr
