"""Why the workflow refuses an action: pure functions of the request's state, the action and the time.

The workflow asks `why_not` twice for each action: in the update's validator, so a refusal never enters
the history, and again under its lock before applying it, because the state may have moved meanwhile.
Who may take an action, and in which statuses, comes from the action list (`domain.actions`). Each
reason is a sentence for the person who tried; the API, the dashboard and the tests show it word for word.

Some rules changed while requests were under way (`Change`): the handler of an action in a history written
before a change judges it by the rule of its day, so the history replays the same.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ValidationError

from domain.actions import spec_of
from domain.certificates import shipment_problem
from domain.deadlines import deadline_passed, decision_problem, move_problem
from domain.messages import (
    AcceptDeadlineMove,
    Action,
    Approve,
    CancelCertificates,
    CorrectRequestData,
    DeclineDeadlineMove,
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
from domain.nopic_number import check_nopic_number
from domain.policy import IssuanceMode
from domain.request import DocumentKind, NopicRequestForm, Shipment, check_document_reference
from domain.state import CertificateStatus, RequestState, RequestStatus, Requirement


class Change(StrEnum):
    """A change of the rules made while requests were under way (the workflow's patch `paths-<change>`)."""

    DEADLINES = "deadlines"  # nothing issued after the customs deadline; moves of the deadline


CURRENT = frozenset(Change)
"""The rules of today: for every new action."""


def why_not(
    state: RequestState,
    action: Action,
    now: datetime,
    *,
    operations_checked: bool,
    changes: frozenset[Change] = CURRENT,
) -> str | None:
    """Why the request does not take `action` now, or None when it does.

    `operations_checked` is a fact of the workflow's current run: OID confirmed that the exporter and the
    importer are certified, so NOPIC numbers may be recorded by hand. `changes`: the rule changes in force
    for this judgement (all of them, but for an action of an older history).
    """
    match action:
        case Approve():
            return _approve(state, action, now, changes)
        case RequestCorrections() | Refuse() | Withdraw():
            return not_allowed(state, action)
        case SubmitDocuments():
            return _submit_documents(state, action)
        case CorrectRequestData():
            return _correct_request_data(state, action)
        case RecordCertificateNumber():
            return _record_certificate_number(state, action, operations_checked, now, changes)
        case SubmitTransportDocument():
            return _transport_document(state, action)
        case RejectTransportDocument():
            return _reject_transport_document(state, action)
        case UpdateEta():
            return _update_eta(state, action, now, changes)
        case RecordShipment():
            return not_allowed(state, action) or shipment_problem(state, action.shipped_on, action.quantities)
        case CancelCertificates():
            return _cancel_certificates(state, action)
        case AcceptDeadlineMove() | DeclineDeadlineMove():
            return not_allowed(state, action) or decision_problem(state, now)
    raise TypeError(f"no rule for {type(action).__name__}")


def not_allowed(state: RequestState, action: Action) -> str | None:
    """The refusal when the actor's role or the request's status does not allow the action."""
    spec = spec_of(action)
    if action.actor.role not in spec.roles:
        allowed = " or ".join(sorted(role.value for role in spec.roles))
        return f"only a {allowed} may do this; {action.actor.name} is {action.actor.role}"
    if state.status not in spec.statuses:
        allowed = ", ".join(status.value for status in RequestStatus if status in spec.statuses)
        return f"the request is {state.status}; this action is possible only when it is {allowed}"
    return None


def corrected_form(current: NopicRequestForm, corrected: NopicRequestForm) -> NopicRequestForm:
    """The corrected data, with the original time of receipt and every document held so far."""
    held = {d.file_id for d in current.documents}
    documents = [*current.documents, *(d for d in corrected.documents if d.file_id not in held)]
    return NopicRequestForm.model_validate(
        {**corrected.model_dump(), "received_at": current.received_at, "documents": documents}
    )


def moved_shipment(current: Shipment, action: UpdateEta) -> Shipment:
    """The shipment with the new ETA and expected clearance, as an update moved it before the deadline
    rules changed (`domain.deadlines.moved_shipment` since): no expected clearance given drops it."""
    return Shipment.model_validate(
        {**current.model_dump(), "eta": action.eta, "expected_clearance": action.expected_clearance}
    )


def _approve(state: RequestState, action: Approve, now: datetime, changes: frozenset[Change]) -> str | None:
    refusal = not_allowed(state, action)
    if refusal is not None:
        return refusal
    missing = state.missing(Requirement.NOW)
    if missing:
        return "approval refused: still missing " + "; ".join(i.description for i in missing)
    if state.corrections_requested:
        return "approval refused: the corrections requested are still open"
    if Change.DEADLINES in changes:
        return deadline_passed(state, "approval", now)
    return None


def _submit_documents(state: RequestState, action: SubmitDocuments) -> str | None:
    for position, document in enumerate(action.documents):
        if document.kind is DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE:
            return "send the definitive transport document with the transport_document action"
        try:
            check_document_reference(state.form, document, f"documents.{position}")
        except ValueError as error:
            return str(error)
    return not_allowed(state, action)


def _correct_request_data(state: RequestState, action: CorrectRequestData) -> str | None:
    try:
        corrected_form(state.form, action.form)
    except ValidationError as error:
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in error.errors())
    return not_allowed(state, action)


