"""The audit chain's anchor: the chain's heads, appended to files outside the database.

A chain kept only in the database can be cut short, or the whole database swapped for an
older copy, and still verify. After each transaction that appended to the log, its new head
is appended to this machine's file in the anchor folder (beside the keys by default, never
with the data); verification requires every head any file recorded to still be in the log.
Each machine writes its own file (`<host>.log`), so several machines never interleave
writes; verification reads them all (copy them into one folder to verify elsewhere).

A head is written after its commit, so a crash in between leaves the anchor one step behind
(less protection for that moment), never ahead of the log (a false alarm).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from safepassage.models.errors import ConfigurationError
from safepassage.models.keyring import private_folder

EPOCH_FILE = "epoch"


class Anchor:
    """The anchor folder: the keyed chain's epoch, and the heads each machine appended."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._log = folder / f"{socket.gethostname() or 'localhost'}.log"

    def record(self, seq: int, mac: str) -> None:
        """Append one head (O_APPEND: whole lines, even from several processes at once)."""
        private_folder(self.folder)
        fd = os.open(self._log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{seq} {mac}\n".encode())
        finally:
            os.close(fd)

    def epoch(self) -> int | None:
        """Return the first keyed entry as the anchor recorded it, if it did."""
        path = self.folder / EPOCH_FILE
        try:
            return int(path.read_text().strip())
        except FileNotFoundError:
            return None
        except ValueError:
            raise ConfigurationError(f"the anchor file {path} is damaged: restore it") from None

    def is_new(self) -> bool:
        """Return whether nothing was ever anchored here."""
        return not self.folder.exists() or not any(self.folder.iterdir())

    def set_epoch(self, seq: int) -> None:
        """Record the first keyed entry once; a different one later is refused."""
        known = self.epoch()
        if known == seq:
            return
        if known is not None:
            raise ConfigurationError(
                f"the anchor in {self.folder} belongs to another store (its chain was keyed at "
                f"event {known}): set SAFEPASSAGE_AUDIT_ANCHOR to this store's anchor folder"
            )
        private_folder(self.folder)
        # Written whole under another name, then linked in: a crash leaves no empty epoch
        # file, and of two processes writing at once the second finds the first's.
        temporary = self.folder / f".epoch-{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{seq}\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, self.folder / EPOCH_FILE)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
        if self.epoch() != seq:
            raise ConfigurationError(
                f"the anchor in {self.folder} was started for another store at the same moment: "
                "set SAFEPASSAGE_AUDIT_ANCHOR to this store's own anchor folder"
            )

    def heads(self) -> tuple[dict[int, str], list[str]]:
        """Return every anchored head by seq, and the conflicts between files (same seq,
        different MAC: one of them is not this store's, or the log was rewritten)."""
        heads: dict[int, str] = {}
        conflicts: list[str] = []
        if not self.folder.is_dir():
            return heads, conflicts
        for path in sorted(self.folder.glob("*.log")):
            for line in path.read_text().splitlines():
                seq_text, _, mac = line.partition(" ")
                if not seq_text.isdigit() or len(mac) != 64:
                    continue  # a line cut by a crash mid-write: the next one stands for it
                seq = int(seq_text)
                if heads.setdefault(seq, mac) != mac:
                    conflicts.append(f"event {seq} in {path.name}")
        return heads, conflicts
