"""Pseudonymous case references: the only identifier that may leave the case store.

A reference is the programme code and eight random characters (40 bits from `secrets`), in
Crockford's base32 so that it reads aloud without ambiguity: RO-7Q2K-4MXD. Nothing in it is
derived from the person, so it can travel in run names, logs and notifications.
"""

from __future__ import annotations

import re
import secrets

from safepassage.models.vocabulary import Programme

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PROGRAMMES = "|".join(p.value for p in Programme)
REFERENCE_PATTERN = re.compile(rf"^({_PROGRAMMES})-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


def new_reference(programme: Programme) -> str:
    """Return a fresh random reference for a case of `programme`."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{programme.value}-{body[:4]}-{body[4:]}"


def normalise_reference(text: str) -> str:
    """Return the reference in canonical form, or raise ValueError saying what one looks like."""
    candidate = text.strip().upper()
    if not REFERENCE_PATTERN.match(candidate):
        raise ValueError(
            "a case reference looks like RO-7Q2K-4MXD: programme, dash, four, dash, four characters"
        )
    return candidate
