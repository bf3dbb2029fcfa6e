"""The document checklist: what is required now, before departure or before customs clearance."""

from __future__ import annotations

from domain.checklist import checklist
from domain.request import DocumentKind as Kind
from domain.state import Requirement
from tests.support.forms import COMPLETE_DOCUMENTS, document, form


def items(**kwargs: object) -> dict[str, tuple[Requirement, str | None]]:
    return {i.item: (i.required, i.satisfied_by) for i in checklist(form(**kwargs))}  # type: ignore[arg-type]


def test_complete_request_has_every_item_required_now_satisfied() -> None:
    assert items() == {
        "commercial_invoice": (Requirement.NOW, "file-commercial_invoice"),
        "traceability_declaration": (Requirement.NOW, "file-traceability_declaration"),
        "supplier_guarantee:Finca Sol": (Requirement.NOW, "tc-finca-sol"),
        "supplier_guarantee:Biohof Brabant": (Requirement.NOW, "invoice-biohof"),
        "packing_list": (Requirement.NOW, "file-packing_list"),
        "transport_document": (Requirement.NOW, "file-booking_reservation"),
        "definitive_transport_document": (Requirement.BEFORE_CUSTOMS_CLEARANCE, None),
    }


def test_nothing_submitted_leaves_every_item_missing() -> None:
    assert all(satisfied is None for _, satisfied in items(documents=[]).values())


def test_a_purchase_invoice_does_not_replace_the_tc_of_a_supplier_certified_elsewhere() -> None:
    documents = [
        *COMPLETE_DOCUMENTS[:3],
        document(Kind.PURCHASE_INVOICE, "invoice-finca", supplier="Finca Sol"),
        document(Kind.PURCHASE_INVOICE, "invoice-biohof", supplier="Biohof Brabant"),
    ]
    found = items(documents=documents)
    assert found["supplier_guarantee:Finca Sol"] == (Requirement.NOW, None)
    assert found["supplier_guarantee:Biohof Brabant"] == (Requirement.NOW, "invoice-biohof")


def test_a_transaction_certificate_counts_only_for_its_own_supplier() -> None:
    documents = [document(Kind.TRANSACTION_CERTIFICATE, "tc-biohof", supplier="Biohof Brabant")]
    found = items(documents=documents)
    assert found["supplier_guarantee:Finca Sol"][1] is None
    assert found["supplier_guarantee:Biohof Brabant"][1] == "tc-biohof"


def test_packing_list_and_phytosanitary_certificate_follow_the_declarations() -> None:
    declarations = {"packing_list_applicable": False, "phytosanitary_certificate_applicable": True}
    found = items(declarations=declarations)
    assert "packing_list" not in found
    assert found["phytosanitary_certificate"] == (Requirement.BEFORE_DEPARTURE, None)


def test_each_additional_document_the_certifier_required_is_an_item() -> None:
    declarations = {
        "packing_list_applicable": True,
        "phytosanitary_certificate_applicable": False,
        "additional_documents_required": ["sampling_report", "label"],
    }
    found = items(declarations=declarations, documents=[*COMPLETE_DOCUMENTS, document(Kind.LABEL)])
    assert found["additional:sampling_report"] == (Requirement.NOW, None)
    assert found["additional:label"] == (Requirement.NOW, "file-label")


def test_the_original_transport_document_is_preferred_to_a_draft() -> None:
    documents = [document(Kind.TRANSPORT_DOCUMENT_DRAFT), document(Kind.TRANSPORT_DOCUMENT_ORIGINAL)]
    assert items(documents=documents)["transport_document"][1] == "file-transport_document_original"
    assert items(documents=documents[:1])["transport_document"][1] == "file-transport_document_draft"


def test_only_the_accepted_definitive_transport_document_satisfies_its_item() -> None:
    definitive = document(Kind.TRANSPORT_DOCUMENT_DEFINITIVE, "bl-1")
    request = form(documents=[*COMPLETE_DOCUMENTS, definitive])
    by_item = {i.item: i for i in checklist(request)}
    assert not by_item["definitive_transport_document"].satisfied
    accepted = {i.item: i for i in checklist(request, request.documents[-1])}
    assert accepted["definitive_transport_document"].satisfied_by == "bl-1"
