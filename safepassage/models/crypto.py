"""Envelope encryption of personal data: a data key per case, wrapped by the master key.

Each case's personal data is sealed with AES-256-GCM under the case's own random data key, and
the data key is stored wrapped (AES-256-GCM) by a version of the master key (see keyring.py).
Destroying the wrapped data key erases the case: its ciphertexts stay behind but no key opens
them. Destroying a master-key version does the same to every copy of a data key wrapped under
it, backups included. The associated data binds each ciphertext to its case, purpose and key
version, so a ciphertext copied to another case or slot fails to open instead of showing the
wrong person's data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from safepassage.models.errors import ConfigurationError, KeyUnavailable
from safepassage.models.keyring import (
    AUDIT_CHAIN,
    FINGERPRINT_INTAKE,
    KEY_BYTES,
    KeySource,
    KeyVersion,
)

NONCE_BYTES = 12
_FORMAT = b"\x01"  # leading version byte, so the format can change without guessing
_VERSIONED = b"\x02"  # a wrapped data key that names its master-key version
_VERSION_BYTES = 4


def _seal(key: bytes, plaintext: bytes, aad: bytes, *, form: bytes = _FORMAT) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return form + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if blob[:1] != _FORMAT:
        raise KeyUnavailable("ciphertext has an unknown format version")
    return _open_body(key, blob[1:], aad)


def _open_body(key: bytes, body: bytes, aad: bytes) -> bytes:
    nonce, sealed = body[:NONCE_BYTES], body[NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise KeyUnavailable("ciphertext does not open with this key") from None


def wrapped_version(wrapped: bytes) -> int:
    """Return the master-key version a wrapped data key was made under (1 for the old form)."""
    if wrapped[:1] == _VERSIONED:
        return int.from_bytes(wrapped[1 : 1 + _VERSION_BYTES], "big")
    return 1


def _data_key_aad(reference: str, version: int) -> bytes:
    return f"data-key:{reference}|v{version}".encode()


class MasterKey:
    """The office's master key: a ring of versions from a `KeySource`, plus its index keys.

    New data keys are wrapped under the newest version; any version the source still holds
    opens the data keys wrapped under it. The source is looked at again when it changes (a
    rotation by `keys rotate` or the daily retention run), so a running process picks up a new
    version without a restart.
    """

    def __init__(self, source: KeySource) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._mark: object = object()
        self._versions: dict[int, KeyVersion] = {}
        self._index: dict[str, bytes] = {}
        self.refresh()

    def refresh(self) -> None:
        """Read the source again if it changed since the last look."""
        mark = self.source.change_mark()
        with self._lock:
            if mark == self._mark and self._versions:
                return
            versions, index = self.source.load()
            if not versions:
                raise ConfigurationError(
                    f"{self.source.description} holds no key: restore it from its backup"
                )
            self._versions = {v.number: v for v in versions}
            self._index, self._mark = index, mark

    @property
    def versions(self) -> list[KeyVersion]:
        """Return the versions held, oldest first."""
        return [self._versions[n] for n in sorted(self._versions)]

    @property
    def current(self) -> KeyVersion:
        """Return the newest version, the one new data keys are wrapped under."""
        self.refresh()
        return self._versions[max(self._versions)]

    @property
    def key_id(self) -> str:
        """Return the current version's public id."""
        return self.current.key_id

    def index_key(self, purpose: str) -> bytes:
        """Return the (never rotated) index key for `purpose`."""
        try:
            return self._index[purpose]
        except KeyError:
            raise ConfigurationError(
                f"{self.source.description} lacks its {purpose} key: restore it from its backup"
            ) from None

    def fingerprint(self, purpose: str, data: bytes) -> str:
        """Return a keyed digest of `data`: equal inputs match, guesses cannot be checked offline.

        The key is an index key of the ring, so a digest kept in clear (to find a duplicate
        intake) is useless to anyone without the ring, and survives every rotation.
        """
        key = self.index_key(FINGERPRINT_INTAKE if purpose == "intake" else purpose)
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def chain_mac(self, data: bytes) -> str:
        """Return the audit chain's MAC of `data`, under a key the database does not hold."""
        return hmac.new(self.index_key(AUDIT_CHAIN), data, hashlib.sha256).hexdigest()

    def derived_key(self, label: str) -> bytes:
        """Return a key for `label` derived (HKDF) from the audit chain's index key.

        For a secret that must outlive a restart and be shared by every process of the office
        (the gateway's sign-in form tokens) without adding a key to every ring: HKDF's output
        is never an audit chain MAC, and tells nothing of the chain key.
        """
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=label.encode())
        return hkdf.derive(self.index_key(AUDIT_CHAIN))

    def new_case_key(self, reference: str) -> tuple[CaseCipher, bytes]:
        """Return a new data key's cipher for `reference`, and the key wrapped for storage."""
        data_key = secrets.token_bytes(KEY_BYTES)
        return CaseCipher(reference, data_key), self.wrap(reference, data_key)

    def wrap(self, reference: str, data_key: bytes, *, version: KeyVersion | None = None) -> bytes:
        """Wrap a case's data key under `version` (by default the current one)."""
        version = version or self.current
        form = _VERSIONED + version.number.to_bytes(_VERSION_BYTES, "big")
        return _seal(version.secret, data_key, _data_key_aad(reference, version.number), form=form)

    def unwrap(self, reference: str, wrapped: bytes) -> bytes:
        """Return a case's data key, or raise KeyUnavailable naming the missing version."""
        number = wrapped_version(wrapped)
        version = self._versions.get(number)
        if version is None:  # perhaps rotated in by another process since we last looked
            self.refresh()
            version = self._versions.get(number)
        if version is None:
            raise KeyUnavailable(
                f"the data key of case {reference} is wrapped under master-key version {number}, "
                f"which {self.source.description} no longer holds (retired): its personal data "
                "cannot be read"
            )
        try:
            if wrapped[:1] == _VERSIONED:
                body = wrapped[1 + _VERSION_BYTES :]
                return _open_body(version.secret, body, _data_key_aad(reference, number))
            return _open(version.secret, wrapped, b"data-key:" + reference.encode())
        except KeyUnavailable:
            raise KeyUnavailable(
                f"the data key of case {reference} does not open with master-key version "
                f"{number} of {self.source.description}: the key ring is not this store's"
            ) from None

    def case_cipher(self, reference: str, wrapped: bytes | None) -> CaseCipher:
        """Return the cipher of a case from its stored wrapped data key."""
        if wrapped is None:
            raise KeyUnavailable(f"case {reference} was erased: its personal data is unreadable")
        return CaseCipher(reference, self.unwrap(reference, wrapped))


@dataclass(frozen=True)
class CaseCipher:
    """Seals and opens one case's personal data under its data key."""

    reference: str
    data_key: bytes = field(repr=False)  # never in a log or a traceback's locals

    def _aad(self, purpose: str) -> bytes:
        return f"{self.reference}|{purpose}".encode()

    def seal(self, purpose: str, plaintext: bytes) -> bytes:
        """Encrypt `plaintext` for this case and `purpose` (for example "intake")."""
        return _seal(self.data_key, plaintext, self._aad(purpose))

    def open(self, purpose: str, blob: bytes) -> bytes:
        """Decrypt what `seal` produced for the same case and purpose."""
        return _open(self.data_key, blob, self._aad(purpose))


def decode_key(text: str, *, source: str) -> bytes:
    """Return the 32 bytes of a key written as url-safe base64, or raise naming `source`."""
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
