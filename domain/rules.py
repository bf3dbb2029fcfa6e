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

from domain import oid_rules
from domain.actions import spec_of
from domain.certificates import report_problem, shipment_problem
from domain.deadlines import deadline_passed, decision_problem, move_problem
from domain.messages import (
    AcceptDeadlineMove,
    Action,
    Approve,
    CancelCertificates,
    ConfirmOperations,
    CorrectRequestData,
    DeclineDeadlineMove,
    RecordCancellation,
    RecordCertificateNumber,
    RecordShipment,
    Refuse,
    RejectTransportDocument,
    ReplaceCertificate,
    ReportQuantities,
    RequestCorrections,
    ResolveCorrections,
    RetryCancellation,
    ReturnToReview,
    SubmitDocuments,
    SubmitTransportDocument,
    UpdateEta,
    Withdraw,
)
from domain.policy import IssuanceMode
from domain.replacement import replacement_problem
from domain.request import (
    DocumentKind,
    DocumentReference,
    NopicRequestForm,
    Shipment,
    check_document_reference,
)
from domain.state import (
    BEFORE_ISSUE,
    CertificateStatus,
    RequestState,
    RequestStatus,
    Requirement,
)


class Change(StrEnum):
    """A change of the rules made while requests were under way (the workflow's patch `paths-<change>`)."""

    DEADLINES = "deadlines"  # nothing issued after the customs deadline; moves of the deadline
    SHIPMENTS = "shipments"  # the first shipment's quantities; further shipments' documents
    CORRECTIONS = "corrections"  # a correction may rename or remove a supplier or commodity
    REFERENCES = "references"  # a cancellation names at least one certificate


CURRENT = frozenset(Change)
"""The rules of today: for every new action."""

# Where the first shipment's transport document was taken before shipment rules changed.
_FIRST_DOCUMENT_STATUSES = frozenset({RequestStatus.ISSUING, RequestStatus.AWAITING_TRANSPORT_DOCUMENT})


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
        case RequestCorrections() | Refuse() | Withdraw() | ReturnToReview():
            return not_allowed(state, action)
        case SubmitDocuments():
            return _submit_documents(state, action)
        case CorrectRequestData():
            return _correct_request_data(state, action, changes)
        case RecordCertificateNumber():
            return _record_certificate_number(state, action, operations_checked, now, changes)
        case SubmitTransportDocument():
            return _transport_document(state, action, changes)
        case RejectTransportDocument():
            return _reject_transport_document(state, action, changes)
        case UpdateEta():
            return _update_eta(state, action, now, changes)
        case RecordShipment():
            return not_allowed(state, action) or _record_shipment(state, action, changes)
        case CancelCertificates():
            return _cancel_certificates(state, action, changes)
        case ResolveCorrections():
            return _resolve_corrections(state, action)
        case AcceptDeadlineMove() | DeclineDeadlineMove():
            return not_allowed(state, action) or decision_problem(state, now)
        case ReportQuantities():
            return not_allowed(state, action) or report_problem(state, action.quantities)
        case ConfirmOperations():
            return not_allowed(state, action) or oid_rules.confirm_operations(state, action)
        case RecordCancellation():
            return not_allowed(state, action) or oid_rules.record_cancellation(state, action)
        case RetryCancellation():
            return not_allowed(state, action) or oid_rules.retry_cancellation(state, action)
        case ReplaceCertificate():
            return not_allowed(state, action) or replacement_problem(state, action)
    raise TypeError(f"no rule for {type(action).__name__}")


def not_allowed(state: RequestState, action: Action) -> str | None:
    """The refusal when the actor's role or the request's status does not allow the action."""
    spec = spec_of(action)
    if action.actor.role not in spec.roles:
        allowed = " or ".join(sorted(role.value for role in spec.roles))
        return f"only a {allowed} may do this; {action.actor.name} is {action.actor.role}"
    return _status_refusal(state, spec.statuses)


def _status_refusal(state: RequestState, statuses: frozenset[RequestStatus]) -> str | None:
    if state.status not in statuses:
        allowed = ", ".join(status.value for status in RequestStatus if status in statuses)
        return f"the request is {state.status}; this action is possible only when it is {allowed}"
    return None


def corrected_form(
    current: NopicRequestForm, corrected: NopicRequestForm, *, set_aside: bool = False
) -> NopicRequestForm:
    """The corrected data, with the original time of receipt and every document held so far; with
    `set_aside`, without the documents about a supplier or commodity the correction renamed or removed."""
    held = {d.file_id for d in current.documents}
    documents = [*current.documents, *(d for d in corrected.documents if d.file_id not in held)]
    if set_aside:
        aside = documents_set_aside(current, corrected)
        documents = [d for d in documents if d not in aside]
    return NopicRequestForm.model_validate(
        {**corrected.model_dump(), "received_at": current.received_at, "documents": documents}
    )


def documents_set_aside(current: NopicRequestForm, corrected: NopicRequestForm) -> list[DocumentReference]:
    """The documents held that concern a supplier the corrected data no longer names, or a commodity it
    removed or renamed: they no longer count for the checklist."""
    names = set(corrected.supplier_names)
    aside = []
    for document in current.documents:
        index = document.commodity_index
        gone = index is not None and (
            index >= len(corrected.commodities)
            or corrected.commodities[index].product_name != current.commodities[index].product_name
        )
        if gone or (document.supplier is not None and document.supplier not in names):
            aside.append(document)
    return aside


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


def _resolve_corrections(state: RequestState, action: ResolveCorrections) -> str | None:
    refusal = not_allowed(state, action)
    if refusal is None and not state.corrections_requested:
        return "there are no open corrections to resolve"
    return refusal


