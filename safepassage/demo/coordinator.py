"""Play the coordinator: answer every checkpoint a case waits at with sample answers.

The demo and the flow tests follow cases this way, through the same operations as
`safepassage status` and `safepassage resume`, until each reaches a stage of interest. Given
the missions' systems (`missions`), the missions answer their own checkpoints (reception,
arrival, follow-up reports) through the gateway's mission API, as they would in an office;
without, the coordinator answers those too, on the missions' behalf.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from safepassage.demo.missions import MissionSystems
from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.vocabulary import FINAL_STAGES, Stage
from safepassage.services.checkpoints import answer_checkpoint, case_status
from safepassage.services.followups import reconcile_followups_now
from safepassage.services.interventions import withdraw

#: Stages at which the return is over for the coordinator (follow-ups come months later).
RETURNED = frozenset({s.value for s in FINAL_STAGES} | {Stage.REINTEGRATION.value})
#: Stages after which nothing more happens to a case (follow-ups included).
ENDED = frozenset(s.value for s in FINAL_STAGES)
#: Run states that need a person: reported, not waited on.
BROKEN = frozenset({"Failed", "Crashed", "Cancelled"})


@dataclass
class FollowedCase:
    """A case the coordinator follows, and what happened to it."""

    reference: str
    label: str
    scenario: Scenario = field(default_factory=Scenario)
    stage: str = Stage.IDENTIFICATION.value
    run_state: str | None = None
    answered: list[tuple[str, int]] = field(default_factory=list)
    #: The receiving mission's country: its system answers the mission's checkpoints, if given.
    mission: str | None = None

    @property
    def broken(self) -> bool:
        """Return whether the case's run stopped in a state that needs a person."""
        return self.run_state in BROKEN


def play(
    cases: Collection[FollowedCase],
    *,
    until: Collection[str] = RETURNED,
    stop_at: Collection[Checkpoint] = (),
    timeout: float = 600.0,
    today: dt.date | None = None,
    report: Callable[[str], None] = lambda _: None,
    missions: MissionSystems | None = None,
    followups: Collection[str] = (),
) -> None:
    """Answer checkpoints until every case is at a stage in `until`, or waits at `stop_at`.

    With `missions`, a case's mission answers its own checkpoints through the mission API.
    A case whose reference is in `followups` goes on, once in reintegration, through its
    follow-ups on the compressed clock (`compress_followups`) until it ends, while the others
    still travel. Raises TimeoutError naming the cases still open after `timeout` seconds.
    """
    today = today or dt.date.today()
    deadline = time.monotonic() + timeout
    parked: set[str] = set()
    compressed: set[str] = set()

    def still_open(case: FollowedCase) -> bool:
        done = ENDED if case.reference in compressed else until
        ongoing = case.stage not in done or _grant_undecided(case)
        return ongoing and not case.broken and case.reference not in parked

    while True:
        for case in cases:
            followed = case.reference in followups and case.reference not in compressed
            if followed and case.stage == Stage.REINTEGRATION.value:
                compress_followups(case, report)
                compressed.add(case.reference)
        open_cases = [c for c in cases if still_open(c)]
        if not open_cases:
            return
        if time.monotonic() > deadline:
            names = ", ".join(f"{c.reference} ({c.stage}, run {c.run_state})" for c in open_cases)
            raise TimeoutError(f"still open after {timeout:.0f} s: {names}")
        for case in open_cases:
            _step(
                case, stop_at=stop_at, parked=parked, today=today, report=report,
                missions=missions,
            )  # fmt: skip
        time.sleep(0.5)


def _grant_undecided(case: FollowedCase) -> bool:
    """Whether the grant increase recommended at arrival still waits for its approval: it runs
    in its own run, which goes on after the case's own reached reintegration."""
    answered = {checkpoint for checkpoint, _ in case.answered}
    return (
        case.scenario.recommended_grant_chf is not None
        and Checkpoint.ARRIVAL.value in answered
        and Checkpoint.GRANT_APPROVAL.value not in answered
    )


def _step(
    case: FollowedCase,
    *,
    stop_at: Collection[Checkpoint],
    parked: set[str],
    today: dt.date,
    report: Callable[[str], None],
    missions: MissionSystems | None,
) -> None:
    status = case_status(case.reference)
    if status["stage"] != case.stage:
        case.stage = status["stage"]
        report(f"{case.reference}: {case.stage}")
    if case.stage in ENDED:  # a withdrawn case's run is Cancelled on purpose: nothing to see
        return
    case.run_state = status["run_state"]
    if case.broken:
        report(f"{case.reference}: its run is {case.run_state}; see the Prefect UI")
        return
    waiting = status["waiting_for"]
    if waiting is None:
        return
    checkpoint, attempt = Checkpoint(waiting), status["attempt"] or 1
    if checkpoint in stop_at:
        parked.add(case.reference)
        return
    if checkpoint is case.scenario.withdraw_at:
        withdraw(
            case.reference, "The person decided not to return.", actor=case.scenario.entered_by
        )
        report(f"{case.reference}: withdrawn while waiting at {waiting}")
        return
    answer = sample_answer(checkpoint, attempt=attempt, scenario=case.scenario, today=today)
    if missions is not None and case.mission and missions.answers(case.mission, checkpoint):
        by = missions.submit(case.mission, case.reference, checkpoint, answer, attempt=attempt)
        if by is None:  # not waiting for it in the store yet: the next round asks again
            return
        case.answered.append((waiting, attempt))
        report(f"{case.reference}: {by} sent {waiting} (attempt {attempt}) to the mission API")
        return
    # Pinned to the attempt the status showed: several follow-ups can wait at once.
    answer_checkpoint(case.reference, answer, expected=waiting, attempt=attempt)
    case.answered.append((waiting, attempt))
    report(f"{case.reference}: answered {waiting} (attempt {attempt})")


def compress_followups(case: FollowedCase, report: Callable[[str], None]) -> None:
    """Start a case's follow-up runs now instead of months after arrival.

    For the demo: the follow-ups, due months after arrival, are scheduled for now (clearly not
    how a real case runs), so the whole cycle down to `closed` takes minutes.
    """
    runs = reconcile_followups_now(case.reference, compressed=True)
    started = runs["created"] + runs["rescheduled"] + runs["recreated"]
    report(
        f"{case.reference}: compressed clock: {started} follow-up runs start now, not months ahead"
    )
