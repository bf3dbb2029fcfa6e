"""The whole service for API, CLI and browser tests: real pieces, wired as `nopic up` wires them.

Temporal dev server (the session's), a PostgreSQL database of the module's own (migrated), the real
NopicRequest workflow on a worker with the real adapters: the OID gateway over HTTP against the OID sandbox,
the SMTP mailer against the local SMTP sink (messages land in `<home>/outbox`; it refuses `REFUSED_EMAILS` for
good, as a server does a mailbox that does not exist), the PostgreSQL records store; the HTTP service itself
served by uvicorn on a free port.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import Adapters, build_activities
from activities.certificate_pdfs import CertificatePdfs
from activities.documents import DocumentStore
from activities.mail import SmtpMailer
from activities.mail_queue import PgMailQueue
from activities.nopic_numbers import PgNumberRegistry
from activities.oid_http import HttpOidGateway
from activities.pdf import NopicPdfs
from activities.records_pg import PgRecordsStore
from activities.seal import ensure_seal
from core.db import create_pool
from core.settings import Settings
from devstack.oid_sandbox.app import SandboxConfig
from devstack.oid_sandbox.app import create_app as create_sandbox_app
from devstack.smtp_sink import smtp_sink
from tests.support.postgres import create_database
from tests.support.servers import serve_in_process
from web import auth
from web.auth import NewUser, UserRole
from web.main import create_app
from worker import workflow_runner
from workflows.nopic_request import NopicRequest

EXPORTER_OPERATION = "1000000001"
OTHER_EXPORTER_OPERATION = "1000000002"
IMPORTER_OPERATION = "2000000001"
SANDBOX_KEY = "test-key"
# The addresses the stack's SMTP sink refuses for good (550): a request naming one has its messages to it
# given up.
REFUSED_EMAILS = ("gone@refused.example", "moved@refused.example")

# Tiny but real files: the document store recognises them by their first bytes.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def pdf(tag: str) -> bytes:
    """A distinct PDF per tag, so each upload is its own document in the content-addressed store."""
    return PDF + f"% {tag}\n".encode()


@dataclass
class Person:
    username: str
    password: str
    token: str
    role: UserRole

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class ApiStack:
    url: str
    pool: asyncpg.Pool
    settings: Settings
    outbox: Path
    admin: Person
    reviewer: Person
    exporter: Person
    other_exporter: Person
    temporal: Client

    def client(self, person: Person | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=person.headers if person else {}, timeout=30)

    async def dashboard(self, person: Person) -> httpx.AsyncClient:
        """A client signed in to the dashboard as `person`, as a browser is: the session cookie only."""
        http = httpx.AsyncClient(base_url=self.url, timeout=30)
        form = await http.get("/ui/login")
        csrf = form.cookies["nopic_login_csrf"]
        answer = await http.post(
            "/ui/login",
            data={"csrf_token": csrf, "username": person.username, "password": person.password},
        )
        assert answer.status_code == 303, answer.text
        return http


async def person(
    pool: asyncpg.Pool, username: str, role: UserRole, operation_id: str | None = None
) -> Person:
    issued = await auth.create_user(
        pool,
        NewUser(username=username, display_name=username.title(), role=role, operation_id=operation_id),
    )
    return Person(username, issued.password, issued.token, role)


@asynccontextmanager
async def running_stack(
    env: WorkflowEnvironment, server_url: str, template: str, home: Path, *, issuance_mode: str = "api"
) -> AsyncIterator[ApiStack]:
    database_url = await create_database(server_url, template)
    task_queue = f"api-{uuid.uuid4()}"
    sandbox = create_sandbox_app(SandboxConfig(state_dir=home / "oid_sandbox", api_key=SANDBOX_KEY))
    pool = await create_pool(database_url)
    try:
        async with (
            serve_in_process(sandbox) as oid_url,
            smtp_sink("127.0.0.1", 0, home / "outbox", refused=REFUSED_EMAILS) as smtp_port,
        ):
            settings = Settings(
                home=home,
                database_url=database_url,
                temporal_address=env.client.service_client.config.target_host,
                temporal_namespace=env.client.namespace,
                temporal_task_queue=task_queue,
                issuance_mode=issuance_mode,  # type: ignore[arg-type]
                oid_base_url=oid_url,
                oid_api_key=SANDBOX_KEY,
                smtp_port=smtp_port,
            )
            ensure_seal(settings)
            gateway = HttpOidGateway.from_settings(settings)
            store = DocumentStore.from_settings(settings, pool)
            pdfs = CertificatePdfs(pool, store, NopicPdfs.from_settings(settings))
            adapters = Adapters(
                oid=gateway,
                operations=gateway,
                mailer=SmtpMailer(settings),
                records=PgRecordsStore(pool),
                numbers=PgNumberRegistry(pool),
                mail_queue=PgMailQueue(pool),
                db=pool,
                closed_request_pdfs=pdfs,
            )
            worker = Worker(
                env.client,
                task_queue=task_queue,
                workflows=[NopicRequest],
                workflow_runner=workflow_runner(),
                activities=build_activities(adapters),
            )
            async with worker, serve_in_process(create_app(settings)) as url:
                yield ApiStack(
                    url=url,
                    pool=pool,
                    settings=settings,
                    outbox=settings.outbox_dir,
                    admin=await person(pool, "root", UserRole.ADMIN),
                    reviewer=await person(pool, "rita", UserRole.REVIEWER),
                    exporter=await person(pool, "eddy", UserRole.EXPORTER, EXPORTER_OPERATION),
                    other_exporter=await person(pool, "olga", UserRole.EXPORTER, OTHER_EXPORTER_OPERATION),
                    temporal=env.client,
                )
            await gateway.aclose()
    finally:
        await pool.close()


def request_body(
    *,
    operation_id: str = EXPORTER_OPERATION,
    etd_in_days: int = 10,
    arrival_days_after_etd: int = 10,
    documents: list[dict[str, Any]] | None = None,
    product: str = "Organic dried mango",
) -> dict[str, Any]:
    """A valid submission, dated from today so it stays valid whenever the tests run."""
    today = datetime.now(UTC).date()
    etd = today + timedelta(days=etd_in_days)
    eta = datetime.combine(etd, datetime.min.time(), tzinfo=UTC) + timedelta(days=arrival_days_after_etd)
    return {
        "exporter": {
            "name": "Biofruits Export SRL",
            "operation_id": operation_id,
            "country": "BE",
            "email": "exports@biofruits.example",
        },
        "importer": {
            "name": "Green Harbor Imports LLC",
            "address": "1 Harbor Way, Newark NJ 07114",
            "operation_id": IMPORTER_OPERATION,
            "email": "customs@greenharbor.example",
        },
        "shipment": {
            "export_country": "BE",
            "export_port": "Antwerp",
            "us_port_of_entry": "Newark",
            "transport_mode": "sea",
            "etd": etd.isoformat(),
            "eta": eta.isoformat(),
        },
        "timeframe": {"first_day": today.isoformat(), "last_day": (today + timedelta(days=90)).isoformat()},
        "commodities": [
            {
                "product_name": product,
                "hts_code": "0804502000",
                "organic_standard": "organic",
                "net_kg": "1200",
                "lot_numbers": ["M-01"],
                "suppliers": [{"name": "Finca Sol", "certified_by_certifier": True}],
            }
        ],
        "declarations": {"packing_list_applicable": False, "phytosanitary_certificate_applicable": False},
        "documents": documents or [],
    }


def first_shipment(etd_in_days: int = 10, net_kg: str = "400") -> dict[str, Any]:
    """What the first shipment's definitive transport document carries of a `request_body` request: the day
    it left (its ETD) and the net kg of its one commodity."""
    etd = datetime.now(UTC).date() + timedelta(days=etd_in_days)
    return {"shipped_on": etd.isoformat(), "quantities": [{"commodity_index": 0, "net_kg": net_kg}]}


# The documents that complete `request_body`'s checklist: (kind, supplier).
COMPLETE = [
    ("commercial_invoice", None),
    ("traceability_declaration", None),
    ("purchase_invoice", "Finca Sol"),
    ("booking_reservation", None),
]


async def store_documents(
    store: DocumentStore, tag: str, operation_id: str = EXPORTER_OPERATION
) -> list[dict[str, Any]]:
    """References to stored files that complete `request_body`'s checklist, uploaded for the operation."""
    references = []
    for kind, supplier in COMPLETE:
        stored = await store.store(pdf(f"{tag}-{kind}"), f"{kind}.pdf")
        await store.grant(stored.sha256, operation_id, None, by_reviewer=False)
        references.append(
            {"kind": kind, "file_id": stored.sha256, "sha256": stored.sha256, "supplier": supplier}
        )
    return references


def today() -> date:
    return datetime.now(UTC).date()


async def complete_request(stack: ApiStack, tag: str, **overrides: Any) -> dict[str, Any]:
    documents = await store_documents(DocumentStore.from_settings(stack.settings, stack.pool), tag)
    async with stack.client(stack.exporter) as http:
        answer = await http.post("/requests", json=request_body(documents=documents, **overrides))
    assert answer.status_code == 201, answer.text
    submitted: dict[str, Any] = answer.json()
    return submitted


# How long a test waits for the service to get somewhere: generous, since a busy machine is slow.
WAIT_SECONDS = 30


async def wait_for(http: Any, request_id: str, status: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while True:
        state: dict[str, Any] = (await http.get(f"/requests/{request_id}")).json()["state"]
        if state["status"] == status:
            return state
        if loop.time() > deadline:
            raise AssertionError(
                f"{request_id} never reached {status}: {state['status']}, {state['issuance_blocked']}"
            )
        await asyncio.sleep(0.1)
