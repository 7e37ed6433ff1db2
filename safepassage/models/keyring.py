"""Where the master keys live: a ring of numbered versions, kept apart from the data.

Erasure destroys a case's wrapped data key in the live store, but a backup taken before the
erasure still holds it. The guarantee that reaches backups comes from the ring: every live
case's data key is re-wrapped under a new version each day (`rotate`), and a version that has
been superseded for longer than the backup window is destroyed (`retire`). A backup then holds
only data keys wrapped under versions that no longer exist.

A ring comes from a `KeySource`. Two ship with SafePassage:

- `DirectoryKeySource` (the default): one owner-only file per version in a folder that is not
  the data folder (by default `<home>-keys`, beside `SAFEPASSAGE_HOME`, so a backup of the data
  carries no key), set with SAFEPASSAGE_KEY_RING. In production that folder is a writable,
  access-controlled volume shared by every machine of the office (rotation writes to it).
- `EnvironmentKeySource`: SAFEPASSAGE_MASTER_KEY, one fixed key. It cannot rotate, so erasure
  does not reach backups under it; `keys rotate` says so.

An office with a key management service implements `KeySource` over it (HashiCorp Vault's KV
store or transit engine, AWS KMS or Azure Key Vault holding the versions); nothing else changes.

Besides the versions, a ring holds named *index keys* that never rotate: the key of the intake
fingerprint (finding a duplicate intake) and the key of the audit chain's MACs. Neither can
open personal data, so keeping them does not weaken erasure.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from safepassage.models.errors import ConfigurationError

KEY_BYTES = 32
FINGERPRINT_INTAKE = "fingerprint:intake"
AUDIT_CHAIN = "audit-chain"
INDEX_PURPOSES = (FINGERPRINT_INTAKE, AUDIT_CHAIN)


@dataclass(frozen=True)
class KeyVersion:
    """One master-key version: its number, its secret and when it was made."""

    number: int
    secret: bytes = field(repr=False)  # never in a log or a traceback's locals
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def key_id(self) -> str:
        """Return a short fingerprint that tells which key this is without revealing it."""
        return key_id_of(self.secret)


def key_id_of(secret: bytes) -> str:
    """Return the public id of a key secret (the same formula the store has always recorded)."""
    return hashlib.sha256(b"safepassage-key-id" + secret).hexdigest()[:16]


def legacy_index_keys(secret: bytes) -> dict[str, bytes]:
    """Return the index keys a store made under one master key has always used.

    Before the ring, the fingerprint key was derived from the master key as below; deriving it
    the same way keeps every stored fingerprint valid, and the derived key cannot open data.
    """
    return {
        purpose: hmac.new(secret, purpose.encode(), hashlib.sha256).digest()
        for purpose in INDEX_PURPOSES
    }


class KeySource(Protocol):
    """Where a ring's versions and index keys are kept; what a KMS adapter implements."""

    description: str
    """Names the source in messages (a path or a setting, never a key)."""

    rotatable: bool
    """Whether versions can be added and destroyed (False for one fixed key)."""

    def load(self) -> tuple[list[KeyVersion], dict[str, bytes]]:
        """Return every version held, oldest first, and the index keys by purpose."""
        ...

    def change_mark(self) -> object:
        """Return a cheap value that changes whenever the source's versions change."""
        ...

    def create(self, index_keys: dict[str, bytes], first: bytes | None = None) -> None:
        """Make a new ring with version 1 (`first`, or a new random key) and the index keys."""
        ...

    def add_version(self) -> KeyVersion:
        """Make and keep a new version, numbered one above the newest; return it."""
        ...

    def destroy(self, number: int) -> None:
        """Destroy version `number` so that no copy of the source holds it any more."""
        ...

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the source's lock: one rotation or retirement at a time across processes."""
        yield


class EnvironmentKeySource:
    """SAFEPASSAGE_MASTER_KEY: one fixed version that cannot rotate."""

    rotatable = False
    description = "SAFEPASSAGE_MASTER_KEY"

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def load(self) -> tuple[list[KeyVersion], dict[str, bytes]]:
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return [KeyVersion(1, self._secret, epoch)], legacy_index_keys(self._secret)

    def change_mark(self) -> object:
        return None

    def create(self, index_keys: dict[str, bytes], first: bytes | None = None) -> None:
        raise self._fixed()

    def add_version(self) -> KeyVersion:
        raise self._fixed()

    def destroy(self, number: int) -> None:
        raise self._fixed()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        yield

    def _fixed(self) -> ConfigurationError:
        return ConfigurationError(
            "SAFEPASSAGE_MASTER_KEY holds one fixed key, which cannot rotate or retire: to move to "
            "a key ring, write that key to SAFEPASSAGE_HOME/master.key (chmod 600) and unset "
            "SAFEPASSAGE_MASTER_KEY; the next start moves it into the ring (SAFEPASSAGE_KEY_RING) "
            "as version 1. See docs/data-protection.md"
        )


