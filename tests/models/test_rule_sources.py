"""Every rule says where it comes from, and the office's own rules follow the office's policy file.

Programme rules cite the programme description word for word and cannot be changed but by code;
office rules (and embassy liaison outside Romania) take their outcome from the file that
SAFEPASSAGE_OFFICE_POLICY names. A bad file is refused with the key at fault, never a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from safepassage.models.errors import ConfigurationError
from safepassage.models.office_policy import DEFAULT_POLICY, OfficePolicy
from safepassage.models.rules import (
    ALL,
    EMBASSY_LIAISON,
    RULES,
    RULES_VERSION,
    Source,
    decide,
    notifies_embassy,
    policy_in_force,
    rule_rows,
)
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import create_case, get_case
from safepassage.models.store.db import Store
from safepassage.models.store.events import case_events
from safepassage.models.vocabulary import Outcome, Programme
from tests.factories import TODAY, intake
from tests.stored import STORED_AT

ROOT = Path(__file__).resolve().parents[2]
#: The programme descriptions, as the project's shared documents hold them (beside the repository).
DOMAIN = ROOT.parent / "shared" / "docs" / "domain.md"
RULES_DOC = ROOT / "docs" / "programme-rules.md"
PROGRAMMES = {p.value for p in Programme}

#: A value that must never come back in an error message.
SECRET = "Quillfeather-0042"


def plain(markdown: str) -> str:
    """Return Markdown as the words a reader sees: no emphasis marks, one space between words."""
    return re.sub(r"\s+", " ", markdown.replace("**", "").replace("*", ""))


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point SAFEPASSAGE_OFFICE_POLICY at a file the test writes (office-policy.toml)."""
    path = tmp_path / "office-policy.toml"
    monkeypatch.setenv("SAFEPASSAGE_OFFICE_POLICY", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _no_policy_unless_asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SAFEPASSAGE_OFFICE_POLICY", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# -- the rule table --------------------------------------------------------------------------------


def test_every_rule_has_an_id_a_programme_one_outcome_a_source_and_words() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert re.fullmatch(r"[a-z][a-z0-9-]+", rule.id), rule.id
        assert rule.programme in PROGRAMMES | {ALL}, rule.id
        assert isinstance(rule.outcome, Outcome), rule.id
        assert isinstance(rule.source, Source), rule.id
        assert rule.text.strip(), rule.id
        assert rule.reason.strip(), rule.id
        # A programme rule cites the description; an office rule is the office's, uncited.
        assert (rule.citation is not None) == (rule.source is Source.PROGRAMME), rule.id
    assert {liaison.programme for liaison in EMBASSY_LIAISON.values()} == set(Programme)


def test_the_offices_own_choices_are_office_rules() -> None:
    """The choices the programme descriptions do not make, as the review of the rules found."""
    source = {rule.id: rule.source for rule in RULES}
    office = ["bg-consular", "cz-not-czech", "cz-unidentified", "ro-ngo", "hu-unidentified"]
    for rule_id in [*office, "minor", "high-risk"]:
        assert source[rule_id] is Source.OFFICE, rule_id
    programme = ["bg-nrm-conclusive", "bg-nrm-reasonable", "bg-police-ngo", "bg-unidentified"]
    for rule_id in [*programme, "voluntary-return", "ro-no-evidence", "adhoc-case-by-case"]:
        assert source[rule_id] is Source.PROGRAMME, rule_id
    liaison = {p: e.source for p, e in EMBASSY_LIAISON.items()}
    assert liaison.pop(Programme.RO) is Source.PROGRAMME
    assert set(liaison.values()) == {Source.OFFICE}


@pytest.mark.skipif(not DOMAIN.exists(), reason=f"{DOMAIN} (the programme descriptions) not here")
def test_every_programme_rule_cites_the_programme_description_word_for_word() -> None:
    description = plain(DOMAIN.read_text())
    cited = [r.citation for r in RULES] + [e.citation for e in EMBASSY_LIAISON.values()]
    for citation in filter(None, cited):
        assert plain(citation) in description, citation


def test_the_programme_rules_document_lists_every_rule_with_its_source_and_citation() -> None:
    document = plain(RULES_DOC.read_text())
    for row in rule_rows(DEFAULT_POLICY):
        assert f"`{row.id}`" in document, row.id
        if row.citation is not None:
            assert plain(row.citation) in document, row.id
    assert RULES_VERSION in document


# -- the office policy -----------------------------------------------------------------------------


def test_without_a_file_the_built_in_defaults_hold_with_the_version_default() -> None:
    assert policy_in_force() == DEFAULT_POLICY
    assert DEFAULT_POLICY.version == "default"
    assert all(notifies_embassy(p) for p in Programme)  # as before office policies


def test_the_policy_file_changes_an_office_rules_outcome_and_the_decision_records_its_version(
    policy_file: Path,
) -> None:
    consular = intake("BG", identification__basis="consular_identification")
    assert decide(consular, today=TODAY, policy=DEFAULT_POLICY).outcome is Outcome.ELIGIBLE
    policy_file.write_text(
        'version = "2027-01"\n\n[outcomes]\nbg-consular = "needs_review"\nminor = "eligible"\n'
    )
    decision = decide(consular, today=TODAY)
    assert decision.outcome is Outcome.NEEDS_REVIEW
    assert decision.reasons == [
        "BG: identification by the Bulgarian consulate in the UK, a basis the programme "
        "description does not name: a coordinator reviews the case (office policy)"
    ]
    assert (decision.rules_version, decision.office_policy_version) == (RULES_VERSION, "2027-01")
    # Still an escort for a child, whatever the review.
    child = decide(intake("HU", beneficiary__date_of_birth=f"{TODAY.year - 15}-01-01"), today=TODAY)
    assert (child.outcome, child.escort_required) == (Outcome.ELIGIBLE, True)
    assert child.reasons[0].endswith("eligible by the office's policy")
    listed = {row.id: row for row in rule_rows(policy_in_force())}
    assert (listed["bg-consular"].outcome, listed["bg-consular"].default_outcome) == (
        "needs_review",
        "eligible",
    )


def test_the_policy_file_can_stop_embassy_liaison_except_where_the_programme_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "office-policy.json"
    path.write_text(json.dumps({"version": "2027-02", "embassy_liaison": {"HU": False}}))
    monkeypatch.setenv("SAFEPASSAGE_OFFICE_POLICY", str(path))
    get_settings.cache_clear()
    assert notifies_embassy("HU") is False
    assert notifies_embassy(Programme.BG) is True
    assert notifies_embassy("RO") is True
    listed = {row.id: row.outcome for row in rule_rows(policy_in_force(), Programme.HU)}
    assert listed["hu-embassy-liaison"] == "embassy-not-notified"


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (f'version = "1"\n[outcomes]\nro-no-evidence = "{SECRET}"\n', "outcomes.ro-no-evidence"),
        ('version = "1"\n[outcomes]\nvoluntary-return = "eligible"\n', "outcomes.voluntary-return"),
        ('version = "1"\n[embassy_liaison]\nRO = false\n', "embassy_liaison.RO"),
    ],
)
def test_a_programme_rule_cannot_be_overridden(policy_file: Path, content: str, key: str) -> None:
    policy_file.write_text(content)
    with pytest.raises(ConfigurationError) as raised:
        decide(intake("RO"), today=TODAY)
    message = str(raised.value)
    assert message.startswith("bad setting: SAFEPASSAGE_OFFICE_POLICY: ")
    assert f"{key}: " in message
    assert "cannot change it" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (f'version = "1"\n[outcomes]\nminor = "{SECRET}"\n', "outcomes.minor: must be one of"),
        (f'version = "1"\n[outcomes]\nminor = ["{SECRET}"]\n', "outcomes.minor: must be one of"),
        (f'version = "1"\n[outcomes]\n{SECRET} = "eligible"\n', "outcomes.<unknown key>: no rule"),
        (f'version = "1"\n[embassy_liaison]\nBG = "{SECRET}"\n', "embassy_liaison.BG: must be"),
        (
            'version = "1"\n[embassy_liaison]\nXX = true\n',
            "embassy_liaison.<unknown key>: no such programme",
        ),
        (f'version = "{SECRET} x"\n', "version: must be 1 to 40"),
        ('version = "default"\n', "version:"),
        ('[outcomes]\nminor = "eligible"\n', "version: missing"),
        (f'version = "1"\n{SECRET} = 1\n', "<unknown key>: the office policy has no such key"),
        (f'version = "1"\n[embassy_liaison]\n"{SECRET}" = 1\n', "embassy_liaison.<unknown key>"),
        (f'version = "1"\noutcomes = "{SECRET}"\n', "outcomes: must be a table"),
        (f'version = "1"\n[outcomes\nminor = "{SECRET}"\n', "not valid TOML (line 2"),
        (f'version = "{SECRET}\n', "not valid TOML"),
    ],
)
def test_a_bad_policy_file_names_the_setting_and_the_key_never_a_value(
    policy_file: Path, content: str, says: str
) -> None:
    policy_file.write_text(content)
    with pytest.raises(ConfigurationError) as raised:
        policy_in_force()
    message = str(raised.value)
    assert message.startswith("bad setting: SAFEPASSAGE_OFFICE_POLICY: ")
    assert says in message
    assert "unset SAFEPASSAGE_OFFICE_POLICY to use the built-in defaults" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("policy.json", f'{{"version": "1", "version": "{SECRET}"}}', "version: given twice"),
        ("policy.json", f'["{SECRET}"]', "one JSON object"),
        ("policy.json", f'{{"version": "{SECRET}', "not valid JSON (line 1"),
        ("policy.yaml", f"version: {SECRET}", "TOML (.toml) or JSON (.json)"),
        ("missing.toml", None, "the file does not exist"),
    ],
)
def test_a_bad_json_file_or_a_wrong_path_is_named_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: str | None, says: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("SAFEPASSAGE_OFFICE_POLICY", str(path))
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError) as raised:
        policy_in_force()
    assert says in str(raised.value)
    assert SECRET not in str(raised.value)