def _submit_documents(state: RequestState, action: SubmitDocuments) -> str | None:
    for position, document in enumerate(action.documents):
        if document.kind is DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE:
            return "send the definitive transport document with the transport_document action"
        try:
            check_document_reference(state.form, document, f"documents.{position}")
        except ValueError as error:
            return str(error)
    return not_allowed(state, action)


def _correct_request_data(
    state: RequestState, action: CorrectRequestData, changes: frozenset[Change]
) -> str | None:
    try:
        corrected_form(state.form, action.form, set_aside=Change.CORRECTIONS in changes)
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
    problem = oid_rules.record_certificate_number(state, action, operations_checked)
    if problem is not None:
        return problem
    certificate = state.certificates[action.commodity_index]
    if state.status is not RequestStatus.ISSUING:
        # The NOPICs are in force: only a replacement's number is recorded, never one corrected.
        if certificate.status is not CertificateStatus.PENDING or certificate.replaces is None:
            return (
                f"commodity_index: the NOPIC for {certificate.product_name} is {certificate.status}; while "
                "the NOPICs are in force only a replacement's number is recorded (replace-certificate)"
            )
        return None
    # The number that completes issuance, once the customs deadline has passed, would issue a NOPIC only
    # to cancel it: refused, as approval is.
    pending = [c for c in state.certificates if c.status is CertificateStatus.PENDING]
    if Change.DEADLINES in changes and pending == [certificate]:
        return deadline_passed(state, "the last NOPIC number", now)
    return None


def _transport_document(
    state: RequestState, action: SubmitTransportDocument, changes: frozenset[Change]
) -> str | None:
    if Change.SHIPMENTS not in changes:
        if state.status is RequestStatus.ACTIVE:
            return "a definitive transport document is already accepted; a reviewer may reject it first"
        refusal = not_allowed(state, action)
        return refusal or _status_refusal(state, _FIRST_DOCUMENT_STATUSES)
    refusal = not_allowed(state, action)
    if refusal is not None:
        return refusal
    if action.shipment is not None:
        return _replacement(state, action)
    if state.status is RequestStatus.ACTIVE:
        return "a definitive transport document is already accepted; a reviewer may reject it first"
    given = action.shipped_on is not None, bool(action.quantities)
    if state.status in BEFORE_ISSUE and given == (False, False):
        return None  # kept until the NOPICs are issued; its date and quantities are asked for then
    if given != (True, True):
        return (
            "the definitive transport document of the first shipment carries the day it shipped and the "
            "net kg of each commodity: give shipped_on and quantities"
        )
    assert action.shipped_on is not None
    before_issue = state.status in BEFORE_ISSUE
    return shipment_problem(state, action.shipped_on, action.quantities, before_issue=before_issue)


def _replacement(state: RequestState, action: SubmitTransportDocument) -> str | None:
    """A compliant transport document for a further shipment whose document a reviewer rejected."""
    index = action.shipment
    assert index is not None
    if state.status is not RequestStatus.ACTIVE:
        return "a further shipment's transport document is replaced while the request is active"
    if index >= len(state.shipments):
        return f"shipment {index} does not exist: the request has {len(state.shipments)} further shipments"
    shipment = state.shipments[index]
    if shipment.rejected is None:
        return f"the transport document of the shipment of {shipment.shipped_on} is not rejected"
    if action.shipped_on is not None or action.quantities:
        return "a further shipment keeps the day and quantities recorded with it: send its document alone"
    return None


def _reject_transport_document(
    state: RequestState, action: RejectTransportDocument, changes: frozenset[Change]
) -> str | None:
    refusal = not_allowed(state, action)
    if refusal is not None:
        return refusal
    index = action.shipment
    if Change.SHIPMENTS in changes and index is not None:
        if state.status is not RequestStatus.ACTIVE or index >= len(state.shipments):
            count = len(state.shipments)
            return f"shipment {index} does not exist: the request has {count} further shipments"
        if state.shipments[index].rejected is not None:
            return f"the transport document of shipment {index} is already rejected"
        return None
    if state.transport_document is None:
        return "there is no definitive transport document to reject"
    return None


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


def _record_shipment(state: RequestState, action: RecordShipment, changes: frozenset[Change]) -> str | None:
    if Change.SHIPMENTS in changes:
        if action.transport_document.kind is not DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE:
            return (
                "transport_document: a shipment's document is its definitive transport document "
                "(kind transport_document_definitive)"
            )
        if action.eta is not None and action.eta.date() < action.shipped_on:
            return "eta: the arrival is before the day the shipment left (shipped_on)"
        if action.expected_clearance is not None and action.eta is not None:
            if action.expected_clearance < action.eta:
                return "expected_clearance: customs clearance cannot come before the arrival (eta)"
    return shipment_problem(state, action.shipped_on, action.quantities)


def _cancel_certificates(
    state: RequestState, action: CancelCertificates, changes: frozenset[Change]
) -> str | None:
    refusal = not_allowed(state, action)
    if refusal is not None:
        return refusal
    certificates = state.certificates
    if Change.REFERENCES in changes and action.commodity_indexes == []:
        return "commodity_indexes: name at least one certificate, or leave the list out to cancel them all"
    for index in action.commodity_indexes or []:
        if not 0 <= index < len(certificates):
            return f"commodity {index} does not exist: the request has {len(certificates)}"
        if certificates[index].status is not CertificateStatus.ISSUED:
            return f"the NOPIC for {certificates[index].product_name} is {certificates[index].status}"
    return None
