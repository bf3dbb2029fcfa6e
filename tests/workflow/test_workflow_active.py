"""The NOPIC request workflow on the time-skipping server: an active request, its shipments, its
certificates cancelled, and its end with the timeframe."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.messages import CancelCertificates, RecordShipment
from domain.request import DocumentKind
from domain.state import CertificateStatus, ReconciliationLine, RequestStatus, ShippedQuantity
from tests.support.forms import document
from tests.support.harness import EXPORTER, Service, at_instant, refusal
from workflows.nopic_request import NopicRequest


def shipment(service: Service, shipped_on: date, **kg: str) -> RecordShipment:
    """A shipment of `kg` per commodity index (`c0="5000"`), with its own transport document."""
    return RecordShipment(
        **service.action(EXPORTER),
        shipped_on=shipped_on,
        quantities=[ShippedQuantity(commodity_index=int(k[1:]), net_kg=Decimal(v)) for k, v in kg.items()],
        transport_document=document(DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE, f"bl-{service.actions}"),
    )


async def test_shipments_within_the_certified_quantity_and_timeframe_are_recorded_others_refused(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.active(handle)
    timeframe = state.form.timeframe
    record = NopicRequest.record_shipment

    # The first shipment's 2000 kg of coffee count with every further shipment.
    assert state.first_shipment is not None and state.shipped_kg(0) == 2000
    state = await handle.execute_update(record, shipment(service, timeframe.first_day, c0="5000", c1="800.5"))
    assert [len(state.shipments), state.shipped_kg(0), state.shipped_kg(1)] == [1, 7000, Decimal("800.5")]

    first_day = timeframe.first_day
    too_much = await refusal(handle.execute_update(record, shipment(service, first_day, c0="5000.1")))
    assert too_much == (
        "5000.1 kg of Organic roasted coffee beans exceeds the certified quantity: "
        "12000 kg certified, 7000 kg already shipped, 5000 kg remain"
    )
    day_after = timeframe.last_day + timedelta(days=1)
    outside = await refusal(handle.execute_update(record, shipment(service, day_after, c0="1")))
    assert outside == (
        f"the shipment date {day_after} lies outside the timeframe "
        f"{timeframe.first_day} to {timeframe.last_day} the NOPICs cover"
    )
    state = await handle.execute_update(record, shipment(service, timeframe.last_day, c0="5000"))
    assert [len(state.shipments), state.shipped_kg(0)] == [2, 12000], "up to the certified quantity exactly"
    assert state.status is RequestStatus.ACTIVE
    await service.save_history(handle, "shipments")


async def test_at_the_end_of_the_timeframe_the_request_expires_with_a_reconciliation(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.active(handle)
    numbers = [c.number for c in state.certificates]
    timeframe = state.form.timeframe
    await handle.execute_update(
        NopicRequest.record_shipment, shipment(service, timeframe.first_day + timedelta(days=3), c0="4000")
    )
    await handle.execute_update(
        NopicRequest.record_shipment, shipment(service, timeframe.last_day, c0="2500.25")
    )

    state = await service.result(handle)
    assert state.status is RequestStatus.EXPIRED and state.outcome == "the timeframe ended"
    assert [c.status for c in state.certificates] == [CertificateStatus.EXPIRED] * 2
    assert state.reconciliation == [
        ReconciliationLine(
            commodity_index=0,
            product_name="Organic roasted coffee beans",
            nopic_number=numbers[0],
            certified_kg=Decimal("12000"),
            shipped_kg=Decimal("8500.25"),  # the first shipment's 2000 kg, and the two further ones
        ),
        ReconciliationLine(
            commodity_index=1,
            product_name="Organic cocoa nibs",
            nopic_number=numbers[1],
            certified_kg=Decimal("800.5"),
            shipped_kg=Decimal(0),
        ),
    ]
    told = await service.mailed("timeframe_ended", "review_team")
    assert told.reconciliation == state.reconciliation
    # The timeframe's last day ends at midnight in the certifier's time zone.
    brussels = ZoneInfo("Europe/Brussels")
    end = datetime.combine(timeframe.last_day + timedelta(days=1), time(0), tzinfo=brussels)
    [expired] = [c.event for c in service.store.of(state.request_id) if c.event.action == "expired"]
    assert at_instant(expired.at, end), expired.at
    assert service.oid.cancel_reasons == {}
    await service.save_history(handle, "expired_with_reconciliation")


async def test_a_reviewer_cancels_one_certificate_then_all_with_a_reason(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.active(handle)
    coffee, cocoa = [c.number for c in state.certificates]

    not_a_reviewer = CancelCertificates(**service.action(EXPORTER), reason="mine")
    reason = await refusal(handle.execute_update(NopicRequest.cancel_certificates, not_a_reviewer))
    assert reason == "only a reviewer may do this; Eva Exporter is exporter"
    one = CancelCertificates(**service.action(), commodity_indexes=[1], reason="cocoa lot failed analysis")
    state = await handle.execute_update(NopicRequest.cancel_certificates, one)
    assert state.status is RequestStatus.ACTIVE
    # Answered at once: the gateway cancels it in OID next, outside the request's lock.
    assert state.certificates[1].status is CertificateStatus.CANCELLATION_PENDING
    assert (await service.mails()).of_kind("cancellation") == []
    state = await service.until(
        handle, lambda s: s.certificates[1].status is CertificateStatus.CANCELLED, "cocoa cancelled in OID"
    )
    assert [c.status for c in state.certificates] == [CertificateStatus.ISSUED, CertificateStatus.CANCELLED]
    assert state.certificates[1].cancel_reason == "cocoa lot failed analysis"
    assert service.oid.cancel_reasons == {cocoa: "cocoa lot failed analysis"}
    for audience in ("exporter", "importer"):
        told = await service.mailed("cancellation", audience)
        assert [(c.number, c.status) for c in told.certificates] == [(cocoa, CertificateStatus.CANCELLED)]
    refused = await refusal(
        handle.execute_update(
            NopicRequest.record_shipment, shipment(service, state.form.timeframe.first_day, c1="1")
        )
    )
    assert refused == "the NOPIC for Organic cocoa nibs is cancelled, not issued"

    everything = CancelCertificates(**service.action(), reason="the exporter's certification was withdrawn")
    state = await handle.execute_update(NopicRequest.cancel_certificates, everything)
    assert state.status is RequestStatus.CANCELLING, "nothing left in force, one NOPIC still valid in OID"
    assert state.outcome == "the exporter's certification was withdrawn"
    state = await service.result(handle)
    assert state.status is RequestStatus.CANCELLED
    assert service.oid.cancel_reasons == {
        cocoa: "cocoa lot failed analysis",
        coffee: "the exporter's certification was withdrawn",
    }
    assert [c.status for c in state.certificates] == [CertificateStatus.CANCELLED] * 2
    await service.save_history(handle, "cancelled_by_reviewer_through_gateway")
