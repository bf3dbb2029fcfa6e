"""The document checklist of a request, computed from the form and the documents received.

Each item says what is needed, when it is required, which kinds of document satisfy it, and which
submitted document does.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.request import AdditionalDocument, DocumentKind, DocumentReference, NopicRequestForm
from domain.state import ChecklistItem, Requirement

Kind = DocumentKind


@dataclass(frozen=True)
class _Need:
    item: str
    description: str
    required: Requirement
    kinds: tuple[DocumentKind, ...]  # in order of preference
    supplier: str | None = None


_ADDITIONAL = {
    AdditionalDocument.SAMPLING_REPORT: (Kind.SAMPLING_REPORT, "sampling report at consignment"),
    AdditionalDocument.ANALYSIS_RESULTS: (Kind.ANALYSIS_RESULTS, "analysis results"),
    AdditionalDocument.LABEL: (Kind.LABEL, "labels"),
    AdditionalDocument.OTHER: (Kind.OTHER, "other document required by the certifier"),
}


def _needs(form: NopicRequestForm) -> list[_Need]:
    now = Requirement.NOW
    needs = [
        _Need("commercial_invoice", "commercial invoice", now, (Kind.COMMERCIAL_INVOICE,)),
        _Need(
            "traceability_declaration",
            "traceability declaration for transactions",
            now,
            (Kind.TRACEABILITY_DECLARATION,),
        ),
    ]
    for name in form.supplier_names:
        if form.supplier(name).certified_by_certifier:
            needs.append(
                _Need(
                    f"supplier_guarantee:{name}",
                    f"purchase invoice (or transaction certificate) from {name}, certified by us",
                    now,
                    (Kind.TRANSACTION_CERTIFICATE, Kind.PURCHASE_INVOICE),
                    supplier=name,
                )
            )
        else:
            needs.append(
                _Need(
                    f"supplier_guarantee:{name}",
                    f"transaction certificate from {name}",
                    now,
                    (Kind.TRANSACTION_CERTIFICATE,),
                    supplier=name,
                )
            )
    if form.declarations.packing_list_applicable:
        needs.append(_Need("packing_list", "packing list", now, (Kind.PACKING_LIST,)))
    if form.declarations.phytosanitary_certificate_applicable:
        needs.append(
            _Need(
                "phytosanitary_certificate",
                "phytosanitary certificate",
                Requirement.BEFORE_DEPARTURE,
                (Kind.PHYTOSANITARY_CERTIFICATE,),
            )
        )
    for additional in form.declarations.additional_documents_required:
        kind, description = _ADDITIONAL[additional]
        needs.append(_Need(f"additional:{additional}", description, now, (kind,)))
    needs.append(
        _Need(
            "transport_document",
            "transport document: the original, or else a draft or a booking reservation",
            now,
            (Kind.TRANSPORT_DOCUMENT_ORIGINAL, Kind.TRANSPORT_DOCUMENT_DRAFT, Kind.BOOKING_RESERVATION),
        )
    )
    needs.append(
        _Need(
            "definitive_transport_document",
            "definitive transport document of the first shipment",
            Requirement.BEFORE_CUSTOMS_CLEARANCE,
            (Kind.TRANSPORT_DOCUMENT_DEFINITIVE,),
        )
    )
    return needs


def _satisfying(need: _Need, documents: list[DocumentReference]) -> str | None:
    """The most recent document of the most preferred kind that fits the need."""
    for kind in need.kinds:
        fitting = [d for d in documents if d.kind is kind and (need.supplier in (None, d.supplier))]
        if fitting:
            return fitting[-1].file_id
    return None


def checklist(form: NopicRequestForm, definitive: DocumentReference | None = None) -> list[ChecklistItem]:
    """The request's checklist. Only the accepted definitive transport document (`definitive`) counts for
    its item: one that a reviewer rejected no longer does."""
    documents = [d for d in form.documents if d.kind is not Kind.TRANSPORT_DOCUMENT_DEFINITIVE]
    if definitive is not None:
        documents.append(definitive)
    return [
        ChecklistItem(
            item=need.item,
            description=need.description,
            required=need.required,
            accepted_kinds=list(need.kinds),
            supplier=need.supplier,
            satisfied_by=_satisfying(need, documents),
        )
        for need in _needs(form)
    ]
