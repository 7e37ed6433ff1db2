"""The demo (`safepassage demo`): serve, take in the examples, play the office, sum up.

It serves the deployments and the gateway (unless `safepassage serve` already runs for this
SAFEPASSAGE_HOME), makes the demo's accounts and one API token per receiving mission, takes in
every example case, and plays the office: the coordinator answers each checkpoint with sample
answers through the same services as `safepassage intake` and `safepassage resume`, and each
mission answers its own (reception, arrival, follow-up reports) through the gateway's mission
API over HTTP, as a mission's system would. It hands back a summary and how to sign in. The
data stays: run `safepassage serve` to look at the cases through the gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from safepassage.demo.access import DemoAccess, issue_demo_access
from safepassage.demo.background import BackgroundServe, free_port, port_is_free
from safepassage.demo.coordinator import FollowedCase, play
from safepassage.demo.missions import MissionSystems
from safepassage.demo.sample_answers import Scenario
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.clock import utcnow
from safepassage.models.errors import ConfigurationError, DuplicateIntake, SafePassageError
from safepassage.models.intake import Intake, parse_intake
from safepassage.models.rules import Decision, decide
from safepassage.models.settings import get_settings
from safepassage.orchestration.connection import connect, prefect_home
from safepassage.services.followup_scores import followup_scores
from safepassage.services.intake import take_in
from safepassage.services.notifications import list_notifications

#: Where the Prefect server of the demo's own `serve` listens, if that port is free.
PREFECT_PORT = 4201
#: Where `safepassage serve` puts the gateway by default: where people sign in after the demo.
DEFAULT_GATEWAY = "http://127.0.0.1:4200"
#: The gateway's path to the coordinators' Prefect UI (a `serve` without a gateway has none).
_PREFECT_UI = "/prefect"

#: The example case whose follow-ups the demo runs, on a compressed clock, until it closes.
FOLLOWUP_EXAMPLE = "ro-eligible"
#: What the coordinator does differently for some examples (the others: all goes well).
SCENARIOS = {
    "bg-eligible": Scenario(missed_flights=1),  # a missed flight and a rebooking
    # A child of 15: safeguarded (guardian, best interests, who receives the child), escorted.
    "bg-needs-review": Scenario(),
    # The journey is moved to a later flight: a change of date, and reception confirmed again.
    "adhoc-needs-review": Scenario(missed_flights=1, rescheduled=True),
    "cz-needs-review": Scenario(approve_review=False),  # a review that says no
    # The mission cannot receive the person at first; the coordinator asks it again.
    # Its plan has a need the Czech programme does not cover: the coordinators approve it.
    "cz-eligible": Scenario(receptions_declined=1, extra_need="witness_protection"),
    "hu-eligible": Scenario(recommended_grant_chf=2400, approved_increase_chf=500),
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
class SignIn:
    """How to sign in to the gateway after the demo, with the demo's own accounts."""

    #: The gateway's address.
    url: str
    #: Whether it still runs (a `serve` that was running before the demo); else the demo
    #: stopped its own, and `safepassage serve` starts it again.
    serving: bool
    access: DemoAccess


@dataclass(frozen=True)
class Report:
    """Where the demo tells what it does, as it does it."""

    #: A case's progress (taken in, answered, at a new stage).
    say: Callable[[str], None]
    #: About the Prefect server the demo uses or starts and stops.
    notice: Callable[[str], None]
    #: The outcome of every case taken in; called once, even when the demo fails.
    summary: Callable[[list[Outcome]], None]
    #: How to sign in with the demo's accounts: called last, once they were made.
    sign_in: Callable[[SignIn], None] = lambda _: None


