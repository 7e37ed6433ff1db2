"""The intake schema: a malformed case file gets a clear error naming the field, never a crash."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safepassage.models.errors import IntakeInvalid
from safepassage.models.intake import MAX_DOCUMENT_BYTES, Intake, parse_intake
from tests.factories import PERSONAL_VALUES, TODAY, intake_document, intake_json


def problems(raw: str | bytes) -> dict[str, str]:
    with pytest.raises(IntakeInvalid) as caught:
        parse_intake(raw, today=TODAY)
    return {p.path: p.message for p in caught.value.problems}


def test_a_valid_case_file_parses_and_normalises_codes() -> None:
    case = parse_intake(
        intake_json("RO", destination_country="ro", beneficiary__preferred_language="RO"),
        today=TODAY,
    )
    assert case.destination_country == "RO"
    assert case.beneficiary.preferred_language == "ro"


@pytest.mark.parametrize(
    ("changes", "path", "expected"),
    [
        ({"programme": "PL"}, "programme", "must be one of 'BG', 'CZ', 'RO', 'HU' or 'ADHOC'"),
        ({"destination_country": "XX"}, "destination_country", "ISO 3166-1 alpha-2"),
        ({"beneficiary__nationality": "Romanian"}, "beneficiary.nationality", "ISO 3166-1 alpha-2"),
        ({"beneficiary__preferred_language": "xx"}, "beneficiary.preferred_language", "ISO 639-1"),
        ({"beneficiary__date_of_birth": "2031-01-01"}, "beneficiary.date_of_birth", "future"),
        ({"beneficiary__date_of_birth": "1990-02-30"}, "beneficiary.date_of_birth", "real date"),
        ({"beneficiary__date_of_birth": "1850-01-01"}, "beneficiary.date_of_birth", "over 120"),
        ({"beneficiary__sex": "f"}, "beneficiary.sex", "'female'"),
        ({"beneficiary__phone": "0888 123"}, "beneficiary.phone", "international number"),
        ({"beneficiary__given_name": ""}, "beneficiary.given_name", "must not be empty"),
        ({"beneficiary__given_name": "Ana\u0007"}, "beneficiary.given_name", "control"),
        ({"beneficiary__family_name": ...}, "beneficiary.family_name", "is required"),
        ({"identification__basis": "rumour"}, "identification.basis", "nrm_conclusive_grounds"),
        ({"identification__decided_on": "2027-01-01"}, "identification.decided_on", "future"),
        ({"consent__voluntary_return": "yes please"}, "consent.voluntary_return", "true or false"),
        ({"consent__recorded_on": "2030-01-01"}, "consent.recorded_on", "future"),
        ({"needs": ["shelter", "shelter"]}, "needs", "twice"),
        ({"needs": ["spa"]}, "needs.0", "'shelter'"),
        ({"risk_level": "extreme"}, "risk_level", "'low', 'medium' or 'high'"),
        ({"earliest_departure": "soon"}, "earliest_departure", "YYYY-MM-DD"),
        # An invented key is not echoed (it could be anything, a name included) unless it is a
        # near miss of a field name, which helps the writer find the typo.
        ({"nickname": "Z"}, "<unknown field>", "not a field"),
        ({"Zenobia Quillfeather": "Z"}, "<unknown field>", "not a field"),
        ({"beneficiary__given_nmae": "Z"}, "beneficiary.given_nmae", "not a field"),
        (
            {
                "travel_document__holds_valid_passport": True,
                "travel_document__passport_expires_on": "2020-01-01",
            },
            "travel_document",
            "emergency travel document",
        ),
    ],
)
def test_each_problem_names_the_field_and_what_is_expected(
    changes: dict[str, Any], path: str, expected: str
) -> None:
    found = problems(intake_json("BG", **changes))
    assert path in found, found
    assert expected in found[path]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(intake_json("BG", programme="PL", risk_level="x", beneficiary__sex="y"))
    assert set(found) == {"programme", "risk_level", "beneficiary.sex"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not valid JSON (line 1, column 2)"),
        (b"[]", "must be a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100 + b"]" * 100, "nests deeper"),
        (b" " * (MAX_DOCUMENT_BYTES + 1), "larger than"),
        (b'{"programme": "BG", "programme": "RO"}', "appears twice"),
    ],
)
def test_documents_that_are_not_case_files_are_refused_with_a_reason(
    raw: bytes, expected: str
) -> None:
    found = problems(raw)
    assert any(expected in message for message in found.values()), found


def test_error_messages_never_echo_the_personal_values_entered() -> None:
    document = intake_document(
        "BG", beneficiary__date_of_birth="2099-04-17", beneficiary__phone="Zenobia 07"
    )
    document["beneficiary"]["sex"] = PERSONAL_VALUES["family_name"]
    document["identification"]["decided_on"] = PERSONAL_VALUES["home_locality"]
    # Refused for the field that holds the family name, and named without repeating it:
    with pytest.raises(IntakeInvalid, match=r"(?m)^beneficiary\.sex: must be one of") as caught:
        parse_intake(json.dumps(document), today=TODAY)
    text = str(caught.value)
    for value in [*PERSONAL_VALUES.values(), "2099-04-17", "Zenobia 07"]:
        assert value not in text


# -- property-based: malformed intakes -------------------------------------------------------------

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_PATHS = [
    "programme",
    "destination_country",
    "beneficiary__given_name",
    "beneficiary__date_of_birth",
    "beneficiary__sex",
    "beneficiary__nationality",
    "beneficiary__preferred_language",
    "beneficiary__phone",
    "identification__basis",
    "identification__decided_on",
    "identification__evidence_provided",
    "consent__voluntary_return",
    "consent__recorded_on",
    "travel_document__passport_expires_on",
    "needs",
    "risk_level",
    "earliest_departure",
]


def _outcome(raw: str | bytes) -> Intake | IntakeInvalid:
    try:
        return parse_intake(raw, today=TODAY)
    except IntakeInvalid as exc:
        return exc


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(field=st.sampled_from(FIELD_PATHS), value=json_value)
def test_any_value_in_any_field_is_accepted_or_refused_with_a_named_field(
    field: str, value: Any
) -> None:
    result = _outcome(intake_json("BG", **{field: value}))
    if isinstance(result, IntakeInvalid):
        assert result.problems
        for problem in result.problems:
            assert problem.message
            if isinstance(value, str) and len(value) >= 4:
                assert value not in problem.message


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_never_crash_the_parser(raw: bytes) -> None:
    result = _outcome(raw)
    assert isinstance(result, IntakeInvalid | Intake)


@settings(max_examples=100, deadline=None)
@given(document=st.dictionaries(st.text(max_size=12), json_value, max_size=8))
def test_arbitrary_objects_are_refused_field_by_field(document: dict[str, Any]) -> None:
    result = _outcome(json.dumps(document))
    assert isinstance(result, IntakeInvalid)
    assert all(p.path or p.message for p in result.problems)


def test_the_age_is_counted_in_whole_years() -> None:
    case = parse_intake(intake_json("BG", beneficiary__date_of_birth="2008-11-30"), today=TODAY)
    assert case.age_on(TODAY) == 17
    assert case.age_on(dt.date(2026, 11, 30)) == 18
