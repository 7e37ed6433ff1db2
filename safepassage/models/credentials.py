"""Sign-in secrets: passwords (argon2id), the TOTP second factor, and mission API tokens.

Nothing here touches the store: these are the primitives the accounts and tokens tables use.
Every secret is made here from `secrets` (the operating system's random source) and shown to
the operator once; the store keeps only a hash, or the TOTP secret sealed.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets

import pyotp
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

ISSUER = "SafePassage"
#: RFC 6238's defaults, which every authenticator app assumes when the URI does not say.
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
#: Steps either side of now that are accepted: a phone's clock a little off, or a code typed
#: just as it changed. Wider would give a stolen code longer to be used.
TOTP_DRIFT_STEPS = 1

#: Lower-case letters and digits without the look-alikes 0/o and 1/l: read aloud or copied
#: by hand without mistakes. 32 symbols, so each is 5 random bits.
_SYMBOLS = "23456789abcdefghijkmnpqrstuvwxyz"
_PASSWORD_GROUPS, _GROUP_LENGTH = 5, 5  # 25 symbols: 125 random bits
#: Longer typed passwords are refused unhashed, so no one can make the server hash megabytes.
MAX_PASSWORD_LENGTH = 1024

# argon2id with argon2-cffi's defaults: RFC 9106's second recommended profile (64 MiB, 3
# passes, 4 lanes), about 50 ms per hash on the office's machines.
_HASHER = PasswordHasher(type=Type.ID)

#: Says what a leaked string is (a SafePassage mission token), for secret scanners and people.
TOKEN_PREFIX = "spm_"  # noqa: S105 - a prefix, not a secret
_TOKEN_BYTES = 32


def new_password() -> str:
    """Return a random initial password, for example `k7dfa-3mzqe-...` (125 bits)."""
    symbols = "".join(secrets.choice(_SYMBOLS) for _ in range(_PASSWORD_GROUPS * _GROUP_LENGTH))
    groups = [symbols[i : i + _GROUP_LENGTH] for i in range(0, len(symbols), _GROUP_LENGTH)]
    return "-".join(groups)


def hash_password(password: str) -> str:
    """Return the argon2id hash of `password` (the PHC string: salt and parameters included)."""
    return _HASHER.hash(password)


def password_matches(hashed: str, password: str) -> bool:
    """Return whether `password` is the one `hashed` was made from."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    """Return whether `hashed` was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(hashed)


@functools.cache
def _decoy_hash() -> str:
    return hash_password(new_password())


def spend_a_password_check(password: str) -> None:
    """Take as long as checking a real password: a name that is no account must not answer
    faster than one that is, or timing alone would tell which names have accounts."""
    password_matches(_decoy_hash(), password)


def new_totp_secret() -> str:
    """Return a new random TOTP secret (base32, 160 bits)."""
    return pyotp.random_base32()


def totp_uri(secret: str, account: str) -> str:
    """Return the `otpauth://` URI an authenticator app enrols from (as a QR code or text)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def current_step(now: dt.datetime) -> int:
    """Return the TOTP time step `now` falls in."""
    return int(now.timestamp()) // TOTP_STEP_SECONDS


def matched_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """Return the time step whose code `code` is (within the drift allowed), or None.

    The step, not a yes or no: the caller keeps the last step used so that a code (or any
    earlier one) is accepted once per account.
    """
    typed = code.replace(" ", "")
    if len(typed) != TOTP_DIGITS or not (typed.isascii() and typed.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = current_step(now)
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * TOTP_STEP_SECONDS), typed):
            return step
    return None


def new_token() -> str:
    """Return a new mission API token: the prefix and 256 random bits, url-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def token_digest(token: str) -> str:
    """Return what the store keeps of a token: its SHA-256, in hex.

    A plain hash, not argon2: a token is 256 random bits, so there is nothing to guess and
    nothing a slow hash would protect (a slow hash is for passwords people choose). A plain
    hash can be looked up by index, and costs an API request microseconds, not 50 ms.
    """
    return hashlib.sha256(token.encode()).hexdigest()
