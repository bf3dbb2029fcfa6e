"""What people do about OID: record the numbers of NOPICs made by hand, confirm the operations by hand,
send an issuing request back to review, and confirm or retry a NOPIC's cancellation. Updates, each judged
by `domain.rules` (with `domain.oid_rules`) as `handlers.py` judges the others, under the same lock."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.nopic_request import calls, patches
from workflows.nopic_request.cancellations import AuditLine
from workflows.nopic_request.handlers import refused
from workflows.nopic_request.replacements import Replacements

with workflow.unsafe.imports_passed_through():
    from activities.nopic_numbers import NumberClaim
    from domain.cancellation import cancellation_problem
    from domain.messages import (
        ConfirmOperations,
        RecordCancellation,
        RecordCertificateNumber,
        RetryCancellation,
        ReturnToReview,
    )
    from domain.state import (
        NOPICS_IN_FORCE,
        CertificateStatus,
        OperationsCheck,
        OperationsCheckStatus,
        RequestState,
    )
    from domain.state import RequestStatus as Status


class OidActions(Replacements):
    # ------------------------------------------------------------ numbers typed by hand (manual mode)

    @workflow.update
    async def record_certificate_number(self, action: RecordCertificateNumber) -> RequestState:
        return await self._act(action, self._record_certificate_number)

    @record_certificate_number.validator
    def _validate_record_certificate_number(self, action: RecordCertificateNumber) -> None:
        self._validate(action)

    async def _record_certificate_number(self, action: RecordCertificateNumber) -> None:
        state = self._state
        certificate = state.certificates[action.commodity_index]
        claim = NumberClaim(
            number=action.number, request_id=state.request_id, commodity_index=action.commodity_index
        )
        claimed = workflow.patched(patches.NUMBER_CLAIMS)
        if claimed:
            await self._claim(claim)
        if certificate.replaces is not None and state.status in NOPICS_IN_FORCE:
            record = AuditLine("record_certificate_number", action.actor, action.action_id, detail="by hand")
            await self.replacement_issued(certificate, action.number, workflow.now(), record)
            return
        corrected = certificate.number if certificate.status is CertificateStatus.ISSUED else None
        self._set_certificate(
            certificate.model_copy(
                update={
                    "number": action.number,
                    "status": CertificateStatus.ISSUED,
                    "issued_at": workflow.now(),
                }
            )
        )
        detail = f"{certificate.product_name}: {action.number}"
        if corrected is not None:
            detail = f"{certificate.product_name}: {corrected} corrected to {action.number}"
        await self._record("record_certificate_number", action.actor, action.action_id, detail=detail)
        if corrected is not None and claimed:
            await calls.release_number(claim.model_copy(update={"number": corrected}))

    async def _claim(self, claim: NumberClaim) -> None:
        """The number is this commodity's from now on, or the action is refused, naming who holds it."""
        try:
            answer = await calls.claim_number(claim)
        except ActivityError as error:
            reason = calls.failure_reason(error)
            message = f"{claim.number} could not be checked against other requests now ({reason}); try again"
            raise refused(message) from error
        if answer.held_by is not None:
            raise refused(answer.held_by.refusal(claim.number))

    # ------------------------------------------------------------ the operations check, by hand

    @workflow.update
    async def confirm_operations(self, action: ConfirmOperations) -> RequestState:
        return await self._act(action, self._confirm_operations)

    @confirm_operations.validator
    def _validate_confirm_operations(self, action: ConfirmOperations) -> None:
        self._validate(action)

    async def _confirm_operations(self, action: ConfirmOperations) -> None:
        """The reviewer saw both operations Certified in OID: issuance goes on (numbers, or the gateway)."""
        state = self._state
        form = state.form
        state.operations_check = OperationsCheck(
            status=OperationsCheckStatus.CONFIRMED,
            since=workflow.now(),
            detail=(
                f"exporter {form.exporter.operation_id} and importer {form.importer.operation_id} confirmed "
                f"Certified in OID by {action.actor.name}"
            ),
            confirmed_by=action.actor,
            note=action.note,
        )
        await self._record(
            "confirm_operations",
            action.actor,
            action.action_id,
            detail=f"{state.operations_check.detail}: {action.note}",
        )

    # ------------------------------------------------------------ back to review from issuing

    @workflow.update
    async def return_to_review(self, action: ReturnToReview) -> RequestState:
        return await self._act(action, self._return_to_review)

    @return_to_review.validator
    def _validate_return_to_review(self, action: ReturnToReview) -> None:
        self._validate(action)

    async def _return_to_review(self, action: ReturnToReview) -> None:
        """Issuance stops; NOPICs issued stay so (a correction keeps those whose data did not change)."""
        state = self._state
        state.status = Status.IN_REVIEW
        state.issuance_blocked = f"sent back to review by {action.actor.name}: {action.reason}"
        state.operations_check = None
        await self._record("return_to_review", action.actor, action.action_id, detail=action.reason)

    # ------------------------------------------------------------ cancellations: confirmed, or retried

    @workflow.update
    async def record_cancellation(self, action: RecordCancellation) -> RequestState:
        return await self._act(action, self._record_cancellation)

    @record_cancellation.validator
    def _validate_record_cancellation(self, action: RecordCancellation) -> None:
        self._validate(action)

    async def _record_cancellation(self, action: RecordCancellation) -> None:
        certificate, _ = cancellation_problem(self._state, action.commodity_index, action.number)
        assert certificate is not None  # the rule refused the action otherwise
        await self.cancellation_confirmed(
            certificate,
            workflow.now(),
            AuditLine(
                "record_cancellation", action.actor, action.action_id, detail=f"by hand: {action.note}"
            ),
        )

    @workflow.update
    async def retry_cancellation(self, action: RetryCancellation) -> RequestState:
        return await self._act(action, self._retry_cancellation)

    @retry_cancellation.validator
    def _validate_retry_cancellation(self, action: RetryCancellation) -> None:
        self._validate(action)

    async def _retry_cancellation(self, action: RetryCancellation) -> None:
        """The gateway's task tries again once the refusal is cleared."""
        certificate, _ = cancellation_problem(self._state, action.commodity_index, action.number)
        assert certificate is not None  # the rule refused the action otherwise
        self._set_certificate(certificate.model_copy(update={"oid_failure": None}))
        await self._record(
            "retry_cancellation",
            action.actor,
            action.action_id,
            detail=f"{certificate.number}: after {certificate.oid_failure}",
        )
