"""Why the workflow refuses the actions around OID: the operations check, the numbers typed by hand, the
return to review, and the confirmation or retry of a cancellation. `domain.rules.why_not` asks these."""

from __future__ import annotations

from domain.cancellation import cancellation_problem
from domain.messages import (
    ConfirmOperations,
    RecordCancellation,
    RecordCertificateNumber,
    RetryCancellation,
)
from domain.nopic_number import check_nopic_number
from domain.policy import IssuanceMode
from domain.state import CertificateStatus, OperationsCheckStatus, RequestState


def operations_not_checked(state: RequestState) -> str:
    """Why NOPIC numbers cannot be recorded yet: what the operations check still waits for."""
    check = state.operations_check
    if check is None or check.status is OperationsCheckStatus.CHECKING:
        return "the exporter and importer operations are still being checked in OID"
    if check.status is OperationsCheckStatus.UNAVAILABLE:
        return (
            f"the operations check is unavailable ({check.detail}); a reviewer may confirm both operations "
            "by hand (confirm-operations)"
        )
    return "a reviewer must first confirm that both operations are Certified in OID (confirm-operations)"


def record_certificate_number(
    state: RequestState, action: RecordCertificateNumber, operations_checked: bool
) -> str | None:
    """After the role and status checks: the certificate, the number's form, and no double within the request.
    A number already recorded may be corrected while the request is issuing."""
    if not operations_checked:
        return operations_not_checked(state)
    if action.commodity_index >= len(state.certificates):
        count = len(state.certificates)
        return f"commodity {action.commodity_index} does not exist: the request has {count}"
    certificate = state.certificates[action.commodity_index]
    if certificate.status is CertificateStatus.ISSUED and certificate.number == action.number:
        return f"the NOPIC for {certificate.product_name} is already recorded: {certificate.number}"
    if certificate.status not in (CertificateStatus.PENDING, CertificateStatus.ISSUED):
        return f"the NOPIC for {certificate.product_name} is {certificate.status}: {certificate.number}"
    problem = check_nopic_number(action.number)
    if problem is not None:
        return problem
    if any(c.number == action.number for c in state.every_certificate):
        return f"{action.number} is already the NOPIC of another commodity of this request"
    return None


def confirm_operations(state: RequestState, action: ConfirmOperations) -> str | None:
    check = state.operations_check
    if check is None or check.status is OperationsCheckStatus.CHECKING:
        return "the operations are being checked in OID; confirm them by hand once the check is unavailable"
    if check.passed:
        who = check.confirmed_by.name if check.confirmed_by else "OID"
        return f"both operations are already confirmed Certified (by {who})"
    if not check.awaits_reviewer:
        return f"the operations check ended: {check.detail}"
    return None


def record_cancellation(state: RequestState, action: RecordCancellation) -> str | None:
    certificate, problem = cancellation_problem(state, action.commodity_index, action.number)
    if certificate is None:
        return problem
    if state.policy.issuance_mode is IssuanceMode.API and certificate.oid_failure is None:
        return (
            f"the OID gateway is cancelling NOPIC {certificate.number}; confirm it by hand only if the "
            "gateway fails"
        )
    return None


def retry_cancellation(state: RequestState, action: RetryCancellation) -> str | None:
    if state.policy.issuance_mode is not IssuanceMode.API:
        return "in manual issuance staff cancel NOPICs in OID by hand: confirm it with record-cancellation"
    certificate, problem = cancellation_problem(state, action.commodity_index, action.number)
    if certificate is None:
        return problem
    if certificate.oid_failure is None:
        return f"the OID gateway is already cancelling NOPIC {certificate.number}"
    return None
