"""The intake schema: what a coordinator's case file must contain, validated strictly.

Validation messages are written so that they never contain the value that was entered: a case
file holds a person's identity, and errors end up on terminals and in logs.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
import math
import typing
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from safepassage.models.clock import utcnow
from safepassage.models.errors import FieldProblem, IntakeInvalid
from safepassage.models.vocabulary import (
    IdentificationBasis,
    Need,
    Programme,
    RiskLevel,
    Sex,
)

#: The oldest plausible age; anything older is a typing mistake in the date of birth.
MAX_AGE_YEARS = 120


def reject_control_characters(value: str) -> str:
    """Refuse control characters: they hide text in terminals and break notification formats."""
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value):
        raise ValueError("must not contain control or formatting characters")
    return value


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(reject_control_characters),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(reject_control_characters),
]


def _country(value: str) -> str:
    code = value.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, for example RO")
    return code


def _language(value: str) -> str:
    code = value.lower()
    if len(code) != 2 or pycountry.languages.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 639-1 language code, for example ro")
    return code


CountryCode = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_country)]
LanguageCode = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_language)]
PhoneNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\+[1-9][0-9 ]{6,18}$"),
]


#: The validation context for reading a sealed intake back: structure only. Its dates were
#: checked against the day the case was taken in; checking them again against today would make
#: a stored case unreadable once a date passes (a passport that expires while the case waits),
#: and with it every stage, the reveal and the erasure. The checkpoint that uses a date checks it.
STORED: dict[str, bool] = {"stored": True}


def today_from(info: ValidationInfo) -> dt.date | None:
    """Return the validation's today (`context={"today": ...}`, else the clock's date).

    None when a stored record is read back (context STORED): no check against today then.
    """
    context = info.context if isinstance(info.context, dict) else {}
    if context.get("stored"):
        return None
    today = context.get("today")
    return today if isinstance(today, dt.date) else utcnow().date()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Beneficiary(_Strict):
    """Who is returning. Everything here is personal data and is only stored encrypted."""

    given_name: Text
    family_name: Text
    date_of_birth: dt.date
    sex: Sex
    nationality: CountryCode
    home_locality: Text
    preferred_language: LanguageCode
    phone: PhoneNumber | None = None

    @field_validator("date_of_birth")
    @classmethod
    def _plausible_birth(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        today = today_from(info)
        if today is None:
            return value
        if value > today:
            raise ValueError("must not be in the future (YYYY-MM-DD)")
        if today.year - value.year > MAX_AGE_YEARS:
            raise ValueError(f"implies an age over {MAX_AGE_YEARS}: check the year")
        return value


class Identification(_Strict):
    """The basis on which the person was identified as a victim, which decides eligibility."""

    basis: IdentificationBasis
    decision_reference: Text | None = None
    decided_on: dt.date | None = None
    evidence_provided: bool

    @field_validator("decided_on")
    @classmethod
    def _not_future(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        today = today_from(info)
        if value is not None and today is not None and value > today:
            raise ValueError("must not be in the future: enter the date the decision was made")
        return value


class Consent(_Strict):
    """The person's consents: to return, and separately to share data with each recipient."""

    voluntary_return: bool
    share_with_receiving_mission: bool
    share_with_embassy: bool = False
    recorded_on: dt.date

    @field_validator("recorded_on")
    @classmethod
    def _not_future(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        today = today_from(info)
        if today is not None and value > today:
            raise ValueError("must not be in the future: enter the date consent was recorded")
        return value


class TravelDocument(_Strict):
    """Whether the person can travel on a passport or needs an emergency travel document."""

    holds_valid_passport: bool
    passport_expires_on: dt.date | None = None

    @model_validator(mode="after")
    def _passport_dates_agree(self, info: ValidationInfo) -> TravelDocument:
        expires, today = self.passport_expires_on, today_from(info)
        if self.holds_valid_passport and expires and today is not None and expires < today:
            raise ValueError(
                "passport_expires_on is in the past while holds_valid_passport is true: "
                "set holds_valid_passport to false (an emergency travel document is needed) "
                "or correct the expiry date"
            )
        return self


class Intake(_Strict):
    """A case file as a coordinator submits it."""

    programme: Programme
    destination_country: CountryCode
    beneficiary: Beneficiary
    identification: Identification
    consent: Consent
    travel_document: TravelDocument
    needs: list[Need] = Field(default_factory=list, max_length=len(Need))
    risk_level: RiskLevel
    earliest_departure: dt.date

    @field_validator("needs")
    @classmethod
    def _unique_needs(cls, value: list[Need]) -> list[Need]:
        if len(set(value)) != len(value):
            raise ValueError("must not list the same need twice")
        return value

    def identifying_values(self) -> list[str]:
        """Return the values that would identify the person if they appeared in free text."""
        person, ident = self.beneficiary, self.identification
        values = [
            person.given_name,
            person.family_name,
            person.date_of_birth.isoformat(),
            person.home_locality,
            person.phone or "",
            ident.decision_reference or "",
        ]
        return [v for v in values if len(v) >= 3]

    def age_on(self, day: dt.date) -> int:
        """Return the beneficiary's age in whole years on `day`."""
        born = self.beneficiary.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# -- turning pydantic's errors into messages that name the field and never echo the value ----------

_EXPECTATIONS: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this form: remove it or check its spelling",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a text string",
    "list_type": "must be a list",
    "model_type": "must be an object with the documented fields",
    "dict_type": "must be an object with the documented fields",
    "date_type": "must be a date as YYYY-MM-DD",
    "date_parsing": "must be a real date as YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a real date as YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date as YYYY-MM-DD, without a time",
    "datetime_type": "must be a date and time in ISO 8601 with an offset",
    "datetime_parsing": "must be a date and time in ISO 8601 with an offset",
    "datetime_from_date_parsing": "must be a date and time in ISO 8601 with an offset",
    "timezone_aware": "must carry a time-zone offset, for example +00:00",
    "string_too_short": "must not be empty",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "decimal_type": "must be a number",
    "decimal_parsing": "must be a number",
    "string_pattern_mismatch": "has the wrong format",
    "json_invalid": "is not valid JSON",
}


