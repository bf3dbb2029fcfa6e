"""The NOPIC PDF, read back with pypdf."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import BaseModel
from pypdf import PdfReader

from activities.pdf import label, render_nopic_pdf


class Supplier(BaseModel):
    name: str
    transaction_certificate: str | None


class Commodity(BaseModel):
    product_name: str
    hts_code: str
    quantity_kg: Decimal
    lot_numbers: list[str]
    suppliers: list[Supplier]


class Request(BaseModel):
    request_id: str
    exporter_name: str
    etd: date
    late: bool
    commodities: list[Commodity]


class Certificate(BaseModel):
    nopic_number: str
    commodity_index: int
    issued_at: datetime


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_pdf_shows_the_number_the_certifier_and_every_field() -> None:
    request = Request(
        request_id="req-42",
        exporter_name="Biofruits Export SRL",
        etd=date(2026, 12, 4),
        late=False,
        commodities=[
            Commodity(
                product_name="Organic dried figs",
                hts_code="0804200000",
                quantity_kg=Decimal("1200.5"),
                lot_numbers=["L-1", "L-2"],
                suppliers=[Supplier(name="Figs & Co", transaction_certificate="TC-77")],
            )
        ],
    )
    certificate = Certificate(
        nopic_number="026-1000000001-000042",
        commodity_index=0,
        issued_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
    )
    pdf = render_nopic_pdf(
        nopic_number=certificate.nopic_number,
        certifier_name="Certisys",
        request_id="req-42",
        certificate=certificate,
        request=request,
        timezone="Europe/Brussels",
    )
    text = text_of(pdf)
    for expected in [
        "026-1000000001-000042",
        "Issued by Certisys",
        "Request req-42",
        "OR2",
        "Request ID",
        "req-42",
        "Biofruits Export SRL",
        "ETD",
        "2026-12-04",
        "Commodities 1 · Product name",
        "Organic dried figs",
        "0804200000",
        "1200.5",
        "L-1, L-2",
        "Figs & Co",
        "TC-77",
        "2026-12-01 10:30 CET",
    ]:
        assert expected in text, expected
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "NOPIC 026-1000000001-000042"
    # Reproducible, so a retried activity attaches the same bytes.
    again = render_nopic_pdf(
        nopic_number=certificate.nopic_number,
        certifier_name="Certisys",
        request_id="req-42",
        certificate=certificate,
        request=request,
        timezone="Europe/Brussels",
    )
    assert again == pdf


def test_labels_use_the_certifiers_words() -> None:
    assert label("hts_code") == "HTS code"
    assert label("quantity_kg") == "Quantity (kg)"
    assert label("exporter_operation_id") == "Exporter operation ID"
