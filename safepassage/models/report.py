"""The office's report: cases per programme and stage, waits, time limits, follow-ups, deliveries.

Computed from clear columns and the event log only (references, programmes, stages, times): the
report goes to the Prefect UI and to donors, so nothing personal may enter it. The sealed values
consulted are a booked departure, by models/sla, to tell whether a departure is over its
limit, and the follow-ups' sustainability scores, by models/sustainability/figures, shown
only as figures over enough cases; no one case's value appears here. Plain functions taking
a session: no Prefect import.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from safepassage.models.checkpoints import Checkpoint
from safepassage.models.crypto import MasterKey
from safepassage.models.reintegration_figures import (
    REINTEGRATION_COLUMNS,
    ReintegrationFigures,
    reintegration_cells,
    reintegration_figures,
)
from safepassage.models.settings import get_settings
from safepassage.models.sla import Limits, describe_limit, waiting_cases
from safepassage.models.store.orm import Case, CaseEvent, FollowUp, OutboxItem
from safepassage.models.sustainability.figures import (
    SUSTAINABILITY_COLUMNS,
    ScorePoint,
    SustainabilityFigures,
    sustainability_cells,
    sustainability_figures,
)
from safepassage.models.vocabulary import Stage

#: A follow-up whose report came in, or that will never be asked for, is not overdue.
FOLLOWUP_SETTLED = frozenset({"reported", "cancelled", "withdrawn", "closed"})
#: Stages in the order a case moves through them, for tables and charts.
STAGE_ORDER = [stage.value for stage in Stage]
DAY = dt.timedelta(days=1)
#: The columns of the flat table (`Report.rows`): the table artifact and the CSV file.
ROW_COLUMNS = ("section", "programme", "item", "count", "days", "note")


@dataclass(frozen=True)
class StageCount:
    """How many cases of a programme stand at a stage."""

    programme: str
    stage: str
    cases: int


@dataclass(frozen=True)
class CheckpointWaits:
    """The cases waiting at one checkpoint: how many, how long the longest, how many too long."""

    checkpoint: str
    cases: int
    longest_days: float
    median_days: float
    over_limit: int
    limit: str


@dataclass(frozen=True)
class Breach:
    """A case waiting past its checkpoint's limit (references are pseudonymous)."""

    reference: str
    programme: str
    checkpoint: str
    attempt: int
    waited_days: float
    limit: str


@dataclass(frozen=True)
class ProgrammeCount:
    """A count per programme, e.g. overdue follow-ups or failed deliveries."""

    programme: str
    count: int


@dataclass(frozen=True)
class StageTime:
    """How long cases of a programme stayed in a stage they have left (mean over the stays)."""

    programme: str
    stage: str
    stays: int
    mean_days: float


