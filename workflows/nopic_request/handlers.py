"""What people do to a request: the workflow's updates, its two signals and its query.

Each action is an update, not a signal: the person (through the API) needs to know at once whether it was
refused, and why. The update's validator refuses before anything enters the history; the handler waits
until the request is checked in, then judges the action again under the lock, because the state may have
moved while it waited, and applies it. Why an action is refused is decided in `domain.rules`, who may
take it in which status by the action list (`domain.actions`); here is only what each action changes.
A repeated action id changes nothing: the handler answers with the state as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.nopic_request import patches
from workflows.nopic_request.cancellations import AuditLine
from workflows.nopic_request.moves import DeadlineMoves
from workflows.nopic_request.run import lead_time

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Audience
    from activities.notifications import NotificationKind as Kind
    from domain.certificates import one_nopic_per_commodity
    from domain.messages import (
        Action,
        Approve,
        CancelCertificates,
        CorrectRequestData,
        RecordShipment,
        Refuse,
        RejectTransportDocument,
        RequestCorrections,
        SubmitDocuments,
        SubmitTransportDocument,
        UpdateEta,
        Withdraw,
    )
    from domain.rules import CURRENT, Change, corrected_form, documents_set_aside, moved_shipment, why_not
    from domain.state import (
        UNDER_REVIEW,
        Certificate,
        CertificateStatus,
        RequestState,
        Requirement,
        Role,
        ShipmentRecord,
    )
    from domain.state import RequestStatus as Status

ACTION_REFUSED = "ActionRefused"
"""The error type of an action the workflow refuses: wrong status, missing document, bad NOPIC number..."""

A = TypeVar("A", bound=Action)


def refused(reason: str) -> ApplicationError:
    # An ApplicationError fails the update alone; any other exception would fail the workflow task.
    return ApplicationError(reason, type=ACTION_REFUSED, non_retryable=True)


class Handlers(DeadlineMoves):
    @workflow.query
    def state(self) -> RequestState:
        return self._state

    # ------------------------------------------------------------ the review

    @workflow.update
    async def approve(self, action: Approve) -> RequestState:
        return await self._act(action, self._approve)

    @approve.validator
    def _validate_approve(self, action: Approve) -> None:
        self._validate(action)

    async def _approve(self, action: Approve) -> None:
        self._state.issuance_blocked = None
        self._state.operations_check = None  # each approval checks the operations afresh
        self._state.status = Status.ISSUING
        await self._record("approve", action.actor, action.action_id, detail=action.note)

    @workflow.update
    async def request_corrections(self, action: RequestCorrections) -> RequestState:
        return await self._act(action, self._request_corrections)

    @request_corrections.validator
    def _validate_request_corrections(self, action: RequestCorrections) -> None:
        self._validate(action)

    async def _request_corrections(self, action: RequestCorrections) -> None:
        state = self._state
        state.corrections_requested = list(action.items)
        state.corrections_message = action.message
        state.status = Status.AWAITING_DOCUMENTS
        await self._record("request_corrections", action.actor, action.action_id, payload=action)
        await self._notify(
            Kind.CORRECTIONS_REQUESTED,
            Audience.EXPORTER,
            corrections=action.items,
            message=action.message,
            missing=state.missing(Requirement.NOW),
        )

    @workflow.update
    async def refuse(self, action: Refuse) -> RequestState:
        return await self._act(action, self._refuse)

    @refuse.validator
    def _validate_refuse(self, action: Refuse) -> None:
        self._validate(action)

    async def _refuse(self, action: Refuse) -> None:
        self._state.outcome = action.reason
        await self.cancel(
            self._nopics_to_cancel_on_ending(),
            f"the request was refused: {action.reason}",
            ends_as=Status.REFUSED,
            record=AuditLine("refuse", action.actor, action.action_id, detail=action.reason),
        )
        await self._notify(Kind.REQUEST_REFUSED, Audience.EXPORTER, message=action.reason)

    @workflow.update
    async def withdraw(self, action: Withdraw) -> RequestState:
        return await self._act(action, self._withdraw)

    @withdraw.validator
    def _validate_withdraw(self, action: Withdraw) -> None:
        self._validate(action)

    async def _withdraw(self, action: Withdraw) -> None:
        self._state.outcome = action.reason or "withdrawn by the exporter"
        await self.cancel(
            self._nopics_to_cancel_on_ending(),
            f"the request was withdrawn: {self._state.outcome}",
            ends_as=Status.WITHDRAWN,
            record=AuditLine("withdraw", action.actor, action.action_id, detail=action.reason),
        )
        await self._notify(Kind.REQUEST_WITHDRAWN, Audience.REVIEW_TEAM, message=action.reason)

    def _nopics_to_cancel_on_ending(self) -> list[Certificate]:
        """The NOPICs a refusal or withdrawal cancels: every one issued (after a partial issue, or recorded
        by hand while issuing). None in runs recorded before the `oid-cancellation-tasks` patch."""
        issued = [c for c in self._state.every_certificate if c.status is CertificateStatus.ISSUED]
        if issued and workflow.patched(patches.CANCELLATION_TASKS):
            return issued
        return []

    @workflow.update
    async def submit_documents(self, action: SubmitDocuments) -> RequestState:
        return await self._act(action, self._submit_documents)

    @submit_documents.validator
    def _validate_submit_documents(self, action: SubmitDocuments) -> None:
        self._validate(action)

    async def _submit_documents(self, action: SubmitDocuments) -> None:
        state = self._state
        held = {d.file_id for d in state.form.documents}
        added = [d for d in action.documents if d.file_id not in held]
        self._set_form(state.form.model_copy(update={"documents": [*state.form.documents, *added]}))
        if action.actor.role is Role.EXPORTER:
            self._corrections_answered()
        await self._record("submit_documents", action.actor, action.action_id, payload=action)
        await self._notify(Kind.DOCUMENTS_RECEIVED, Audience.REVIEW_TEAM)
        if state.status in UNDER_REVIEW:
            await self.check_documents()
        await self.activate_when_documents_complete()

    @workflow.update
    async def correct_request_data(self, action: CorrectRequestData) -> RequestState:
        return await self._act(action, self._correct_request_data)

    @correct_request_data.validator
    def _validate_correct_request_data(self, action: CorrectRequestData) -> None:
        self._validate(action)

    async def _correct_request_data(self, action: CorrectRequestData) -> None:
        state = self._state
        set_aside = self._since(Change.CORRECTIONS)
        aside = documents_set_aside(state.form, action.form) if set_aside else []
        form = corrected_form(state.form, action.form, set_aside=set_aside)
        state.documents_set_aside += aside
        replaced: list[Certificate] = []
        if any(
            c.status is not CertificateStatus.PENDING for c in state.every_certificate
        ) and workflow.patched(patches.KEEP_UNCHANGED_CERTIFICATES):
            replaced = self._carry_certificates_over(form)
        else:
            state.certificates = one_nopic_per_commodity(form)
        state.lead_working_days, state.late = lead_time(state.policy, form)
        state.customs_deadline = form.shipment.customs_deadline
        state.issuance_blocked = None
        self._set_form(form)
        if action.actor.role is Role.EXPORTER:
            self._corrections_answered()
        payload = action.model_dump(mode="json")
        if aside:
            payload["documents_set_aside"] = [d.model_dump(mode="json") for d in aside]
        await self.cancel(
            replaced,
            "the request data was corrected: the NOPIC no longer matches it",
            record=AuditLine("correct_request_data", action.actor, action.action_id, payload=payload),
        )
        await self._notify(
            Kind.DOCUMENTS_RECEIVED, Audience.REVIEW_TEAM, message="the request data was corrected"
        )
        await self.check_documents()

    def _corrections_answered(self) -> None:
        self._state.corrections_requested = []
        self._state.corrections_message = None

    # ------------------------------------------------------------ the transport document and the ETA

    @workflow.update
    async def transport_document(self, action: SubmitTransportDocument) -> RequestState:
        return await self._act(action, self._transport_document)

    @transport_document.validator
    def _validate_transport_document(self, action: SubmitTransportDocument) -> None:
        self._validate(action)

    async def _transport_document(self, action: SubmitTransportDocument) -> None:
        if self._since(Change.SHIPMENTS):
            await self.take_transport_document(action)
            return
        state = self._state
        state.transport_document = action.document
        if self._since(Change.DEADLINES):
            state.grace_until = None  # a compliant one came: nothing is left to wait for
            state.transport_document_rejection = None
        self._set_form(state.form.model_copy(update={"documents": [*state.form.documents, action.document]}))
        await self._record("transport_document", action.actor, action.action_id, payload=action)
        await self._notify(Kind.DOCUMENTS_RECEIVED, Audience.REVIEW_TEAM)
        await self.activate_when_documents_complete()

    @workflow.update
    async def reject_transport_document(self, action: RejectTransportDocument) -> RequestState:
        return await self._act(action, self._reject_transport_document)

    @reject_transport_document.validator
    def _validate_reject_transport_document(self, action: RejectTransportDocument) -> None:
        self._validate(action)

    async def _reject_transport_document(self, action: RejectTransportDocument) -> None:
        """Not compliant: the request waits again for a definitive transport document, same deadline (or
        the end of the grace period it opens, when the deadline is at hand)."""
        if action.shipment is not None and self._since(Change.SHIPMENTS):
            await self.reject_further_shipment(action)
            return
        state = self._state
        rejected = state.transport_document
        state.transport_document = None
        state.status = Status.AWAITING_TRANSPORT_DOCUMENT
        if self._since(Change.DEADLINES):
            state.first_shipment = None  # its day and kg came with the document; they come with the next
            state.transport_document_rejection = action.reason
            self.open_grace_if_no_time_left()
        self._set_form(state.form)
        await self._record(
            "reject_transport_document",
            action.actor,
            action.action_id,
            detail=f"{rejected.file_id if rejected else ''}: {action.reason}",
        )
        await self._notify(
            Kind.TRANSPORT_DOCUMENT_REJECTED,
            Audience.EXPORTER,
            message=action.reason,
            missing=state.missing(),
            due_by=max(state.grace_until, state.customs_deadline) if state.grace_until else None,
        )

    @workflow.update
    async def update_eta(self, action: UpdateEta) -> RequestState:
        return await self._act(action, self._update_eta)

    @update_eta.validator
    def _validate_update_eta(self, action: UpdateEta) -> None:
        self._validate(action)

    async def _update_eta(self, action: UpdateEta) -> None:
        """The customs deadline moves; the wait for the transport document re-arms to it, reminders too."""
        if self._since(Change.DEADLINES):
            await self.take_eta_update(action)
            return
        state = self._state
        shipment = moved_shipment(state.form.shipment, action)
        previous = state.customs_deadline
        self._set_form(state.form.model_copy(update={"shipment": shipment}))
        state.customs_deadline = shipment.customs_deadline
        state.reminders_sent = []
        await self._record(
            "update_eta",
            action.actor,
            action.action_id,
            payload=action,
            detail=f"customs deadline {previous.isoformat()} -> {state.customs_deadline.isoformat()}",
        )

    # ------------------------------------------------------------ while the NOPICs are in force

    @workflow.update
    async def record_shipment(self, action: RecordShipment) -> RequestState:
        return await self._act(action, self._record_shipment)

    @record_shipment.validator
    def _validate_record_shipment(self, action: RecordShipment) -> None:
        self._validate(action)

    async def _record_shipment(self, action: RecordShipment) -> None:
        state = self._state
        state.shipments.append(
            ShipmentRecord(
                action_id=action.action_id,
                shipped_on=action.shipped_on,
                quantities=action.quantities,
                transport_document=action.transport_document,
                recorded_at=workflow.now(),
                eta=action.eta,
                expected_clearance=action.expected_clearance,
            )
        )
        self._set_form(
            state.form.model_copy(update={"documents": [*state.form.documents, action.transport_document]})
        )
        await self._record("record_shipment", action.actor, action.action_id, payload=action)

    @workflow.update
    async def cancel_certificates(self, action: CancelCertificates) -> RequestState:
        return await self._act(action, self._cancel_certificates)

    @cancel_certificates.validator
    def _validate_cancel_certificates(self, action: CancelCertificates) -> None:
        self._validate(action)

    async def _cancel_certificates(self, action: CancelCertificates) -> None:
        state = self._state
        indexes = action.commodity_indexes
        chosen = [
            c
            for c in state.certificates
            if c.status is CertificateStatus.ISSUED and (indexes is None or c.commodity_index in indexes)
        ]
        if not workflow.patched(patches.CANCELLATION_TASKS):
            await self._cancel_certificates_inline(action, chosen)
            return
        everything = len(chosen) == sum(c.status is CertificateStatus.ISSUED for c in state.certificates)
        if everything:
            state.outcome = action.reason
        await self.cancel(
            chosen,
            action.reason,
            ends_as=Status.CANCELLED if everything else None,
            record=AuditLine("cancel_certificates", action.actor, action.action_id, payload=action),
        )

    # ------------------------------------------------------------ what any Temporal client can send
    # Signals, so the `temporal` CLI or the web UI can deliver them without a validator round trip. An
    # invalid signal changes nothing; it is logged, since a signal has no answer to carry a refusal.

    @workflow.signal
    async def transport_document_received(self, action: SubmitTransportDocument) -> None:
        await self._act_on_signal(action, self._transport_document)

    @workflow.signal
    async def eta_changed(self, action: UpdateEta) -> None:
        await self._act_on_signal(action, self._update_eta)

    # ------------------------------------------------------------ how every action is judged and applied

    def _validate(self, action: Action, changes: frozenset[Change] | None = None) -> None:
        if self._state.has_action(action.action_id):
            return  # a repeat: the handler answers with the state, changing nothing
        if self._state.status is Status.RECEIVED:
            return  # not checked in yet: the handler waits for check-in, then judges the action
        if changes is None:
            # A validator may not ask which rules the run follows: it takes what a handler found, or today's.
            changes = CURRENT if self._changes_in_force is None else self._changes_in_force
        reason = why_not(
            self._state, action, workflow.now(), operations_checked=self._operations_passed, changes=changes
        )
        if reason is not None:
            raise refused(reason)

    async def _act(self, action: A, apply: Callable[[A], Awaitable[None]]) -> RequestState:
        # The request is checked in (received, documents checked) before any action applies to it.
        await workflow.wait_condition(lambda: self._state.status is not Status.RECEIVED)
        # Under the lock: `apply` awaits activities, and another handler must not change the state meanwhile.
        async with self._lock:
            if not self._state.has_action(action.action_id):
                self._validate(action, self._changes())
                await apply(action)
        return self._state

    async def _act_on_signal(self, action: A, apply: Callable[[A], Awaitable[None]]) -> None:
        try:
            await self._act(action, apply)
        except ApplicationError as refusal:
            workflow.logger.warning(
                "signal refused", extra={"action_id": action.action_id, "reason": refusal.message}
            )
