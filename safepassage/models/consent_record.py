"""The person's consent to share their data, per recipient and purpose.

The person agrees (or not) separately for each recipient (the receiving mission, the embassy,
the service providers) and each purpose (reception, travel documents, reintegration services,
follow-up contact). The record keeps, for each pair asked about, whether they agreed, when, in
which language, whether an interpreter was used, and who recorded it. A pair with no entry was
never agreed to: no consent. Nothing here is the person's identity; the store keeps the record
in clear on the case row (every send reads it) under the case's state seal.

The case file's `consent` block fills the record: its `share_with_receiving_mission` stands for
the mission's reception, reintegration and follow-up contact, its `share_with_embassy` for the
embassy's travel documents (`CASE_FILE_PURPOSES`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import pycountry


class Recipient(StrEnum):
    """Who may receive the person's data; the values are part of the CLI's interface."""

    MISSION = "mission"
    EMBASSY = "embassy"
    PROVIDERS = "providers"


class Purpose(StrEnum):
    """What the data serves; the values are part of the CLI's interface."""

    RECEPTION = "reception"
    TRAVEL_DOCUMENTS = "travel-documents"
    REINTEGRATION = "reintegration"
    FOLLOWUP_CONTACT = "followup-contact"


class ConsentSource(StrEnum):
    """Where an entry was recorded."""

    CASE_FILE = "case-file"
    CLI = "cli"
    CHECKPOINT = "checkpoint"
    #: Filled from the case row's two flags when the record was introduced (migration 0010):
    #: when and how that consent was given is in the case file, not here.
    MIGRATION = "migration"


#: The purposes each of the case file's two consent flags stands for; the CLI's
#: `--share-with-mission` and `--share-with-embassy` set the same entries.
CASE_FILE_PURPOSES: Mapping[Recipient, tuple[Purpose, ...]] = {
    Recipient.MISSION: (Purpose.RECEPTION, Purpose.REINTEGRATION, Purpose.FOLLOWUP_CONTACT),
    Recipient.EMBASSY: (Purpose.TRAVEL_DOCUMENTS,),
}

#: The entry each of the case row's old yes/no columns now shows (`share_with_mission`: the
#: mission's reception; `share_with_embassy`: the embassy's travel documents).
FLAG_PURPOSES: Mapping[Recipient, Purpose] = {
    Recipient.MISSION: Purpose.RECEPTION,
    Recipient.EMBASSY: Purpose.TRAVEL_DOCUMENTS,
}

#: Who recorded an entry filled from the case row's flags by migration 0010 (it was not kept).
MIGRATED_BY = "unknown: from the case's consent flags"

#: Longest `recorded_by` kept: an operator's or account's name, as the event log's actor.
RECORDED_BY_MAX = 120


def language_code(text: str) -> str:
    """Return `text` as an ISO 639-1 language code, or raise ValueError (not naming it)."""
    code = text.strip().lower()
    if len(code) != 2 or pycountry.languages.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 639-1 language code, for example ro")
    return code


@dataclass(frozen=True)
class ConsentEntry:
    """One answer of the person, for one recipient and one purpose.

    `recorded_on` is None only for an entry migrated from the case's flags (the date is in the
    sealed case file); `language` is None when not known (the case file does not say which
    language consent was given in; the beneficiary's preferred language need not be it).
    """

    agreed: bool
    recorded_on: dt.date | None
    language: str | None
    interpreter_used: bool
    recorded_by: str
    source: ConsentSource

    def stored(self) -> dict[str, Any]:
        """Return the entry as the JSON the case row stores."""
        return {
            "agreed": self.agreed,
            "recorded_on": None if self.recorded_on is None else self.recorded_on.isoformat(),
            "language": self.language,
            "interpreter_used": self.interpreter_used,
            "recorded_by": self.recorded_by,
            "source": self.source.value,
        }

    @classmethod
    def from_stored(cls, data: Any) -> ConsentEntry:
        """Read an entry back from the case row; ValueError if it does not fit."""
        if not isinstance(data, Mapping):
            raise ValueError("a consent entry must be an object")
        agreed, interpreter = data.get("agreed"), data.get("interpreter_used")
        recorded_on, language = data.get("recorded_on"), data.get("language")
        recorded_by, source = data.get("recorded_by"), data.get("source")
        if not isinstance(agreed, bool) or not isinstance(interpreter, bool):
            raise ValueError("agreed and interpreter_used must be true or false")
        if not isinstance(recorded_by, str) or not (language is None or isinstance(language, str)):
            raise ValueError("recorded_by and language must be text")
        if not (recorded_on is None or isinstance(recorded_on, str)):
            raise ValueError("recorded_on must be a date as YYYY-MM-DD")
        if not isinstance(source, str):
            raise ValueError("source must be text")
        return cls(
            agreed=agreed,
            recorded_on=None if recorded_on is None else dt.date.fromisoformat(recorded_on),
            language=language,
            interpreter_used=interpreter,
            recorded_by=recorded_by,
            source=ConsentSource(source),
        )


Pair = tuple[Recipient, Purpose]


