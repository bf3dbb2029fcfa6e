"""The NOPIC request workflow on the time-skipping server: the first shipment and the further ones, each
with its definitive transport document and its net kg, and the end of the NOPICs: the timeframe's, never
before a shipment's customs deadline, with certified, shipped and reported kg."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from domain.messages import (
    Approve,
    CancelCertificates,
    RecordShipment,
    RejectTransportDocument,
    ReportQuantities,
    SubmitTransportDocument,
)
from domain.request import DocumentKind
from domain.schedule import on_reminder_day
from domain.state import CertificateStatus, ReconciliationLine, ReportedQuantity, RequestStatus
from tests.support.forms import COMPLETE_DOCUMENTS, document
from tests.support.harness import (
    BRUSSELS,
    EXPORTER,
    PATHS,
    Service,
    at_instant,
    kilograms,
    refusal,
    request_form,
)
from workflows.nopic_request import NopicRequest


def further(
    service: Service,
    shipped_on: date,
    kind: DocumentKind = DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE,
    **fields: Any,
) -> RecordShipment:
    kg = fields.pop("kg")
    return RecordShipment(
        **service.action(EXPORTER),
        shipped_on=shipped_on,
        quantities=kilograms(kg),
        transport_document=document(kind, f"bl-further-{service.actions}"),
        **fields,
    )


async def test_the_first_shipment_s_document_carries_its_day_and_kg_and_they_count_in_every_check(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=PATHS)
    state = await service.issued(handle)

    bare = service.transport_document(kg={})
    reason = await refusal(handle.execute_update(NopicRequest.transport_document, bare))
    assert reason == (
        "the definitive transport document of the first shipment carries the day it shipped and the "
        "net kg of each commodity: give shipped_on and quantities"
    )
    too_much = service.transport_document(kg={1: "800.6"})
    reason = await refusal(handle.execute_update(NopicRequest.transport_document, too_much))
    assert reason.startswith("800.6 kg of Organic cocoa nibs exceeds the certified quantity")

    state = await handle.execute_update(
        NopicRequest.transport_document, service.transport_document(kg={0: "12000", 1: "300"})
    )
    assert state.status is RequestStatus.ACTIVE
    assert state.first_shipment is not None and state.first_shipment.shipped_on == state.form.shipment.etd
    assert [state.shipped_kg(0), state.shipped_kg(1)] == [12000, 300]
    # The whole certified coffee left with the first shipment: a further one cannot carry it again.
    again = await refusal(
        handle.execute_update(
            NopicRequest.record_shipment, further(service, state.form.shipment.etd, kg={0: "1"})
        )
    )
    assert again == (
        "1 kg of Organic roasted coffee beans exceeds the certified quantity: "
        "12000 kg certified, 12000 kg already shipped, 0 kg remain"
    )
    await service.save_history(handle, "first_shipment_counted")


async def test_a_further_shipment_has_its_own_definitive_document_which_a_reviewer_may_reject_and_it_replaced(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=PATHS)
    state = await service.active(handle)
    day = state.form.shipment.etd + timedelta(days=3)
    booking = further(service, day, DocumentKind.BOOKING_RESERVATION, kg={0: "1000"})
    reason = await refusal(handle.execute_update(NopicRequest.record_shipment, booking))
    assert reason == (
        "transport_document: a shipment's document is its definitive transport document "
        "(kind transport_document_definitive)"
    )
    clearance = datetime.combine(day + timedelta(days=12), time(12), tzinfo=BRUSSELS)
    state = await handle.execute_update(
        NopicRequest.record_shipment,
        further(
            service, day, kg={0: "1000"}, eta=clearance - timedelta(days=1), expected_clearance=clearance
        ),
    )
    assert state.shipments[0].customs_deadline == clearance

    rejected = RejectTransportDocument(**service.action(), reason="wrong consignee", shipment=0)
    state = await handle.execute_update(NopicRequest.reject_transport_document, rejected)
    assert state.status is RequestStatus.ACTIVE
    assert state.shipments[0].rejected == "wrong consignee" and state.shipments[0].grace_until is None
    [told] = (await service.mails()).of_kind("transport_document_rejected")
    assert (told.shipped_on, told.due_by) == (day, clearance)
    again = RejectTransportDocument(**service.action(), reason="twice", shipment=0)
    assert await refusal(handle.execute_update(NopicRequest.reject_transport_document, again)) == (
        "the transport document of shipment 0 is already rejected"
    )

    await service.sleep_until(clearance - timedelta(hours=2))
    [reminder] = (await service.mails()).of_kind("transport_reminder")
    assert (reminder.shipped_on, reminder.due_by, reminder.message) == (day, clearance, "wrong consignee")
    [sent_at] = (await service.mails()).times_of("transport_reminder")
    assert at_instant(sent_at, on_reminder_day(PATHS, clearance, timedelta(days=1))), sent_at

    with_kg = SubmitTransportDocument(
        **service.action(EXPORTER),
        document=document(DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE, "bl-x"),
        shipment=0,
        quantities=kilograms({0: "1"}),
    )
    reason = await refusal(handle.execute_update(NopicRequest.transport_document, with_kg))
    assert (
        reason == "a further shipment keeps the day and quantities recorded with it: send its document alone"
    )
    replacement = SubmitTransportDocument(
        **service.action(EXPORTER),
        document=document(DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE, "bl-y"),
        shipment=0,
    )
    state = await handle.execute_update(NopicRequest.transport_document, replacement)
    assert state.shipments[0].rejected is None and state.shipments[0].transport_document.file_id == "bl-y"
    await service.sleep_until(clearance + timedelta(hours=1))
    state = await service.state(handle)
    assert state.status is RequestStatus.ACTIVE and service.oid.cancel_reasons == {}
    await service.save_history(handle, "further_shipment_rejected_then_replaced")


async def test_a_further_shipment_s_document_never_replaced_cancels_the_nopics_its_goods_travel_under(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=PATHS)
    state = await service.active(handle)
    coffee, cocoa = [c.number for c in state.certificates]
    day = state.form.shipment.etd + timedelta(days=2)
    # No arrival given: a rejection leaves the grace period's working days.
    state = await handle.execute_update(NopicRequest.record_shipment, further(service, day, kg={1: "100"}))
    rejected = RejectTransportDocument(**service.action(), reason="no seal numbers", shipment=0)
    state = await handle.execute_update(NopicRequest.reject_transport_document, rejected)
    end = state.shipments[0].grace_until
    assert end is not None and end == state.shipments[0].document_deadline
    assert service.store.of(state.request_id)[-1].summary.attention == ["grace_period_running"]

    await service.sleep_until(end + timedelta(hours=1))
    # The gateway cancels outside the request's lock, as for any cancellation through it.
    state = await service.until(
        handle, lambda s: s.certificates[1].status is CertificateStatus.CANCELLED, "cocoa's NOPIC cancelled"
    )
    assert state.status is RequestStatus.ACTIVE, "the coffee's NOPIC stays in force"
    assert [c.status for c in state.certificates] == [CertificateStatus.ISSUED, CertificateStatus.CANCELLED]
    reason = state.certificates[1].cancel_reason
    assert reason is not None and reason.startswith(
        f"no compliant definitive transport document of the shipment of {day} replaced the one rejected "
        "(no seal numbers) by "
    )
    assert service.oid.cancel_reasons == {cocoa: reason} and coffee not in service.oid.cancel_reasons
    mails = await service.mails()
    told = [(n.audience, [c.number for c in n.certificates]) for n in mails.of_kind("cancellation")]
    assert told == [("exporter", [cocoa]), ("importer", [cocoa])]
    assert service.store.of(state.request_id)[-1].summary.attention == []
    await service.save_history(handle, "further_shipment_document_never_replaced")


async def test_a_transport_document_sent_before_issue_is_kept_and_its_kg_asked_for_once_the_nopics_are_issued(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=PATHS)
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    early = service.transport_document("bl-early", kg={})
    state = await handle.execute_update(NopicRequest.transport_document, early)
    assert state.status is RequestStatus.IN_REVIEW
    assert state.held_transport_document is not None and state.transport_document is None

    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    asked = await service.mailed("first_shipment_quantities", "exporter")
    assert asked.customs_deadline == state.customs_deadline
    assert state.held_transport_document is not None

    completed = service.transport_document("bl-early", kg={0: "4000"})
    state = await handle.execute_update(NopicRequest.transport_document, completed)
    assert state.status is RequestStatus.ACTIVE and state.held_transport_document is None
    assert state.transport_document is not None and state.transport_document.file_id == "bl-early"
    assert [d.file_id for d in state.form.documents].count("bl-early") == 1
    assert state.shipped_kg(0) == 4000
    await service.save_history(handle, "transport_document_before_issue_kept")


async def test_a_transport_document_sent_with_the_form_is_the_first_shipment_s_once_issued(
    workflow_service: Service,
) -> None:
    service = workflow_service
    definitive = document(DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE, "bl-with-form")
    handle = await service.start(
        request_form(await service.now(), documents=[*COMPLETE_DOCUMENTS, definitive]), PATHS
    )
    state = await service.until_status(handle, RequestStatus.IN_REVIEW)
    assert state.transport_document is None
    with_kg = service.transport_document("bl-with-form", kg={0: "12000", 1: "800.5"})
    state = await handle.execute_update(NopicRequest.transport_document, with_kg)
    # Held until the NOPICs are issued, then taken at once: the request passes awaiting_transport_document
    # too briefly for a poll to be sure to see it.
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until_status(handle, RequestStatus.ACTIVE)
    assert state.first_shipment is not None and state.shipped_kg(1) == Decimal("800.5")
    assert "first_shipment_accepted" in service.store.actions(state.request_id)
    await service.save_history(handle, "transport_document_with_the_form_accepted_at_issue")


async def test_a_one_day_timeframe_stays_active_until_the_customs_deadline_then_expires(
    workflow_service: Service,
) -> None:
    service = workflow_service
    now = await service.now()
    form = request_form(now, etd_in_days=5, deadline_in_days=15, timeframe_days=5)
    one_day = form.model_copy(
        update={"timeframe": form.timeframe.model_copy(update={"first_day": form.shipment.etd})}
    )
    handle = await service.start(one_day, PATHS)
    await service.issued(handle)
    end_of_day = datetime.combine(form.shipment.etd + timedelta(days=1), time(0), tzinfo=BRUSSELS)
    await service.sleep_until(end_of_day + timedelta(days=2))  # the goods are at sea

    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.status is RequestStatus.ACTIVE, "not expired the moment its transport document arrives"
    state = await service.result(handle)
    assert state.status is RequestStatus.EXPIRED
    [expired] = [c.event for c in service.store.of(state.request_id) if c.event.action == "expired"]
    assert at_instant(expired.at, state.customs_deadline), expired.at
    await service.save_history(handle, "one_day_timeframe_expires_at_the_customs_deadline")


async def test_a_week_before_expiry_the_exporter_reports_the_kg_shipped_the_reconciliation_shows_it(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=PATHS)
    state = await service.active(handle)
    end = datetime.combine(state.form.timeframe.last_day + timedelta(days=1), time(0), tzinfo=BRUSSELS)
    ask_at = on_reminder_day(PATHS, end, timedelta(days=7))
    await service.sleep_until(ask_at + timedelta(hours=1))
    asked = await service.mailed("quantities_report_requested", "exporter")
    assert asked.due_by == end
    [sent_at] = (await service.mails()).times_of("quantities_report_requested")
    assert at_instant(sent_at, ask_at), sent_at

    twice = ReportQuantities(
        **service.action(EXPORTER),
        quantities=[
            ReportedQuantity(commodity_index=0, net_kg=Decimal(1)),
            ReportedQuantity(commodity_index=0, net_kg=Decimal(2)),
        ],
    )
    assert await refusal(handle.execute_update(NopicRequest.report_quantities, twice)) == (
        "each commodity appears once in the report"
    )
    report = ReportQuantities(
        **service.action(EXPORTER),
        quantities=[
            ReportedQuantity(commodity_index=0, net_kg=Decimal("1990.5")),
            ReportedQuantity(commodity_index=1, net_kg=Decimal(0)),
        ],
    )
    await handle.execute_update(NopicRequest.report_quantities, report)
    state = await service.result(handle)
    assert state.status is RequestStatus.EXPIRED
    numbers = [c.number for c in state.certificates]
    assert state.reconciliation == [
        ReconciliationLine(
            commodity_index=0,
            product_name="Organic roasted coffee beans",
            nopic_number=numbers[0],
            certified_kg=Decimal(12000),
            shipped_kg=Decimal(2000),
            reported_kg=Decimal("1990.5"),
        ),
        ReconciliationLine(
            commodity_index=1,
            product_name="Organic cocoa nibs",
            nopic_number=numbers[1],
            certified_kg=Decimal("800.5"),
            shipped_kg=Decimal(0),
            reported_kg=Decimal(0),
        ),
    ]
    await service.save_history(handle, "quantities_reported_before_expiry")


async def test_cancelling_with_an_empty_list_is_refused_and_tells_no_one(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start(policy=PATHS)
    await service.active(handle)
    before = dict((await service.mails()).sent)
    empty = CancelCertificates(**service.action(), commodity_indexes=[], reason="nothing really")
    reason = await refusal(handle.execute_update(NopicRequest.cancel_certificates, empty))
    assert (
        reason == "commodity_indexes: name at least one certificate, or leave the list out to cancel them all"
    )
    assert (await service.mails()).sent == before and service.oid.cancel_reasons == {}
    await service.save_history(handle, "cancellation_with_an_empty_list_refused")
