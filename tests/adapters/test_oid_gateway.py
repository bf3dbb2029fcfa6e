"""`HttpOidGateway` and the OID activities against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.oid import (
    CancelNopicInput,
    IssueNopicInput,
    LookupOperationInput,
    NopicData,
    NopicNotFound,
    NopicRejected,
    NopicStatus,
    OidActivities,
    OperationNotFound,
)
from activities.oid_contract import Faults
from activities.oid_http import HttpOidGateway, OidUnavailable
from core.settings import Settings
from domain.request import NopicRequestForm
from tests.support.forms import form
from tests.support.servers import RunningSandbox, free_port


def nopic_data(request_id: str, request: NopicRequestForm, index: int = 0) -> NopicData:
    commodity = request.commodities[index]
    return NopicData(
        request_id=request_id,
        commodity_index=index,
        product_name=commodity.product_name,
        hts_code=commodity.hts_code,
        organic_standard=commodity.organic_standard,
        net_kg=commodity.net_kg,
        lot_numbers=commodity.lot_numbers,
        exporter=request.exporter,
        importer=request.importer,
        origin_country=request.shipment.export_country,
        export_port=request.shipment.export_port,
        us_port_of_entry=request.shipment.us_port_of_entry,
        transport_mode=request.shipment.transport_mode,
        etd=request.shipment.etd,
        valid_from=request.timeframe.first_day,
        valid_until=request.timeframe.last_day,
    )


@pytest.fixture
async def gateway(oid_sandbox: RunningSandbox, tmp_path: object) -> AsyncIterator[HttpOidGateway]:
    request = form()
    oid_sandbox.add_operation(request.exporter.operation_id, request.exporter.name)
    oid_sandbox.add_operation(request.importer.operation_id, request.importer.name)
    settings = Settings(
        oid_base_url=oid_sandbox.base_url, oid_api_key=oid_sandbox.api_key, oid_timeout_seconds=1
    )
    gateway = HttpOidGateway.from_settings(settings)
    yield gateway
    await gateway.aclose()


async def test_issues_one_nopic_per_key_and_reads_it_back(gateway: HttpOidGateway) -> None:
    data = nopic_data("gw-1", form())
    first = await gateway.create_nopic(data.idempotency_key, data)
    again = await gateway.create_nopic(data.idempotency_key, data)
    assert again == first
    assert first.status is NopicStatus.ISSUED
    assert first.data == data
    assert await gateway.get_nopic(first.number) == first


async def test_the_issue_activity_returns_the_number(gateway: HttpOidGateway) -> None:
    activities = OidActivities(gateway)
    data = nopic_data("gw-2", form(), 1)
    issued = await ActivityEnvironment().run(activities.issue_nopic, IssueNopicInput(data=data))
    assert issued.number.split("-")[1] == data.exporter.operation_id
    cancelled = await ActivityEnvironment().run(
        activities.cancel_nopic, CancelNopicInput(number=issued.number, reason="no transport document")
    )
    assert cancelled.number == issued.number
    assert (await gateway.get_nopic(issued.number)).status is NopicStatus.CANCELLED


async def test_operations_lookup(gateway: HttpOidGateway) -> None:
    activities = OidActivities(gateway)
    operation = await ActivityEnvironment().run(
        activities.lookup_operation, LookupOperationInput(operation_id=form().importer.operation_id)
    )
    assert operation.certified
    assert operation.name == "Green Imports Inc"
    with pytest.raises(OperationNotFound) as error:
        await gateway.lookup_operation("5555555555")
    assert error.value.non_retryable


async def test_an_importer_that_is_not_certified_is_refused_for_good(
    gateway: HttpOidGateway, oid_sandbox: RunningSandbox
) -> None:
    request = form()
    oid_sandbox.add_operation(request.importer.operation_id, request.importer.name, status="Suspended")
    data = nopic_data("gw-3", request)
    with pytest.raises(NopicRejected, match=r"importer operation 9876543210 .* is Suspended") as error:
        await gateway.create_nopic(data.idempotency_key, data)
    assert error.value.non_retryable
    assert oid_sandbox.store.list_nopics("gw-3") == []


async def test_unknown_nopic(gateway: HttpOidGateway) -> None:
    with pytest.raises(NopicNotFound):
        await gateway.get_nopic("026-1234567890-999999")
    with pytest.raises(NopicNotFound):
        await gateway.cancel_nopic("026-1234567890-999999", "reason")


async def test_outages_and_timeouts_are_retryable(
    gateway: HttpOidGateway, oid_sandbox: RunningSandbox
) -> None:
    oid_sandbox.set_faults(Faults(error_rate=1.0))
    data = nopic_data("gw-4", form())
    with pytest.raises(OidUnavailable, match=r"OID answered 50[23]") as error:
        await gateway.create_nopic(data.idempotency_key, data)
    assert not error.value.non_retryable
    oid_sandbox.set_faults(Faults(timeout_rate=1.0, timeout_seconds=1.5))
    with pytest.raises(OidUnavailable, match="did not answer"):
        await gateway.lookup_operation(form().exporter.operation_id)
    oid_sandbox.set_faults(Faults())
    # Whatever the failed attempts did, retrying the key ends with exactly one NOPIC.
    await gateway.create_nopic(data.idempotency_key, data)
    assert len(oid_sandbox.store.list_nopics("gw-4")) == 1


async def test_an_unreachable_oid_is_retryable() -> None:
    gateway = HttpOidGateway(httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}", timeout=1))
    with pytest.raises(OidUnavailable, match="could not be reached"):
        await gateway.lookup_operation("1234567890")
    await gateway.aclose()
