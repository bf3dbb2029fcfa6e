"""`PublicDataOperations`, the look-up of OID's public operation data, against the sandbox's stand-in over
HTTP: JSON and XML answers, an operation OID does not list, a refused key, a service that is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.oid import LookupOperationInput, OidError, OperationNotFound
from activities.oid_contract import Faults, Operation
from activities.oid_http import OidUnavailable
from activities.oid_public import (
    ITEMS_PATH,
    OPERATIONS_PATH,
    SERVICE_PATH,
    OperationActivities,
    PublicDataOperations,
    parse_items,
    parse_xml,
)
from core.settings import Settings
from domain.scope import CertifiedItem
from tests.support.servers import RunningSandbox, free_port

DATA_KEY = "sandbox-data-key"  # the sandbox's key unless NOPIC_OID_DATA_KEY names another


def settings(base_url: str, key: str = DATA_KEY) -> Settings:
    return Settings(oid_data_url=f"{base_url}{SERVICE_PATH}", oid_data_key=key, oid_timeout_seconds=1)


@pytest.fixture
async def registry(oid_sandbox: RunningSandbox) -> AsyncIterator[PublicDataOperations]:
    oid_sandbox.store.put_operation(
        Operation(
            operation_id="1000000001",
            name="Biofruits Export SRL",
            status="Certified",
            certifier="Certisys",
            status_date=date(2025, 3, 1),
        )
    )
    oid_sandbox.add_operation("2000000009", "Lapsed Trading Co", status="Suspended")
    registry = PublicDataOperations.from_settings(settings(oid_sandbox.base_url))
    yield registry
    await registry.aclose()


async def test_an_operation_is_read_with_its_status_certifier_and_date(
    registry: PublicDataOperations,
) -> None:
    activities = OperationActivities(registry)
    operation = await ActivityEnvironment().run(
        activities.lookup_operation, LookupOperationInput(operation_id="1000000001")
    )
    assert operation.certified and operation.name == "Biofruits Export SRL"
    assert (operation.certifier, operation.status_date) == ("Certisys", date(2025, 3, 1))
    suspended = await registry.lookup_operation("2000000009")
    assert suspended.status == "Suspended" and not suspended.certified


async def test_an_operation_oid_does_not_list_is_not_found_for_good(registry: PublicDataOperations) -> None:
    with pytest.raises(OperationNotFound, match="lists no operation with NOP operation ID 300") as error:
        await registry.lookup_operation("3000000003")
    assert error.value.non_retryable


async def test_the_xml_answer_reads_as_the_json_one(oid_sandbox: RunningSandbox) -> None:
    """OID answers XML unless asked otherwise: the same operation, whatever the namespace prefix."""
    oid_sandbox.add_operation("1000000001", "Biofruits Export SRL")
    async with httpx.AsyncClient(base_url=oid_sandbox.base_url) as http:
        answer = await http.post(
            f"{SERVICE_PATH}/{OPERATIONS_PATH}",
            params={"api_key": DATA_KEY},
            json={"startIdx": 1, "count": 10, "operationId": "1000000001"},
        )
    assert answer.headers["content-type"].startswith("application/xml")
    assert b"<a:op_nopOpID>1000000001</a:op_nopOpID>" in answer.content
    [operation] = parse_xml(answer.content).operations
    assert (operation.operation_id, operation.status) == ("1000000001", "Certified")
    unprefixed = (
        b"<R><success>true</success><x><op_nopOpID>7</op_nopOpID><op_name>N</op_name>"
        b"<op_status>Certified</op_status></x></R>"
    )
    assert parse_xml(unprefixed).operations[0].name == "N"


async def test_a_refused_key_is_final_and_says_nothing_of_the_operation(oid_sandbox: RunningSandbox) -> None:
    registry = PublicDataOperations.from_settings(settings(oid_sandbox.base_url, key="wrong"))
    try:
        with pytest.raises(OidError, match=r"refused the look-up: 403 .*API_KEY_INVALID") as error:
            await registry.lookup_operation("1000000001")
        assert error.value.non_retryable and not isinstance(error.value, OperationNotFound)
    finally:
        await registry.aclose()


async def test_a_service_down_or_answering_nonsense_is_worth_retrying(
    oid_sandbox: RunningSandbox, registry: PublicDataOperations
) -> None:
    oid_sandbox.set_faults(Faults(error_rate=1.0))
    with pytest.raises(OidUnavailable, match=r"answered 50[23]"):
        await registry.lookup_operation("1000000001")
    oid_sandbox.set_faults(Faults())
    nowhere = PublicDataOperations.from_settings(settings(f"http://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(OidUnavailable, match="could not be reached") as error:
            await nowhere.lookup_operation("1000000001")
        assert not error.value.non_retryable
    finally:
        await nowhere.aclose()


async def test_the_exporters_certified_items_are_read_in_json_and_xml(oid_sandbox: RunningSandbox) -> None:
    """The sandbox seeds the demo exporter's products; a test puts one out of scope by leaving it out."""
    registry = PublicDataOperations.from_settings(settings(oid_sandbox.base_url))
    try:
        activities = OperationActivities(registry)
        seeded = await ActivityEnvironment().run(
            activities.lookup_certified_items, LookupOperationInput(operation_id="1000000001")
        )
        assert seeded.listed and [i.name for i in seeded.items] == ["Mango", "Cocoa", "Cashew"]
        assert seeded.items[0].varieties == ["dried mango slices", "mango puree"]
        assert seeded.items[0].certified
        async with httpx.AsyncClient(base_url=oid_sandbox.base_url) as http:
            put = await http.put(
                "/admin/operations/1000000001/items",
                headers={"X-API-Key": oid_sandbox.api_key},
                json=[{"name": "Mango", "status": "Certified"}],
            )
            assert put.status_code == 200
            answer = await http.post(
                f"{SERVICE_PATH}/{ITEMS_PATH}",
                params={"api_key": DATA_KEY},
                json={"startIdx": 1, "count": 100, "operationId": "1000000001"},
            )
        assert b"<a:itemName>Mango</a:itemName>" in answer.content
        mango = CertifiedItem(name="Mango", status="Certified")
        assert parse_items(answer) == ([mango], 1)
        assert await registry.certified_items("1000000001") == [mango]
        assert await registry.certified_items("3000000003") == [], "an operation without items lists none"
    finally:
        await registry.aclose()


async def test_an_item_answer_nopic_cannot_read_is_worth_retrying() -> None:
    request = httpx.Request("POST", "http://oid.test/rest/Items")
    nonsense = httpx.Response(200, content=b'{"items": "many"}', request=request)
    with pytest.raises(OidUnavailable, match="cannot read"):
        parse_items(nonsense)
