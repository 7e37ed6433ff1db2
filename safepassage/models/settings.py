"""One settings object, read from the environment with the prefix SAFEPASSAGE_."""

from __future__ import annotations

import functools
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from safepassage.models.errors import ConfigurationError
from safepassage.models.followup_ladder import FollowUpLadder
from safepassage.models.followup_plan import FollowUpPlan
from safepassage.models.vocabulary import Programme


class Settings(BaseSettings):
    """SafePassage's configuration; every field is `SAFEPASSAGE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="SAFEPASSAGE_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".safepassage",
        description="Folder for the embedded database, key file and local notification logs.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the case store; unset means SQLite in `home`.",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="One fixed master key, base64 (url-safe) of 32 random bytes; it cannot "
        "rotate, so erasure does not reach backups under it. Unset means the key ring.",
    )
    key_ring: Path | None = Field(
        default=None,
        description="Folder of the master-key versions; unset means `<home>-keys`, beside "
        "`home` and not in it, so a backup of the data does not carry its keys.",
    )
    audit_anchor: Path | None = Field(
        default=None,
        description="Folder where each machine appends the audit chain's heads; unset means "
        "`anchors` in the key ring's folder, outside the database and its backups.",
    )
    key_backup_days: int = Field(
        default=35,
        ge=1,
        le=3650,
        description="How long backups are kept: a master-key version is destroyed this many "
        "days after a newer one replaced it, and with it every backup's copy of the data keys "
        "it wrapped.",
    )
    notify_config: Path | None = Field(
        default=None,
        description="Apprise YAML file with the notification targets; unset means one in `home`.",
    )
    notify_max_attempts: int = Field(default=5, ge=1, le=100)
    notify_retry_base_seconds: float = Field(default=30.0, ge=0)
    notify_retry_max_seconds: float = Field(
        default=900.0,
        ge=0,
        description="The longest wait between two tries of a notification (the doubling stops).",
    )
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    notify_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a delivering process holds the items it claimed before another "
        "process may take them over; longer than a batch of sends can take.",
    )
    notify_drain_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often the background drainer looks for notifications that are due.",
    )
    notify_min_interval_seconds: float | None = Field(
        default=None,
        ge=0,
        description="Least time between two sends to one target; unset keeps each Apprise "
        "service's own pacing (5.5 s for email).",
    )

    runner_poll_seconds: int = Field(
        default=1,
        ge=1,
        le=60,
        description="How often the serving process polls for runs to start (Prefect: 10).",
    )
    flow_run_limit: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Flow-run processes `serve` runs at once; unset means two per core.",
    )

    warm_processes: bool = Field(
        default=True,
        description="Start flow runs as forks of a preloaded parent (deployments/warm); "
        "false starts each as Prefect does, a new Python (`python -m prefect.engine`).",
    )

    sla_days: dict[str, float] = Field(
        default_factory=dict,
        description="Time limits in days per checkpoint, as JSON, e.g. "
        '{"travel-document": 28}; unset checkpoints keep the defaults in models/sla.py.',
    )

    orphan_after_seconds: float = Field(
        default=90.0,
        ge=35,
        description="A running flow silent this long (no heartbeat) has lost its process.",
    )
    reaper_interval_seconds: float = Field(default=15.0, gt=0)

    task_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of a stage task after an unexpected fault (a database restart).",
    )
    task_retry_delay_seconds: float = Field(default=5.0, ge=0, le=3600)

    retention_months: int = Field(
        default=24,
        ge=1,
        le=240,
        description="Cases closed, withdrawn or found ineligible this many months ago are "
        "erased by the daily `retention` run.",
    )

    followup_plans: dict[Programme, FollowUpPlan] = Field(
        default_factory=dict,
        description="Follow-up plans per programme, as JSON, e.g. "
        '{"HU": {"offsets_months": [1, 3, 6, 12, 24], "window_days": 21}}; unset programmes '
        "keep the default (1, 3, 6, 12 months; 14 days; see models/followup_plan.py).",
    )
    followup_horizon_days: int = Field(
        default=30,
        ge=1,
        le=366,
        description="Follow-ups due within this many days exist as scheduled Prefect runs.",
    )
    followup_hour_utc: int = Field(
        default=9, ge=0, le=23, description="Hour (UTC) on the due date a follow-up run starts."
    )
    followup_ladder: FollowUpLadder = Field(
        default_factory=FollowUpLadder,
        description="When the mission is told of a follow-up and a missing report escalated, "
        'as JSON, e.g. {"notice_days_before": 10, "breach_days_after": 21}: unset keys keep '
        "the defaults (notice 7 days before the due date; after the deadline, a reminder on "
        "it, overdue 7 days and a breach 14 days after; see models/followup_ladder.py).",
    )

    report_min_cases: int = Field(
        default=5,
        ge=2,
        le=1000,
        description="The fewest cases of a programme the report shows sustainability scores "
        "for (quartiles, change over time); fewer show as too few: an average of one person "
        "is that person.",
    )

    office_policy: Path | None = Field(
        default=None,
        description="The UK office's own eligibility policy, a TOML or JSON file: the outcome of "
        "each office rule and which programmes' embassies are told of a return, with its "
        "version (docs/programme-rules.md). Unset means the built-in defaults.",
    )

    gateway_url: str | None = Field(
        default=None,
        description="The gateway's address as missions reach it, e.g. "
        "https://safepassage.example.org; the notifications to a mission link to the case's "
        "page there. Unset means no link is sent.",
    )

    @field_validator("gateway_url", mode="after")
    @classmethod
    def _gateway_url(cls, value: str | None) -> str | None:
        # The link goes into minimal messages, to channels nobody cleared: only a scheme, a host
        # and a path prefix, so that no password or token can ride along in it.
        if value is None or not value.strip():
            return None
        text = value.strip().rstrip("/")
        try:
            parts = urlsplit(text)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            parts, port_ok = None, False
        if (
            parts is None
            or not port_ok
            or parts.scheme not in {"http", "https"}
            or not parts.hostname
            or parts.username is not None
            or parts.password is not None
            or parts.query
            or parts.fragment
            or any(ch.isspace() for ch in text)
        ):
            raise ValueError(
                "must be the gateway's http:// or https:// address, such as "
                "https://safepassage.example.org, with no user, password, query or fragment"
            )
        return text

    def mission_case_url(self, reference: str) -> str | None:
        """Return the link to a case's page in the mission portal, or None without a gateway.

        It carries the pseudonymous reference only, like every ordinary notification.
        """
        if self.gateway_url is None:
            return None
        return f"{self.gateway_url}/mission/cases/{reference}"

    @field_validator("home", "key_ring", "audit_anchor", "office_policy", mode="after")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def effective_database_url(self) -> str:
        """Return the case store's URL: the configured one, else SQLite under `home`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'safepassage.db'}"

    @property
    def key_file(self) -> Path:
        """Return where the embedded default kept its one master key before the key ring."""
        return self.home / "master.key"

    @property
    def effective_key_ring(self) -> Path:
        """Return the key ring's folder: the configured one, else `<home>-keys` beside `home`."""
        return self.key_ring or self.home.parent / f"{self.home.name}-keys"

    @property
    def effective_audit_anchor(self) -> Path:
        """Return the audit anchor's folder: the configured one, else in the key ring's."""
        return self.audit_anchor or self.effective_key_ring / "anchors"

    @property
    def effective_notify_config(self) -> Path:
        """Return the Apprise configuration file in use."""
        return self.notify_config or self.home / "notify.yaml"


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once; tests call `get_settings.cache_clear()`).

    A bad setting raises ConfigurationError naming the environment variable and what it must
    be, never its value (it may be a key).
    """
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_input=False, include_url=False):
            name = f"SAFEPASSAGE_{str(error['loc'][0]).upper()}" if error["loc"] else "settings"
            where = "".join(f"[{part}]" for part in error["loc"][1:])
            lines.append(f"{name}{where}: {error['msg']}")
        raise ConfigurationError("bad setting: " + "; ".join(lines)) from None
