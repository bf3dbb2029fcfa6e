"""A NOPIC request service on the time-skipping server, with fake ports behind the real activity classes."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.notifications import NotificationActivities
from activities.oid import OidActivities
from activities.records import RecordsActivities
from domain.messages import SubmitTransportDocument
from domain.policy import Policy
from domain.request import DocumentKind, NopicRequestForm
from domain.state import Actor, NopicRequestInput, RequestState, RequestStatus, Role, workflow_id
from tests.fakes import FakeOid, RecordingMailer, RecordingStore
from tests.requests import document, form_data
from workflows import search_attributes
from workflows.nopic_request import NopicRequest

HISTORIES = Path(__file__).parent / "histories"

EXPORTER = Actor(person_id="u-exporter", name="Eva Exporter", role=Role.EXPORTER)
REVIEWER = Actor(person_id="u-reviewer", name="Rik Reviewer", role=Role.REVIEWER)


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
    store: RecordingStore = field(default_factory=RecordingStore)
    actions: int = 0

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def start(
        self,
        form: NopicRequestForm | None = None,
        policy: Policy | None = None,
        request_id: str | None = None,
    ) -> WorkflowHandle[Any, RequestState]:
        form = form or request_form(await self.now())
        request_id = request_id or f"r-{uuid.uuid4().hex[:12]}"
        return await self.env.client.start_workflow(
            NopicRequest.run,
            NopicRequestInput(
                request_id=request_id, form=form, policy=policy or Policy(), submitted_by=EXPORTER
            ),
            id=workflow_id(request_id),
            task_queue=self.task_queue,
        )

    def action(self, actor: Actor = REVIEWER, action_id: str | None = None) -> dict[str, Any]:
        """The common part of an action: a fresh action id, the actor and the time."""
        self.actions += 1
        return {
            "action_id": action_id or f"a-{self.actions}",
            "actor": actor,
            "at": datetime.now().astimezone(),
        }

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

    async def until_status(
        self, handle: WorkflowHandle[Any, RequestState], status: RequestStatus
    ) -> RequestState:
        return await self.until(handle, lambda s: s.status is status, f"status {status}")

    async def issued(self, handle: WorkflowHandle[Any, RequestState]) -> RequestState:
        """Approve a complete request and wait for its NOPICs (api mode)."""
        from domain.messages import Approve

        await self.until_status(handle, RequestStatus.IN_REVIEW)
        await handle.execute_update(NopicRequest.approve, Approve(**self.action()))
        return await self.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)

    def transport_document(self, file_id: str = "bl-1", actor: Actor = EXPORTER) -> SubmitTransportDocument:
        reference = document(DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE, file_id)
        return SubmitTransportDocument(**self.action(actor), document=reference)

    async def save_history(
        self, handle: WorkflowHandle[Any, RequestState], name: str, run_id: str | None = None
    ) -> None:
        """With NOPIC_SAVE_HISTORIES=1, keep this run's history for the replay test."""
        if os.environ.get("NOPIC_SAVE_HISTORIES") != "1":
            return
        history = await self.env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{re.sub(r'[^a-z0-9_]+', '_', name.lower())}.json").write_text(history.to_json())


_REGISTERED: set[int] = set()


async def register_search_attributes(env: WorkflowEnvironment) -> None:
    """The time-skipping server knows only the search attributes it is told about (once per server)."""
    if id(env) in _REGISTERED:
        return
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in search_attributes.ALL
            },
        )
    )
    _REGISTERED.add(id(env))


@asynccontextmanager
async def running_service(env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[Service]:
    await register_search_attributes(env)
    service = Service(env, task_queue)
    service.oid.register("1234567890", "Organic Trade SA")
    service.oid.register("9876543210", "Green Imports Inc")
    oid = OidActivities(service.oid)
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[NopicRequest],
        activities=[
            oid.lookup_operation,
            oid.issue_nopic,
            oid.get_nopic,
            oid.cancel_nopic,
            NotificationActivities(service.mailer).notify,
            RecordsActivities(service.store).record_change,
        ],
    ):
        yield service


def days_before(deadline: datetime, days: float) -> datetime:
    return deadline - timedelta(days=days)


def on(day: date) -> str:
    return day.isoformat()
