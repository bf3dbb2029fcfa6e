"""The NOPIC PDF: one per certificate, every field of the certificate and of its request.

The layout walks the pydantic models, so a field added to the request form appears on the PDF without
touching this module. The output is byte-for-byte reproducible (reportlab's invariant mode), so a retried
activity attaches the same file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

# Words written in capitals or otherwise in the certifier's usage when a field name is turned into a label.
_WORDS = {
    "id": "ID",
    "hts": "HTS",
    "etd": "ETD",
    "eta": "ETA",
    "kg": "(kg)",
    "nopic": "NOPIC",
    "nop": "NOP",
    "oid": "OID",
    "us": "US",
    "sha256": "SHA-256",
    "url": "URL",
}


def label(name: str) -> str:
    words = [_WORDS.get(word, word) for word in name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _text(value: Any, zone: ZoneInfo) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    if isinstance(value, date | Decimal):
        return str(value)
    return str(value)


def _rows(model: BaseModel, zone: ZoneInfo, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(label, value) for every field, nested models and lists flattened with numbered labels."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        title = f"{prefix}{label(name)}"
        if isinstance(value, BaseModel):
            yield from _rows(value, zone, f"{title} · ")
        elif isinstance(value, list | tuple):
            if not value:
                yield title, "—"
            elif all(isinstance(item, BaseModel) for item in value):
                for number, item in enumerate(value, start=1):
                    yield from _rows(item, zone, f"{title} {number} · ")
            else:
                yield title, ", ".join(_text(item, zone) for item in value)
        elif isinstance(value, dict):
            yield title, ", ".join(f"{k}: {_text(v, zone)}" for k, v in value.items()) or "—"
        else:
            yield title, _text(value, zone)


def render_nopic_pdf(
    *,
    nopic_number: str,
    certifier_name: str,
    request_id: str,
    certificate: BaseModel,
    request: BaseModel,
    timezone: str = "UTC",
) -> bytes:
    """The certificate's PDF: the NOPIC number at the top, then the certificate, then the whole request.

    Times are shown in `timezone` (the certifier's).
    """
    zone = ZoneInfo(timezone)
    styles = getSampleStyleSheet()
    number_style = ParagraphStyle("number", parent=styles["Title"], fontSize=26, leading=32, spaceAfter=4)
    cell = ParagraphStyle("cell", parent=styles["BodyText"], fontSize=8.5, leading=10.5)
    cell_label = ParagraphStyle("label", parent=cell, fontName="Helvetica-Bold")

    def table(model: BaseModel) -> Table:
        data = [
            [Paragraph(escape(name), cell_label), Paragraph(escape(value), cell)]
            for name, value in _rows(model, zone)
        ]
        t = Table(data, colWidths=[62 * mm, 108 * mm], repeatRows=0)
        t.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                ]
            )
        )
        return t

    story: list[Flowable] = [
        Paragraph("NOP Import Certificate (NOPIC)", styles["Heading2"]),
        Paragraph(escape(nopic_number), number_style),
        Paragraph(f"Request {escape(request_id)}", styles["BodyText"]),
        Paragraph(
            f"Issued by {escape(certifier_name)} in the USDA Organic INTEGRITY Database. "
            "The importer declares this number in ACE under message set OR2.",
            styles["BodyText"],
        ),
        Spacer(1, 6 * mm),
        Paragraph("Certificate", styles["Heading3"]),
        table(certificate),
        Spacer(1, 6 * mm),
        Paragraph("Request", styles["Heading3"]),
        table(request),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"NOPIC {nopic_number}",
        author=certifier_name,
        subject="NOP Import Certificate",
        invariant=True,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    doc.build(story)
    return buffer.getvalue()
