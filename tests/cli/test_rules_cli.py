"""`safepassage rules`: every rule with its source, as a coordinator or a script reads it."""

from __future__ import annotations

from pathlib import Path

from safepassage.models.rules import EMBASSY_LIAISON, RULES, RULES_VERSION
from tests.cli.helpers import run_cli
from tests.factories import intake_json

KEYS = {"id", "programme", "outcome", "default_outcome", "source", "text", "citation"}
SECRET = "Quillfeather-0042"


def test_rules_json_lists_every_rule_with_its_source_and_outcome(home: Path) -> None:
    result = run_cli("rules", "--json")
    assert result.code == 0, result.stderr
    rows = result.json()
    assert isinstance(rows, list)
    assert all(set(row) == KEYS for row in rows)
    assert [row["id"] for row in rows] == [r.id for r in RULES] + [
        e.id for e in EMBASSY_LIAISON.values()
    ]
    by_id = {row["id"]: row for row in rows}
    assert by_id["bg-consular"] == {
        "id": "bg-consular",
        "programme": "BG",
        "outcome": "eligible",
        "default_outcome": "eligible",
        "source": "office",
        "text": by_id["bg-consular"]["text"],
        "citation": None,
    }
    assert by_id["ro-embassy-liaison"]["source"] == "programme"
    assert by_id["ro-embassy-liaison"]["citation"] == "liaison with the Romanian Embassy in the UK"
    assert {row["source"] for row in rows} == {"programme", "office"}
    assert not home.exists()  # listing the rules writes nothing


def test_rules_for_one_programme_are_its_own_and_those_for_all(home: Path) -> None:
    rows = run_cli("rules", "--json", "--programme", "ro").json()
    assert {row["programme"] for row in rows} == {"RO", "all"}
    assert "ro-no-evidence" in {row["id"] for row in rows}


def test_the_plain_listing_is_a_table_with_both_versions(home: Path) -> None:
    result = run_cli("rules")
    assert result.code == 0, result.stderr
    assert f"rules {RULES_VERSION}, office policy default" in result.stdout
    for rule in ("voluntary-return", "bg-nrm-reasonable", "hu-embassy-liaison"):
        assert rule in result.stdout


def test_an_unknown_programme_exits_2_naming_the_option(home: Path) -> None:
    result = run_cli("rules", "--programme", "XX")
    assert result.code == 2
    assert "--programme" in result.stderr


def test_the_office_policy_shows_in_the_listing_and_in_the_decision(
    home: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "office-policy.toml"
    policy.write_text('version = "2027-01"\n[outcomes]\nro-ngo = "eligible"\n')
    env = {"SAFEPASSAGE_OFFICE_POLICY": str(policy)}
    rows = {row["id"]: row for row in run_cli("rules", "--json", env=env).json()}
    assert (rows["ro-ngo"]["outcome"], rows["ro-ngo"]["default_outcome"]) == (
        "eligible",
        "needs_review",
    )
    assert "eligible (default needs_review)" in run_cli("rules", env=env).stdout
    case_file = tmp_path / "ro.json"
    case_file.write_text(intake_json("RO", identification__basis="ngo_referral"))
    decided = run_cli("intake", str(case_file), "--dry-run", "--json", env=env)
    assert decided.code == 0, decided.stderr
    decision = decided.json()["decision"]
    assert decision["outcome"] == "eligible"
    assert (decision["rules_version"], decision["office_policy_version"]) == (
        RULES_VERSION,
        "2027-01",
    )
    plain = run_cli("intake", str(case_file), "--dry-run", env=env)
    assert f"(rules {RULES_VERSION}, office policy 2027-01)" in plain.stdout


def test_a_bad_office_policy_exits_2_naming_the_setting_and_key_not_the_value(
    home: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "office-policy.toml"
    policy.write_text(f'version = "2027-01"\n[outcomes]\nro-no-evidence = "{SECRET}"\n')
    env = {"SAFEPASSAGE_OFFICE_POLICY": str(policy)}
    case_file = tmp_path / "ro.json"
    case_file.write_text(intake_json("RO"))
    for args in (["rules"], ["intake", str(case_file), "--dry-run"]):
        result = run_cli(*args, env=env)
        assert result.code == 2, args
        assert "SAFEPASSAGE_OFFICE_POLICY" in result.stderr
        assert "outcomes.ro-no-evidence" in result.stderr
        assert SECRET not in result.stderr + result.stdout