class DirectoryKeySource:
    """A folder of owner-only files: `v000001.key` per version and `index.key`.

    Each file is JSON written to a temporary name and renamed, so a reader never sees half a
    key. Destroying a version overwrites its file before unlinking it.
    """

    rotatable = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"the key ring {path}"

    def _version_files(self) -> list[Path]:
        return sorted(self.path.glob("v*.key"))

    def load(self) -> tuple[list[KeyVersion], dict[str, bytes]]:
        if not self.path.is_dir():
            return [], {}
        self._check_private()
        versions = [v for v in map(self._read_version_if_there, self._version_files()) if v]
        index_path = self.path / "index.key"
        index: dict[str, bytes] = {}
        if index_path.exists():
            raw = self._read_json(index_path)
            index = {name: _decode(text, index_path) for name, text in raw.items()}
        return sorted(versions, key=lambda v: v.number), index

    def change_mark(self) -> object:
        try:
            return self.path.stat().st_mtime_ns, tuple(p.name for p in self._version_files())
        except FileNotFoundError:
            return None

    def create(self, index_keys: dict[str, bytes], first: bytes | None = None) -> None:
        private_folder(self.path)
        self._write(self.path / "index.key", {k: _encode(v) for k, v in index_keys.items()})
        self._write_version(KeyVersion(1, first or secrets.token_bytes(KEY_BYTES), _now()))

    def add_version(self) -> KeyVersion:
        versions, _ = self.load()
        number = (versions[-1].number if versions else 0) + 1
        version = KeyVersion(number, secrets.token_bytes(KEY_BYTES), _now())
        self._write_version(version)
        return version

    def destroy(self, number: int) -> None:
        path = self.path / _version_name(number)
        # Out of readers' sight first (they list `v*.key`), so none reads a half-overwritten
        # file, and a crash midway leaves no damaged version behind, only this name to finish.
        doomed = self.path / f".destroying-{path.name}"
        with contextlib.suppress(FileNotFoundError):
            path.rename(doomed)
        _fsync_dir(self.path)
        for leftover in self.path.glob(".destroying-*"):
            shred(leftover)
        _fsync_dir(self.path)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        private_folder(self.path)
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _check_private(self) -> None:
        if os.name == "posix" and self.path.stat().st_mode & 0o077:
            raise ConfigurationError(
                f"the key ring {self.path} is open to other users: run `chmod 700 {self.path}`"
            )

    def _read_version_if_there(self, path: Path) -> KeyVersion | None:
        if not path.exists():  # destroyed since the folder was listed
            return None
        return self._read_version(path)

    def _read_version(self, path: Path) -> KeyVersion:
        raw = self._read_json(path)
        try:
            number, created = int(raw["version"]), dt.datetime.fromisoformat(raw["created"])
        except (KeyError, TypeError, ValueError):
            raise ConfigurationError(f"the key file {path} is damaged: restore it") from None
        return KeyVersion(number, _decode(str(raw.get("key", "")), path), created)

    def _read_json(self, path: Path) -> dict[str, str]:
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            raise ConfigurationError(f"the key file {path} is unreadable: restore it") from None
        if not isinstance(raw, dict):
            raise ConfigurationError(f"the key file {path} is damaged: restore it")
        return raw

    def _write_version(self, version: KeyVersion) -> None:
        body = {
            "version": str(version.number),
            "created": version.created.isoformat(),
            "key": _encode(version.secret),
        }
        self._write(self.path / _version_name(version.number), body)

    def _write(self, path: Path, body: dict[str, str]) -> None:
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(body, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        _fsync_dir(self.path)


def shred(path: Path) -> None:
    """Overwrite a file, then unlink it: an unlinked file's blocks would keep the key."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.write(b"\0" * size)
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()


def _version_name(number: int) -> str:
    return f"v{number:06d}.key"


def _encode(secret: bytes) -> str:
    return base64.urlsafe_b64encode(secret).decode()


def _decode(text: str, path: Path) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.encode())
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigurationError(f"the key file {path} is damaged: restore it")
    return raw


def private_folder(path: Path) -> None:
    """Create `path` and any missing parent owner-only (mkdir's mode applies to the leaf only)."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_index_keys() -> dict[str, bytes]:
    """Return fresh random index keys for a new ring."""
    return {purpose: secrets.token_bytes(KEY_BYTES) for purpose in INDEX_PURPOSES}
