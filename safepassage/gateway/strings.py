"""What the gateway says to people, in one place, so a later translation changes no code."""

from __future__ import annotations

SIGN_IN_FAILED = "The name, password or code is not right, or the account is locked."
FORM_EXPIRED = "This form had expired. Please sign in again."
REFUSED = "This request was refused because it did not come from this site's own pages."
TOO_LARGE = "This request was too large."
COMING_LATER = (
    "The coordinators' Prefect screens and the mission portal will be reached from here later."
)
