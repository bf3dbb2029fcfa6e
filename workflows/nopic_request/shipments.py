"""Transport documents, shipment by shipment: the first shipment's kept before issue, accepted with its
day and net kg, rejected (with a grace period when the customs deadline is at hand); a further shipment's
rejected and replaced the same way. Called by the handlers of `transport-document` and
`reject-transport-document` (`handlers.py`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

from workflows.nopic_request.alarms import Alarms

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Audience
    from activities.notifications import NotificationKind as Kind
    from domain.calendar import grace_end
    from domain.messages import RejectTransportDocument, SubmitTransportDocument
    from domain.request import DocumentReference
    from domain.state import BEFORE_ISSUE, HeldTransportDocument

# A rejection this close to the customs deadline (or after it) leaves no time to send another document:
# the policy's grace period opens.
NO_TIME_LEFT = timedelta(days=1)


class Shipments(Alarms):
    def _grace_from_now(self) -> datetime:
        # `holidays` sets up its country's rules on first use, outside the sandbox (see `run.lead_time`).
        with workflow.unsafe.imports_passed_through(), workflow.unsafe.sandbox_unrestricted():
            return grace_end(self._state.policy, workflow.now())

    def _hold(self, document: DocumentReference) -> None:
        """The document joins the request's documents, once."""
        documents = self._state.form.documents
        if all(d.file_id != document.file_id for d in documents):
            self._set_form(self._state.form.model_copy(update={"documents": [*documents, document]}))

    async def take_transport_document(self, action: SubmitTransportDocument) -> None:
        """Before issue it is kept; after, it is the first shipment's, with its day and net kg; with
        `shipment`, it replaces that further shipment's rejected one."""
        state = self._state
        self._hold(action.document)
        if action.shipment is not None:
            index = action.shipment
            replaced = state.shipments[index].model_copy(
                update={"transport_document": action.document, "rejected": None, "grace_until": None}
            )
            state.shipments[index] = replaced
            await self._record("transport_document", action.actor, action.action_id, payload=action)
            await self._notify(Kind.DOCUMENTS_RECEIVED, Audience.REVIEW_TEAM)
            return
        if state.status in BEFORE_ISSUE:
            state.held_transport_document = HeldTransportDocument(
                action_id=action.action_id,
                document=action.document,
                shipped_on=action.shipped_on,
                quantities=action.quantities,
                received_at=workflow.now(),
            )
            await self._record("transport_document_held", action.actor, action.action_id, payload=action)
            await self._notify(Kind.DOCUMENTS_RECEIVED, Audience.REVIEW_TEAM)
            return
        assert action.shipped_on is not None  # the rules ask for both once the NOPICs are issued
        self.accept_first_shipment(action.action_id, action.document, action.shipped_on, action.quantities)
        await self._record("transport_document", action.actor, action.action_id, payload=action)
        await self._notify(Kind.DOCUMENTS_RECEIVED, Audience.REVIEW_TEAM)
        await self.activate_when_documents_complete()

    def open_grace_if_no_time_left(self) -> None:
        """A rejection at, after or within a day of the customs deadline leaves the policy's working days
        for a compliant document; the NOPICs are cancelled only when none came by then."""
        state = self._state
        if state.grace_until is None and state.customs_deadline - workflow.now() <= NO_TIME_LEFT:
            if state.policy.transport_grace_working_days > 0:
                state.grace_until = self._grace_from_now()
                state.grace_reminded = False

    async def reject_further_shipment(self, action: RejectTransportDocument) -> None:
        """A further shipment's document is not compliant: a compliant one is due before its customs
        deadline, or within the grace period when that is at hand or unknown."""
        assert action.shipment is not None
        state = self._state
        shipment = state.shipments[action.shipment]
        deadline = shipment.customs_deadline
        grace = None
        if deadline is None or deadline - workflow.now() <= NO_TIME_LEFT:
            grace = self._grace_from_now()
        rejected = shipment.model_copy(
            update={"rejected": action.reason, "grace_until": grace, "reminded": False}
        )
        state.shipments[action.shipment] = rejected
        due_by = rejected.document_deadline
        assert due_by is not None
        detail = f"shipment of {shipment.shipped_on}, {shipment.transport_document.file_id}: {action.reason}"
        await self._record("reject_transport_document", action.actor, action.action_id, detail=detail)
        await self._notify(
            Kind.TRANSPORT_DOCUMENT_REJECTED,
            Audience.EXPORTER,
            message=action.reason,
            due_by=due_by,
            shipped_on=shipment.shipped_on,
        )
