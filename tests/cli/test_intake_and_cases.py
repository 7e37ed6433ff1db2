"""The first commands, run as a coordinator would: dry-run intake, case list, case view."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from safepassage.models.store.db import Store
from tests.cli.helpers import cli_actor, run_cli
from tests.factories import PERSONAL_VALUES, intake_json
from tests.stored import stored_case

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


def test_dry_run_prints_the_decision_and_writes_nothing(tmp_path: Path, home: Path) -> None:
    result = run_cli("intake", str(write(tmp_path, "ro.json", intake_json("RO"))), "--dry-run")
    assert result.code == 0, result.stderr
    assert "decision: eligible" in result.stdout
    assert "RO: identified as a victim in the UK" in result.stdout
    assert not home.exists()


def test_dry_run_json_prints_only_the_decision_object(tmp_path: Path, home: Path) -> None:
    case_file = write(tmp_path, "adhoc.json", intake_json("ADHOC"))
    result = run_cli("intake", str(case_file), "--dry-run", "--json")
    assert result.code == 0, result.stderr
    decision = result.json()["decision"]
    assert decision["outcome"] == "needs_review"
    assert decision["reasons"]
    assert decision["rules_version"]
    assert not home.exists()


def test_a_bad_case_file_exits_2_with_one_line_per_problem_and_no_personal_value(
    tmp_path: Path, home: Path
) -> None:
    content = intake_json(
        "BG",
        programme="XX",
        beneficiary__date_of_birth="2999-01-01",
        beneficiary__nationality=PERSONAL_VALUES["family_name"],
    )
    result = run_cli("intake", str(write(tmp_path, "bad.json", content)))
    assert result.code == 2
    lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert sorted(line.split(":")[0] for line in lines) == [
        "beneficiary.date_of_birth",
        "beneficiary.nationality",
        "programme",
    ]
    for value in [*PERSONAL_VALUES.values(), "2999-01-01"]:
        assert value not in result.stderr + result.stdout
    assert not home.exists()


@pytest.mark.parametrize("content", ["{", "[1, 2]", ""])
def test_a_file_that_is_not_a_case_exits_2(tmp_path: Path, home: Path, content: str) -> None:
    result = run_cli("intake", str(write(tmp_path, "x.json", content)), "--dry-run")
    assert result.code == 2
    assert "case file" in result.stderr


def test_a_missing_file_exits_2_naming_it(tmp_path: Path, home: Path) -> None:
    result = run_cli("intake", str(tmp_path / "nowhere.json"))
    assert result.code == 2
    assert "nowhere.json: no such file" in result.stderr


def test_an_empty_store_lists_no_cases_as_json(home: Path) -> None:
    result = run_cli("cases", "--json")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert "created the key ring" in result.stderr
    ring = home.parent / f"{home.name}-keys"
    assert oct((ring / "v000001.key").stat().st_mode & 0o777) == "0o600"
    assert not (home / "master.key").exists()  # the keys are not kept beside the data
    assert "created the key ring" not in run_cli("cases", "--json").stderr


def test_intake_without_a_running_server_says_to_start_one_and_writes_nothing(
    tmp_path: Path, home: Path
) -> None:
    result = run_cli("intake", str(write(tmp_path, "bg.json", intake_json("BG"))))
    assert result.code == 2
    assert "start `safepassage serve`" in result.stderr
    assert not (home / "safepassage.db").exists()


def test_a_stored_case_shows_masked_until_revealed_and_the_reveal_is_logged(
    sqlite_store: Store,
) -> None:
    reference = stored_case(sqlite_store, "BG", now=dt.datetime.now(dt.UTC), actor="test")

    listed = run_cli("cases", "--json").json()
    assert [c["reference"] for c in listed] == [reference]

    masked = run_cli("case", reference, "--json")
    shown = run_cli("case", reference)
    for value in PERSONAL_VALUES.values():
        assert value not in masked.stdout + shown.stdout
    assert [e["kind"] for e in masked.json()["events"]] == ["case-taken-in", "eligibility-decided"]

    revealed = run_cli("case", reference.lower(), "--reveal", "--by", "A. Coordinator")
    assert revealed.code == 0, revealed.stderr
    assert PERSONAL_VALUES["family_name"] in revealed.stdout
    events = run_cli("case", reference, "--json").json()["events"]
    assert (events[-1]["kind"], events[-1]["actor"]) == (
        "personal-data-revealed",
        cli_actor("A. Coordinator"),
    )


def test_an_unknown_or_malformed_reference_exits_2(home: Path) -> None:
    assert run_cli("case", "RO-0000-0000").code == 2
    malformed = run_cli("case", "not-a-ref")
    assert malformed.code == 2
    assert "RO-7Q2K-4MXD" in malformed.stderr


def test_each_shipped_example_gets_the_outcome_its_name_promises(home: Path) -> None:
    examples = sorted(EXAMPLES.glob("*.json"))
    assert len(examples) >= 6
    for example in examples:
        expected = example.stem.split("-", 1)[1].replace("-", "_")
        result = run_cli("intake", str(example), "--dry-run", "--json")
        assert result.code == 0, (example.name, result.stderr)
        assert result.json()["decision"]["outcome"] == expected, example.name


def test_usage_errors_exit_2(home: Path) -> None:
    assert run_cli("intake").code == 2
    assert run_cli("no-such-command").code == 2


def test_json_output_is_parseable_for_every_listing(home: Path) -> None:
    assert json.loads(run_cli("cases", "--json").stdout) == []