def _key(recipient: Recipient, purpose: Purpose) -> str:
    return f"{recipient.value}/{purpose.value}"


@dataclass(frozen=True)
class ConsentRecord:
    """The person's consent per (recipient, purpose); a pair without an entry is no consent."""

    entries: Mapping[Pair, ConsentEntry] = field(default_factory=dict)

    def agrees(self, recipient: Recipient, purpose: Purpose) -> bool:
        """Return whether the person agreed to share with `recipient` for `purpose`.

        The one rule every send and every disclosure applies (through the store's
        `consents_to`): only an entry saying yes is consent; no entry is no.
        """
        entry = self.entries.get((recipient, purpose))
        return entry is not None and entry.agreed

    def entry(self, recipient: Recipient, purpose: Purpose) -> ConsentEntry | None:
        """Return the entry for the pair, or None if the person was never asked."""
        return self.entries.get((recipient, purpose))

    def with_entry(
        self, recipient: Recipient, purpose: Purpose, entry: ConsentEntry
    ) -> ConsentRecord:
        """Return the record with the pair's entry set to `entry`."""
        return replace(self, entries={**self.entries, (recipient, purpose): entry})

    def stored(self) -> dict[str, Any]:
        """Return the record as the JSON the case row stores (and its state seal covers)."""
        return {_key(r, p): entry.stored() for (r, p), entry in self._in_order()}

    @classmethod
    def from_stored(cls, data: Any) -> ConsentRecord:
        """Read the record back from the case row.

        An entry that cannot be read (an unknown recipient or purpose, a damaged value) is
        left out: it grants nothing. Such a row also fails its state seal, which delivery and
        `audit verify` check.
        """
        entries: dict[Pair, ConsentEntry] = {}
        if not isinstance(data, Mapping):
            return cls(entries)
        for key, value in data.items():
            try:
                recipient, purpose = str(key).split("/", 1)
                pair = (Recipient(recipient), Purpose(purpose))
                entries[pair] = ConsentEntry.from_stored(value)
            except ValueError:
                continue
        return cls(entries)

    @classmethod
    def from_case_file(
        cls,
        *,
        share_with_receiving_mission: bool,
        share_with_embassy: bool,
        recorded_on: dt.date,
        recorded_by: str,
    ) -> ConsentRecord:
        """Return the record the case file's `consent` block gives (see CASE_FILE_PURPOSES).

        The language is not known: the case file does not say which language consent was
        given in. The service providers are not asked by the case file: no consent.
        """
        agreed = {
            Recipient.MISSION: share_with_receiving_mission,
            Recipient.EMBASSY: share_with_embassy,
        }
        return cls(
            {
                (recipient, purpose): ConsentEntry(
                    agreed=agreed[recipient],
                    recorded_on=recorded_on,
                    language=None,
                    interpreter_used=False,
                    recorded_by=recorded_by[:RECORDED_BY_MAX],
                    source=ConsentSource.CASE_FILE,
                )
                for recipient, purposes in CASE_FILE_PURPOSES.items()
                for purpose in purposes
            }
        )

    @classmethod
    def from_flags(cls, *, share_with_mission: bool, share_with_embassy: bool) -> ConsentRecord:
        """Return the record migration 0010 filled from a case row's two flags.

        Wholly given by the flags, so that a row's state seal written before the record
        existed still vouches for it (store/state_seal.py).
        """
        agreed = {Recipient.MISSION: share_with_mission, Recipient.EMBASSY: share_with_embassy}
        return cls(
            {
                (recipient, purpose): ConsentEntry(
                    agreed=agreed[recipient],
                    recorded_on=None,
                    language=None,
                    interpreter_used=False,
                    recorded_by=MIGRATED_BY,
                    source=ConsentSource.MIGRATION,
                )
                for recipient, purposes in CASE_FILE_PURPOSES.items()
                for purpose in purposes
            }
        )

    def flags(self) -> dict[str, bool]:
        """Return the case row's old yes/no columns as this record sets them (FLAG_PURPOSES)."""
        return {
            "share_with_mission": self.agrees(Recipient.MISSION, FLAG_PURPOSES[Recipient.MISSION]),
            "share_with_embassy": self.agrees(Recipient.EMBASSY, FLAG_PURPOSES[Recipient.EMBASSY]),
        }

    def rows(self) -> list[dict[str, Any]]:
        """Return the entries for display, as JSON-ready values, in recipient and purpose order."""
        return [
            {
                "recipient": recipient.value,
                "purpose": purpose.value,
                "agreed": entry.agreed,
                "recorded_on": None if entry.recorded_on is None else entry.recorded_on.isoformat(),
                "language": entry.language,
                "interpreter_used": entry.interpreter_used,
                "recorded_by": entry.recorded_by,
                "source": entry.source.value,
            }
            for (recipient, purpose), entry in self._in_order()
        ]

    def _in_order(self) -> Iterable[tuple[Pair, ConsentEntry]]:
        order = {pair: n for n, pair in enumerate((r, p) for r in Recipient for p in Purpose)}
        return sorted(self.entries.items(), key=lambda item: order[item[0]])
