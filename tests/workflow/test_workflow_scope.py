"""The products in the exporter's scope (time-skipping server, fake ports): with OID as the source, each
commodity of the request must be among the exporter's certified items in OID, else issuance stops naming
it; a source that lists no items leaves the scope to OID's refusal; an item look-up OID does not answer in
time makes the check unavailable, and a reviewer's confirmation covers the scope."""

from __future__ import annotations

from datetime import timedelta

from domain.policy import OperationsSource, Policy
from domain.scope import CertifiedItem
from domain.state import CertificateStatus, OperationsCheckStatus, RequestStatus
from tests.support.harness import Service
from tests.workflow.test_workflow_operations import approved, checked, confirm

EXPORTER_ID = "1234567890"
COFFEE = CertifiedItem(name="Coffee", varieties=["roasted coffee beans", "green coffee"], status="Certified")
COCOA = CertifiedItem(name="Cocoa beans", varieties=["cocoa nibs"], status="Certified")


async def test_every_product_in_the_exporters_scope_lets_the_nopics_be_issued(
    workflow_service: Service,
) -> None:
    service = workflow_service
    service.oid.items = {EXPORTER_ID: [COFFEE, COCOA]}
    handle, _ = await approved(service, Policy())
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert state.operations_check is not None
    assert state.operations_check.status is OperationsCheckStatus.CERTIFIED
    assert state.operations_check.detail is not None
    assert state.operations_check.detail.endswith("every product in the exporter's scope (2 checked)")
    assert [c.status for c in state.certificates] == [CertificateStatus.ISSUED] * 2
    await service.save_history(handle, "operations_check_products_in_scope")


async def test_a_product_out_of_the_exporters_scope_stops_issuance_naming_it(
    workflow_service: Service,
) -> None:
    service = workflow_service
    # OID lists the cocoa, but as suspended: not certified, so the nibs are out of scope.
    suspended = COCOA.model_copy(update={"status": "Suspended"})
    service.oid.items = {EXPORTER_ID: [COFFEE, suspended]}
    handle, _ = await approved(service, Policy())
    state = await service.until(handle, lambda s: s.issuance_blocked is not None, "issuance stopped")
    assert state.status is RequestStatus.IN_REVIEW
    assert state.issuance_blocked == (
        "'Organic cocoa nibs' is not among the products OID lists as certified for the exporter's "
        "operation 1234567890 (certified: Coffee): NOPICs cannot be issued for a product out of the "
        "exporter's scope"
    )
    assert checked(state) is OperationsCheckStatus.NOT_CERTIFIED
    assert service.oid.nopics == {}, "not one NOPIC, not even the coffee's"
    assert "issuance_stopped" in service.store.actions(state.request_id)
    await service.save_history(handle, "product_out_of_scope_stops_issuance")


async def test_a_source_that_lists_no_items_leaves_the_scope_to_oid(workflow_service: Service) -> None:
    service = workflow_service
    assert service.oid.items is None  # the gateway's look-up: its contract lists no items
    handle, _ = await approved(service, Policy())
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert state.operations_check is not None and state.operations_check.detail is not None
    assert "products in scope not listed by this source" in state.operations_check.detail


async def test_item_data_silent_makes_the_check_unavailable_and_a_reviewer_confirms_the_scope(
    workflow_service: Service,
) -> None:
    service = workflow_service
    service.oid.items = {EXPORTER_ID: [COFFEE, COCOA]}
    service.oid.items_unreachable = True
    policy = Policy(operations_check=OperationsSource.OID, operations_check_timeout=timedelta(minutes=2))
    handle, _ = await approved(service, policy)
    await service.until(handle, lambda s: checked(s) is OperationsCheckStatus.CHECKING, "OID being asked")
    await service.sleep_until(await service.now() + timedelta(minutes=3))
    state = await service.until(
        handle, lambda s: checked(s) is OperationsCheckStatus.UNAVAILABLE, "the check unavailable"
    )
    assert state.operations_check is not None
    assert state.operations_check.detail == (
        "the products certified for the exporter's operation 1234567890 could not be checked: OID did not "
        "answer within 2 minutes (last: OID's item data could not be reached: connection refused)"
    )
    assert state.status is RequestStatus.ISSUING and service.oid.nopics == {}
    await confirm(service, handle, "both Certified; coffee and cocoa on the exporter's product list")
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert [c.status for c in state.certificates] == [CertificateStatus.ISSUED] * 2
    await service.save_history(handle, "scope_check_unavailable_then_confirmed")
