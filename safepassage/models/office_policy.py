"""The UK office's own policy file: where the office decides what the programmes leave open.

The programme descriptions say who each programme takes; they do not say everything a decision
needs (a consular identification in Bulgaria, a child, a high risk, which embassies are told of
a return). Those rules are the office's, and the office can change their outcome without code,
in the file `SAFEPASSAGE_OFFICE_POLICY` names (TOML, or JSON with the same keys):

    version = "2027-01"                 # recorded in every decision made under it

    [outcomes]                          # office rules only: eligible | needs_review | ineligible
    bg-consular = "needs_review"

    [embassy_liaison]                   # programmes whose embassy is told of each return
    HU = false

    [grant_ceiling_chf]                 # the most a reintegration grant may reach, increases
    HU = 4500                           # included (the programme names no ceiling)

A programme's own rule cannot be set here: the file is refused, as is any other mistake, with
the key at fault and how to fix it, never a value from the file. Which rules are whose is the
rule table's business (models/rules.py); this module only reads and checks the file against it.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from safepassage.models.errors import ConfigurationError
from safepassage.models.vocabulary import Outcome, Programme

SETTING = "SAFEPASSAGE_OFFICE_POLICY"
#: The version decisions record when no policy file is configured.
DEFAULT_VERSION = "default"
#: An office policy is a few lines; anything much larger is the wrong file.
MAX_POLICY_BYTES = 64 * 1024
#: A version goes into every decision and the audit log: a short code, never free text.
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,39}")
_TOP_KEYS = ("version", "outcomes", "embassy_liaison", "grant_ceiling_chf")
#: How an error names a key the policy does not know: the file's own words are not repeated,
#: since a key in the wrong place may be anything (a value pasted as a key, a name).
_UNKNOWN = "<unknown key>"
_HOW_TO_FIX = (
    f"fix the file, or unset {SETTING} to use the built-in defaults (docs/programme-rules.md)"
)


@dataclass(frozen=True)
class OfficePolicy:
    """The office's choices: outcomes of office rules and embassy liaison, both as overrides.

    Whatever the policy leaves out keeps the rule table's default.
    """

    version: str = DEFAULT_VERSION
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)
    embassy_liaison: Mapping[Programme, bool] = field(default_factory=dict)
    grant_ceiling_chf: Mapping[Programme, Decimal] = field(default_factory=dict)

    def grant_ceiling(self, programme: Programme | str) -> Decimal | None:
        """Return the most `programme`'s grant may reach, or None if it has no grant."""
        programme = Programme(programme)
        if programme not in GRANT_PROGRAMMES:
            return None
        return self.grant_ceiling_chf.get(programme, DEFAULT_GRANT_CEILING_CHF)


#: The programmes with a reintegration grant (Hungary: CHF 1,500 in kind, "can later be
#: increased"). The programme names no ceiling; the office's default is three times the base.
#: The programmes' own base grant (rules.py cites it), the floor of any ceiling.
BASE_GRANT_CHF: Mapping[Programme, Decimal] = {Programme.HU: Decimal(1500)}
GRANT_PROGRAMMES = frozenset(BASE_GRANT_CHF)
DEFAULT_GRANT_CEILING_CHF = Decimal(4500)
#: A ceiling above this is a typing mistake, not a policy.
MAX_GRANT_CEILING_CHF = Decimal(100000)


DEFAULT_POLICY = OfficePolicy()


@dataclass(frozen=True)
class Settable:
    """What a policy may set, and what it may not, as the rule table says."""

    office_rules: Collection[str]
    programme_rules: Collection[str]
    embassy_office: Collection[Programme]
    embassy_programme: Collection[Programme]


def read_office_policy(path: Path, settable: Settable) -> OfficePolicy:
    """Read and check the policy file at `path`, or raise ConfigurationError naming the fault."""
    suffix = path.suffix.lower()
    if suffix not in {".toml", ".json"}:
        raise _bad(["the file must be TOML (.toml) or JSON (.json)"])
    text = _read_text(path)
    document = _parse_toml(text) if suffix == ".toml" else _parse_json(text)
    return parse_office_policy(document, settable)


def parse_office_policy(document: Mapping[str, Any], settable: Settable) -> OfficePolicy:
    """Check a parsed policy document; raise ConfigurationError listing every problem."""
    problems: list[str] = []
    keys = ", ".join(_TOP_KEYS)
    for key in document:
        if key not in _TOP_KEYS:
            problems.append(f"{_UNKNOWN}: the office policy has no such key; use {keys}")
    version = _version(document.get("version"), problems)
    outcomes = _outcomes(document.get("outcomes", {}), settable, problems)
    liaison = _liaison(document.get("embassy_liaison", {}), settable, problems)
    ceilings = _ceilings(document.get("grant_ceiling_chf", {}), problems)
    if problems:
        raise _bad(problems)
    return OfficePolicy(
        version=version, outcomes=outcomes, embassy_liaison=liaison, grant_ceiling_chf=ceilings
    )


