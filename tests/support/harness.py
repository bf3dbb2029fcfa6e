"""A NOPIC request service on the time-skipping server, with fake ports behind the real activity classes."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import Adapters, build_activities
from activities.notifications import Notification
from domain.intake import first_state
from domain.messages import Approve, RecordCertificateNumber, SubmitTransportDocument
from domain.policy import Policy
from domain.request import DocumentKind, NopicRequestForm
from domain.state import (
    Actor,
    NopicRequestInput,
    RequestState,
    RequestStatus,
    Role,
    ShippedQuantity,
    workflow_id,
)
from tests.support.dirs import HISTORIES
from tests.support.fakes import FakeOid, MemoryMailQueue, NumberBook, RecordingMailer, RecordingStore
from tests.support.forms import document, form_data
from worker import workflow_runner
from workflows import search_attributes
from workflows.nopic_request import ACTION_REFUSED, NopicRequest

# Seconds of real time a skip to a far instant may take; it takes well under one.
SKIP_LIMIT = 30

EXPORTER = Actor(person_id="u-exporter", name="Eva Exporter", role=Role.EXPORTER)
REVIEWER = Actor(person_id="u-reviewer", name="Rik Reviewer", role=Role.REVIEWER)

# The certifier's policy as the settings give it today (the defaults reproduce older requests').
PATHS = Policy(
    reminder_time=time(9),
    transport_grace_working_days=2,
    deadline_move_allowance=timedelta(days=30),
    quantities_report_before=timedelta(days=7),
)
BRUSSELS = PATHS.zone
# What the first shipment carries, unless a test says otherwise: part of the coffee, none of the cocoa.
FIRST_SHIPMENT_KG = {0: "2000"}


def kilograms(kg: dict[int, str]) -> list[ShippedQuantity]:
    return [ShippedQuantity(commodity_index=i, net_kg=Decimal(v)) for i, v in kg.items()]


def request_form(
    now: datetime,
    *,
    etd_in_days: int = 10,
    deadline_in_days: float = 20,
    timeframe_days: int = 60,
    **overrides: Any,
) -> NopicRequestForm:
    """A complete request received `now`, departing in `etd_in_days`, with customs clearance expected
    `deadline_in_days` from now and a timeframe ending `timeframe_days` after the day of receipt."""
    etd = now.date() + timedelta(days=etd_in_days)
    timeframe = {
        "first_day": now.date().isoformat(),
        "last_day": (now.date() + timedelta(timeframe_days)).isoformat(),
    }
    data = form_data(
        received_at=now,
        etd=etd,
        eta=now + timedelta(days=deadline_in_days),
        timeframe=timeframe,
        **overrides,
    )
    return NopicRequestForm.model_validate(data)


@dataclass
class Service:
    env: WorkflowEnvironment
    task_queue: str
    oid: FakeOid = field(default_factory=FakeOid)
    mailer: RecordingMailer = field(default_factory=RecordingMailer)
    mail_queue: MemoryMailQueue = field(default_factory=MemoryMailQueue)
    store: RecordingStore = field(default_factory=RecordingStore)
    numbers: NumberBook = field(default_factory=NumberBook)
    actions: int = 0
    etd: date | None = None  # of the request started last: the first shipment leaves then

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def start(
        self,
        form: NopicRequestForm | None = None,
        policy: Policy | None = None,
        request_id: str | None = None,
    ) -> WorkflowHandle[Any, RequestState]:
        form = form or request_form(await self.now())
        self.etd = form.shipment.etd
        request_id = request_id or f"r-{uuid.uuid4().hex[:12]}"
        policy = policy or Policy()
        # Started as the service starts a request: with its first state's search attributes.
        first = first_state(request_id, form, policy, await self.now())
        return await self.env.client.start_workflow(
            NopicRequest.run,
            NopicRequestInput(request_id=request_id, form=form, policy=policy, submitted_by=EXPORTER),
            id=workflow_id(request_id),
            task_queue=self.task_queue,
            search_attributes=search_attributes.at_start(first),
        )

    def action(self, actor: Actor = REVIEWER, action_id: str | None = None) -> dict[str, Any]:
        """The common part of an action: a fresh action id, the actor and the time."""
        self.actions += 1
        return {
            "action_id": action_id or f"a-{self.actions}",
            "actor": actor,
            "at": datetime.now().astimezone(),
        }

    async def result(self, handle: WorkflowHandle[Any, RequestState]) -> RequestState:
        """Let the request run to its end: time skips while we wait (bounded, so a stuck skip fails)."""
        return await asyncio.wait_for(handle.result(), SKIP_LIMIT)

    async def sleep_until(self, instant: datetime) -> None:
        """Let time skip to `instant`, firing every timer due before it, then hold the clock there."""
        await asyncio.wait_for(self.env.sleep(instant - await self.now()), SKIP_LIMIT)

    async def state(self, handle: WorkflowHandle[Any, RequestState]) -> RequestState:
        return await handle.query(NopicRequest.state)

    async def until(
        self, handle: WorkflowHandle[Any, RequestState], check: Callable[[RequestState], bool], what: str
    ) -> RequestState:
        """Poll the `state` query (time does not skip meanwhile) until `check` holds."""
        for _ in range(200):
            state = await self.state(handle)
            if check(state):
                return state
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"never reached: {what}; status {state.status}, issuance {state.issuance_blocked}"
        )

    async def mails(self) -> RecordingMailer:
        """The mailer, once every message queued so far is sent or given up: a change's messages go out
        after its action has been answered."""
        for _ in range(200):
            queued = self.mail_queue.queued.keys()
            if queued <= self.mailer.sent.keys() | self.mail_queue.given_up.keys():
                return self.mailer
            await asyncio.sleep(0.05)
        raise AssertionError(f"never sent: {sorted(queued - self.mailer.sent.keys())}")

    async def mailed(self, kind: str, audience: str) -> Notification:
        """The message of `kind` to `audience`, once the workflow has sent it."""
        for _ in range(200):
            sent = [n for n in self.mailer.of_kind(kind) if n.audience == audience]
            if sent:
                [notification] = sent
                return notification
            await asyncio.sleep(0.05)
        raise AssertionError(f"never sent: {kind} to {audience}")

    async def until_status(
        self, handle: WorkflowHandle[Any, RequestState], status: RequestStatus
    ) -> RequestState:
        return await self.until(handle, lambda s: s.status is status, f"status {status}")

    async def issued(self, handle: WorkflowHandle[Any, RequestState]) -> RequestState:
        """Approve a complete request and wait for its NOPICs (api mode)."""
        await self.until_status(handle, RequestStatus.IN_REVIEW)
        await handle.execute_update(NopicRequest.approve, Approve(**self.action()))
        return await self.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)

    async def active(self, handle: WorkflowHandle[Any, RequestState]) -> RequestState:
        """Approve, issue, and accept the definitive transport document."""
        await self.issued(handle)
        state = await handle.execute_update(NopicRequest.transport_document, self.transport_document())
        assert state.status is RequestStatus.ACTIVE
        return state

    def transport_document(
        self,
        file_id: str = "bl-1",
        actor: Actor = EXPORTER,
        *,
        kg: dict[int, str] | None = None,
        shipped_on: date | None = None,
    ) -> SubmitTransportDocument:
        """The first shipment's definitive transport document: it left on the ETD with `kg` per commodity
        (`FIRST_SHIPMENT_KG` unless given; `{}` for a document sent without them)."""
        reference = document(DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE, file_id)
        kg = FIRST_SHIPMENT_KG if kg is None else kg
        return SubmitTransportDocument(
            **self.action(actor),
            document=reference,
            shipped_on=(shipped_on or self.etd) if kg else None,
            quantities=kilograms(kg),
        )

    async def save_history(
        self, handle: WorkflowHandle[Any, RequestState], name: str, run_id: str | None = None
    ) -> None:
        """With NOPIC_SAVE_HISTORIES=1, keep this run's history for the replay test, unless one is saved:
        a committed history stands for requests under way and must keep replaying as it is."""
        path = HISTORIES / f"{re.sub(r'[^a-z0-9_]+', '_', name.lower())}.json"
        if os.environ.get("NOPIC_SAVE_HISTORIES") != "1" or path.exists():
            return
        history = await self.env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        HISTORIES.mkdir(exist_ok=True)
        path.write_text(history.to_json())


@asynccontextmanager
async def running_service(
    env: WorkflowEnvironment,
    task_queue: str,
    replacing: Callable[[Service], list[Callable[..., Any]]] | None = None,
) -> AsyncIterator[Service]:
    """The workflow's worker over fake ports; `replacing` gives activities that stand in for the ones of the
    same name (one layer's behaviour a test needs and the fakes cannot give)."""
    service = Service(env, task_queue)
    service.oid.register("1234567890", "Organic Trade SA")
    service.oid.register("9876543210", "Green Imports Inc")
    adapters = Adapters(
        oid=service.oid,
        operations=service.oid,
        mailer=service.mailer,
        records=service.store,
        numbers=service.numbers,
        mail_queue=service.mail_queue,
    )
    activities = build_activities(adapters)
    if replacing is not None:
        stand_ins = replacing(service)
        replaced = {stand_in.__name__ for stand_in in stand_ins}
        activities = [a for a in activities if a.__name__ not in replaced] + stand_ins
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[NopicRequest],
        workflow_runner=workflow_runner(),
        activities=activities,
    ):
        yield service


def at_instant(happened: datetime, due: datetime) -> bool:
    """A timer fires at its instant, plus the moment the server takes to hand the task over."""
    return due <= happened < due + timedelta(seconds=30)


async def refusal(update: Awaitable[Any]) -> str:
    """The reason the workflow gives for refusing this update (which must be refused)."""
    try:
        await update
    except WorkflowUpdateFailedError as failed:
        assert isinstance(failed.cause, ApplicationError), failed.cause
        assert failed.cause.type == ACTION_REFUSED
        return failed.cause.message
    raise AssertionError("the update was accepted")


async def record_first_number(
    service: Service, handle: WorkflowHandle[Any, RequestState], number: str
) -> RequestState:
    """Record commodity 0's number as staff would: again while the operations are still being checked."""
    update = RecordCertificateNumber(**service.action(), commodity_index=0, number=number)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30  # two lookups in the in-memory OID: well under a second, unless very busy
    while loop.time() < deadline:
        try:
            return await handle.execute_update(NopicRequest.record_certificate_number, update)
        except WorkflowUpdateFailedError as failed:
            if "still being checked" not in str(failed.cause):
                raise
        await asyncio.sleep(0.05)
    raise AssertionError("the operations were never checked")