def run(examples: Sequence[Example], *, port: int, timeout: float, report: Report) -> None:
    """Take the examples through their flows, playing the office; report as it goes.

    Unless `safepassage serve` runs already, serves with the gateway on `port` (or a free one)
    and the Prefect server on PREFECT_PORT (or a free one), and stops what it started.
    Raises SafePassageError after `timeout` seconds, ConfigurationError if a case's run broke.
    """
    serving, gateway_url = _ensure_serving(port, report.notice)
    access: DemoAccess | None = None
    try:
        access = issue_demo_access(_countries(examples))
        missions = None
        if gateway_url is not None:
            missions = MissionSystems(gateway_url, access.tokens)
        else:
            report.notice(
                "the running `safepassage serve` has no gateway: the coordinator enters the "
                "missions' answers too"
            )
        try:
            _play(examples, timeout, report, missions)
        finally:
            if missions is not None:
                missions.close()
    finally:
        if serving is not None:
            report.notice("stopping the demo's server; `safepassage serve` shows the cases again")
            serving.stop()
        if access is not None:  # last: what the reader needs next
            running = gateway_url if serving is None else None  # a `serve` that stays up
            later = get_settings().gateway_url or DEFAULT_GATEWAY
            report.sign_in(SignIn(running or later, serving=running is not None, access=access))


def _ensure_serving(
    port: int, notice: Callable[[str], None]
) -> tuple[BackgroundServe | None, str | None]:
    """Return the `serve` started for the demo (None if one runs already) and its gateway's
    address (None if the running `serve` has no gateway)."""
    try:
        address = connect(get_settings())
        notice("using the running `safepassage serve`")
        ui_url = address.ui_url.rstrip("/")  # the gateway's /prefect, if `serve` started one
        return None, ui_url.removesuffix(_PREFECT_UI) if ui_url.endswith(_PREFECT_UI) else None
    except ConfigurationError:
        pass
    gateway_port = port if port_is_free(port) else free_port()
    prefect_port = PREFECT_PORT if port_is_free(PREFECT_PORT) else free_port()
    notice(
        f"starting `safepassage serve`: the gateway on 127.0.0.1:{gateway_port}, its Prefect "
        f"server on 127.0.0.1:{prefect_port} (about 15 s)..."
    )
    serving = BackgroundServe.start(
        port=prefect_port,
        gateway_port=gateway_port,
        log_path=prefect_home(get_settings()) / "demo-serve.log",
    )
    return serving, serving.gateway_url


def _countries(examples: Sequence[Example]) -> set[str]:
    """Return the receiving missions' countries of the examples."""
    return {parse_intake(example.document).destination_country for example in examples}


def _play(
    examples: Sequence[Example], timeout: float, report: Report, missions: MissionSystems | None
) -> None:
    cases = _take_in(examples, report.say)
    try:
        # Months of follow-ups, on the compressed clock (see coordinator), from the moment the
        # example reaches reintegration, while the other cases still travel.
        followed = {c.reference for c in cases if c.label == FOLLOWUP_EXAMPLE}
        play(cases, timeout=timeout, report=report.say, missions=missions, followups=followed)
        for reference in followed:
            _say_scores(reference, report.say)
    except TimeoutError as exc:
        raise SafePassageError(f"{exc} (raise --timeout on a slow machine)") from None
    finally:
        report.summary([_outcome(case) for case in cases])
    if any(c.broken for c in cases):
        raise ConfigurationError("a case's run failed: open it in the Prefect UI for the reason")


def _say_scores(reference: str, say: Callable[[str], None]) -> None:
    """Show the followed case's sustainability scores (a person's read: logged as the demo's)."""
    scores = followup_scores(reference, actor="demo", purpose="demo: follow-up scores")
    for number, scored in sorted(scores.items()):
        say(
            f"{reference}: follow-up {number} scored (table {scored['version']}): economic "
            f"{scored['economic']}, social {scored['social']}, psychosocial "
            f"{scored['psychosocial']}, overall {scored['composite']}"
        )


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
        cases.append(
            FollowedCase(
                taken["reference"], example.label, scenario,
                mission=case_file.destination_country,
            )
        )  # fmt: skip
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
