"""Envelope encryption of personal data: a data key per case, wrapped by the master key.

Each case's personal data is sealed with AES-256-GCM under the case's own random data key, and
the data key is stored wrapped (AES-256-GCM) by the master key. Destroying the wrapped data key
erases the case: its ciphertexts stay behind but no key, not even the master key, opens them.
The associated data binds each ciphertext to its case and purpose, so a ciphertext copied to
another case or slot fails to open instead of showing the wrong person's data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from safepassage.models.errors import ConfigurationError, KeyUnavailable
from safepassage.models.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
_FORMAT = b"\x01"  # leading version byte, so the format can change without guessing


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return _FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if blob[:1] != _FORMAT:
        raise KeyUnavailable("ciphertext has an unknown format version")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise KeyUnavailable("ciphertext does not open with this key") from None


@dataclass(frozen=True)
class MasterKey:
    """The key that wraps every case's data key; `key_id` identifies it without revealing it."""

    secret: bytes

    @property
    def key_id(self) -> str:
        """Return a short fingerprint that tells which master key wrapped a data key."""
        return hashlib.sha256(b"safepassage-key-id" + self.secret).hexdigest()[:16]

    def fingerprint(self, purpose: str, data: bytes) -> str:
        """Return a keyed digest of `data`: equal inputs match, guesses cannot be checked offline.

        The HMAC key is derived from the master key for `purpose`, so a digest kept in clear
        (to find a duplicate intake) is useless to anyone without the master key.
        """
        key = hmac.new(self.secret, b"fingerprint:" + purpose.encode(), hashlib.sha256).digest()
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def new_case_key(self, reference: str) -> tuple[CaseCipher, bytes]:
        """Return a new data key's cipher for `reference`, and the key wrapped for storage."""
        data_key = secrets.token_bytes(KEY_BYTES)
        wrapped = _seal(self.secret, data_key, b"data-key:" + reference.encode())
        return CaseCipher(reference, data_key), wrapped

    def case_cipher(self, reference: str, wrapped: bytes | None) -> CaseCipher:
        """Return the cipher of a case from its stored wrapped data key."""
        if wrapped is None:
            raise KeyUnavailable(f"case {reference} was erased: its personal data is unreadable")
        try:
            data_key = _open(self.secret, wrapped, b"data-key:" + reference.encode())
        except KeyUnavailable:
            raise KeyUnavailable(
                f"the data key of case {reference} does not open with the configured master key: "
                "check SAFEPASSAGE_MASTER_KEY"
            ) from None
        return CaseCipher(reference, data_key)


@dataclass(frozen=True)
class CaseCipher:
    """Seals and opens one case's personal data under its data key."""

    reference: str
    data_key: bytes

    def _aad(self, purpose: str) -> bytes:
        return f"{self.reference}|{purpose}".encode()

    def seal(self, purpose: str, plaintext: bytes) -> bytes:
        """Encrypt `plaintext` for this case and `purpose` (for example "intake")."""
        return _seal(self.data_key, plaintext, self._aad(purpose))

    def open(self, purpose: str, blob: bytes) -> bytes:
        """Decrypt what `seal` produced for the same case and purpose."""
        return _open(self.data_key, blob, self._aad(purpose))


def _decode_key(text: str, *, source: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode() + b"==")
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigurationError(
            f"{source} must be the url-safe base64 of {KEY_BYTES} random bytes; "
            "make one with `safepassage keygen`"
        )
    return raw


def generate_key_text() -> str:
    """Return a new master key as the text SAFEPASSAGE_MASTER_KEY expects."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def _stderr_notice(message: str) -> None:
    print(message, file=sys.stderr)


def load_master_key(
    settings: Settings, *, notice: Callable[[str], None] = _stderr_notice
) -> MasterKey:
    """Return the master key: SAFEPASSAGE_MASTER_KEY, else the key file, created on first use."""
    if settings.master_key is not None:
        return MasterKey(
            _decode_key(settings.master_key.get_secret_value(), source="SAFEPASSAGE_MASTER_KEY")
        )
    path = settings.key_file
    if path.exists():
        _check_owner_only(path)
        return MasterKey(_decode_key(path.read_text(), source=f"the key file {path}"))
    return MasterKey(_create_key_file(path, notice))


def _check_owner_only(path: Path) -> None:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise ConfigurationError(
            f"the key file {path} is readable by others: run `chmod 600 {path}`"
        )


def _create_key_file(path: Path, notice: Callable[[str], None]) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = generate_key_text()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _decode_key(path.read_text(), source=f"the key file {path}")
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    notice(
        f"safepassage: created a master key file at {path} (owner-only). Back it up: without it "
        "no personal data in this store can be read. In production set SAFEPASSAGE_MASTER_KEY."
    )
    return _decode_key(text, source=f"the key file {path}")
