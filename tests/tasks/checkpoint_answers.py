"""Helpers for the stage tests of the checkpoints before departure: answer a checkpoint as the
flow's own validation would, freeze the clock, clear a mission target for details.

No Prefect server: answers go through `_judge` (the form, the case history, the summary), and
the stages run as plain functions against the test store.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.settings import get_settings
from safepassage.models.store.case_transaction import case_transaction
from safepassage.notifications import clear_targets_cache
from safepassage.notifications.jsonl_target import url_for
from safepassage.notifications.targets import default_config_text
from safepassage.tasks.checkpoints import Acceptance, _judge
from tests.factories import TODAY
from tests.stored import STORED_AT

#: The stage modules whose clock the tests freeze (each imports `utcnow` by name).
CLOCKED = (
    "safepassage.tasks.checkpoints",
    "safepassage.tasks.safeguarding",
    "safepassage.tasks.pre_departure",
    "safepassage.tasks.consent",
    "safepassage.tasks.travel_document",
    "safepassage.tasks.departure",
    "safepassage.tasks.ticketing",
)

#: The tag of the one mission target cleared for details (besides the default JSON-lines log).
CLEARED_LOG = "mission-bg-cleared"


def freeze(monkeypatch: pytest.MonkeyPatch, at: dt.datetime = STORED_AT) -> None:
    """Make every stage module's clock read `at` (the tests' dates are relative to TODAY)."""
    for module in CLOCKED:
        monkeypatch.setattr(f"{module}.utcnow", lambda: at)


def sample(checkpoint: Checkpoint, *, attempt: int = 1, **changes: Any) -> dict[str, Any]:
    """Return the demo's answer to `checkpoint` with `changes` (a None removes the field)."""
    raw = sample_answer(checkpoint, attempt=attempt, scenario=Scenario(), today=TODAY)
    merged = {**raw, **changes}
    return {name: value for name, value in merged.items() if value is not None}


def answer(
    reference: str, checkpoint: Checkpoint, *, attempt: int = 1, **changes: Any
) -> Acceptance:
    """Submit the sample answer with `changes` to ask `attempt`, as `accept_answer` judges it."""
    raw = sample(checkpoint, attempt=attempt, **changes)
    with case_transaction(reference) as (store, session, case):
        return _judge(session, store.master_key, case, checkpoint, attempt=attempt, raw=raw)


def lines(home: Path, tag: str, reference: str) -> list[dict[str, str]]:
    """Return the messages about `reference` in the JSON-lines log `tag`."""
    path = home / "notifications" / f"{tag}.jsonl"
    found = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [line for line in found if line["title"].startswith(f"SafePassage {reference}: ")]


def events(home: Path, tag: str, reference: str) -> list[str]:
    """Return the events of the messages about `reference` in the log `tag`, in order."""
    return [line["title"].split(": ", 1)[1] for line in lines(home, tag, reference)]


def clear_a_mission_target(home: Path) -> None:
    """Write the default targets plus a JSON-lines log for mission-bg tagged `secure`.

    Call before the first stage runs (the targets are read once per process, then cached).
    """
    config = yaml.safe_load(default_config_text(home))
    cleared = url_for(home / "notifications" / f"{CLEARED_LOG}.jsonl")
    config["urls"].append({cleared: {"tag": "mission-bg, secure"}})
    home.mkdir(parents=True, exist_ok=True, mode=0o700)  # SafePassage refuses a shared home
    path = home / "notify.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    get_settings.cache_clear()
    clear_targets_cache()
