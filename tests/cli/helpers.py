"""Run the installed `safepassage` command as a person would, in a subprocess."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COMMAND = str(Path(sys.executable).with_name("safepassage"))


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input_text: str | None = None,
) -> Result:
    """Run `safepassage ARGS` with the test's environment (SAFEPASSAGE_HOME set by `home`).

    `input_text` is typed at the command's prompts; without it standard input is empty.
    """
    completed = subprocess.run(
        [COMMAND, *args],
        input=input_text if input_text is not None else "",
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def cli_actor(by: str) -> str:
    """Return how the log names an operator at this login who gave `--by NAME`."""
    return f"cli:{getpass.getuser()} (by {by})"
