"""The worker: runs NOPIC request workflows and their activities on the configured task queue.

`build_worker` registers the service's workflows and `activities.build_activities` on the real adapters,
built from the process's settings and database pool.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import Adapters, build_activities
from activities.certificate_pdfs import CertificatePdfs
from activities.documents import DocumentStore
from activities.mail import SmtpMailer
from activities.mail_queue import PgMailQueue
from activities.nopic_numbers import PgNumberRegistry
from activities.oid_http import HttpOidGateway
from activities.oid_public import OperationRegistry, PublicDataOperations
from activities.pdf import NopicPdfs
from activities.records_pg import PgRecordsStore
from activities.seal import ensure_seal
from core.activity_caps import activity_caps
from core.db import create_pool, resolve_database_url
from core.logging import configure_logging, get_logger
from core.probes import Probes
from core.settings import Settings, get_settings
from core.temporal import connect, metrics_runtime
from starter.schedules import ensure_collection_schedule, ensure_digest_schedule
from workflows.collect_documents import CollectUnreferencedDocuments
from workflows.digest import DailyDigest
from workflows.nopic_request import NopicRequest

log = get_logger("nopic.worker")

# pydantic imports email_validator (and it idna) on the first EmailStr it checks: inside the sandbox that
# import would run again for every workflow created, a tenth of the worker's CPU. They are pure functions.
# Imported inside the sandbox by several workflow threads at once, they can deadlock on the import lock.
SANDBOX = SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna")


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every worker of the service runs its workflows in (the tests' workers too)."""
    return SandboxedWorkflowRunner(restrictions=SANDBOX)


def workflows() -> Sequence[type]:
    return [NopicRequest, DailyDigest, CollectUnreferencedDocuments]


def adapters(settings: Settings, db: asyncpg.Pool) -> Adapters:
    """The real outside systems: OID over HTTP, SMTP, PostgreSQL, the document store. The operations check
    asks OID's public data service when a key for it is configured, else the OID gateway's own look-up.
    Nothing here connects: a gateway nobody reaches (manual issuance) costs nothing."""
    documents = DocumentStore.from_settings(settings, db)
    gateway = HttpOidGateway.from_settings(settings)
    operations: OperationRegistry = gateway
    if settings.oid_data_key is not None:
        operations = PublicDataOperations.from_settings(settings)
    return Adapters(
        oid=gateway,
        operations=operations,
        mailer=SmtpMailer(settings),
        records=PgRecordsStore(db, settings.records_retention_years),
        numbers=PgNumberRegistry(db),
        mail_queue=PgMailQueue(db),
        db=db,
        closed_request_pdfs=CertificatePdfs(db, documents, NopicPdfs.from_settings(settings)),
        documents=documents,
    )


def build_worker(client: Client, settings: Settings, db: asyncpg.Pool) -> Worker:
    """The worker for the task queue: every workflow and activity of the service."""
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=workflows(),
        activities=build_activities(adapters(settings, db)),
        workflow_runner=workflow_runner(),
        # Sized by measurement (README, Performance): the cache bounds the worker's memory, not the open
        # requests it serves; a request out of the cache replays its history on its next task.
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_workflow_task_slots,
        # On stop, activities in hand get this long to finish before they are cancelled (and retried later).
        graceful_shutdown_timeout=timedelta(seconds=10),
        # Unset in production; test stacks shorten what a killed worker's activities cost (see the module).
        interceptors=activity_caps(
            settings.activity_timeout_cap_seconds, settings.activity_retry_cap_seconds
        ),
    )


@dataclass
class WorkerState:
    """What the readiness probe looks at; filled in as the process starts."""

    client: Client | None = None
    worker: Worker | None = None
    starting: bool = True

    async def readiness(self) -> str | None:
        """None when the worker polls its task queue and Temporal answers; otherwise why not."""
        if self.client is None or self.starting:
            return "starting: connecting to Temporal and PostgreSQL"
        if self.worker is None or not self.worker.is_running or self.worker.is_shutdown:
            return "the worker is not polling its task queue"
        try:
            serving = await self.client.service_client.check_health(timeout=timedelta(seconds=2))
        except Exception as exc:  # any failure to answer means not ready; the reason is the answer
            return f"Temporal does not answer: {exc}"
        return None if serving else "Temporal reports that it is not serving"


async def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    state = WorkerState()
    probes = None
    if settings.worker_health_port is not None:
        probes = Probes(settings.worker_host, settings.worker_health_port, state.readiness)
    runtime = None
    if settings.worker_metrics_port is not None:
        runtime = metrics_runtime(settings.worker_host, settings.worker_metrics_port)
    log.info(
        "worker starting",
        health_port=settings.worker_health_port,
        metrics_port=settings.worker_metrics_port,
    )

    # The seal of the NOPIC PDFs the mails carry: made on first start unless the operator gave one.
    ensure_seal(settings)
    state.client = client = await connect(settings, runtime=runtime)
    # The schedules follow the settings of the worker that starts last.
    await ensure_digest_schedule(client, settings)
    await ensure_collection_schedule(client, settings)
    url, embedded = await resolve_database_url(settings)
    db = await create_pool(url)
    try:
        state.worker = worker = build_worker(client, settings, db)
        async with worker:
            state.starting = False
            log.info("worker started", task_queue=settings.temporal_task_queue)
            await stop.wait()
            log.info("worker stopping: finishing the tasks in hand")
    finally:
        if probes is not None:
            await asyncio.to_thread(probes.close)
        await db.close()
        if embedded is not None:
            embedded.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