@dataclass(frozen=True)
class Report:
    """Every figure of the report, at `generated_at`."""

    generated_at: dt.datetime
    stages: list[StageCount] = field(default_factory=list)
    waiting: list[CheckpointWaits] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    followups_overdue: list[ProgrammeCount] = field(default_factory=list)
    deliveries_failed: list[ProgrammeCount] = field(default_factory=list)
    stage_times: list[StageTime] = field(default_factory=list)
    reintegration: list[ReintegrationFigures] = field(default_factory=list)
    #: Sustainability scores per programme (only over enough cases), and the median composite
    #: per follow-up number for the chart.
    sustainability: list[SustainabilityFigures] = field(default_factory=list)
    score_points: list[ScorePoint] = field(default_factory=list)

    @property
    def total_cases(self) -> int:
        """Return how many cases the report counts."""
        return sum(row.cases for row in self.stages)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values."""
        result = asdict(self)
        result["generated_at"] = self.generated_at.isoformat()
        result["total_cases"] = self.total_cases
        return result

    def rows(self, *, references: bool = True) -> list[dict[str, Any]]:
        """Return the report as one flat table (the table artifact and the CSV file).

        Columns: section, programme, item, count, days, note; `days` is the longest wait, the
        wait of one case, or the mean stay, as the section says. Without `references` a case
        over its time limit is "a case": a CSV file leaves the office, and a reference ties
        whoever receives it to one person's case (the Prefect UI's table keeps them: Prefect
        holds the references anyway).
        """
        rows: list[tuple[str, str, str, int, float | None, str]] = []
        for s in self.stages:
            rows.append(("cases by stage", s.programme, s.stage, s.cases, None, ""))
        for w in self.waiting:
            note = f"limit {w.limit}; {w.over_limit} over it; median {w.median_days} days"
            rows.append(
                ("waiting at checkpoint", "all", w.checkpoint, w.cases, w.longest_days, note)
            )
        for b in self.breaches:
            case = b.reference if references else "a case"
            item = f"{case} at {b.checkpoint} (attempt {b.attempt})"
            rows.append(
                ("over time limit", b.programme, item, 1, b.waited_days, f"limit {b.limit}")
            )
        for f in self.followups_overdue:
            item = "window passed without a report"
            rows.append(("follow-ups overdue", f.programme, item, f.count, None, ""))
        for d in self.deliveries_failed:
            item = "notifications that gave up"
            rows.append(("deliveries failed", d.programme, item, d.count, None, ""))
        for t in self.stage_times:
            note = "count is stays left; days is their mean"
            rows.append(("days per stage", t.programme, t.stage, t.stays, t.mean_days, note))
        for r in self.reintegration:
            rows += [
                ("reintegration", r.programme, "plans agreed", r.plans, None,
                 f"{r.plan_items} items, {r.items_not_covered} not covered; CHF "
                 f"{r.plan_cost_chf}"),
                ("reintegration", r.programme, "grants", r.increases_approved, None,
                 f"planned CHF {r.grants_planned_chf}; count is increases approved (CHF "
                 f"{r.increases_approved_chf}, {r.increases_declined} declined); delivered "
                 f"CHF {r.grants_delivered_chf}"),
            ]  # fmt: skip
        for sf in self.sustainability:
            cells = sustainability_cells(sf)
            note = (
                f"q1 / median / q3 at the latest follow-up: composite {cells[2]}; economic "
                f"{cells[3]}; social {cells[4]}; psychosocial {cells[5]}; mean change first to "
                f"last (composite, {sf.cases_with_change} cases): {cells[7]}"
            )
            rows.append(("sustainability", sf.programme, "cases scored", sf.cases, None, note))
        return [dict(zip(ROW_COLUMNS, row, strict=True)) for row in rows]


def _days(delta: dt.timedelta) -> float:
    return round(delta / DAY, 1)


def _stage_key(stage: str) -> int:
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)


def cases_by_stage(session: Session) -> list[StageCount]:
    """Return how many cases each programme has at each stage."""
    rows = session.execute(
        select(Case.programme, Case.stage, func.count()).group_by(Case.programme, Case.stage)
    )
    counts = [StageCount(str(p), str(s), int(n)) for p, s, n in rows]
    return sorted(counts, key=lambda c: (c.programme, _stage_key(c.stage)))


def waits_and_breaches(
    session: Session, master_key: MasterKey, *, now: dt.datetime, limits: Limits
) -> tuple[list[CheckpointWaits], list[Breach]]:
    """Return the waits per checkpoint, and each case past its limit (longest wait first)."""
    by_checkpoint: dict[Checkpoint, list[float]] = defaultdict(list)
    over: dict[Checkpoint, int] = defaultdict(int)
    breaches = []
    for wait in waiting_cases(session, master_key, limits=limits):
        waited = _days(wait.waited(now))
        by_checkpoint[wait.checkpoint].append(waited)
        if wait.over_limit(now):
            over[wait.checkpoint] += 1
            breaches.append(
                Breach(wait.reference, wait.programme, wait.checkpoint.value, wait.attempt,
                       waited, wait.limit_text)
            )  # fmt: skip
    waits = [
        CheckpointWaits(
            checkpoint=checkpoint.value,
            cases=len(by_checkpoint[checkpoint]),
            longest_days=max(by_checkpoint[checkpoint]),
            median_days=round(statistics.median(by_checkpoint[checkpoint]), 1),
            over_limit=over[checkpoint],
            limit=describe_limit(checkpoint, limits.get(checkpoint)),
        )
        for checkpoint in Checkpoint
        if by_checkpoint[checkpoint]
    ]
    return waits, sorted(breaches, key=lambda b: -b.waited_days)


def overdue_followups(session: Session, *, today: dt.date) -> list[ProgrammeCount]:
    """Return, per programme, the follow-ups whose report window has passed without a report."""
    rows = session.execute(
        select(Case.programme, FollowUp.due_on, FollowUp.window_days)
        .select_from(FollowUp)
        .join(Case, Case.id == FollowUp.case_id)
        .where(
            FollowUp.reported_at.is_(None),
            FollowUp.state.not_in(FOLLOWUP_SETTLED),
            FollowUp.due_on < today,
        )
    )
    counts: dict[str, int] = defaultdict(int)
    for programme, due_on, window_days in rows:
        # The window is the grace after the due date: overdue once it has fully passed.
        if due_on + dt.timedelta(days=window_days) < today:
            counts[str(programme)] += 1
    return [ProgrammeCount(p, n) for p, n in sorted(counts.items())]


def failed_deliveries(session: Session) -> list[ProgrammeCount]:
    """Return, per programme, the notifications that gave up (outbox state `failed`)."""
    rows = session.execute(
        select(Case.programme, func.count())
        .select_from(OutboxItem)
        .join(Case, Case.id == OutboxItem.case_id)
        .where(OutboxItem.state == "failed")
        .group_by(Case.programme)
    )
    return [ProgrammeCount(str(p), int(n)) for p, n in sorted(rows)]


def time_per_stage(session: Session) -> list[StageTime]:
    """Return the mean days cases spent in each stage they have left, per programme.

    From the event log: each `stage-changed` entry closes the stay in the stage it names as
    `from`, which began at the previous change (or when the case was taken in). Stays still
    open are left out: they would pull the means down while cases are in progress.
    """
    cases = {
        ref: (str(programme), created)
        for ref, programme, created in session.execute(
            select(Case.reference, Case.programme, Case.created_at)
        )
    }
    changes = session.execute(
        select(CaseEvent.reference, CaseEvent.at, CaseEvent.detail)
        .where(CaseEvent.kind == "stage-changed")
        .order_by(CaseEvent.seq)
    )
    entered: dict[str, dt.datetime] = {}
    stays: dict[tuple[str, str], list[float]] = defaultdict(list)
    for reference, at, detail in changes:
        if reference not in cases or not detail.get("from"):
            continue
        programme, created = cases[reference]
        start = entered.get(reference, created)
        stays[(programme, str(detail["from"]))].append((at - start) / DAY)
        entered[reference] = at
    times = [
        StageTime(programme, stage, len(days), round(statistics.fmean(days), 1))
        for (programme, stage), days in stays.items()
    ]
    return sorted(times, key=lambda t: (t.programme, _stage_key(t.stage)))


def build_report(
    session: Session,
    master_key: MasterKey,
    *,
    now: dt.datetime,
    limits: Limits,
    min_cases: int | None = None,
) -> Report:
    """Compute the whole report at `now` (scores only over `min_cases` cases, default the
    setting SAFEPASSAGE_REPORT_MIN_CASES)."""
    waits, breaches = waits_and_breaches(session, master_key, now=now, limits=limits)
    sustainability, points = sustainability_figures(
        session,
        master_key,
        min_cases=get_settings().report_min_cases if min_cases is None else min_cases,
    )
    return Report(
        generated_at=now,
        stages=cases_by_stage(session),
        waiting=waits,
        breaches=breaches,
        followups_overdue=overdue_followups(session, today=now.date()),
        deliveries_failed=failed_deliveries(session),
        stage_times=time_per_stage(session),
        reintegration=reintegration_figures(session),
        sustainability=sustainability,
        score_points=points,
    )


def markdown(report: Report) -> str:
    """Return the report as Markdown tables, for the Prefect UI's artifact page."""
    lines = [f"# Case report, {report.generated_at:%Y-%m-%d %H:%M} UTC", ""]
    lines.append(f"**{report.total_cases} case(s)** in the store. No personal data is shown.")
    programmes = sorted({s.programme for s in report.stages})
    stages = sorted({s.stage for s in report.stages}, key=_stage_key)
    lines += ["", "## Cases per programme and stage", ""]
    if programmes:
        grid = {(s.programme, s.stage): s.cases for s in report.stages}
        lines.append("| programme | " + " | ".join(stages) + " | total |")
        lines.append("|---" * (len(stages) + 2) + "|")
        for p in programmes:
            cells = [grid.get((p, s), 0) for s in stages]
            lines.append(f"| {p} | " + " | ".join(map(str, cells)) + f" | {sum(cells)} |")
    else:
        lines.append("No cases yet.")
    lines += ["", "## Waiting at a checkpoint", ""]
    lines += _md_table(
        ["checkpoint", "cases", "longest (days)", "median (days)", "over limit", "limit"],
        [(w.checkpoint, w.cases, w.longest_days, w.median_days, w.over_limit, w.limit)
         for w in report.waiting],
        empty="No case waits for a person.",
    )  # fmt: skip
    lines += ["", "## Over the time limit", ""]
    lines += _md_table(
        ["case", "programme", "checkpoint", "attempt", "waiting (days)", "limit"],
        [(f"`{b.reference}`", b.programme, b.checkpoint, b.attempt, b.waited_days, b.limit)
         for b in report.breaches],
        empty="None.",
    )  # fmt: skip
    lines += ["", "## Follow-ups overdue and deliveries failed", ""]
    overdue = {f.programme: f.count for f in report.followups_overdue}
    failed = {d.programme: d.count for d in report.deliveries_failed}
    lines += _md_table(
        ["programme", "follow-ups overdue", "deliveries failed"],
        [(p, overdue.get(p, 0), failed.get(p, 0)) for p in sorted({*overdue, *failed})],
        empty="None.",
    )
    lines += ["", "## Mean days per stage (stays completed)", ""]
    lines += _md_table(
        ["programme", "stage", "stays", "mean (days)"],
        [(t.programme, t.stage, t.stays, t.mean_days) for t in report.stage_times],
        empty="No stage completed yet.",
    )
    lines += ["", "## Reintegration plans and grants (CHF)", ""]
    lines += _md_table(
        REINTEGRATION_COLUMNS,
        [reintegration_cells(r) for r in report.reintegration],
        empty="No plan agreed yet.",
    )
    lines += ["", "## Sustainability scores (0 worst, 1 best; docs/sustainability.md)", ""]
    lines += _md_table(
        SUSTAINABILITY_COLUMNS,
        [sustainability_cells(f) for f in report.sustainability],
        empty="No follow-up scored yet.",
    )
    return "\n".join(lines) + "\n"


def _md_table(columns: list[str], rows: list[tuple[Any, ...]], *, empty: str) -> list[str]:
    if not rows:
        return [empty]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines
