"""Files and folders only their owner may read: the SafePassage home, the store, reports, logs.

The home holds the key file, the SQLite case store and the notification logs. A file created
0600 in a folder others may enter is still as safe as its mode; but a store created 0644 (the
default umask) in a home someone made 0755 is world-readable. So every file is created 0600
(an existing one is tightened to 0600 when written), and a home that group or others may enter,
read or write is refused with the command that fixes it. Pure: no Prefect, no database.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO, Literal, TextIO, cast, overload

from safepassage.models.errors import ConfigurationError

#: The mode of every file SafePassage writes, and of the folders it creates.
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700
#: The process-wide umask the command line sets: nothing for group or others.
PRIVATE_UMASK = 0o077

_FLAGS = {
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "ab": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
}


def ensure_private_home(home: Path, *, create: bool) -> None:
    """Create the home owner-only if `create` and it is missing; refuse one others may use.

    Raises ConfigurationError naming the folder and the `chmod` that fixes it.
    """
    if create:
        home.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER_MODE)
    try:
        mode = home.stat().st_mode
    except FileNotFoundError:
        return  # nothing is kept there yet (a PostgreSQL store with its key in the environment)
    # Any bit for group or others counts: "execute" alone lets them open a file by its known
    # name (safepassage.db) if that file's own mode allows it.
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigurationError(
            f"SAFEPASSAGE_HOME {home} may be read or entered by other users (mode "
            f"{stat.S_IMODE(mode):o}); it holds the case store and its key: run "
            f"`chmod 700 {home}` and start again"
        )


def create_private_database(url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (tightening an existing one).

    SQLite creates a new database with the process's umask (often 0644) and its -wal and -shm
    files with the database's mode; so the database made 0600 first keeps all three private.
    PostgreSQL and in-memory databases have no file here: nothing to do.

    An existing file is never opened here, only tightened by its path. Closing any descriptor
    of a file drops every POSIX lock this process holds on it, SQLite's own included: in a
    process that already has the store open (`serve`, whose gateway keeps one), another
    process would then take itself for the last user, checkpoint and delete the WAL, and
    the writes of both sides would part ways, some of them lost.
    """
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - the command line imports this module first thing; SQLAlchemy only with the store

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in {None, "", ":memory:"}:
        return
    database = Path(str(parsed.database))
    if not database.parent.is_dir():
        return  # SQLite itself says the folder is missing, as a configuration error
    try:  # a new file cannot be open in SQLite yet
        os.close(_open_private_fd(database, os.O_RDWR | os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        _tighten(database)
    for suffix in ("-wal", "-shm"):  # left by an older version, perhaps with a wider mode
        _tighten(database.with_name(database.name + suffix))


def _tighten(path: Path) -> None:
    """Make an existing file 0600 without opening it (see create_private_database)."""
    try:
        if stat.S_IMODE(path.stat().st_mode) != PRIVATE_FILE_MODE:
            path.chmod(PRIVATE_FILE_MODE)
    except FileNotFoundError:
        return  # gone meanwhile (a WAL SQLite checkpointed away): nothing to tighten


@overload
def open_private(path: Path, mode: Literal["w", "a"]) -> TextIO: ...
@overload
def open_private(path: Path, mode: Literal["wb", "ab"]) -> BinaryIO: ...
def open_private(path: Path, mode: Literal["w", "a", "wb", "ab"]) -> TextIO | BinaryIO:
    """Open `path` to write (or append), created 0600; an existing file becomes 0600 too.

    Text is UTF-8 with newlines as written (what the csv module wants). The folder it goes in
    is created owner-only if missing.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER_MODE)
    fd = _open_private_fd(path, _FLAGS[mode])
    if "b" in mode:
        return cast(BinaryIO, os.fdopen(fd, mode))
    return cast(TextIO, os.fdopen(fd, mode, encoding="utf-8", newline=""))


def _open_private_fd(path: Path, flags: int) -> int:
    fd = os.open(path, flags | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        # The mode given to os.open applies only to a file it creates; one that was there
        # already (from an older version, or made by hand) is tightened here.
        os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd
