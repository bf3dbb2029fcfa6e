"""The certifier's procedure for one NOPIC request, step by step, in the certifier's order.

Receive the request and check its documents; wait for the review (approve, ask for corrections, refuse:
`handlers.py`); issue one NOPIC per commodity in OID and send the NOPIC data; wait for the definitive
transport document before the customs-clearance deadline, reminding the exporter, and cancel the NOPICs
when it never comes; keep the request active while shipments are made within the timeframe; expire it at
the end of the timeframe with a reconciliation. Which step runs is decided by the status alone
(`NopicRequest.run`), so a run that continued as new picks up where the last one stopped.

Every step that waits keeps the request's time meanwhile (`timekeeping.py`): reminders, deadlines,
departure, expiry, whichever comes due; what each does is `ring`, here and in `alarms.py`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.nopic_request import calls, patches
from workflows.nopic_request.cancellations import AuditLine
from workflows.nopic_request.deadline import Alarm, MovableDeadline
from workflows.nopic_request.operations import OperationsChecks
from workflows.nopic_request.timekeeping import Timekeeping

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Audience, Notification
    from activities.notifications import NotificationKind as Kind
    from activities.oid import IssuedNopic, NopicData, idempotency_key
    from domain.cancellation import next_revision, open_cancellations
    from domain.certificates import reconciliation, shipment_problem
    from domain.deadlines import missed_deadline_reason
    from domain.intake import checked_status
    from domain.policy import IssuanceMode
    from domain.request import DocumentKind, DocumentReference
    from domain.rules import Change
    from domain.schedule import Due, DueKind, timeframe_end
    from domain.state import (
        SYSTEM,
        UNDER_REVIEW,
        Actor,
        Certificate,
        CertificateStatus,
        HeldTransportDocument,
        Requirement,
        ShipmentRecord,
        ShippedQuantity,
    )
    from domain.state import RequestStatus as Status


class Procedure(OperationsChecks, Timekeeping):
    # ------------------------------------------------------------ 1. receive the request, check documents

    async def receive(self, submitted_by: Actor) -> None:
        """Record the request, check its documents (telling the exporter what is missing), tell the review
        team."""
        # Asked before the first record: a patch first asked right after a local activity that outlasted
        # its workflow task (and so completed in the next one) does not replay.
        checked_in_first = workflow.patched(patches.CHECKED_IN_BEFORE_MAIL)
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
            if not checked_in_first:
                await self._notify(Kind.NEW_REQUEST, Audience.REVIEW_TEAM)
                await self.check_documents()
                return
            await self.check_documents()
            if self._queues_mail:
                await self._notify(Kind.NEW_REQUEST, Audience.REVIEW_TEAM)
                return
            # Written as the request was checked in, sent once the lock is released: an action taken
            # meanwhile (or a mail server that is away) need not wait for the review team's mail.
            new_request = Notification.about(state, Kind.NEW_REQUEST, Audience.REVIEW_TEAM)
        await calls.notify(new_request)

    async def check_documents(self) -> None:
        """Awaiting documents when an item required now is missing or corrections are open, else in review."""
        state = self._state
        missing = state.missing(Requirement.NOW)
        status = checked_status(state)
        if status is state.status:
            return
        state.status = status
        await self._record(
            "documents_checked", SYSTEM, detail=", ".join(i.description for i in missing) or None
        )
        if missing:
            await self._notify(Kind.MISSING_DOCUMENTS, Audience.EXPORTER, missing=missing)

    # ------------------------------------------------------------ 2. review: the reviewer's actions decide

    async def wait_for_review(self) -> None:
        if self._keeps_time():
            await self.keep_time(lambda: self._state.status not in UNDER_REVIEW)
            return
        await workflow.wait_condition(
            lambda: self._state.status not in UNDER_REVIEW or self._continue_as_new_due()
        )

    # ------------------------------------------------------------ 3. issue one NOPIC per commodity in OID

    async def issue(self) -> None:
        """One NOPIC per commodity in OID, once the exporter and importer operations are certified."""
        blocked = await self.check_operations()
        if blocked is not None:
            async with self._lock:
                await self._stop_issuance(blocked)
            return
        if not self._operations_passed:
            return  # the request left `issuing` (sent back, refused, withdrawn), or continues as new
        state = self._state
        if state.policy.issuance_mode is IssuanceMode.API:
            for certificate in list(state.certificates):
                if state.status is not Status.ISSUING:
                    return
                if certificate.status is CertificateStatus.PENDING:
                    problem = await self.issue_nopic(certificate)
                    if problem is not None:
                        async with self._lock:
                            await self._stop_issuance(problem, certificate)
                        return
            if state.status is not Status.ISSUING:
                return
        else:
            # Manual mode: staff create each NOPIC in OID by hand and record its number (an update).
            def recorded() -> bool:
                return self._state.status is not Status.ISSUING or all(
                    c.status is not CertificateStatus.PENDING for c in self._state.certificates
                )

            if self._keeps_time():
                await self.keep_time(recorded)
            else:
                await workflow.wait_condition(lambda: recorded() or self._continue_as_new_due())
            if self._state.status is not Status.ISSUING or any(
                c.status is CertificateStatus.PENDING for c in self._state.certificates
            ):
                return
        async with self._lock:
            await self.send_nopic_data()

    async def issue_nopic(self, certificate: Certificate) -> str | None:
        """Create one NOPIC through the OID gateway; the reason when OID refuses it.

        Its key names the commodity, the certificate's revision and a digest of its data, so a re-issue
        after a correction never sends a key the gateway knows with other data, and an unchanged one (after
        OID did not answer within the policy's `oid_issue_within`) finds the NOPIC OID created late.
        """
        state = self._state
        data = NopicData.of(state.request_id, state.form, certificate)
        within = state.policy.oid_issue_within if workflow.patched(patches.ISSUE_WITHIN) else None
        asked, zone = workflow.now(), state.policy.zone
        try:
            issued = await calls.issue_nopic(data, idempotency_key(data, certificate.revision), within)
        except ActivityError as error:
            silent = calls.unanswered(error, within) if within is not None else None
            reason = calls.unanswered_since(silent, asked, zone) if silent else calls.failure_reason(error)
            return f"OID did not issue the NOPIC for {certificate.product_name}: {reason}"
        async with self._lock:
            await self._issued(certificate, data, issued)
        return None

    async def _issued(self, certificate: Certificate, data: NopicData, issued: IssuedNopic) -> None:
        """OID issued the NOPIC: its number is never forgotten. Should the request have moved on while OID
        issued it (refused, withdrawn, its data corrected), the NOPIC is kept, or cancelled."""
        state = self._state
        held = self._held(certificate)
        update = {
            "number": issued.number,
            "status": CertificateStatus.ISSUED,
            "issued_at": issued.issued_at,
            "oid_failure": None,
        }
        detail = f"{certificate.product_name}: {issued.number}"
        unchanged = (
            held is not None
            and held.status is CertificateStatus.PENDING
            and NopicData.of(state.request_id, state.form, held) == data
        )
        if unchanged and held is not None:
            numbered = held.model_copy(update=update)
            self._set_certificate(numbered)
            if state.status is Status.ISSUING or state.status in UNDER_REVIEW:
                await self._record("nopic_issued", SYSTEM, detail=detail)
                return
            reason = f"issued in OID after the request ended: {state.outcome}"
        else:
            revision = next_revision(state, certificate.commodity_index)
            numbered = certificate.model_copy(update={**update, "revision": revision})
            state.superseded.append(numbered)
            reason = "issued in OID for data since corrected"
        ends_as = state.ends_as if state.status is Status.CANCELLING else None
        if state.status.is_final:
            ends_as = state.status
        await self.cancel(
            [numbered], reason, ends_as=ends_as, record=AuditLine("nopic_issued", detail=detail)
        )

    async def _stop_issuance(self, reason: str, refused: Certificate | None = None) -> None:
        """Issuance stops; the reviewer sees why, fixes it (data, or the operation in OID), approves again.
        When OID refused one NOPIC, its certificate shows why and the review team is told."""
        state = self._state
        if state.status is not Status.ISSUING:
            return  # sent back, refused or withdrawn while OID was asked: that decision stands
        state.issuance_blocked = reason
        state.status = Status.IN_REVIEW
        told = refused is not None and workflow.patched(patches.ISSUE_REFUSAL_TOLD)
        held = self._held(refused) if refused is not None and told else None
        failed = held.model_copy(update={"oid_failure": reason}) if held is not None else None
        if failed is not None:
            self._set_certificate(failed)
        await self._record("issuance_stopped", SYSTEM, detail=reason)
        if failed is not None:
            await self._notify(Kind.OID_REFUSED, Audience.REVIEW_TEAM, certificates=[failed], message=reason)

    async def send_nopic_data(self) -> None:
        """Give the exporter the NOPIC data and PDFs, and the importer what to declare in ACE."""
        state = self._state
        state.status = Status.AWAITING_TRANSPORT_DOCUMENT
        issued = [c for c in state.certificates if c.status is CertificateStatus.ISSUED]
        await self._record("nopics_issued", SYSTEM, detail=", ".join(c.number or "" for c in issued))
        await self._notify(Kind.NOPIC_ISSUED, Audience.EXPORTER, certificates=issued)
        await self._notify(Kind.NOPIC_ISSUED, Audience.IMPORTER, certificates=issued)
        if self._since(Change.SHIPMENTS):
            await self.accept_held_transport_document()
        await self.activate_when_documents_complete()

    async def accept_held_transport_document(self) -> None:
        """A definitive transport document sent before issue (with the form, or after) is the first
        shipment's now; when it came without its day and quantities, the exporter is asked for them."""
        state = self._state
        held = state.held_transport_document
        if held is None and state.transport_document is None:
            sent = [d for d in state.form.documents if d.kind is DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE]
            if not sent:
                return
            held = HeldTransportDocument(
                action_id=f"system-{state.sequence + 1}", document=sent[-1], received_at=workflow.now()
            )
            state.held_transport_document = held
        if held is None:
            return
        if held.shipped_on is not None and held.quantities:
            problem = shipment_problem(state, held.shipped_on, held.quantities)
            if problem is None:
                self.accept_first_shipment(held.action_id, held.document, held.shipped_on, held.quantities)
                kg = ", ".join(f"#{q.commodity_index}: {q.net_kg} kg" for q in held.quantities)
                await self._record("first_shipment_accepted", SYSTEM, detail=f"{held.shipped_on}; {kg}")
                return
        else:
            problem = None
        await self._record("first_shipment_quantities_asked", SYSTEM, detail=held.document.file_id)
        await self._notify(
            Kind.FIRST_SHIPMENT_QUANTITIES, Audience.EXPORTER, message=problem, missing=state.missing()
        )

    def accept_first_shipment(
        self,
        action_id: str,
        document: DocumentReference,
        shipped_on: date,
        quantities: list[ShippedQuantity],
    ) -> None:
        """The first shipment's definitive transport document is in, with its day and net kg: they count."""
        state = self._state
        state.transport_document = document
        state.first_shipment = ShipmentRecord(
            action_id=action_id,
            shipped_on=shipped_on,
            quantities=quantities,
            transport_document=document,
            recorded_at=workflow.now(),
        )
        state.held_transport_document = None
        state.transport_document_rejection = None
        state.grace_until = None
        self._set_form(state.form)

    # ------------------------------------------------------------ 4. the definitive transport document

    async def wait_for_transport_document(self) -> None:
        """Remind the exporter before the customs deadline, cancel at it; an ETA change moves both."""
        state = self._state
        if self._keeps_time():
            await self.keep_time(lambda: state.status is not Status.AWAITING_TRANSPORT_DOCUMENT)
            return
        customs = MovableDeadline(
            lambda: state.customs_deadline,
            over=lambda: (
                state.status is not Status.AWAITING_TRANSPORT_DOCUMENT or self._continue_as_new_due()
            ),
        )
        while (alarm := await customs.sleep_until(self._next_transport_alarm)) is not None:
            async with self._lock:
                # While the lock was awaited, the document may have come, or the deadline moved.
                if state.status is not Status.AWAITING_TRANSPORT_DOCUMENT or customs.moved(alarm):
                    continue
                if alarm.ahead > timedelta(0):
                    await self.remind_exporter(alarm.ahead)
                else:
                    await self.cancel_for_missed_deadline()

    def _next_transport_alarm(self, deadline: datetime) -> Alarm:
        """The first reminder still to send before the customs deadline, else the deadline itself."""
        state = self._state
        now = workflow.now()
        upcoming = sorted(
            (deadline - offset, offset)
            for offset in state.policy.reminder_offsets
            if offset not in state.reminders_sent and deadline - offset > now
        )
        state.next_reminder = upcoming[0][0] if upcoming else None
        if upcoming:
            return Alarm(deadline, upcoming[0][0], "transport reminder")
        return Alarm(deadline, deadline, "customs deadline")

    async def remind_exporter(self, offset: timedelta) -> None:
        state = self._state
        state.reminders_sent.append(offset)
        await self._record("transport_reminder", SYSTEM, detail=f"{offset} before the customs deadline")
        await self._notify(
            Kind.TRANSPORT_REMINDER, Audience.EXPORTER, reminder_offset=offset, missing=state.missing()
        )

    async def cancel_for_missed_deadline(self, reason: str | None = None) -> None:
        """What the customs deadline waits for never came: every NOPIC of the request cancelled. `reason`
        names what was missing (older runs said the transport document, whatever it was)."""
        state = self._state
        reason = reason or (
            "the definitive transport document was not received before the customs-clearance deadline "
            f"({state.customs_deadline.isoformat()})"
        )
        issued = [c for c in state.certificates if c.status is CertificateStatus.ISSUED]
        if not workflow.patched(patches.CANCELLATION_TASKS):
            await self._cancel_for_missed_deadline_inline(issued, reason)
            return
        state.outcome = reason
        await self.cancel(
            issued,
            reason,
            ends_as=Status.CANCELLED,
            tell=Kind.TRANSPORT_DEADLINE_PASSED,
            record=AuditLine("transport_deadline_passed", detail=reason),
        )

    async def _cancel_for_missed_deadline_inline(self, issued: list[Certificate], reason: str) -> None:
        """The deadline's cancellation in runs recorded before the `oid-cancellation-tasks` patch."""
        state = self._state
        cancelled = await self.cancel_nopics(issued, reason)
        state.status = Status.CANCELLED
        state.next_reminder = None
        state.outcome = reason
        await self._record("transport_deadline_passed", SYSTEM, detail=reason)
        await self._notify(Kind.CANCELLATION, Audience.EXPORTER, certificates=cancelled, message=reason)
        await self._notify(Kind.CANCELLATION, Audience.IMPORTER, certificates=cancelled, message=reason)
        await self._notify(
            Kind.TRANSPORT_DEADLINE_PASSED, Audience.REVIEW_TEAM, certificates=cancelled, message=reason
        )

    # ------------------------------------------------------------ 5. active within the timeframe

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
        if self._keeps_time():
            await self.keep_time(lambda: state.status is not Status.ACTIVE)
            return
        timeframe = MovableDeadline(
            lambda: timeframe_end(state),
            over=lambda: state.status is not Status.ACTIVE or self._continue_as_new_due(),
        )
        if await timeframe.sleep("end of the timeframe"):
            async with self._lock:
                if state.status is Status.ACTIVE:
                    await self.expire()

    # ------------------------------------------------------------ 6. expire at the end of the timeframe

    async def expire(self) -> None:
        """The timeframe ended: the NOPICs expire, with what was certified and shipped per commodity."""
        state = self._state
        for certificate in state.certificates:
            if certificate.status is CertificateStatus.ISSUED:
                self._set_certificate(certificate.model_copy(update={"status": CertificateStatus.EXPIRED}))
        state.reconciliation = reconciliation(state)
        state.status = Status.EXPIRED
        state.outcome = "the timeframe ended"
        if open_cancellations(state):
            # A NOPIC whose cancellation is still to be confirmed stays a task: the request ends after it.
            state.ends_as, state.status = Status.EXPIRED, Status.CANCELLING
        await self._record(
            "expired",
            SYSTEM,
            payload={"reconciliation": [line.model_dump(mode="json") for line in state.reconciliation]},
        )
        await self._notify(Kind.TIMEFRAME_ENDED, Audience.REVIEW_TEAM, reconciliation=state.reconciliation)

    # ------------------------------------------------------------ shared by the steps and the actions

    async def ring(self, item: Due) -> None:
        """Act on what came due: a reminder, the customs deadline (or the end of its grace period), the
        expiry; the others in `alarms.py`."""
        match item.kind:
            case DueKind.TRANSPORT_REMINDER:
                assert item.offset is not None
                await self.remind_exporter(item.offset)
            case DueKind.CUSTOMS_DEADLINE | DueKind.GRACE_END:
                await self.cancel_for_missed_deadline(missed_deadline_reason(self._state))
            case DueKind.EXPIRY:
                await self.expire()
            case _:
                raise ValueError(f"nothing rings for {item.kind}")