def _record_certificate_number(
    state: RequestState,
    action: RecordCertificateNumber,
    operations_checked: bool,
    now: datetime,
    changes: frozenset[Change],
) -> str | None:
    if state.policy.issuance_mode is not IssuanceMode.MANUAL:
        return "NOPIC numbers are recorded by hand only in manual issuance mode"
    refusal = not_allowed(state, action)
    if refusal is not None:
        return refusal
    if not operations_checked:
        return "the exporter and importer operations are still being checked in OID"
    if action.commodity_index >= len(state.certificates):
        count = len(state.certificates)
        return f"commodity {action.commodity_index} does not exist: the request has {count}"
    certificate = state.certificates[action.commodity_index]
    if certificate.status is not CertificateStatus.PENDING:
        return f"the NOPIC for {certificate.product_name} is already recorded: {certificate.number}"
    problem = check_nopic_number(action.number)
    if problem is not None:
        return problem
    if any(c.number == action.number for c in state.certificates):
        return f"{action.number} is already the NOPIC of another commodity of this request"
    pending = [c for c in state.certificates if c.status is CertificateStatus.PENDING]
    if Change.DEADLINES in changes and len(pending) == 1:
        return deadline_passed(state, "the last NOPIC number", now)
    return None


def _transport_document(state: RequestState, action: SubmitTransportDocument) -> str | None:
    if state.status is RequestStatus.ACTIVE:
        return "a definitive transport document is already accepted; a reviewer may reject it first"
    return not_allowed(state, action)


def _reject_transport_document(state: RequestState, action: RejectTransportDocument) -> str | None:
    refusal = not_allowed(state, action)
    if refusal is None and state.transport_document is None:
        return "there is no definitive transport document to reject"
    return refusal


def _update_eta(
    state: RequestState, action: UpdateEta, now: datetime, changes: frozenset[Change]
) -> str | None:
    if Change.DEADLINES in changes:
        return move_problem(state, action, now) or not_allowed(state, action)
    try:
        shipment = moved_shipment(state.form.shipment, action)
    except ValidationError as error:
        return "; ".join(e["msg"].removeprefix("Value error, ") for e in error.errors())
    if shipment.customs_deadline <= now:
        return f"the new customs deadline {shipment.customs_deadline.isoformat()} is already past"
    return not_allowed(state, action)


def _cancel_certificates(state: RequestState, action: CancelCertificates) -> str | None:
    refusal = not_allowed(state, action)
    if refusal is not None:
        return refusal
    certificates = state.certificates
    for index in action.commodity_indexes or []:
        if index >= len(certificates):
            return f"commodity {index} does not exist: the request has {len(certificates)}"
        if certificates[index].status is not CertificateStatus.ISSUED:
            return f"the NOPIC for {certificates[index].product_name} is {certificates[index].status}"
    return None
