"""The demo (`safepassage demo`): serve, take in the examples, play the coordinator, sum up.

It serves the deployments (unless `safepassage serve` already runs for this SAFEPASSAGE_HOME),
takes in every example case, plays the coordinator through each checkpoint with sample answers
through the same services as `safepassage intake` and `safepassage resume`, and hands back a
summary. The data stays: run `safepassage serve` to look at the cases in the Prefect UI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from safepassage.demo.background import BackgroundServe, free_port, port_is_free
from safepassage.demo.coordinator import FollowedCase, play, play_followups
from safepassage.demo.sample_answers import Scenario
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.clock import utcnow
from safepassage.models.errors import ConfigurationError, DuplicateIntake, SafePassageError
from safepassage.models.intake import Intake, parse_intake
from safepassage.models.rules import Decision, decide
from safepassage.models.settings import get_settings
from safepassage.orchestration.connection import connect, prefect_home
from safepassage.services.intake import take_in
from safepassage.services.notifications import list_notifications

#: The example case whose follow-ups the demo runs, on a compressed clock, until it closes.
FOLLOWUP_EXAMPLE = "ro-eligible"
#: What the coordinator does differently for some examples (the others: all goes well).
SCENARIOS = {
    "bg-eligible": Scenario(missed_flights=1),  # a missed flight and a rebooking
    "cz-needs-review": Scenario(approve_review=False),  # a review that says no
    # The mission cannot receive the person at first; the coordinator asks it again.
    "cz-eligible": Scenario(receptions_declined=1),
    "hu-eligible": Scenario(recommended_grant_chf=2400, approved_grant_chf=2000),
    # The follow-up cycle, on a compressed clock: the second report raises a risk.
    FOLLOWUP_EXAMPLE: Scenario(risk_at_followups=frozenset({2})),
    # The person withdraws with a ticket booked: the booking is cancelled, the mission told.
    "ro-needs-review": Scenario(withdraw_at=Checkpoint.DEPARTURE),
}


@dataclass(frozen=True)
class Example:
    """An example case file, as read: its file name and its content."""

    name: str
    document: bytes

    @property
    def label(self) -> str:
        """Return the example's name without `.json` (which names its scenario)."""
        return Path(self.name).stem


@dataclass(frozen=True)
class Outcome:
    """Where one example case got, and how many of its notifications were sent."""

    reference: str
    example: str
    stage: str
    sent: int
    notifications: int


@dataclass(frozen=True)
class Report:
    """Where the demo tells what it does, as it does it."""

    #: A case's progress (taken in, answered, at a new stage).
    say: Callable[[str], None]
    #: About the Prefect server the demo uses or starts and stops.
    notice: Callable[[str], None]
    #: The outcome of every case taken in; called once, even when the demo fails.
    summary: Callable[[list[Outcome]], None]


def run(examples: Sequence[Example], *, port: int, timeout: float, report: Report) -> None:
    """Take the examples through their flows, playing the coordinator; report as it goes.

    Serves on `port` (or a free one) unless a server runs already, and stops what it started.
    Raises SafePassageError after `timeout` seconds, ConfigurationError if a case's run broke.
    """
    serving = _ensure_serving(port, report.notice)
    try:
        _play(examples, timeout, report)
    finally:
        if serving is not None:
            report.notice("stopping the demo's server; `safepassage serve` shows the cases again")
            serving.stop()


def _ensure_serving(port: int, notice: Callable[[str], None]) -> BackgroundServe | None:
    """Return the server started for the demo, or None if `safepassage serve` already runs."""
    try:
        connect(get_settings())
        notice("using the running `safepassage serve`")
        return None
    except ConfigurationError:
        pass
    chosen = port if port_is_free(port) else free_port()
    notice(f"starting `safepassage serve` on 127.0.0.1:{chosen} (about 15 s)...")
    return BackgroundServe.start(
        port=chosen, log_path=prefect_home(get_settings()) / "demo-serve.log"
    )


def _play(examples: Sequence[Example], timeout: float, report: Report) -> None:
    cases = _take_in(examples, report.say)
    try:
        play(cases, timeout=timeout, report=report.say)
        followed = [c for c in cases if c.label == FOLLOWUP_EXAMPLE and c.stage == "reintegration"]
        for case in followed:  # months of follow-ups, on the compressed clock (see coordinator)
            play_followups(case, timeout=timeout, report=report.say)
    except TimeoutError as exc:
        raise SafePassageError(f"{exc} (raise --timeout on a slow machine)") from None
    finally:
        report.summary([_outcome(case) for case in cases])
    if any(c.broken for c in cases):
        raise ConfigurationError("a case's run failed: open it in the Prefect UI for the reason")


def _decided(example: Example) -> tuple[Intake, Decision]:
    case_file = parse_intake(example.document)
    return case_file, decide(case_file, today=utcnow().date())


def _take_in(examples: Sequence[Example], say: Callable[[str], None]) -> list[FollowedCase]:
    """Take in every example (those an earlier demo took in are skipped) as `intake` does."""
    cases = []
    for example in examples:
        case_file, decision = _decided(example)
        try:
            taken = take_in(case_file, decision, actor="demo")
        except DuplicateIntake as exc:  # an earlier demo in this home took it in already
            say(f"skipped {example.name:26}: {exc}")
            continue
        scenario = SCENARIOS.get(example.label, Scenario())
        cases.append(FollowedCase(taken["reference"], example.label, scenario))
        say(f"took in {example.name:26} as {taken['reference']}: {decision.outcome.value}")
    if cases:  # the same file sent twice (a double click) is refused, not doubled
        try:
            take_in(*_decided(examples[0]), actor="demo")
        except DuplicateIntake:
            say(f"sent {examples[0].name} again: refused as a duplicate, nothing written")
    else:
        say(
            "every example was taken in by an earlier demo: erase those cases or set a new "
            "SAFEPASSAGE_HOME to run it afresh"
        )
    return cases


def _outcome(case: FollowedCase) -> Outcome:
    items = list_notifications(reference=case.reference)
    sent = sum(1 for item in items if item.state == "sent")
    return Outcome(case.reference, case.label, case.stage, sent=sent, notifications=len(items))
