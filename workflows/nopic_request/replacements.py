"""Replacement after issue, as TRACES NT's "copy as replacement": a reviewer replaces an issued NOPIC whose
data must change (`replace-certificate`, judged by `domain.replacement`).

The old NOPIC is cancelled through the one cancellation model (`cancellations.py`: the gateway in api
mode, a staff task in manual mode, `cancellation_pending` until then); a new one, with the changed data
and the next revision, takes the commodity's place, pending. The OID gateway issues it (api mode: one task
for the whole run, outside the lock, under a key of its own), or staff create it in OID and record its
number (manual mode: the Issuing queue, `record-certificate`). Once it has its number both are linked
(`replaces`, `replaced_by`) and the exporter and the importer are told the new number and that the old one
is no longer valid; they hear that it is cancelled in OID only once it is.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.nopic_request import calls, patches
from workflows.nopic_request.cancellations import AuditLine
from workflows.nopic_request.handlers import Handlers

with workflow.unsafe.imports_passed_through():
    from activities.notifications import Audience
    from activities.notifications import NotificationKind as Kind
    from activities.oid import NopicData, idempotency_key
    from domain.messages import ReplaceCertificate
    from domain.policy import IssuanceMode
    from domain.replacement import changed_data, form_with, refused_replacement, replacement_of
    from domain.state import NOPICS_IN_FORCE, SYSTEM, Certificate, CertificateStatus, RequestState
    from domain.state import RequestStatus as Status


class Replacements(Handlers):
    @workflow.update
    async def replace_certificate(self, action: ReplaceCertificate) -> RequestState:
        return await self._act(action, self._replace_certificate)

    @replace_certificate.validator
    def _validate_replace_certificate(self, action: ReplaceCertificate) -> None:
        self._validate(action)

    async def _replace_certificate(self, action: ReplaceCertificate) -> None:
        """The new certificate takes the commodity's place, pending; the old one is to cancel in OID (a
        replacement OID refused to issue is simply taken over: it never had a number)."""
        workflow.patched(patches.REPLACEMENT)
        state = self._state
        index = action.commodity_index
        held = state.certificates[index]
        refused = refused_replacement(state, index)
        new = replacement_of(state, action)
        changes = ", ".join(
            f"{name} {getattr(held, name)} -> {value}" for name, value in changed_data(held, action).items()
        )
        state.certificates[index] = new
        self._set_form(form_with(state.form, new))
        manual = state.policy.issuance_mode is IssuanceMode.MANUAL
        who = "staff create it in OID and record its number" if manual else "the OID gateway issues it"
        detail = f"{held.product_name}: a new NOPIC replaces {new.replaces} ({changes}; {who})"
        record = AuditLine(
            "replace_certificate", action.actor, action.action_id, payload=action, detail=detail
        )
        if refused is not None:
            await self._record_change(record, detail)
            return
        state.superseded.append(held)
        await self.cancel([held], f"replaced by a new NOPIC: {action.reason}", record=record)

    def _replacements_to_issue(self) -> list[Certificate]:
        """The replacements the OID gateway is to issue: pending, not refused, their request in force."""
        state = self._state
        if state.status not in NOPICS_IN_FORCE:
            return []
        return [
            c
            for c in state.certificates
            if c.replaces is not None and c.status is CertificateStatus.PENDING and c.oid_failure is None
        ]

    async def issue_replacements_through_gateway(self) -> None:
        """Api mode, for the whole run: the OID gateway issues each replacement, outside the lock. A refusal
        shows on the certificate and is told to the review team; a reviewer may replace it again."""
        state = self._state
        while True:
            await workflow.wait_condition(lambda: bool(self._replacements_to_issue()))
            certificate = self._replacements_to_issue()[0]
            data = NopicData.of(state.request_id, state.form, certificate)
            try:
                issued = await calls.issue_nopic(data, idempotency_key(data, certificate.revision))
            except ActivityError as error:
                reason = (
                    f"OID did not issue the NOPIC replacing {certificate.replaces} "
                    f"({certificate.product_name}): {calls.failure_reason(error)}"
                )
                async with self._lock:
                    held = self._held(certificate)
                    if held is not None and held.status is CertificateStatus.PENDING:
                        failed = held.model_copy(update={"oid_failure": reason})
                        self._set_certificate(failed)
                        await self._record("replacement_refused", SYSTEM, detail=reason)
                        await self._notify(
                            Kind.OID_REFUSED, Audience.REVIEW_TEAM, certificates=[failed], message=reason
                        )
                continue
            async with self._lock:
                await self.replacement_issued(
                    certificate,
                    issued.number,
                    issued.issued_at,
                    AuditLine("replacement_issued", detail="by the OID gateway"),
                )

    async def replacement_issued(
        self, certificate: Certificate, number: str, issued_at: datetime, record: AuditLine
    ) -> None:
        """OID issued the replacement (the gateway answered, or staff recorded its number): both NOPICs are
        linked, the exporter and the importer told. Should the request have moved on meanwhile (cancelled,
        expired), the new NOPIC is kept and cancelled, never forgotten. Under the lock."""
        state = self._state
        held = self._held(certificate)
        numbered = (held or certificate).model_copy(
            update={
                "number": number,
                "status": CertificateStatus.ISSUED,
                "issued_at": issued_at,
                "oid_failure": None,
            }
        )
        line = f"{certificate.product_name}: {number} replaces {certificate.replaces}"
        if (
            held is None
            or held.status is not CertificateStatus.PENDING
            or state.status not in NOPICS_IN_FORCE
        ):
            if held is None:
                state.superseded.append(numbered)
            else:
                self._set_certificate(numbered)
            ends_as = state.ends_as if state.status is Status.CANCELLING else None
            if state.status.is_final:
                ends_as = state.status
            reason = f"issued in OID after the request moved on: {state.outcome or state.status}"
            await self.cancel([numbered], reason, ends_as=ends_as, record=record)
            return
        self._set_certificate(numbered)
        old = next(
            (
                c
                for c in state.superseded
                if c.commodity_index == numbered.commodity_index and c.number == numbered.replaces
            ),
            None,
        )
        if old is not None:
            old = old.model_copy(update={"replaced_by": number})
            self._set_certificate(old)
        detail = "; ".join(filter(None, [line, record.detail]))
        await self._record_change(record, detail)
        if old is None:
            return
        for audience in (Audience.EXPORTER, Audience.IMPORTER):
            await self._notify(
                Kind.NOPIC_REPLACED, audience, certificates=[numbered, old], message=old.cancel_reason
            )