def _expectation(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in {"enum", "literal_error"}:
        return f"must be one of {ctx.get('expected', 'the documented values')}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        bounds = {
            "greater_than": "more than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }
        limit = next(iter(ctx.values()), "the limit")
        return f"must be {bounds[kind]} {limit}"
    if kind == "value_error":
        # Our own validators write these messages, and never with the value in them.
        return str(ctx.get("error", "is not valid"))
    if kind == "string_pattern_mismatch" and error["loc"][-1:] == ("phone",):
        return "must be an international number starting with +, digits and spaces only"
    return _EXPECTATIONS.get(kind, "is not valid")


#: How an unknown key is shown: its text came from whoever wrote the file, and could be anything,
#: a name typed into the wrong place included. Only a key that is itself a known field name of
#: the form (a duplicate, or a field in the wrong section) or a near miss of one is shown.
UNKNOWN_KEY = "<unknown field>"


@functools.cache
def field_names(model: type[BaseModel]) -> frozenset[str]:
    """Return the field names of `model` and of every model nested in its fields."""
    names: set[str] = set()
    todo: list[Any] = [model]
    seen: set[Any] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            for name, info in current.model_fields.items():
                names.add(name)
                todo.append(info.annotation)
        else:
            todo.extend(typing.get_args(current))
    return frozenset(names)


def shown_key(key: str, known: frozenset[str]) -> str:
    """Return `key` if it is or nearly is a known field name, else a placeholder."""
    if key in known or difflib.get_close_matches(key, known, n=1, cutoff=0.75):
        return key
    return UNKNOWN_KEY


def problems_from(exc: ValidationError, model: type[BaseModel] | None = None) -> list[FieldProblem]:
    """Return one FieldProblem per pydantic error, naming the field path and what it expects.

    Parts of a path that are not field names of `model` (a key the writer invented) are shown
    only if they are a near miss of one; list positions are shown as they are.
    """
    known = field_names(model) if model is not None else frozenset()
    return problems_in(exc.errors(include_input=False, include_url=False), known)


def problems_in(errors: Iterable[Any], known: frozenset[str]) -> list[FieldProblem]:
    """Return one FieldProblem per error of pydantic's error list (as `problems_from`), for
    errors that come as a list (a web framework's request validation); `known` are the field
    names that may be shown. Only each error's location, type and context are read, never
    its input.
    """
    problems = []
    for error in errors:
        parts = [
            str(part) if isinstance(part, int) else shown_key(str(part), known)
            for part in error["loc"]
        ]
        problems.append(FieldProblem(".".join(parts), _expectation(error)))
    return problems


_REASON = TypeAdapter(LongText)


def reason_option(text: str) -> str:
    """Return a command's `--reason` as stored text, or raise IntakeInvalid naming --reason."""
    try:
        return _REASON.validate_python(text)
    except ValidationError as exc:
        raise IntakeInvalid(
            [FieldProblem("--reason", p.message) for p in problems_from(exc)], source="the command"
        ) from None


#: A case file is a page of JSON; anything far larger is a mistake or an attack.
MAX_DOCUMENT_BYTES = 256 * 1024
#: Forms are at most three levels deep; deeper nesting is refused before parsing.
MAX_NESTING = 32
#: No field of a form needs a longer number. Python refuses to turn a JSON integer of more than
#: 4300 digits into an int (a ValueError from deep inside json), and long ones cost time.
MAX_NUMBER_CHARACTERS = 40


class _RefusedNumber:
    """Stands in for a number too long or not finite, so that its field can be named."""


_REFUSED_NUMBER = _RefusedNumber()


def _parse_int(text: str) -> int | _RefusedNumber:
    return _REFUSED_NUMBER if len(text) > MAX_NUMBER_CHARACTERS else int(text)


def _parse_float(text: str) -> float | _RefusedNumber:
    if len(text) > MAX_NUMBER_CHARACTERS:
        return _REFUSED_NUMBER
    number = float(text)
    return number if math.isfinite(number) else _REFUSED_NUMBER  # 1e999 is infinite


def _parse_constant(_name: str) -> _RefusedNumber:
    # NaN, Infinity and -Infinity, which Python's json accepts though JSON has no such values.
    return _REFUSED_NUMBER


def _refused_number_paths(
    value: Any, known: frozenset[str], path: tuple[str, ...] = ()
) -> list[str]:
    """Return the dotted path of every refused number in a parsed document."""
    if value is _REFUSED_NUMBER:
        return [".".join(path)]
    if isinstance(value, dict):
        items: Iterator[tuple[str, Any]] = (
            (shown_key(str(key), known), item) for key, item in value.items()
        )
    elif isinstance(value, list):
        items = ((str(index), item) for index, item in enumerate(value))
    else:
        return []
    return [
        found for name, item in items for found in _refused_number_paths(item, known, (*path, name))
    ]


def _refuse_numbers(document: Any, *, source: str, model: type[BaseModel] | None) -> None:
    """Raise IntakeInvalid naming each field that holds a number too long or not finite."""
    paths = _refused_number_paths(document, field_names(model) if model else frozenset())
    if not paths:
        return
    problem = (
        f"must be a plain number of at most {MAX_NUMBER_CHARACTERS} characters (no NaN or Infinity)"
    )
    raise IntakeInvalid(
        [
            FieldProblem(path, problem) if path else FieldProblem("", f"{source} {problem}")
            for path in paths
        ],
        source=source,
    )


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def load_json_document(
    raw: bytes | str, *, source: str = "input", model: type[BaseModel] | None = None
) -> Any:
    """Parse a JSON document defensively: bounded size and depth, no duplicate keys.

    Raises IntakeInvalid with a message that names the problem (and the position for bad JSON),
    never the content.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_DOCUMENT_BYTES:
        raise IntakeInvalid(
            [FieldProblem("", f"{source} is larger than {MAX_DOCUMENT_BYTES // 1024} KiB")],
            source=source,
        )
    depth = deepest = 0
    for byte in data:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    # Brackets inside strings count too: the bound is generous enough for that.
    if deepest > MAX_NESTING:
        raise IntakeInvalid(
            [FieldProblem("", f"{source} nests deeper than {MAX_NESTING} levels")], source=source
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IntakeInvalid(
            [FieldProblem("", f"{source} is not UTF-8 text: save it as UTF-8 JSON")], source=source
        ) from None
    try:
        document = json.loads(
            text,
            object_pairs_hook=_refuse_duplicate_keys,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except _DuplicateKey as exc:
        raise IntakeInvalid(
            [
                FieldProblem(
                    shown_key(exc.key, field_names(model) if model else frozenset()),
                    "appears twice in the same object: keep one",
                )
            ],
            source=source,
        ) from None
    except json.JSONDecodeError as exc:
        raise IntakeInvalid(
            [
                FieldProblem(
                    "", f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno})"
                )
            ],
            source=source,
        ) from None
    except RecursionError:
        raise IntakeInvalid(
            [FieldProblem("", f"{source} nests too deeply")], source=source
        ) from None
    _refuse_numbers(document, source=source, model=model)
    return document


def parse_intake(raw: bytes | str, *, today: dt.date | None = None) -> Intake:
    """Parse and validate a case file; raise IntakeInvalid listing every problem."""
    document = load_json_document(raw, source="case file", model=Intake)
    if not isinstance(document, dict):
        raise IntakeInvalid(
            [FieldProblem("", "case file must be a JSON object with the intake fields")],
            source="case file",
        )
    try:
        return Intake.model_validate(document, context={"today": today or dt.date.today()})
    except ValidationError as exc:
        raise IntakeInvalid(problems_from(exc, Intake), source="case file") from None