def _version(value: object, problems: list[str]) -> str:
    if value is None:
        problems.append('version: missing; give the policy a version, e.g. version = "2027-01"')
    elif not isinstance(value, str) or not _VERSION.fullmatch(value):
        problems.append(
            "version: must be 1 to 40 letters, digits or . _ : + - (starting with a letter or "
            'digit), e.g. "2027-01"'
        )
    elif value == DEFAULT_VERSION:
        problems.append(
            f'version: "{DEFAULT_VERSION}" names the built-in defaults; give the file its own'
        )
    else:
        return value
    return DEFAULT_VERSION


def _outcomes(value: object, settable: Settable, problems: list[str]) -> dict[str, Outcome]:
    if not isinstance(value, Mapping):
        problems.append("outcomes: must be a table of rule id = outcome")
        return {}
    office = ", ".join(sorted(settable.office_rules))
    choices = ", ".join(o.value for o in Outcome)
    found: dict[str, Outcome] = {}
    for key, outcome in value.items():
        known = key in settable.programme_rules or key in settable.office_rules
        where = f"outcomes.{key if known else _UNKNOWN}"
        if key in settable.programme_rules:
            problems.append(
                f"{where}: is the programme's own rule; the office policy cannot change it "
                f"(office rules: {office})"
            )
        elif key not in settable.office_rules:
            problems.append(f"{where}: no rule has this id; office rules: {office}")
        elif not isinstance(outcome, str) or outcome not in {o.value for o in Outcome}:
            problems.append(f"{where}: must be one of {choices}")
        else:
            found[key] = Outcome(outcome)
    return found


def _liaison(value: object, settable: Settable, problems: list[str]) -> dict[Programme, bool]:
    if not isinstance(value, Mapping):
        problems.append("embassy_liaison: must be a table of programme = true or false")
        return {}
    office = ", ".join(p.value for p in Programme if p in settable.embassy_office)
    found: dict[Programme, bool] = {}
    for key, notify in value.items():
        programme = Programme(key) if key in {p.value for p in Programme} else None
        where = f"embassy_liaison.{_UNKNOWN if programme is None else programme.value}"
        if programme in settable.embassy_programme:
            problems.append(
                f"{where}: the programme itself names liaison with its embassy; the office "
                f"policy cannot change it (the office decides for {office})"
            )
        elif programme is None or programme not in settable.embassy_office:
            problems.append(f"{where}: no such programme; use {office}")
        elif not isinstance(notify, bool):
            problems.append(f"{where}: must be true or false")
        else:
            found[programme] = notify
    return found


def _ceilings(value: object, problems: list[str]) -> dict[Programme, Decimal]:
    if not isinstance(value, Mapping):
        problems.append("grant_ceiling_chf: must be a table of programme = amount in CHF")
        return {}
    with_grant = ", ".join(sorted(p.value for p in GRANT_PROGRAMMES))
    found: dict[Programme, Decimal] = {}
    for key, amount in value.items():
        programme = Programme(key) if key in {p.value for p in GRANT_PROGRAMMES} else None
        where = f"grant_ceiling_chf.{_UNKNOWN if programme is None else programme.value}"
        if programme is None:
            problems.append(f"{where}: no programme with a grant has this name; use {with_grant}")
        elif isinstance(amount, bool) or not isinstance(amount, int | float):
            problems.append(f"{where}: must be a number of CHF")
        elif not BASE_GRANT_CHF[programme] <= Decimal(str(amount)) <= MAX_GRANT_CEILING_CHF:
            problems.append(
                f"{where}: must be at least the programme's base grant "
                f"({BASE_GRANT_CHF[programme]}) and at most {MAX_GRANT_CEILING_CHF}"
            )
        else:
            found[programme] = Decimal(str(amount))
    return found


def _bad(problems: list[str]) -> ConfigurationError:
    return ConfigurationError(
        f"bad setting: {SETTING}: " + "; ".join(problems) + f"; {_HOW_TO_FIX}"
    )


def _read_text(path: Path) -> str:
    try:
        # Without blocking, and only a regular file: a FIFO would hang, a device never end.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _bad(["the file does not exist"]) from None
    except PermissionError:
        raise _bad(["the file cannot be read (permission denied)"]) from None
    except OSError as exc:
        raise _bad([f"the file cannot be read ({exc.strerror})"]) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _bad(["not a regular file (a folder, pipe or device): name the policy file"])
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_POLICY_BYTES + 1)
    if len(data) > MAX_POLICY_BYTES:
        raise _bad([f"the file is larger than {MAX_POLICY_BYTES // 1024} KiB"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(["the file is not UTF-8 text"]) from None


def _parse_toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The parser's message can quote the file; only where it failed is repeated.
        where = re.search(r"\(at (line \d+, column \d+|end of document)\)", str(exc))
        raise _bad([f"not valid TOML ({where.group(1) if where else 'see the file'})"]) from None


def _parse_json(text: str) -> dict[str, Any]:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        for key in keys:
            if keys.count(key) > 1:
                known = key in _TOP_KEYS or key in {p.value for p in Programme}
                raise _bad([f"{key if known else _UNKNOWN}: given twice"])
        return dict(pairs)

    try:
        document = json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise _bad([f"not valid JSON (line {exc.lineno}, column {exc.colno})"]) from None
    if not isinstance(document, dict):
        raise _bad(["the file must hold one JSON object"])
    return document
