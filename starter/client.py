"""The one module that starts, updates and queries `NopicRequest` workflows.

The HTTP API, the dashboard and (through the API) the CLI all come here; none of them holds a business rule.
The workflow decides: when it refuses an action, its reason comes back as `ActionRefused`. A closed request
is read from its record in PostgreSQL, which outlives the workflow.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import asyncpg
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.records import RequestSummary
from activities.records_pg import record_submission
from activities.request_records import KeptRequest, kept_request
from core.logging import get_logger
from domain import messages
from domain.actions import spec_of
from domain.intake import checked_in, first_state
from domain.policy import Policy
from domain.request import NopicRequestForm
from domain.state import Actor, NopicRequestInput, RequestState, RequestStatus, workflow_id
from workflows import search_attributes

log = get_logger(__name__)

WORKFLOW_TYPE: Final = "NopicRequest"
STATE_QUERY: Final = "state"

# A workflow just started answers queries once its first task ran, and takes in the request with a few
# activities: a submission sent again waits that long at most before answering with the state as it is.
_FIRST_STATE_TIMEOUT = 10.0


# A person is waiting on the other end: without a worker to answer, say so instead of hanging.
QUERY_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=30)


class RequestNotFound(LookupError):
    pass


class ActionRefused(Exception):
    """The workflow refused the action; `reason` is its own words, for the person who tried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EngineUnavailable(RuntimeError):
    """Temporal does not answer; nothing was changed."""


@dataclass(frozen=True)
class RequestClient:
    """Requests through their workflows; a closed request from its record when `records` is given.

    A closed request is read from its record in PostgreSQL (`request_records`), whatever Temporal still
    holds: the namespace's retention deletes closed workflows, the certifier keeps records for years.
    """

    temporal: Client
    task_queue: str
    records: asyncpg.Pool | None = None

    def _handle(self, request_id: str) -> WorkflowHandle[object, object]:
        return self.temporal.get_workflow_handle(workflow_id(request_id))

    async def submit(
        self,
        request_id: str,
        form: NopicRequestForm,
        policy: Policy,
        submitted_by: Actor,
        *,
        again: bool = False,
    ) -> RequestState:
        """Start the request's workflow. A new request is answered as soon as the start is accepted, with
        the state the workflow checks it in to (`domain.intake`, the functions the workflow runs). Sent
        `again` (its idempotency key known), the request as it is now, once the workflow has taken it in.
        Starting the same id again finds the first run, running or ended: a closed request is never
        started again."""
        start = NopicRequestInput(request_id=request_id, form=form, policy=policy, submitted_by=submitted_by)
        kept = await self.kept(request_id)
        if kept is not None:
            return kept.state  # it ran and closed; its workflow may be gone, so never start it again
        first = first_state(request_id, form, policy, datetime.now(UTC))
        try:
            await self.temporal.start_workflow(
                WORKFLOW_TYPE,
                start,
                id=workflow_id(request_id),
                task_queue=self.task_queue,
                search_attributes=search_attributes.at_start(first),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
            log.info("request started", request_id=request_id, by=submitted_by.person_id)
        except WorkflowAlreadyStartedError:
            # It ran already and has ended (refused, withdrawn...): its state is still there to read.
            return await self._settled(request_id)
        except RPCError as exc:
            raise _unavailable(exc) from exc
        if again:
            return await self._settled(request_id)
        state = checked_in(first)
        if self.records is not None:
            try:
                await record_submission(self.records, RequestSummary.of(state))
            except (asyncpg.PostgresError, OSError) as exc:
                # Started all the same: the workflow's own first record writes the row shortly.
                log.warning("submission not yet listed", request_id=request_id, error=str(exc))
        return state

    async def _settled(self, request_id: str) -> RequestState:
        """The state once the workflow has taken in the request (its checklist checked), or as it is then."""
        deadline = asyncio.get_running_loop().time() + _FIRST_STATE_TIMEOUT
        while True:
            state = await self.state(request_id, wait=_FIRST_STATE_TIMEOUT)
            if state.status is not RequestStatus.RECEIVED or asyncio.get_running_loop().time() >= deadline:
                return state
            await asyncio.sleep(0.05)

    async def kept(self, request_id: str) -> KeptRequest | None:
        """The record of a closed request; None while it is open, or without `records`."""
        return await kept_request(self.records, request_id) if self.records is not None else None

    async def state(self, request_id: str, *, wait: float = 0.0) -> RequestState:
        """The request's whole current state: from the workflow while it is open, else from its record."""
        kept = await self.kept(request_id)
        if kept is not None:
            return kept.state
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            try:
                state: RequestState = await self._handle(request_id).query(
                    STATE_QUERY, result_type=RequestState, rpc_timeout=QUERY_TIMEOUT
                )
                return state
            except RPCError as exc:
                if exc.status is RPCStatusCode.NOT_FOUND:
                    kept = await self.kept(request_id)  # it closed, and its workflow is gone, since
                    if kept is not None:
                        return kept.state
                    raise RequestNotFound(request_id) from exc
                # Not answerable yet (its first task has not run): try again for a short while.
                if asyncio.get_running_loop().time() >= deadline:
                    raise _unavailable(exc) from exc
            except WorkflowQueryFailedError as exc:
                if asyncio.get_running_loop().time() >= deadline:
                    raise EngineUnavailable(f"the request's state cannot be read now: {exc}") from exc
            await asyncio.sleep(0.1)

    async def act(self, request_id: str, action: messages.Action) -> RequestState:
        """Deliver one action as a workflow update; the new state, or `ActionRefused` with the reason."""
        name = spec_of(action).update
        handle = self._handle(request_id)
        try:
            result = await handle.execute_update(
                name, action, result_type=RequestState, rpc_timeout=UPDATE_TIMEOUT
            )
        except WorkflowUpdateFailedError as exc:
            raise ActionRefused(_reason(exc.cause)) from exc
        except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
            raise EngineUnavailable(
                "the workflow did not answer in time; the action may still take effect, so look at the "
                "request before trying again (sending the same action id again is safe)"
            ) from exc
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                await self._refuse_if_ended(request_id, exc)
                raise RequestNotFound(request_id) from exc
            raise _unavailable(exc) from exc
        log.info("action taken", request_id=request_id, action=name, by=action.actor.person_id)
        if isinstance(result, RequestState):
            return result
        return await self.state(request_id)

    async def _refuse_if_ended(self, request_id: str, cause: RPCError) -> None:
        """An update to an ended workflow reads like "not found"; say instead that the request has ended."""
        kept = await self.kept(request_id)
        if kept is not None:
            status = kept.state.status.value
            raise ActionRefused(f"the request is {status} and takes no further actions") from cause
        try:
            description = await self._handle(request_id).describe()
        except RPCError:
            return
        if description.status is not WorkflowExecutionStatus.RUNNING:
            try:
                status = (await self.state(request_id)).status.value
            except (RequestNotFound, EngineUnavailable):
                status = "closed"
            raise ActionRefused(f"the request is {status} and takes no further actions") from cause


def _reason(cause: BaseException | None) -> str:
    if isinstance(cause, ApplicationError | FailureError):
        return cause.message
    return str(cause) if cause else "the workflow refused the action"


def _unavailable(exc: RPCError) -> EngineUnavailable:
    log.warning("temporal call failed", status=exc.status.name if exc.status else None, error=exc.message)
    return EngineUnavailable(
        f"the workflow engine did not answer ({exc.message}); nothing was changed, try again shortly"
    )
