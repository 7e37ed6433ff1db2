"""`safepassage demo`: the README's main command, on the embedded default.

It serves the deployments (unless `safepassage serve` already runs for this SAFEPASSAGE_HOME),
takes in every example case, plays the coordinator through each checkpoint with sample answers
through the same paths as `safepassage intake` and `safepassage resume`, and prints a summary.
The data stays: run `safepassage serve` to look at the cases in the Prefect UI.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from safepassage.cli import common, output
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import ConfigurationError, DuplicateIntake, SafePassageError
from safepassage.models.intake import parse_intake
from safepassage.models.rules import decide
from safepassage.models.settings import get_settings

if TYPE_CHECKING:
    from safepassage.deployments.background import BackgroundServe
    from safepassage.deployments.coordinator import FollowedCase
    from safepassage.deployments.sample_answers import Scenario

#: The example case whose follow-ups the demo runs, on a compressed clock, until it closes.
FOLLOWUP_EXAMPLE = "ro-eligible"
#: Where the example case files live in a checkout (the demo runs from one).
DEFAULT_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _scenarios() -> dict[str, Scenario]:
    from safepassage.deployments.sample_answers import Scenario

    return {
        "bg-eligible": Scenario(missed_flights=1),  # a missed flight and a rebooking
        "cz-needs-review": Scenario(approve_review=False),  # a review that says no
        "hu-eligible": Scenario(recommended_grant_chf=2400, approved_grant_chf=2000),
        # The follow-up cycle, on a compressed clock: the second report raises a risk.
        FOLLOWUP_EXAMPLE: Scenario(risk_at_followups=frozenset({2})),
        # The person withdraws with a ticket booked: the booking is cancelled, the mission told.
        "ro-needs-review": Scenario(withdraw_at=Checkpoint.DEPARTURE),
    }


def demo(
    examples: Annotated[
        Path, typer.Option("--examples", help="Folder of example case files (*.json).")
    ] = DEFAULT_EXAMPLES,
    port: Annotated[int, typer.Option(help="Port for the Prefect server if none runs.")] = 4200,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 900,
) -> None:
    """Take the example cases through their flows, playing the coordinator; print a summary."""
    files = sorted(examples.glob("*.json"))
    if not files:
        raise ConfigurationError(f"--examples: no *.json case files in {examples}")
    serving = _ensure_serving(port)
    try:
        _run(files, timeout)
    finally:
        if serving is not None:
            output.notice("stopping the demo's server; `safepassage serve` shows the cases again")
            serving.stop()


def _ensure_serving(port: int) -> BackgroundServe | None:
    from safepassage.deployments.background import BackgroundServe, free_port, port_is_free
    from safepassage.deployments.environment import connect, prefect_home

    try:
        connect(get_settings())
        output.notice("using the running `safepassage serve`")
        return None
    except ConfigurationError:
        pass
    chosen = port if port_is_free(port) else free_port()
    output.notice(f"starting `safepassage serve` on 127.0.0.1:{chosen} (about 15 s)...")
    return BackgroundServe.start(
        port=chosen, log_path=prefect_home(get_settings()) / "demo-serve.log"
    )


def _run(files: list[Path], timeout: float) -> None:
    from safepassage.deployments.environment import connect

    connect(get_settings())  # before prefect is imported: it reads its settings once
    from safepassage.deployments.coordinator import FollowedCase, play, play_followups
    from safepassage.deployments.operations import take_in
    from safepassage.deployments.sample_answers import Scenario

    cases = []
    for path in files:
        case_file = parse_intake(common.read_document(path, source=path.name))
        decision = decide(case_file, today=common.now().date())
        try:
            taken = take_in(case_file, decision, actor="demo")
        except DuplicateIntake as exc:  # an earlier demo in this home took it in already
            say(f"skipped {path.name:26}: {exc}")
            continue
        scenario = _scenarios().get(path.stem, Scenario())
        cases.append(FollowedCase(taken["reference"], path.stem, scenario))
        say(f"took in {path.name:26} as {taken['reference']}: {decision.outcome.value}")
    if cases and files:  # the same file sent twice (a double click) is refused, not doubled
        again = parse_intake(common.read_document(files[0], source=files[0].name))
        try:
            take_in(again, decide(again, today=common.now().date()), actor="demo")
        except DuplicateIntake:
            say(f"sent {files[0].name} again: refused as a duplicate, nothing written")
    if not cases:
        say("every example was taken in by an earlier demo: erase those cases or set a new "
            "SAFEPASSAGE_HOME to run it afresh")  # fmt: skip
    try:
        play(cases, timeout=timeout, report=say)
        followed = [c for c in cases if c.label == FOLLOWUP_EXAMPLE and c.stage == "reintegration"]
        for case in followed:  # months of follow-ups, on the compressed clock (see coordinator)
            play_followups(case, timeout=timeout, report=say)
    except TimeoutError as exc:
        raise SafePassageError(f"{exc} (raise --timeout on a slow machine)") from None
    finally:
        _summary(cases)
    if any(c.broken for c in cases):
        raise ConfigurationError("a case's run failed: open it in the Prefect UI for the reason")


def say(line: str) -> None:
    """Print a progress line at once (stdout may be a pipe)."""
    output.console.print(line, markup=False)
    output.console.file.flush()


def _summary(cases: list[FollowedCase]) -> None:
    from safepassage.notifications import list_outbox

    store = common.store()
    try:
        with store.transaction() as session:
            rows = []
            for case in cases:
                items = list_outbox(session, reference=case.reference)
                sent = sum(1 for i in items if i.state == "sent")
                rows.append((case.reference, case.label, case.stage, f"{sent} of {len(items)}"))
    finally:
        store.dispose()
    output.table(
        "demo summary",
        ["reference", "example", "stage", "notifications sent"],
        rows,
    )


def register(app: typer.Typer) -> None:
    """Add the demo command to the app."""
    app.command("demo")(demo)
