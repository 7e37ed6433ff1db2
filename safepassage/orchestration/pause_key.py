"""The key of one ask at a checkpoint, and the names Prefect stores its form and answer under.

A flow suspends once per checkpoint, attempt and re-ask after a refused answer, each time with
an explicit key (`ticket-2`, `ticket-2-r1`), so the sequence of suspends is the same on every
re-execution and the stored inputs' names are known in advance. Prefect stores an ask's form
and answer as run inputs named `suspended-<key>-schema`, `-description` and `-response`.
`safepassage resume --checkpoint followup-report-3` names a checkpoint and attempt the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from safepassage.models.checkpoints import Checkpoint

_KEY = re.compile(r"^(?P<checkpoint>[a-z-]+?)-(?P<attempt>\d+)(?:-r(?P<refusals>\d+))?$")

InputPart = Literal["response", "schema", "description"]


@dataclass(frozen=True)
class PauseKey:
    """One ask: a checkpoint, its attempt, and how many answers were refused before it."""

    checkpoint: Checkpoint
    attempt: int
    refusals: int = 0

    def __str__(self) -> str:
        base = f"{self.checkpoint.value}-{self.attempt}"
        return base if self.refusals == 0 else f"{base}-r{self.refusals}"

    @classmethod
    def parse(cls, text: str) -> PauseKey | None:
        """Return the key `text` spells (`ticket-2-r1`), or None if it names no checkpoint."""
        match = _KEY.match(text)
        if match is None:
            return None
        try:
            checkpoint = Checkpoint(match["checkpoint"])
        except ValueError:
            return None
        return cls(checkpoint, int(match["attempt"]), int(match["refusals"] or 0))

    def input_key(self, part: InputPart) -> str:
        """Return the name of the run input Prefect keeps this ask's `part` under."""
        return f"suspended-{self}-{part}"

    def input_keys(self) -> list[str]:
        """Return every run input this ask leaves in Prefect."""
        return [self.input_key(part) for part in ("response", "schema", "description")]
