"""Prefect's logging configuration, read once in the warm parent rather than in every child.

A child has Prefect set its logging up again from the run's environment (child.py), and
Prefect's `load_logging_config` renders its YAML template with *every* setting written out as
an environment variable: about 0.1 CPU-s, the largest part of a child's start, though the
default template names three settings. This memo keeps what the parent read, keyed on all the
result depends on: the file and its text, the values of the settings the template names, and
the PREFECT_LOGGING_* variables that override its entries. A child whose key differs (another
logging level, another file, a template that names a setting not listed here) reads it as
Prefect does, and so does any process that never installed the memo.
"""

from __future__ import annotations

import copy
import os
import string
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from prefect.logging import configuration
from prefect.settings import Settings, get_current_settings

#: Where each setting a logging template may name is read (a template naming another one
#: is read as Prefect reads it).
SETTINGS_BY_VARIABLE: dict[str, Callable[[Settings], object]] = {
    "PREFECT_LOGGING_LEVEL": lambda s: s.logging.level,
    "PREFECT_SERVER_LOGGING_LEVEL": lambda s: s.server.logging_level,
    "PREFECT_INTERNAL_LOGGING_LEVEL": lambda s: s.internal.logging_level,
}
#: What overrides a template's entries (Prefect's `load_logging_config`).
OVERRIDE_PREFIX = "PREFECT_LOGGING_"

_prefect_load = configuration.load_logging_config
_memo: dict[Hashable, dict[str, Any]] = {}


def memo_key(path: Path) -> Hashable | None:
    """Return what the configuration read from `path` depends on; None if not known here."""
    text = path.read_text()
    names = string.Template(text).get_identifiers()
    if not set(names) <= SETTINGS_BY_VARIABLE.keys():
        return None
    settings = get_current_settings()
    values = tuple((name, repr(SETTINGS_BY_VARIABLE[name](settings))) for name in sorted(names))
    overrides = sorted((k, v) for k, v in os.environ.items() if k.startswith(OVERRIDE_PREFIX))
    return (str(path), text, values, tuple(overrides))


def load_logging_config(path: Path) -> dict[str, Any]:
    """Prefect's `load_logging_config`, remembered by `memo_key`; a fresh copy each call
    (Prefect's `setup_logging` changes the dictionary it gets)."""
    key = memo_key(path)
    if key is None:
        return _prefect_load(path)
    if key not in _memo:
        _memo[key] = _prefect_load(path)
    return copy.deepcopy(_memo[key])


def install() -> None:
    """Have Prefect's `setup_logging` read its configuration through the memo."""
    configuration.load_logging_config = load_logging_config
