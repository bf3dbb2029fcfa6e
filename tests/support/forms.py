"""Sample NOPIC requests for tests: a complete, valid form and variations of it."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

from domain.request import DocumentKind, NopicRequestForm

# A Monday in Brussels, 10:00 local time: a plain working day.
RECEIVED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def sha(seed: str) -> str:
    return (seed.encode().hex() * 64)[:64]


def document(kind: DocumentKind, file_id: str | None = None, **concerns: Any) -> dict[str, Any]:
    file_id = file_id or f"file-{kind}"
    return {"kind": kind, "file_id": file_id, "sha256": sha(file_id), **concerns}


COMPLETE_DOCUMENTS = [
    document(DocumentKind.COMMERCIAL_INVOICE),
    document(DocumentKind.TRACEABILITY_DECLARATION),
    document(DocumentKind.PACKING_LIST),
    document(DocumentKind.TRANSACTION_CERTIFICATE, "tc-finca-sol", supplier="Finca Sol"),
    document(DocumentKind.PURCHASE_INVOICE, "invoice-biohof", supplier="Biohof Brabant"),
    document(DocumentKind.BOOKING_RESERVATION),
]


def form_data(
    *,
    received_at: datetime = RECEIVED_AT,
    etd: date = date(2026, 3, 10),
    eta: datetime | None = None,
    documents: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    eta = eta or datetime(2026, 3, 24, 8, 0, tzinfo=UTC)
    data: dict[str, Any] = {
        "exporter": {
            "name": "Organic Trade SA",
            "operation_id": "1234567890",
            "country": "BE",
            "email": "exports@organic-trade.example",
        },
        "importer": {
            "name": "Green Imports Inc",
            "address": "1 Harbor Way, Newark NJ",
            "operation_id": "9876543210",
            "email": "customs@green-imports.example",
        },
        "shipment": {
            "export_country": "BE",
            "export_port": "Antwerp",
            "us_port_of_entry": "Newark",
            "transport_mode": "sea",
            "etd": etd.isoformat(),
            "eta": eta.isoformat(),
        },
        "timeframe": {"first_day": "2026-03-01", "last_day": "2026-05-31"},
        "commodities": [
            {
                "product_name": "Organic roasted coffee beans",
                "hts_code": "0901210035",
                "organic_standard": "organic",
                "net_kg": "12000",
                "lot_numbers": ["L-2026-01"],
                "suppliers": [
                    {"name": "Finca Sol", "certified_by_certifier": False, "transaction_certificate": "TC-1"}
                ],
            },
            {
                "product_name": "Organic cocoa nibs",
                "hts_code": "1804000000",
                "organic_standard": "100% organic",
                "net_kg": "800.5",
                "suppliers": [{"name": "Biohof Brabant", "certified_by_certifier": True}],
            },
        ],
        "declarations": {"packing_list_applicable": True, "phytosanitary_certificate_applicable": False},
        "documents": copy.deepcopy(COMPLETE_DOCUMENTS if documents is None else documents),
        "received_at": received_at.isoformat(),
    }
    data.update(overrides)
    return data


def form(**kwargs: Any) -> NopicRequestForm:
    return NopicRequestForm.model_validate(form_data(**kwargs))


def in_days(moment: datetime, days: float) -> datetime:
    return moment + timedelta(days=days)
