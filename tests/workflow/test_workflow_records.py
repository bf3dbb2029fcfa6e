"""The records activity is handed the request's whole state once it closes, and only then: the record the
API and dashboard serve after Temporal's retention has deleted the workflow."""

from __future__ import annotations

from decimal import Decimal

from domain.messages import RecordShipment, Refuse
from domain.request import DocumentKind
from domain.state import RequestStatus, ShippedQuantity
from tests.support.forms import document
from tests.support.harness import EXPORTER, Service
from workflows.nopic_request import NopicRequest


async def test_the_closing_change_carries_the_whole_final_state_with_its_reconciliation(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.active(handle)
    shipped = RecordShipment(
        **service.action(EXPORTER),
        shipped_on=state.form.timeframe.first_day,
        quantities=[ShippedQuantity(commodity_index=0, net_kg=Decimal(4000))],
        transport_document=document(DocumentKind.TRANSPORT_DOCUMENT_DEFINITIVE, "bl-2"),
    )
    await handle.execute_update(NopicRequest.record_shipment, shipped)

    final = await service.result(handle)
    changes = service.store.of(final.request_id)
    assert final.status is RequestStatus.EXPIRED and final.reconciliation and final.shipments
    assert [c.event.action for c in changes if c.closed_state is not None] == ["expired"]
    assert changes[-1].closed_state == final, "the record is the state the workflow ended with"


async def test_a_request_refused_in_review_is_kept_as_it_was_refused(workflow_service: Service) -> None:
    service = workflow_service
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.refuse, Refuse(**service.action(), reason="not organic"))

    final = await service.result(handle)
    closing = service.store.of(final.request_id)[-1]
    assert closing.event.action == "refuse"
    assert closing.closed_state == final
    assert closing.closed_state.outcome == "not organic"
