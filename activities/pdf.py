"""The NOPIC PDF: one page laid out as a certificate, with this NOPIC's data only, sealed by the certifier.

The exporter forwards it to the importer, so it carries what the importer and customs need of this one
commodity (number, certifier, exporter, importer, product as labeled, HTS code, organic standard, net
weight, lots, country and port of export, US port of entry, validity timeframe, date of issue) and nothing
of the request's other commodities, suppliers or transaction certificates. Dates are the certifier's
(its time zone). A cancelled NOPIC's PDF says so across the page. `NopicPdfs` seals each with the
certifier's seal (`activities.seal`), so a PDF reader shows whether it was changed afterwards.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pycountry
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepInFrame,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from activities.seal import Seal
from core.settings import Settings
from domain.request import NopicRequestForm
from domain.state import Certificate, CertificateStatus

INK = colors.HexColor("#1f3a2e")
RULE = colors.HexColor("#9bb5a6")
PALE = colors.HexColor("#eef4f0")
VOID_RED = colors.HexColor("#b42318")

# Where the seal shows on the page: (left, bottom, right, top) in PDF points.
SEAL_BOX = (int(20 * mm), int(14 * mm), int(110 * mm), int(34 * mm))

# A NOPIC in one of these states is no longer valid for entry: its PDF says so across the page.
VOID_MARKS = {CertificateStatus.CANCELLED: "CANCELLED"}
REPLACED = "REPLACED"
"""Across the page of a NOPIC replaced by another (`replace-certificate`), whether or not OID has cancelled
it yet: the importer declares the new number, never this one."""


def void_mark(certificate: Certificate) -> str | None:
    """What the page says across it, if the NOPIC is no longer valid for entry."""
    if certificate.replaced_by is not None:
        return REPLACED
    return VOID_MARKS.get(certificate.status)


def _void_note(certificate: Certificate, mark: str, zone: ZoneInfo) -> str:
    when = f" on {_moment(certificate.cancelled_at, zone)}" if certificate.cancelled_at else ""
    if mark == REPLACED:
        state = f"cancelled in OID{when}" if when else "to be cancelled in OID"
        return f"REPLACED BY NOPIC {certificate.replaced_by} ({state}). Not valid for entry."
    why = f": {certificate.cancel_reason}" if certificate.cancel_reason else ""
    return f"{mark}{when}{why}. Not valid for entry."


_BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9.5, leading=12.5, textColor=INK)
_LABEL = ParagraphStyle("label", parent=_BASE, fontName="Helvetica-Bold", fontSize=7.5, leading=9.5)
_VALUE = ParagraphStyle("value", parent=_BASE, fontSize=10.5, leading=13.5)
_SMALL = ParagraphStyle("small", parent=_BASE, fontSize=8, leading=10.5)
_TITLE = ParagraphStyle(
    "title", parent=_BASE, fontName="Helvetica-Bold", fontSize=20, leading=24, alignment=1, spaceAfter=2
)
_SUBTITLE = ParagraphStyle("subtitle", parent=_SMALL, alignment=1)
_NUMBER = ParagraphStyle(
    "number", parent=_BASE, fontName="Courier-Bold", fontSize=22, leading=26, alignment=1, spaceBefore=4
)
_VOID_NOTE = ParagraphStyle(
    "void", parent=_BASE, fontName="Helvetica-Bold", textColor=VOID_RED, alignment=1, spaceBefore=4
)


def hts(code: str) -> str:
    """An HTS code as it is read: 0804502000 -> 0804.50.2000."""
    return f"{code[:4]}.{code[4:6]}.{code[6:]}"


def country(code: str) -> str:
    found = pycountry.countries.get(alpha_2=code)
    return f"{found.name} ({code})" if found else code


def _day(value: date) -> str:
    return value.strftime("%d %B %Y")


def _moment(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%d %B %Y, %H:%M %Z")


def _cell(label: str, value: str) -> list[Flowable]:
    return [Paragraph(escape(label.upper()), _LABEL), Paragraph(escape(value), _VALUE)]


def _grid(rows: list[list[list[Flowable]]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (-1, -1), 0.6, RULE),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


def _heading(text: str) -> Table:
    band = Table([[Paragraph(escape(text), _LABEL)]], colWidths=[170 * mm])
    band.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), PALE), ("TOPPADDING", (0, 0), (-1, -1), 3)]))
    return band


def render_nopic_pdf(
    *,
    certificate: Certificate,
    form: NopicRequestForm,
    request_id: str,
    certifier_name: str,
    timezone: str = "UTC",
) -> bytes:
    """One A4 page: the certificate of one NOPIC, unsealed. Only an issued (or since ended) NOPIC has one."""
    if certificate.number is None or certificate.issued_at is None:
        raise ValueError(f"commodity {certificate.commodity_index}: a pending NOPIC has no certificate")
    zone = ZoneInfo(timezone)
    exporter, importer, shipment = form.exporter, form.importer, form.shipment
    half = 85 * mm
    story: list[Flowable] = [
        Paragraph("NOP Import Certificate", _TITLE),
        Paragraph(
            "USDA National Organic Program · 7 CFR 205.273 · issued in the Organic INTEGRITY Database",
            _SUBTITLE,
        ),
        Paragraph(escape(certificate.number), _NUMBER),
        Spacer(1, 4 * mm),
        _grid(
            [
                [
                    _cell("Issued by (certifying agent)", certifier_name),
                    _cell("Date of issue", _moment(certificate.issued_at, zone)),
                ]
            ],
            [half, half],
        ),
        Spacer(1, 3 * mm),
        _heading("Operations"),
        _grid(
            [
                [
                    [
                        *_cell("Exporter", exporter.name),
                        *_cell("NOP operation ID", exporter.operation_id),
                        *_cell("Country", country(exporter.country)),
                    ],
                    [
                        *_cell("US importer of record", importer.name),
                        *_cell("NOP operation ID", importer.operation_id),
                        *_cell("Address", importer.address),
                    ],
                ]
            ],
            [half, half],
        ),
        Spacer(1, 3 * mm),
        _heading("Product"),
        _grid(
            [
                [
                    _cell("Product, as labeled", certificate.product_name),
                    _cell("HTS code", hts(certificate.hts_code)),
                ],
                [
                    _cell("Organic standard", str(certificate.organic_standard.value)),
                    _cell("Net weight", f"{certificate.net_kg:,f} kg"),
                ],
                [_cell("Lot numbers", ", ".join(certificate.lot_numbers) or "none given"), []],
            ],
            [half, half],
        ),
        Spacer(1, 3 * mm),
        _heading("Shipment and validity"),
        _grid(
            [
                [
                    _cell("Country of export", country(shipment.export_country)),
                    _cell("Port of export", shipment.export_port),
                ],
                [
                    _cell("US port of entry", shipment.us_port_of_entry),
                    _cell("Mode of transport", shipment.transport_mode.value),
                ],
                [
                    _cell(
                        "Valid for shipments",
                        f"from {_day(form.timeframe.first_day)} to {_day(form.timeframe.last_day)}",
                    ),
                    [],
                ],
            ],
            [half, half],
        ),
        Spacer(1, 5 * mm),
        Paragraph(
            "The US importer declares this NOPIC number in ACE under PGA message set OR2, on each line of "
            "this product, with the net weight in kilograms and the lot numbers.",
            _SMALL,
        ),
        Spacer(1, 2 * mm),
        Paragraph(
            f"Sealed electronically by {escape(certifier_name)}: a PDF reader shows the seal below, and "
            f"whether this document was changed after it was sealed. Request reference {escape(request_id)}.",
            _SMALL,
        ),
    ]
    void = void_mark(certificate)
    if void is not None:
        story.insert(3, Paragraph(escape(_void_note(certificate, void, zone)), _VOID_NOTE))

    def across_the_page(canvas: Canvas, _: object) -> None:
        if void is None:
            return
        canvas.saveState()
        canvas.setFillColor(VOID_RED)
        canvas.setFillAlpha(0.22)
        canvas.setFont("Helvetica-Bold", 96)
        canvas.translate(A4[0] / 2, A4[1] / 2)
        canvas.rotate(52)
        canvas.drawCentredString(0, -30, void)
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"NOPIC {certificate.number}",
        author=certifier_name,
        subject=f"NOP Import Certificate for {certificate.product_name}",
        invariant=True,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=16 * mm,
        bottomMargin=SEAL_BOX[3] + 6 * mm,  # the seal's box stays clear of the text
    )
    # Long names or many lots shrink to fit: a certificate is one page.
    doc.build([KeepInFrame(doc.width, doc.height, story, mode="shrink")], onFirstPage=across_the_page)
    return buffer.getvalue()


class NopicPdfs:
    """The sealed NOPIC PDFs of one certifier: rendered, then sealed with its key."""

    def __init__(self, certifier_name: str, timezone: str, seal: Seal) -> None:
        self._certifier_name = certifier_name
        self._timezone = timezone
        self.seal = seal

    @classmethod
    def from_settings(cls, settings: Settings) -> NopicPdfs:
        return cls(settings.certifier_name, settings.timezone, Seal.from_settings(settings))

    def sealed(self, request_id: str, certificate: Certificate, form: NopicRequestForm) -> bytes:
        pdf = render_nopic_pdf(
            certificate=certificate,
            form=form,
            request_id=request_id,
            certifier_name=self._certifier_name,
            timezone=self._timezone,
        )
        void = void_mark(certificate)
        reason = f"NOP Import Certificate {certificate.number}" + (f", {void.lower()}" if void else "")
        return self.seal.seal(pdf, reason=reason, location=self._certifier_name, box=SEAL_BOX)
