"""`HttpOidGateway` and the OID activities against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

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
    idempotency_key,
)
from activities.oid_contract import Faults
from activities.oid_http import HttpOidGateway, OidUnavailable
from activities.oid_public import OperationActivities
from core.settings import Settings
from domain.certificates import one_nopic_per_commodity
from domain.request import NopicRequestForm
from tests.support.forms import form
from tests.support.servers import RunningSandbox, free_port


def nopic_data(request_id: str, request: NopicRequestForm, index: int = 0) -> NopicData:
    return NopicData.of(request_id, request, one_nopic_per_commodity(request)[index])


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


async def test_issues_one_nopic_per_key(gateway: HttpOidGateway, oid_sandbox: RunningSandbox) -> None:
    data = nopic_data("gw-1", form())
    first = await gateway.create_nopic(data.idempotency_key, data)
    again = await gateway.create_nopic(data.idempotency_key, data)
    assert again == first
    assert first.status is NopicStatus.ISSUED
    assert first.data == data
    [kept] = oid_sandbox.store.list_nopics("gw-1")
    assert kept.number == first.number


async def test_the_issue_activity_returns_the_number(
    gateway: HttpOidGateway, oid_sandbox: RunningSandbox
) -> None:
    activities = OidActivities(gateway)
    data = nopic_data("gw-2", form(), 1)
    issued = await ActivityEnvironment().run(activities.issue_nopic, IssueNopicInput(data=data))
    assert issued.number.split("-")[1] == data.exporter.operation_id
    cancelled = await ActivityEnvironment().run(
        activities.cancel_nopic, CancelNopicInput(number=issued.number, reason="no transport document")
    )
    assert cancelled.number == issued.number
    cancelled_in_oid = oid_sandbox.store.get_nopic(issued.number)
    assert cancelled_in_oid is not None and cancelled_in_oid.status == "cancelled"


async def test_operations_lookup(gateway: HttpOidGateway) -> None:
    activities = OperationActivities(gateway)
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


async def test_a_key_names_revision_and_data_so_corrected_data_never_meets_a_known_key(
    gateway: HttpOidGateway,
) -> None:
    activities = OidActivities(gateway)
    data = nopic_data("gw-5", form())
    changed = data.model_copy(update={"net_kg": Decimal("99")})
    keys = {idempotency_key(data, 0), idempotency_key(changed, 0), idempotency_key(changed, 1)}
    assert len(keys) == 3 and all(key.startswith("gw-5:0:r") for key in keys)

    def issue(body: NopicData, revision: int) -> Any:
        key = idempotency_key(body, revision)
        return ActivityEnvironment().run(
            activities.issue_nopic, IssueNopicInput(data=body, idempotency_key=key)
        )

    first = await issue(data, 0)
    assert (await issue(data, 0)).number == first.number, "a retry is the same NOPIC"
    corrected = await issue(changed, 0)
    assert corrected.number != first.number
    # The key of before (request and commodity alone) would send changed data under a key OID knows.
    await gateway.create_nopic(data.idempotency_key, data)
    with pytest.raises(NopicRejected, match="idempotency key gw-5:0 already created"):
        await gateway.create_nopic(data.idempotency_key, changed)
