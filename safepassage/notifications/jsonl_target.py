"""The `jsonl://` Apprise scheme: append each message as one JSON line to a local file.

Apprise has no file scheme, and the embedded default must work with no mail server, so the demo
delivers to local logs a person (or a test) can read. A target is
`jsonl://localhost/ABSOLUTE/PATH.jsonl`; the folder is created owner-only on first write, and
the file is owner-only too because a target tagged `secure` may receive personal details.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from apprise import decorators

from safepassage.models.private_files import open_private

SCHEME = "jsonl"

# Appends from the drainer thread and a task in the same process must not interleave.
_lock = threading.Lock()


def jsonl_path(meta: dict[str, Any]) -> Path:
    """Return the file a `jsonl://localhost/PATH` URL names (ValueError if it names none)."""
    host = str(meta.get("host") or "")
    fullpath = unquote(str(meta.get("fullpath") or ""))
    if host not in {"", "localhost"} or not fullpath.startswith("/") or fullpath.endswith("/"):
        raise ValueError("a jsonl target is jsonl://localhost/ABSOLUTE/PATH/FILE.jsonl")
    return Path(fullpath)


def url_for(path: Path) -> str:
    """Return the `jsonl://` URL that appends to `path` (absolute)."""
    return f"{SCHEME}://localhost{path.resolve().as_posix()}"


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append `record` as one JSON line to `path`, creating it owner-only."""
    line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    # A log made by an older version, or by hand, with a wider mode is tightened to 0600.
    with _lock, open_private(path, "a") as handle:
        handle.write(line)


def _send(
    body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
) -> bool:
    # Apprise calls this for every message to a jsonl:// target; False reports a failure.
    try:
        path = jsonl_path(meta)
        append_line(
            path,
            {
                "at": dt.datetime.now(dt.UTC).isoformat(),
                "type": notify_type,
                "title": title,
                "body": body,
            },
        )
    except (OSError, ValueError):
        return False
    return True


# Registering is a side effect of importing this module (targets.py does). Apprise's decorator
# is untyped; holding it as Any keeps mypy's strictness for everything around it.
_register: Any = decorators.notify
_register(on=SCHEME, name="SafePassage JSON-lines log")(_send)
