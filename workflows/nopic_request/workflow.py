"""`NopicRequest`: the Temporal workflow of one NOPIC request, id `nopic-request-<request id>`.

The class only composes: the procedure's steps (`procedure.py`, with the operations check, the
cancellations, the time it keeps and what rings) and the handlers of people's actions (`handlers.py`,
`oid_actions.py`, `decisions.py`), over what one run shares (`run.py`); the package's docstring maps them.
Temporal finds the updates, signals and the query on those base classes; `run` must be defined here, on
the class `workflow.defn` names.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from workflows.nopic_request import patches
from workflows.nopic_request.decisions import Decisions
from workflows.nopic_request.oid_actions import OidActions

with workflow.unsafe.imports_passed_through():
    from domain.policy import IssuanceMode
    from domain.state import UNDER_REVIEW, NopicRequestInput, RequestState
    from domain.state import RequestStatus as Status


@workflow.defn(name="NopicRequest")
class NopicRequest(OidActions, Decisions):
    @workflow.init
    def __init__(self, input: NopicRequestInput) -> None:
        super().__init__(input)

    @workflow.run
    async def run(self, input: NopicRequestInput) -> RequestState:
        """Receive the request, then run the step its status calls for until it ends."""
        patches.ask_at_start()
        self._queues_mail = workflow.patched(patches.MAIL_QUEUE)
        if self._queues_mail:
            self._mail_sender = asyncio.create_task(self.send_mail())
        self._index()
        if self._state.policy.issuance_mode is IssuanceMode.API:
            # For the whole run: the OID gateway cancels what is to be cancelled, outside the lock.
            self._gateway_cancellations = asyncio.create_task(self.cancel_through_gateway())
            # And issues the replacements of NOPICs replaced after issue (`replace-certificate`).
            self._gateway_replacements = asyncio.create_task(self.issue_replacements_through_gateway())
        if self._state.status is Status.RECEIVED:
            await self.receive(input.submitted_by)
        while not self._state.status.is_final:
            if self._continue_as_new_due():
                await self._continue_as_new()
            status = self._state.status
            if status in UNDER_REVIEW:
                await self.wait_for_review()
            elif status is Status.ISSUING:
                await self.issue()
            elif status is Status.AWAITING_TRANSPORT_DOCUMENT:
                await self.wait_for_transport_document()
            elif status is Status.ACTIVE:
                await self.keep_active_until_timeframe_ends()
            elif status is Status.CANCELLING:
                await self.wait_for_cancellations()
        await workflow.wait_condition(self._done)
        return self._state
