"""Cancelling NOPICs in OID: the one place every path goes through, and what makes each cancellation true.

`cancel` is that place, for a reviewer's choice, the customs deadline, a refusal or withdrawal after (part
of) the NOPICs were issued, a correction that changed a NOPIC's data, or a NOPIC issued after the request
moved on. It marks the certificates `cancellation_pending` and records why; nothing says "cancelled" yet:
- manual mode: each is a task for staff, listed in "To cancel in OID" and mailed to the review team; a
  reviewer's `record-cancellation` confirms it was done in Global INTEGRITY;
- api mode: `cancel_through_gateway`, one task for the whole run, asks the OID gateway, outside the lock;
  a refusal shows on the certificate and is mailed to the review team, who retry it or confirm that it
  was cancelled by hand.
Only a confirmed cancellation makes the certificate `cancelled` and tells the exporter and the importer.
A request with nothing left in force waits in `cancelling` and ends (`ends_as`) once the last is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.nopic_request import calls
from workflows.nopic_request.run import RequestRun

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from activities.notifications import Audience
    from activities.notifications import NotificationKind as Kind
    from activities.oid import NopicData
    from domain.cancellation import awaiting_gateway, next_revision, open_cancellations, same_certificate
    from domain.certificates import one_nopic_per_commodity
    from domain.messages import CancelCertificates
    from domain.policy import IssuanceMode
    from domain.request import NopicRequestForm
    from domain.state import SYSTEM, Actor, Certificate, CertificateStatus
    from domain.state import RequestStatus as Status


@dataclass(frozen=True)
class AuditLine:
    """The audit line of the decision that cancels: its action, who took it, and what to keep with it."""

    action: str
    actor: Actor = SYSTEM
    action_id: str | None = None
    payload: BaseModel | dict[str, Any] | None = None
    detail: str | None = None


def listed(certificates: list[Certificate]) -> str:
    return ", ".join(f"{c.number} ({c.product_name})" for c in certificates)


class Cancellations(RequestRun):
    async def cancel(
        self,
        certificates: list[Certificate],
        reason: str,
        *,
        record: AuditLine,
        ends_as: Status | None = None,
        tell: Kind | None = None,
    ) -> list[Certificate]:
        """These NOPICs are to be cancelled in OID, for `reason`: the one place that cancels. Under the lock.

        The issued ones among `certificates` become `cancellation_pending`. `ends_as`: nothing is left in
        force, so the request ends so, at once or once every cancellation is confirmed. `record` is the
        decision's audit line (it lists the NOPICs to cancel); the review team hears of manual tasks, and of
        `tell` (its kind of message) in either mode. The certificates marked.
        """
        state = self._state
        now = workflow.now()
        marked = []
        for certificate in certificates:
            if certificate.status is not CertificateStatus.ISSUED:
                continue
            pending = certificate.model_copy(
                update={
                    "status": CertificateStatus.CANCELLATION_PENDING,
                    "cancel_reason": reason,
                    "cancellation_requested_at": now,
                    "oid_failure": None,
                }
            )
            self._set_certificate(pending)
            marked.append(pending)
        if ends_as is not None:
            state.ends_as = ends_as
            state.status = Status.CANCELLING if open_cancellations(state) else ends_as
            state.next_reminder = None
        manual = state.policy.issuance_mode is IssuanceMode.MANUAL
        detail = record.detail
        if marked:
            who = "staff cancel each in OID and confirm it" if manual else "the OID gateway cancels them"
            detail = "; ".join(filter(None, [detail, f"to cancel in OID: {listed(marked)} ({who})"]))
        await self._record_change(record, detail)
        if tell is not None or (manual and marked):
            kind = tell or Kind.CANCELLATION_REQUESTED
            await self._notify(kind, Audience.REVIEW_TEAM, certificates=marked, message=reason)
        return marked

    async def cancellation_confirmed(
        self, certificate: Certificate, cancelled_at: datetime, record: AuditLine
    ) -> None:
        """The NOPIC is cancelled in OID (staff confirmed it, or the gateway did it): now it is `cancelled`,
        the exporter and the importer are told, and a request with nothing left ends. Under the lock."""
        state = self._state
        cancelled = certificate.model_copy(
            update={"status": CertificateStatus.CANCELLED, "cancelled_at": cancelled_at, "oid_failure": None}
        )
        self._set_certificate(cancelled)
        done = state.status is Status.CANCELLING and not open_cancellations(state)
        if done:
            state.status = state.ends_as or Status.CANCELLED
        line = f"{certificate.number} ({certificate.product_name}) is cancelled in OID"
        detail = "; ".join(filter(None, [line, record.detail]))
        if done:
            detail += f"; nothing is left in force: the request is {state.status}"
        await self._record_change(record, detail)
        reason = certificate.cancel_reason
        await self._notify(Kind.CANCELLATION, Audience.EXPORTER, certificates=[cancelled], message=reason)
        await self._notify(Kind.CANCELLATION, Audience.IMPORTER, certificates=[cancelled], message=reason)

    async def _record_change(self, change: AuditLine, detail: str | None) -> None:
        actor, action_id = change.actor, change.action_id
        await self._record(change.action, actor, action_id, payload=change.payload, detail=detail)

    def _held(self, certificate: Certificate) -> Certificate | None:
        """The certificate as the state holds it now (it may have changed while the lock was awaited)."""
        return next((c for c in self._state.every_certificate if same_certificate(c, certificate)), None)

    async def cancel_through_gateway(self) -> None:
        """Api mode, for the whole run: the OID gateway cancels each NOPIC awaiting it, outside the lock.

        A cancellation OID refuses stays pending with the refusal on the certificate (`oid_failure`), and the
        review team is told; `retry-cancellation` clears it, and this loop tries again.
        """
        state = self._state
        while True:
            await workflow.wait_condition(lambda: bool(awaiting_gateway(state)))
            certificate = awaiting_gateway(state)[0]
            assert certificate.number is not None  # only issued NOPICs are cancelled
            try:
                cancelled_at = await calls.cancel_in_oid(certificate.number, certificate.cancel_reason or "")
            except ActivityError as error:
                reason = calls.unanswered(error, calls.OID_CANCEL_WITHIN) or calls.failure_reason(error)
                async with self._lock:
                    held = self._held(certificate)
                    if held is not None and held.status is CertificateStatus.CANCELLATION_PENDING:
                        await self._gateway_refused(held, reason)
                continue
            async with self._lock:
                held = self._held(certificate)
                if held is not None and held.status is CertificateStatus.CANCELLATION_PENDING:
                    await self.cancellation_confirmed(
                        held, cancelled_at, AuditLine("nopic_cancelled", detail="by the OID gateway")
                    )

    async def _gateway_refused(self, certificate: Certificate, reason: str) -> None:
        failed = certificate.model_copy(update={"oid_failure": reason})
        self._set_certificate(failed)
        await self._record(
            "cancellation_failed",
            SYSTEM,
            detail=f"OID did not cancel {certificate.number} ({certificate.product_name}): {reason}",
        )
        await self._notify(Kind.OID_REFUSED, Audience.REVIEW_TEAM, certificates=[failed], message=reason)

    async def wait_for_cancellations(self) -> None:
        """Nothing left in force: the request waits until each cancellation is confirmed (by the actions
        and the gateway's task), or continues as new."""
        await workflow.wait_condition(
            lambda: self._state.status is not Status.CANCELLING or self._continue_as_new_due()
        )
        # The confirmation that ended the wait may still be telling the exporter and the importer (the
        # gateway's task is no handler the run waits for): let it finish first.
        async with self._lock:
            pass

    def _carry_certificates_over(self, form: NopicRequestForm) -> list[Certificate]:
        """The certificates of the corrected data. A NOPIC whose data in OID did not change is kept; one whose
        data changed, or whose commodity is gone, is superseded (kept for the record) and replaced by a new
        pending certificate of the next revision. The superseded ones that were issued, to cancel."""
        state = self._state
        request_id, current = state.request_id, state.certificates
        fresh = one_nopic_per_commodity(form)
        carried: list[Certificate] = []
        superseded: list[Certificate] = []
        for index in range(max(len(current), len(fresh))):
            held = current[index] if index < len(current) else None
            new = fresh[index] if index < len(fresh) else None
            if held is not None and held.status is not CertificateStatus.PENDING:
                unchanged = new is not None and (
                    NopicData.of(request_id, state.form, held) == NopicData.of(request_id, form, new)
                )
                if unchanged:
                    carried.append(held)
                    continue
                superseded.append(held)
                state.superseded.append(held)
            if new is None:
                continue
            if held is not None and held.status is CertificateStatus.PENDING:
                carried.append(new.model_copy(update={"revision": held.revision}))  # it never had a number
            else:
                carried.append(new.model_copy(update={"revision": next_revision(state, index)}))
        state.certificates = carried
        return [c for c in superseded if c.status is CertificateStatus.ISSUED]

    # ------------------------------------------------------------ before the `oid-cancellation-tasks` patch

    async def cancel_nopics(self, certificates: list[Certificate], reason: str) -> list[Certificate]:
        """Cancel these NOPICs in OID, one by one, under the lock; the certificates as cancelled. Only for
        runs recorded before the `oid-cancellation-tasks` patch: `cancel` is the one place since."""
        cancelled: list[Certificate] = []
        for certificate in certificates:
            assert certificate.number is not None  # an issued certificate has its number
            cancelled_at = await calls.cancel_nopic(certificate.number, reason)
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

    async def _cancel_certificates_inline(
        self, action: CancelCertificates, chosen: list[Certificate]
    ) -> None:
        """The reviewer's cancellation in runs recorded before the `oid-cancellation-tasks` patch."""
        state = self._state
        cancelled = await self.cancel_nopics(chosen, action.reason)
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
