"""Who may take each action in which status, and why an action is refused: `domain.rules`, no workflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import messages
from domain.actions import ACTIONS
from domain.deadlines import moved_shipment
from domain.policy import IssuanceMode, Policy
from domain.request import DocumentKind, DocumentReference, NopicRequestForm
from domain.rules import Change, corrected_form, documents_set_aside, not_allowed, why_not
from domain.rules import moved_shipment as old_moved_shipment
from domain.state import (
    AWAITING_REVIEW,
    BEFORE_APPROVAL,
    BEFORE_ISSUE,
    CHECKED_IN,
    FINAL_STATUSES,
    NOPICS_IN_FORCE,
    UNDER_REVIEW,
    Actor,
    RequestState,
    RequestStatus,
    Role,
)
from tests.support.forms import COMPLETE_DOCUMENTS, RECEIVED_AT, document, form
from tests.support.states import NOW, issued, request

Status = RequestStatus
EXPORTER = Actor(person_id="u-exporter", name="Eva Exporter", role=Role.EXPORTER)
REVIEWER = Actor(person_id="u-reviewer", name="Rik Reviewer", role=Role.REVIEWER)
ADMIN = Actor(person_id="u-admin", name="Ada Admin", role=Role.ADMIN)


def action(model: type[messages.Action], actor: Actor = REVIEWER, **fields: Any) -> Any:
    return model(action_id="a-1", actor=actor, at=NOW, **fields)


def refusal(state: RequestState, taken: messages.Action, *, operations_checked: bool = True) -> str | None:
    return why_not(state, taken, NOW, operations_checked=operations_checked)


def definitive(file_id: str = "bl-1") -> DocumentReference:
    return DocumentReference.model_validate(document(DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE, file_id))


# --- the status sets


def test_each_status_set_is_the_one_its_name_says() -> None:
    assert UNDER_REVIEW == {Status.AWAITING_DOCUMENTS, Status.IN_REVIEW}
    assert BEFORE_APPROVAL == {Status.RECEIVED, *UNDER_REVIEW}
    assert BEFORE_ISSUE == {*BEFORE_APPROVAL, Status.ISSUING}
    assert AWAITING_REVIEW == {Status.RECEIVED, Status.IN_REVIEW}
    assert CHECKED_IN == {*UNDER_REVIEW, Status.ISSUING, *NOPICS_IN_FORCE, Status.CANCELLING}
    assert NOPICS_IN_FORCE == {Status.AWAITING_TRANSPORT_DOCUMENT, Status.ACTIVE}
    assert FINAL_STATUSES == {Status.EXPIRED, Status.REFUSED, Status.WITHDRAWN, Status.CANCELLED}
    assert {s for s in Status if s.is_final} == FINAL_STATUSES


# --- who may, in which status


def test_a_role_the_list_does_not_name_is_refused_by_name() -> None:
    approve = action(messages.Approve, EXPORTER)
    assert not_allowed(request(Status.IN_REVIEW), approve) == (
        "only a reviewer may do this; Eva Exporter is exporter"
    )
    withdraw = action(messages.Withdraw, ADMIN)
    assert not_allowed(request(Status.IN_REVIEW), withdraw) == (
        "only a exporter or reviewer may do this; Ada Admin is admin"
    )


def test_a_status_the_list_does_not_name_is_refused_naming_the_statuses_in_their_order() -> None:
    eta = action(messages.UpdateEta, EXPORTER, eta=form().shipment.eta)
    assert not_allowed(request(Status.ACTIVE), eta) == (
        "the request is active; this action is possible only when it is "
        "awaiting_documents, in_review, issuing, awaiting_transport_document"
    )


def sample(model: type[messages.Action], actor: Actor) -> messages.Action:
    """A well-formed message of each kind, so only its role and status decide."""
    later = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    invoice = DocumentReference.model_validate(document(DocumentKind.COMMERCIAL_INVOICE, "inv-2"))
    fields: dict[type[messages.Action], dict[str, Any]] = {
        messages.RequestCorrections: {"items": ["lot"], "message": "please"},
        messages.Refuse: {"reason": "not organic"},
        messages.SubmitDocuments: {"documents": [invoice]},
        messages.CorrectRequestData: {"form": form()},
        messages.RecordCertificateNumber: {"commodity_index": 0, "number": "026-1234567890-000001"},
        messages.SubmitTransportDocument: {"document": definitive()},
        messages.RejectTransportDocument: {"reason": "wrong consignee"},
        messages.UpdateEta: {"eta": later},
        messages.RecordShipment: {
            "shipped_on": RECEIVED_AT.date(),
            "quantities": [{"commodity_index": 0, "net_kg": "1"}],
            "transport_document": definitive("bl-2"),
        },
        messages.CancelCertificates: {"reason": "lot failed"},
        messages.ConfirmOperations: {"note": "both Certified in OID's public search"},
        messages.ReturnToReview: {"reason": "the invoice names another lot"},
        messages.RecordCancellation: {"commodity_index": 0, "note": "cancelled in Global INTEGRITY"},
        messages.RetryCancellation: {"commodity_index": 0},
        messages.ResolveCorrections: {"note": "answered by email"},
        messages.DeclineDeadlineMove: {"reason": "too far"},
        messages.ReportQuantities: {"quantities": [{"commodity_index": 0, "net_kg": "1"}]},
        messages.ReplaceCertificate: {"commodity_index": 0, "reason": "labels reprinted", "net_kg": "9"},
    }
    return action(model, actor, **fields.get(model, {}))


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda spec: spec.slug)
def test_every_listed_action_is_refused_to_other_roles_and_in_other_statuses(spec: Any) -> None:
    manual = Policy(issuance_mode=IssuanceMode.MANUAL)  # numbers by hand are judged only in manual mode
    allowed_status = min(spec.statuses, key=list(Status).index)
    other_status = next(s for s in Status if s not in spec.statuses and s is not Status.ACTIVE)
    roles = " or ".join(sorted(role.value for role in spec.roles))
    for role in spec.roles:
        taken = sample(spec.message, Actor(person_id="u-1", name="Pat", role=role))
        assert not_allowed(request(allowed_status, policy=manual), taken) is None
        assert why_not(request(other_status, policy=manual), taken, NOW, operations_checked=True) == (
            f"the request is {other_status}; this action is possible only when it is "
            + ", ".join(s.value for s in Status if s in spec.statuses)
        )
    taken = sample(spec.message, ADMIN)
    assert why_not(request(allowed_status, policy=manual), taken, NOW, operations_checked=True) == (
        f"only a {roles} may do this; Ada Admin is admin"
    )


# --- each action's own reasons


def test_approval_waits_for_every_document_required_now_and_for_open_corrections() -> None:
    approve = action(messages.Approve)
    missing_invoice = form(documents=COMPLETE_DOCUMENTS[1:])
    assert refusal(request(Status.AWAITING_DOCUMENTS, missing_invoice), approve) == (
        "approval refused: still missing commercial invoice"
    )
    open_corrections = request(Status.AWAITING_DOCUMENTS, corrections_requested=["the lot number"])
    assert refusal(open_corrections, approve) == "approval refused: the corrections requested are still open"
    assert refusal(request(Status.IN_REVIEW), approve) is None


def test_corrections_only_under_review_refusal_and_withdrawal_also_while_issuing() -> None:
    corrections = action(messages.RequestCorrections, items=["lot"], message="please")
    assert refusal(request(Status.IN_REVIEW), corrections) is None
    assert refusal(request(Status.ISSUING), corrections) == (
        "the request is issuing; this action is possible only when it is awaiting_documents, in_review"
    )
    for taken in (action(messages.Refuse, reason="not organic"), action(messages.Withdraw, EXPORTER)):
        assert refusal(request(Status.IN_REVIEW), taken) is None
        assert refusal(request(Status.ISSUING), taken) is None
        assert refusal(request(Status.ACTIVE), taken) == (
            "the request is active; this action is possible only when it is "
            "awaiting_documents, in_review, issuing"
        )


def test_documents_name_only_what_the_form_names_and_never_the_definitive_transport_document() -> None:
    state = request(Status.ACTIVE)
    unknown_supplier = DocumentReference.model_validate(
        document(DocumentKind.TRANSACTION_CERTIFICATE, "tc-x", supplier="Nobody")
    )
    assert refusal(state, action(messages.SubmitDocuments, documents=[unknown_supplier])) == (
        "documents.0.supplier: no supplier named 'Nobody' in the request"
    )
    assert refusal(state, action(messages.SubmitDocuments, documents=[definitive()])) == (
        "send the definitive transport document with the transport_document action"
    )
    invoice = DocumentReference.model_validate(document(DocumentKind.COMMERCIAL_INVOICE, "inv-2"))
    assert refusal(state, action(messages.SubmitDocuments, documents=[invoice])) is None
    assert refusal(request(Status.CANCELLED), action(messages.SubmitDocuments, documents=[invoice])) == (
        "the request is cancelled; this action is possible only when it is "
        "awaiting_documents, in_review, issuing, awaiting_transport_document, active"
    )
    waiting = request(Status.CANCELLING)
    assert refusal(waiting, action(messages.SubmitDocuments, documents=[invoice])) == (
        "the request is cancelling; this action is possible only when it is "
        "awaiting_documents, in_review, issuing, awaiting_transport_document, active"
    )


def test_corrected_data_keeps_the_time_of_receipt_and_every_document_held() -> None:
    current = form()
    later = RECEIVED_AT + timedelta(days=1)
    corrected = form(received_at=later, documents=[document(DocumentKind.PACKING_LIST, "pl-2")])
    result = corrected_form(current, corrected)
    assert result.received_at == current.received_at
    assert [d.file_id for d in result.documents] == [*(d.file_id for d in current.documents), "pl-2"]
    correct = action(messages.CorrectRequestData, EXPORTER, form=corrected)
    assert refusal(request(Status.IN_REVIEW), correct) is None


def test_a_correction_renaming_a_supplier_is_taken_and_the_documents_about_the_old_name_set_aside() -> None:
    current = form()
    data = current.model_dump(mode="json")
    data["commodities"][0]["suppliers"][0]["name"] = "Finca Luna"
    data["documents"] = []
    corrected = NopicRequestForm.model_validate(data)
    assert [d.file_id for d in documents_set_aside(current, corrected)] == ["tc-finca-sol"]
    result = corrected_form(current, corrected, set_aside=True)
    assert "tc-finca-sol" not in [d.file_id for d in result.documents]
    correct = action(messages.CorrectRequestData, EXPORTER, form=corrected)
    assert refusal(request(Status.IN_REVIEW), correct) is None
    older = frozenset(Change) - {Change.CORRECTIONS}
    refused = why_not(request(Status.IN_REVIEW), correct, NOW, operations_checked=True, changes=older)
    assert refused is not None and "no supplier named 'Finca Sol'" in refused


def test_numbers_by_hand_only_in_manual_mode_once_oid_checked_the_operations() -> None:
    manual = request(Status.ISSUING, policy=Policy(issuance_mode=IssuanceMode.MANUAL))
    record = action(messages.RecordCertificateNumber, commodity_index=0, number="026-1234567890-000001")
    assert refusal(request(Status.ISSUING), record) == (
        "NOPIC numbers are recorded by hand only in manual issuance mode"
    )
    assert refusal(manual, record, operations_checked=False) == (
        "the exporter and importer operations are still being checked in OID"
    )
    assert refusal(manual, record) is None
    third = action(messages.RecordCertificateNumber, commodity_index=2, number="026-1234567890-000003")
    assert refusal(manual, third) == "commodity 2 does not exist: the request has 2"
    draft = action(messages.RecordCertificateNumber, commodity_index=0, number="026-1234567890-000001 draft")
    assert "is a draft" in (refusal(manual, draft) or "")
    first_recorded = issued(manual).model_copy(
        update={"certificates": [issued(manual).certificates[0], manual.certificates[1]]}
    )
    assert refusal(first_recorded, record) == (
        "the NOPIC for Organic roasted coffee beans is already recorded: 026-1234567890-000001"
    )
    same_number = action(messages.RecordCertificateNumber, commodity_index=1, number="026-1234567890-000001")
    assert refusal(first_recorded, same_number) == (
        "026-1234567890-000001 is already the NOPIC of another commodity of this request"
    )


def test_one_definitive_transport_document_at_a_time() -> None:
    first_shipment = {
        "shipped_on": RECEIVED_AT.date(),
        "quantities": [{"commodity_index": 0, "net_kg": "10"}],
    }
    deliver = action(messages.SubmitTransportDocument, EXPORTER, document=definitive(), **first_shipment)
    assert refusal(issued(request(Status.AWAITING_TRANSPORT_DOCUMENT)), deliver) is None
    assert refusal(request(Status.ACTIVE), deliver) == (
        "a definitive transport document is already accepted; a reviewer may reject it first"
    )
    reject = action(messages.RejectTransportDocument, reason="wrong consignee")
    assert refusal(request(Status.AWAITING_TRANSPORT_DOCUMENT), reject) == (
        "there is no definitive transport document to reject"
    )
    with_document = request(Status.ACTIVE, transport_document=definitive())
    assert refusal(with_document, reject) is None


def test_the_first_shipment_s_document_carries_its_day_and_kg_once_issued_and_may_come_before() -> None:
    bare = action(messages.SubmitTransportDocument, EXPORTER, document=definitive())
    assert refusal(request(Status.IN_REVIEW), bare) is None, "kept until the NOPICs are issued"
    assert refusal(issued(request(Status.AWAITING_TRANSPORT_DOCUMENT)), bare) == (
        "the definitive transport document of the first shipment carries the day it shipped and the net kg "
        "of each commodity: give shipped_on and quantities"
    )
    day_only = action(
        messages.SubmitTransportDocument, EXPORTER, document=definitive(), shipped_on=RECEIVED_AT.date()
    )
    assert refusal(request(Status.IN_REVIEW), day_only) == refusal(
        issued(request(Status.AWAITING_TRANSPORT_DOCUMENT)), bare
    )
    older = frozenset(Change) - {Change.SHIPMENTS}
    assert why_not(request(Status.IN_REVIEW), bare, NOW, operations_checked=True, changes=older) == (
        "the request is in_review; this action is possible only when it is "
        "issuing, awaiting_transport_document"
    )


def test_a_new_eta_must_be_consistent_and_its_customs_deadline_still_ahead() -> None:
    state = request(Status.AWAITING_TRANSPORT_DOCUMENT)
    before_departure = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert refusal(state, action(messages.UpdateEta, EXPORTER, eta=before_departure)) == (
        "eta: the estimated arrival is before the estimated departure (etd)"
    )
    moved = action(messages.UpdateEta, EXPORTER, eta=datetime(2026, 3, 30, 8, 0, tzinfo=UTC))
    assert moved_shipment(state.form.shipment, moved, keep_clearance=True).customs_deadline == moved.eta
    assert refusal(state, moved) is None
    assert why_not(state, moved, moved.eta, operations_checked=True) == (
        "the new customs deadline 2026-03-30 10:00 CEST is already past"
    )


def test_an_eta_alone_keeps_the_expected_clearance_unless_it_is_cleared() -> None:
    clearance = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)
    shipment = form().shipment.model_copy(update={"expected_clearance": clearance})
    eta = datetime(2026, 3, 25, 8, 0, tzinfo=UTC)
    alone = action(messages.UpdateEta, EXPORTER, eta=eta)
    assert moved_shipment(shipment, alone, keep_clearance=True).customs_deadline == clearance
    cleared = action(messages.UpdateEta, EXPORTER, eta=eta, clear_expected_clearance=True)
    assert moved_shipment(shipment, cleared, keep_clearance=True).customs_deadline == eta
    assert old_moved_shipment(shipment, alone).customs_deadline == eta, "as requests started before did"


def test_nothing_is_issued_after_the_customs_deadline_and_the_reason_says_to_move_the_eta() -> None:
    state = request(Status.IN_REVIEW)
    after = state.customs_deadline + timedelta(minutes=1)
    expected = (
        "approval refused: the customs-clearance deadline 2026-03-24 09:00 CET has passed, so NOPICs issued "
        "now would be cancelled at once; move the ETA / expected clearance first (update-eta)"
    )
    assert why_not(state, action(messages.Approve), after, operations_checked=True) == expected
    assert why_not(state, action(messages.Approve), NOW, operations_checked=True) is None
    older = frozenset(Change) - {Change.DEADLINES}
    assert why_not(state, action(messages.Approve), after, operations_checked=True, changes=older) is None


def test_cancelling_needs_at_least_one_certificate_when_a_list_is_given() -> None:
    active = issued(request(Status.ACTIVE))
    empty = action(messages.CancelCertificates, reason="x", commodity_indexes=[])
    assert refusal(active, empty) == (
        "commodity_indexes: name at least one certificate, or leave the list out to cancel them all"
    )
    assert refusal(active, action(messages.CancelCertificates, reason="x")) is None
    negative = action(messages.CancelCertificates, reason="x", commodity_indexes=[-1])
    assert refusal(active, negative) == "commodity -1 does not exist: the request has 2"


def test_shipments_only_while_active_within_what_was_certified() -> None:
    active = issued(request(Status.ACTIVE))
    shipment = {
        "transport_document": definitive("bl-2"),
        "shipped_on": active.form.timeframe.first_day,
        "quantities": [{"commodity_index": 0, "net_kg": "12000.5"}],
    }
    assert refusal(active, action(messages.RecordShipment, EXPORTER, **shipment)) == (
        "12000.5 kg of Organic roasted coffee beans exceeds the certified quantity: "
        "12000 kg certified, 0 kg already shipped, 12000 kg remain"
    )
    assert refusal(request(Status.IN_REVIEW), action(messages.RecordShipment, EXPORTER, **shipment)) == (
        "the request is in_review; this action is possible only when it is active"
    )


def test_only_issued_certificates_can_be_cancelled() -> None:
    cancel_third = action(messages.CancelCertificates, commodity_indexes=[2], reason="lot failed")
    active = issued(request(Status.ACTIVE))
    assert refusal(active, cancel_third) == "commodity 2 does not exist: the request has 2"
    pending = request(Status.ACTIVE)
    cancel_first = action(messages.CancelCertificates, commodity_indexes=[0], reason="lot failed")
    assert refusal(pending, cancel_first) == "the NOPIC for Organic roasted coffee beans is pending"
    assert refusal(active, cancel_first) is None
