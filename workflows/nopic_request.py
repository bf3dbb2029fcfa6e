"""The NOPIC request workflow: the certifier's procedure, made durable.

One workflow per request, id `nopic-request-<request id>`. It reads like the procedure: receive the request
and check its documents; review it (approve, ask for corrections, refuse; the exporter may send documents,
correct data or withdraw); issue one NOPIC per commodity in OID; wait for the definitive transport document
before the customs-clearance deadline, reminding the exporter; keep the request active while shipments are
made within the timeframe; expire it at the end of the timeframe with a reconciliation.

Everything it knows is one `RequestState`; the status decides which step runs, so a run that continued as
new picks up where the last one stopped, with the same deadlines.

Concurrency: every state change (by a handler or by the main steps) happens under one lock and is recorded
through the records activity before the lock is released, so audit sequence numbers follow the order of
changes and an update returns once its change is in the audit trail. Waiting (timers, conditions) and
calls to OID happen outside the lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.notifications import (
        Audience,
        Notification,
        NotificationActivities,
        NotificationKind,
        NotificationUndeliverable,
    )
    from activities.oid import (
        NON_RETRYABLE_ERRORS as OID_NON_RETRYABLE_ERRORS,
    )
    from activities.oid import (
        CancelNopicInput,
        IssueNopicInput,
        LookupOperationInput,
        NopicData,
        NopicNotFound,
        OidActivities,
    )
    from activities.records import AuditEvent, RecordChangeInput, RecordsActivities, RequestSummary
    from domain.calendar import is_late, lead_working_days
    from domain.certificates import one_nopic_per_commodity, reconciliation
    from domain.checklist import checklist
    from domain.messages import (
        Action,
        Approve,
        CancelCertificates,
        CorrectRequestData,
        RecordCertificateNumber,
        RecordShipment,
        Refuse,
        RejectTransportDocument,
        RequestCorrections,
        SubmitDocuments,
        SubmitTransportDocument,
        UpdateEta,
        Withdraw,
    )
    from domain.policy import IssuanceMode, Policy
    from domain.request import NopicRequestForm
    from domain.rules import corrected_form, moved_shipment, why_not
    from domain.state import (
        SYSTEM,
        UNDER_REVIEW,
        ActionRecord,
        Actor,
        Certificate,
        CertificateStatus,
        NopicRequestInput,
        RequestState,
        RequestStatus,
        Requirement,
        Role,
        ShipmentRecord,
    )
    from workflows import search_attributes

ACTION_REFUSED = "ActionRefused"
"""The error type of an action the workflow refuses: wrong status, missing document, bad NOPIC number..."""

Status = RequestStatus
Kind = NotificationKind

# The audit trail must be written: retry until it is, backing off to once a minute.
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# A message that still fails after about a day of attempts is given up (and logged), not the request.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=30),
    maximum_attempts=60,
    non_retryable_error_types=[NotificationUndeliverable.error_type],
)
# OID may be down for a while: keep trying, unless it answered something retrying cannot change.
OID_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=OID_NON_RETRYABLE_ERRORS,
)
RECORD_TIMEOUT = timedelta(seconds=30)
NOTIFY_TIMEOUT = timedelta(minutes=2)
OID_TIMEOUT = timedelta(minutes=1)

A = TypeVar("A", bound=Action)


def refused(reason: str) -> ApplicationError:
    return ApplicationError(reason, type=ACTION_REFUSED, non_retryable=True)


def failure_reason(error: ActivityError) -> str:
    cause = error.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or error)


def lead_time(policy: Policy, form: NopicRequestForm) -> tuple[int, bool]:
    """Working days before departure, and whether that is late."""
    # `holidays` imports a country's rules and sets up (unused) holiday-name translations on first use;
    # neither changes the dates, so that runs outside the sandbox's restrictions.
    with workflow.unsafe.imports_passed_through(), workflow.unsafe.sandbox_unrestricted():
        lead = lead_working_days(policy, form.received_at, form.shipment.etd)
    return lead, is_late(policy, lead)


@workflow.defn(name="NopicRequest")
class NopicRequest:
    @workflow.init
    def __init__(self, input: NopicRequestInput) -> None:
        self._state = input.carried_state or self._new_state(input)
        self._lock = asyncio.Lock()
        self._history_at_start = len(self._state.history)
        self._indexed: dict[str, Any] = {}
        # Only in this run: numbers may be recorded once OID confirmed both operations are certified.
        self._operations_checked = False

    @staticmethod
    def _new_state(input: NopicRequestInput) -> RequestState:
        form, policy = input.form, input.policy
        lead, late = lead_time(policy, form)
        return RequestState(
            request_id=input.request_id,
            form=form,
            policy=policy,
            received_day=form.received_at.astimezone(policy.zone).date(),
            lead_working_days=lead,
            late=late,
            checklist=checklist(form),
            certificates=one_nopic_per_commodity(form),
            customs_deadline=form.shipment.customs_deadline,
            updated_at=workflow.now(),
        )

    # ------------------------------------------------------------------ the procedure

    @workflow.run
    async def run(self, input: NopicRequestInput) -> RequestState:
        self._index()
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
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def receive(self, submitted_by: Actor) -> None:
        """Record the request, tell the review team, and tell the exporter what is missing."""
        async with self._lock:
            state = self._state
            await self._record(
                "received",
                submitted_by,
                payload={
                    "form": state.form.model_dump(mode="json"),
                    "lead_working_days": state.lead_working_days,
                    "late": state.late,
                },
            )
            await self._notify(Kind.NEW_REQUEST, Audience.REVIEW_TEAM)
            await self.check_documents()

    async def check_documents(self) -> None:
        """Awaiting documents when an item required now is missing or corrections are open, else in review."""
        state = self._state
        missing = state.missing(Requirement.NOW)
        status = Status.AWAITING_DOCUMENTS if missing or state.corrections_requested else Status.IN_REVIEW
        if status is state.status:
            return
        state.status = status
        await self._record(
            "documents_checked", SYSTEM, detail=", ".join(i.description for i in missing) or None
        )
        if missing:
            await self._notify(Kind.MISSING_DOCUMENTS, Audience.EXPORTER, missing=missing)

    async def wait_for_review(self) -> None:
        await workflow.wait_condition(
            lambda: self._state.status not in UNDER_REVIEW or self._continue_as_new_due()
        )

    async def issue(self) -> None:
        """One NOPIC per commodity in OID, once the exporter and importer operations are certified."""
        blocked = await self.check_operations_certified()
        if blocked is not None:
            async with self._lock:
                await self._stop_issuance(blocked)
            return
        self._operations_checked = True
        if self._state.policy.issuance_mode is IssuanceMode.API:
            for certificate in list(self._state.certificates):
                if certificate.status is CertificateStatus.PENDING:
                    problem = await self.issue_nopic(certificate)
                    if problem is not None:
                        async with self._lock:
                            await self._stop_issuance(problem)
                        return
        else:
            await workflow.wait_condition(
                lambda: (
                    self._state.status is not Status.ISSUING
                    or all(c.status is not CertificateStatus.PENDING for c in self._state.certificates)
                    or self._continue_as_new_due()
                )
            )
            if self._state.status is not Status.ISSUING or any(
                c.status is CertificateStatus.PENDING for c in self._state.certificates
            ):
                return
        async with self._lock:
            await self.send_nopic_data()

    async def check_operations_certified(self) -> str | None:
        """Why NOPICs cannot be issued for these operations, or None when both are certified in OID."""
        form = self._state.form
        for role, operation_id in (
            ("exporter", form.exporter.operation_id),
            ("importer", form.importer.operation_id),
        ):
            try:
                operation = await workflow.execute_activity_method(
                    OidActivities.lookup_operation,
                    LookupOperationInput(operation_id=operation_id),
                    start_to_close_timeout=OID_TIMEOUT,
                    retry_policy=OID_RETRY,
                )
            except ActivityError as error:
                reason = failure_reason(error)
                return f"the {role}'s operation {operation_id} could not be checked in OID: {reason}"
            if not operation.certified:
                return (
                    f"the {role}'s operation {operation_id} ({operation.name}) is {operation.status!r} "
                    "in OID, not Certified: NOPICs cannot be issued for it"
                )
        return None

    async def issue_nopic(self, certificate: Certificate) -> str | None:
        """Create one NOPIC through the OID gateway; the reason when OID refuses it."""
        try:
            issued = await workflow.execute_activity_method(
                OidActivities.issue_nopic,
                IssueNopicInput(data=self._nopic_data(certificate)),
                start_to_close_timeout=OID_TIMEOUT,
                retry_policy=OID_RETRY,
            )
        except ActivityError as error:
            return f"OID did not issue the NOPIC for {certificate.product_name}: {failure_reason(error)}"
        async with self._lock:
            self._set_certificate(
                certificate.model_copy(
                    update={
                        "number": issued.number,
                        "status": CertificateStatus.ISSUED,
                        "issued_at": issued.issued_at,
                    }
                )
            )
            await self._record("nopic_issued", SYSTEM, detail=f"{certificate.product_name}: {issued.number}")
        return None

    async def _stop_issuance(self, reason: str) -> None:
        """Issuance stops; the reviewer sees why, fixes it (data, or the operation in OID), approves again."""
        self._state.issuance_blocked = reason
        self._state.status = Status.IN_REVIEW
        await self._record("issuance_stopped", SYSTEM, detail=reason)

    async def send_nopic_data(self) -> None:
        """Give the exporter the NOPIC data and PDFs, and the importer what to declare in ACE."""
        state = self._state
        state.status = Status.AWAITING_TRANSPORT_DOCUMENT
        issued = [c for c in state.certificates if c.status is CertificateStatus.ISSUED]
        await self._record("nopics_issued", SYSTEM, detail=", ".join(c.number or "" for c in issued))
        await self._notify(Kind.NOPIC_ISSUED, Audience.EXPORTER, certificates=issued)
        await self._notify(Kind.NOPIC_ISSUED, Audience.IMPORTER, certificates=issued)
        await self.activate_when_documents_complete()

    async def wait_for_transport_document(self) -> None:
        """Sleep until the next reminder or the customs deadline, whichever is first; re-arm when it moves."""
        state = self._state
        while state.status is Status.AWAITING_TRANSPORT_DOCUMENT and not self._continue_as_new_due():
            deadline = state.customs_deadline
            now = workflow.now()
            upcoming = sorted(
                (deadline - offset, offset)
                for offset in state.policy.reminder_offsets
                if offset not in state.reminders_sent and deadline - offset > now
            )
            state.next_reminder = upcoming[0][0] if upcoming else None
            wake, summary = (
                (upcoming[0][0], "transport reminder") if upcoming else (deadline, "customs deadline")
            )
            try:
                await workflow.wait_condition(
                    partial(self._deadline_wait_over, deadline),
                    timeout=max(wake - now, timedelta(0)),
                    timeout_summary=summary,
                )
            except TimeoutError:
                async with self._lock:
                    if (
                        state.status is not Status.AWAITING_TRANSPORT_DOCUMENT
                        or state.customs_deadline != deadline
                    ):
                        continue
                    if upcoming:
                        await self.remind_exporter(upcoming[0][1])
                    else:
                        await self.cancel_for_missed_deadline()

    def _deadline_wait_over(self, deadline: datetime) -> bool:
        state = self._state
        return (
            state.status is not Status.AWAITING_TRANSPORT_DOCUMENT
            or state.customs_deadline != deadline
            or self._continue_as_new_due()
        )

    async def remind_exporter(self, offset: timedelta) -> None:
        state = self._state
        state.reminders_sent.append(offset)
        await self._record("transport_reminder", SYSTEM, detail=f"{offset} before the customs deadline")
        await self._notify(
            Kind.TRANSPORT_REMINDER, Audience.EXPORTER, reminder_offset=offset, missing=state.missing()
        )

    async def cancel_for_missed_deadline(self) -> None:
        """No definitive transport document before customs clearance: every NOPIC of the request cancelled."""
        state = self._state
        reason = (
            "the definitive transport document was not received before the customs-clearance deadline "
            f"({state.customs_deadline.isoformat()})"
        )
        cancelled = await self._cancel_nopics(
            [c for c in state.certificates if c.status is CertificateStatus.ISSUED], reason
        )
        state.status = Status.CANCELLED
        state.next_reminder = None
        state.outcome = reason
        await self._record("transport_deadline_passed", SYSTEM, detail=reason)
        await self._notify(Kind.CANCELLATION, Audience.EXPORTER, certificates=cancelled, message=reason)
        await self._notify(Kind.CANCELLATION, Audience.IMPORTER, certificates=cancelled, message=reason)
        await self._notify(
            Kind.TRANSPORT_DEADLINE_PASSED, Audience.REVIEW_TEAM, certificates=cancelled, message=reason
        )

    async def activate_when_documents_complete(self) -> None:
        """Active once the definitive transport document is accepted and nothing else is missing."""
        state = self._state
        if (
            state.status is Status.AWAITING_TRANSPORT_DOCUMENT
            and state.transport_document
            and not state.missing()
        ):
            state.status = Status.ACTIVE
            state.next_reminder = None
            await self._record("active", SYSTEM)

    async def keep_active_until_timeframe_ends(self) -> None:
        state = self._state
        end = datetime.combine(
            state.form.timeframe.last_day + timedelta(days=1), time(0), tzinfo=state.policy.zone
        )
        try:
            await workflow.wait_condition(
                lambda: state.status is not Status.ACTIVE or self._continue_as_new_due(),
                timeout=max(end - workflow.now(), timedelta(0)),
                timeout_summary="end of the timeframe",
            )
        except TimeoutError:
            async with self._lock:
                if state.status is Status.ACTIVE:
                    await self.expire()

    async def expire(self) -> None:
        """The timeframe ended: the NOPICs expire, with what was certified and shipped per commodity."""
        state = self._state
        for certificate in state.certificates:
            if certificate.status is CertificateStatus.ISSUED:
                self._set_certificate(certificate.model_copy(update={"status": CertificateStatus.EXPIRED}))
        state.reconciliation = reconciliation(state)
        state.status = Status.EXPIRED
        state.outcome = "the timeframe ended"
        await self._record(
            "expired",
            SYSTEM,
            payload={"reconciliation": [line.model_dump(mode="json") for line in state.reconciliation]},
        )
        await self._notify(Kind.TIMEFRAME_ENDED, Audience.REVIEW_TEAM, reconciliation=state.reconciliation)

    # ------------------------------------------------------------------ what people do (Updates)
    # Updates, not signals: the person (through the API) needs to know at once whether the action was
    # refused, and why. Each validator refuses before anything enters history; the handler checks again
    # under the lock, because the state may have moved while it waited.

    @workflow.query
    def state(self) -> RequestState:
        return self._state

    @workflow.update
    async def approve(self, action: Approve) -> RequestState:
        return await self._act(action, self._approve)

    @approve.validator
    def _validate_approve(self, action: Approve) -> None:
        self._validate(action)

    async def _approve(self, action: Approve) -> None:
        self._state.issuance_blocked = None
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
        self._state.status = Status.REFUSED
        self._state.outcome = action.reason
        await self._record("refuse", action.actor, action.action_id, detail=action.reason)
        await self._notify(Kind.REQUEST_REFUSED, Audience.EXPORTER, message=action.reason)

    @workflow.update
    async def withdraw(self, action: Withdraw) -> RequestState:
        return await self._act(action, self._withdraw)

    @withdraw.validator
    def _validate_withdraw(self, action: Withdraw) -> None:
        self._validate(action)

    async def _withdraw(self, action: Withdraw) -> None:
        self._state.status = Status.WITHDRAWN
        self._state.outcome = action.reason or "withdrawn by the exporter"
        await self._record("withdraw", action.actor, action.action_id, detail=action.reason)
        await self._notify(Kind.REQUEST_WITHDRAWN, Audience.REVIEW_TEAM, message=action.reason)

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
        form = corrected_form(state.form, action.form)
        state.lead_working_days, state.late = lead_time(state.policy, form)
        state.certificates = one_nopic_per_commodity(form)
        state.customs_deadline = form.shipment.customs_deadline
        state.issuance_blocked = None
        self._set_form(form)
        if action.actor.role is Role.EXPORTER:
            self._corrections_answered()
        await self._record("correct_request_data", action.actor, action.action_id, payload=action)
        await self._notify(
            Kind.DOCUMENTS_RECEIVED, Audience.REVIEW_TEAM, message="the request data was corrected"
        )
        await self.check_documents()

    @workflow.update
    async def record_certificate_number(self, action: RecordCertificateNumber) -> RequestState:
        return await self._act(action, self._record_certificate_number)

    @record_certificate_number.validator
    def _validate_record_certificate_number(self, action: RecordCertificateNumber) -> None:
        self._validate(action)

    async def _record_certificate_number(self, action: RecordCertificateNumber) -> None:
        certificate = self._state.certificates[action.commodity_index]
        self._set_certificate(
            certificate.model_copy(
                update={
                    "number": action.number,
                    "status": CertificateStatus.ISSUED,
                    "issued_at": workflow.now(),
                }
            )
        )
        await self._record(
            "record_certificate_number",
            action.actor,
            action.action_id,
            detail=f"{certificate.product_name}: {action.number}",
        )

    @workflow.update
    async def transport_document(self, action: SubmitTransportDocument) -> RequestState:
        return await self._act(action, self._transport_document)

    @transport_document.validator
    def _validate_transport_document(self, action: SubmitTransportDocument) -> None:
        self._validate(action)

    async def _transport_document(self, action: SubmitTransportDocument) -> None:
        state = self._state
        state.transport_document = action.document
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
        """Not compliant: the request waits again for a definitive transport document, same deadline."""
        state = self._state
        rejected = state.transport_document
        state.transport_document = None
        state.status = Status.AWAITING_TRANSPORT_DOCUMENT
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
        )

    @workflow.update
    async def update_eta(self, action: UpdateEta) -> RequestState:
        return await self._act(action, self._update_eta)

    @update_eta.validator
    def _validate_update_eta(self, action: UpdateEta) -> None:
        self._validate(action)

    async def _update_eta(self, action: UpdateEta) -> None:
        """The customs deadline moves; reminders re-arm to the new deadline."""
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
        cancelled = await self._cancel_nopics(chosen, action.reason)
        if not any(c.status is CertificateStatus.ISSUED for c in state.certificates):
            state.status = Status.CANCELLED
            state.next_reminder = None
            state.outcome = action.reason
        await self._record("cancel_certificates", action.actor, action.action_id, payload=action)
        await self._notify(
            Kind.CANCELLATION, Audience.EXPORTER, certificates=cancelled, message=action.reason
        )
        await self._notify(
            Kind.CANCELLATION, Audience.IMPORTER, certificates=cancelled, message=action.reason
        )

    # ------------------------------------------------------ what any Temporal client can send (Signals)
    # Signals, so the `temporal` CLI or the web UI can deliver them without a validator round trip. An
    # invalid signal changes nothing; it is logged, since a signal has no answer to carry a refusal.

    @workflow.signal
    async def transport_document_received(self, action: SubmitTransportDocument) -> None:
        await self._act_on_signal(action, self._transport_document)

    @workflow.signal
    async def eta_changed(self, action: UpdateEta) -> None:
        await self._act_on_signal(action, self._update_eta)

    # ------------------------------------------------------------------ plumbing

    def _validate(self, action: Action) -> None:
        if self._state.has_action(action.action_id):
            return  # a repeat: the handler answers with the state, changing nothing
        if self._state.status is Status.RECEIVED:
            return  # not checked in yet: the handler waits for check-in, then judges the action
        reason = why_not(self._state, action, workflow.now(), operations_checked=self._operations_checked)
        if reason is not None:
            raise refused(reason)

    async def _act(self, action: A, apply: Callable[[A], Awaitable[None]]) -> RequestState:
        # The request is checked in (received, documents checked) before any action applies to it.
        await workflow.wait_condition(lambda: self._state.status is not Status.RECEIVED)
        async with self._lock:
            if not self._state.has_action(action.action_id):
                self._validate(action)
                await apply(action)
        return self._state

    async def _act_on_signal(self, action: A, apply: Callable[[A], Awaitable[None]]) -> None:
        try:
            await self._act(action, apply)
        except ApplicationError as refusal:
            workflow.logger.warning(
                "signal refused", extra={"action_id": action.action_id, "reason": refusal.message}
            )

    def _set_form(self, form: NopicRequestForm) -> None:
        self._state.form = form
        self._state.checklist = checklist(form, self._state.transport_document)

    def _set_certificate(self, certificate: Certificate) -> None:
        self._state.certificates[certificate.commodity_index] = certificate

    def _corrections_answered(self) -> None:
        self._state.corrections_requested = []
        self._state.corrections_message = None

    async def _record(
        self,
        action: str,
        actor: Actor,
        action_id: str | None = None,
        *,
        payload: BaseModel | dict[str, Any] | None = None,
        detail: str | None = None,
    ) -> None:
        """One state change: into the request's history, the search attributes and the audit trail."""
        state = self._state
        state.sequence += 1
        state.updated_at = workflow.now()
        state.history.append(
            ActionRecord(
                sequence=state.sequence,
                action_id=action_id or f"system-{state.sequence}",
                action=action,
                actor=actor,
                at=state.updated_at,
                status=state.status,
                detail=detail,
            )
        )
        self._index()
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload or {})
        if detail is not None:
            data.setdefault("detail", detail)
        event = AuditEvent(
            event_id=f"{state.request_id}:{state.sequence}",
            request_id=state.request_id,
            sequence=state.sequence,
            actor=actor,
            action=action,
            payload=data,
            at=state.updated_at,
        )
        await workflow.execute_activity_method(
            RecordsActivities.record_change,
            RecordChangeInput(event=event, summary=RequestSummary.of(state), certificates=state.certificates),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    async def _notify(self, kind: NotificationKind, audience: Audience, **details: Any) -> None:
        notification = Notification.about(self._state, kind, audience, **details)
        try:
            await workflow.execute_activity_method(
                NotificationActivities.notify,
                notification,
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError as error:
            # An undeliverable message must not stop the request; the audit trail still has the change.
            workflow.logger.warning(
                "notification not delivered",
                extra={"event_id": notification.event_id, "reason": failure_reason(error)},
            )

    async def _cancel_nopics(self, certificates: list[Certificate], reason: str) -> list[Certificate]:
        """Cancel these NOPICs in OID, one by one; the certificates as cancelled."""
        cancelled: list[Certificate] = []
        for certificate in certificates:
            assert certificate.number is not None  # an issued certificate has its number
            cancelled_at = workflow.now()
            try:
                done = await workflow.execute_activity_method(
                    OidActivities.cancel_nopic,
                    CancelNopicInput(number=certificate.number, reason=reason),
                    start_to_close_timeout=OID_TIMEOUT,
                    retry_policy=OID_RETRY,
                )
                cancelled_at = done.cancelled_at
            except ActivityError as error:
                cause = error.cause
                if not (isinstance(cause, ApplicationError) and cause.type == NopicNotFound.error_type):
                    raise
                # OID no longer has it: nothing left to cancel there, it is cancelled here all the same.
                workflow.logger.warning("NOPIC not found in OID", extra={"nopic": certificate.number})
            updated = certificate.model_copy(
                update={
                    "status": CertificateStatus.CANCELLED,
                    "cancelled_at": cancelled_at,
                    "cancel_reason": reason,
                }
            )
            self._set_certificate(updated)
            cancelled.append(updated)
            await self._record("nopic_cancelled", SYSTEM, detail=f"{certificate.number}: {reason}")
        return cancelled

    def _nopic_data(self, certificate: Certificate) -> NopicData:
        form = self._state.form
        return NopicData(
            request_id=self._state.request_id,
            commodity_index=certificate.commodity_index,
            product_name=certificate.product_name,
            hts_code=certificate.hts_code,
            organic_standard=certificate.organic_standard,
            net_kg=certificate.net_kg,
            lot_numbers=certificate.lot_numbers,
            exporter=form.exporter,
            importer=form.importer,
            origin_country=form.shipment.export_country,
            export_port=form.shipment.export_port,
            us_port_of_entry=form.shipment.us_port_of_entry,
            transport_mode=form.shipment.transport_mode,
            etd=form.shipment.etd,
            valid_from=form.timeframe.first_day,
            valid_until=form.timeframe.last_day,
        )

    def _index(self) -> None:
        """Keep Temporal's list view useful: upsert the search attributes that changed."""
        state = self._state
        etd = datetime.combine(state.form.shipment.etd, time(0), tzinfo=state.policy.zone)
        updates: list[SearchAttributeUpdate[Any]] = [
            search_attributes.STATUS.value_set(state.status.value),
            search_attributes.EXPORTER.value_set(state.form.exporter.operation_id),
            search_attributes.IMPORTER.value_set(state.form.importer.operation_id),
            search_attributes.ETD.value_set(etd),
            search_attributes.CUSTOMS_DEADLINE.value_set(state.customs_deadline),
            search_attributes.LATE.value_set(state.late),
        ]
        changed = [u for u in updates if self._indexed.get(u.key.name) != u.value]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._indexed.update({u.key.name: u.value for u in changed})

    def _continue_as_new_due(self) -> bool:
        limit = self._state.policy.continue_as_new_after_actions
        actions_this_run = len(self._state.history) - self._history_at_start
        return workflow.info().is_continue_as_new_suggested() or (
            limit is not None and actions_this_run >= limit
        )

    async def _continue_as_new(self) -> None:
        """A fresh history, same request: the whole state, and with it every deadline, carries over."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        state = self._state
        workflow.logger.info("continuing as new", extra={"actions": len(state.history)})
        workflow.continue_as_new(
            NopicRequestInput(
                request_id=state.request_id, form=state.form, policy=state.policy, carried_state=state
            )
        )
