"""Sample records changes: what the workflow hands the records activity at one state change."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from activities.records import AuditEvent, RecordChangeInput, RequestSummary
from domain.request import NopicRequestForm
from domain.state import Actor, Certificate, CertificateStatus, RequestStatus, Role
from tests.support.forms import RECEIVED_AT, form

REVIEWER = Actor(person_id="rev-1", name="Anne Reviewer", role=Role.REVIEWER)


def change(
    request_id: str,
    sequence: int,
    status: RequestStatus,
    request: NopicRequestForm | None = None,
    numbers: list[str | None] | None = None,
) -> RecordChangeInput:
    request = request or form()
    at = RECEIVED_AT + timedelta(hours=sequence)
    numbers = numbers or [None] * len(request.commodities)
    certificates = [
        Certificate(
            commodity_index=i,
            product_name=c.product_name,
            hts_code=c.hts_code,
            organic_standard=c.organic_standard,
            net_kg=c.net_kg,
            lot_numbers=c.lot_numbers,
            number=numbers[i],
            status=CertificateStatus.ISSUED if numbers[i] else CertificateStatus.PENDING,
            issued_at=at if numbers[i] else None,
        )
        for i, c in enumerate(request.commodities)
    ]
    return RecordChangeInput(
        event=AuditEvent(
            event_id=f"{request_id}:{sequence}",
            request_id=request_id,
            sequence=sequence,
            actor=REVIEWER,
            action=str(status),
            payload={"status": str(status), "kg": Decimal("1.5"), "at": at},
            at=at,
        ),
        summary=RequestSummary(
            request_id=request_id,
            status=status,
            exporter_operation_id=request.exporter.operation_id,
            exporter_name=request.exporter.name,
            importer_operation_id=request.importer.operation_id,
            importer_name=request.importer.name,
            etd=request.shipment.etd,
            customs_deadline=request.shipment.customs_deadline,
            late=False,
            lead_working_days=5,
            commodity_count=len(request.commodities),
            product_names=[c.product_name for c in request.commodities],
            received_at=request.received_at,
            updated_at=at,
        ),
        certificates=certificates,
    )