def test_a_folder_is_not_a_policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "policy.toml"
    folder.mkdir()
    monkeypatch.setenv("SAFEPASSAGE_OFFICE_POLICY", str(folder))
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="SAFEPASSAGE_OFFICE_POLICY"):
        policy_in_force()


# -- the decision records both versions, in the store and its log ---------------------------------


def test_a_stored_decision_keeps_the_rules_and_office_policy_versions(store: Store) -> None:
    policy = OfficePolicy(version="2027-03", outcomes={"high-risk": Outcome.NEEDS_REVIEW})
    case_file = intake("CZ", risk_level="high")
    decision = decide(case_file, today=TODAY, policy=policy)
    with store.transaction() as session:
        case = create_case(session, store.master_key, case_file, decision, actor="t", now=STORED_AT)
        reference = case.reference
    with store.transaction() as session:
        (decided,) = [e for e in case_events(session, reference) if e.kind == "eligibility-decided"]
        stored = decided.detail
        assert decided.rules_version == RULES_VERSION
    assert stored["office_policy_version"] == "2027-03"
    with store.transaction() as session:
        kept = get_case(session, reference).decision
    assert (kept["rules_version"], kept["office_policy_version"]) == (RULES_VERSION, "2027-03")
    assert kept["rules"] == ["high-risk", "cz-czech-citizen"]
