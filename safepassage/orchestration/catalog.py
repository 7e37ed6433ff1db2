"""The one table of SafePassage's deployments: names, entrypoints, descriptions, schedules, tags.

The flows take their names from here, `safepassage serve` builds its deployments from it,
`safepassage maintain` watches the deployments it lists, and `deployments/prefect.yaml` (the
work-pool set-up) must say the same: a test compares the file with this table. Each
deployment is named after its flow, so `flow/deployment` reads `return-case/return-case`.
Nothing here imports a flow: the entrypoints are strings, resolved by whoever serves them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Every deployment carries this tag, so the office's runs are found together in the UI.
OFFICE_TAG = "safepassage"


@dataclass(frozen=True)
class Schedule:
    """A cron schedule in a named time zone (the zone is part of the rule, not the server's)."""

    cron: str
    timezone: str


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment: its flow, where the flow function lives, and how it is described."""

    flow_name: str
    entrypoint: str
    description: str
    schedule: Schedule | None = None
    tags: tuple[str, ...] = (OFFICE_TAG,)

    @property
    def name(self) -> str:
        """Return the deployment's name: the flow's own."""
        return self.flow_name

    @property
    def full_name(self) -> str:
        """Return `flow/deployment`, the name Prefect's client looks a deployment up by."""
        return f"{self.flow_name}/{self.name}"

    @property
    def module(self) -> str:
        """Return the flow's module (`safepassage.flows.return_case`)."""
        return self.entrypoint.partition(":")[0]

    @property
    def function(self) -> str:
        """Return the flow function's name within its module."""
        return self.entrypoint.partition(":")[2]

    @property
    def file_entrypoint(self) -> str:
        """Return the entrypoint as a path from the repository root, as prefect.yaml writes it."""
        return f"{self.module.replace('.', '/')}.py:{self.function}"


RETURN_CASE = DeploymentSpec(
    flow_name="return-case",
    entrypoint="safepassage.flows.return_case:return_case",
    description="One case's safe return, from identification to follow-ups.",
)
WITHDRAW_CASE = DeploymentSpec(
    flow_name="withdraw-case",
    entrypoint="safepassage.flows.withdraw_case:withdraw_case",
    description="Withdraw a case: stop its run, cancel its booking, tell the mission.",
)
DELIVER_NOTIFICATIONS = DeploymentSpec(
    flow_name="deliver-notifications",
    entrypoint="safepassage.flows.deliver_notifications:deliver_notifications",
    description="Deliver what is due in the notification outbox (operators).",
)
REINTEGRATION_FOLLOWUP = DeploymentSpec(
    flow_name="reintegration-followup",
    entrypoint="safepassage.flows.followup:reintegration_followup",
    description="One follow-up of a case: tell the mission, wait for its report.",
)
FOLLOWUP_SCHEDULER = DeploymentSpec(
    flow_name="followup-scheduler",
    entrypoint="safepassage.flows.followup:followup_scheduler",
    description="Daily: schedule follow-ups due soon, recreate lost runs, escalate late.",
    schedule=Schedule("15 6 * * *", "UTC"),
)
GRANT_INCREASE = DeploymentSpec(
    flow_name="grant-increase",
    entrypoint="safepassage.flows.grant_increase:grant_increase",
    description="One increase of a case's reintegration grant: a coordinator's approval.",
)
CASE_REPORT = DeploymentSpec(
    flow_name="case-report",
    entrypoint="safepassage.flows.case_report:case_report",
    description="Daily: alert on cases past their time limits; publish the case report.",
    # Every morning before the coordinators' day starts, UK time whatever the server's zone.
    schedule=Schedule("0 7 * * *", "Europe/London"),
)
RETENTION = DeploymentSpec(
    flow_name="retention",
    entrypoint="safepassage.flows.retention:retention",
    description="Daily: erase cases ended longer ago than SAFEPASSAGE_RETENTION_MONTHS.",
    schedule=Schedule("30 3 * * *", "UTC"),
)

DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    RETURN_CASE,
    WITHDRAW_CASE,
    DELIVER_NOTIFICATIONS,
    REINTEGRATION_FOLLOWUP,
    FOLLOWUP_SCHEDULER,
    GRANT_INCREASE,
    CASE_REPORT,
    RETENTION,
)
