"""The OID sandbox over HTTP: the contract the gateway relies on, and faults that never duplicate a NOPIC."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from activities.oid_contract import Faults
from tests.support.servers import RunningSandbox

EXPORTER = "1000000001"
IMPORTER = "2000000001"


def nopic_body(request_id: str, index: int = 0, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": request_id,
        "commodity_index": index,
        "exporter": {
            "operation_id": EXPORTER,
            "name": "Biofruits Export SRL",
            "country": "BE",
            "email": "exports@biofruits.example",
        },
        "importer": {
            "operation_id": IMPORTER,
            "name": "Green Harbor Imports LLC",
            "address": "1 Harbor Way, Newark NJ",
            "email": "customs@greenharbor.example",
        },
        "product_name": "Organic dried figs",
        "hts_code": "0804200000",
        "organic_standard": "organic",
        "net_kg": "1200.5",
        "lot_numbers": ["L-1"],
        "origin_country": "BE",
        "export_port": "Antwerp",
        "us_port_of_entry": "Newark",
        "transport_mode": "sea",
        "etd": "2026-12-04",
        "valid_from": "2026-12-01",
        "valid_until": "2026-12-31",
    }
    body.update(changes)
    return body


async def post_nopic(
    client: httpx.AsyncClient, request_id: str, index: int = 0, **changes: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/nopics",
        json=nopic_body(request_id, index, **changes),
        headers={"Idempotency-Key": f"{request_id}:{index}"},
    )


@pytest.fixture
async def client(oid_sandbox: RunningSandbox) -> Any:
    oid_sandbox.add_operation(EXPORTER, "Biofruits Export SRL")
    oid_sandbox.add_operation(IMPORTER, "Green Harbor Imports LLC")
    async with httpx.AsyncClient(base_url=oid_sandbox.base_url, headers={"X-API-Key": "test-key"}) as c:
        yield c


async def test_a_repeated_idempotency_key_returns_the_same_certificate(client: httpx.AsyncClient) -> None:
    first = await post_nopic(client, "r-1")
    again = await post_nopic(client, "r-1")
    other = await post_nopic(client, "r-1", 1, hts_code="0801320000")
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.json() == again.json()
    assert re.fullmatch(rf"\d{{3}}-{EXPORTER}-\d{{6}}", first.json()["number"])
    assert other.json()["number"] != first.json()["number"]
    fetched = await client.get(f"/api/v1/nopics/{first.json()['number']}")
    assert fetched.json() == first.json()
    assert len((await client.get("/api/v1/nopics", params={"request_id": "r-1"})).json()) == 2


async def test_the_same_key_with_different_data_is_refused(client: httpx.AsyncClient) -> None:
    await post_nopic(client, "r-2")
    answer = await post_nopic(client, "r-2", net_kg="99")
    assert answer.status_code == 409
    assert answer.json()["error"] == "idempotency_key_reused"


async def test_no_certificate_for_an_importer_that_is_not_certified(
    client: httpx.AsyncClient, oid_sandbox: RunningSandbox
) -> None:
    oid_sandbox.add_operation("2000000009", "Lapsed Trading Co", status="Suspended")
    lapsed = {**nopic_body("r-3")["importer"], "operation_id": "2000000009"}
    answer = await post_nopic(client, "r-3", importer=lapsed)
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "importer_not_certified",
        "detail": "importer operation 2000000009 (Lapsed Trading Co) is Suspended, not Certified",
    }
    unknown = await post_nopic(client, "r-3", importer={**lapsed, "operation_id": "2999999999"})
    assert unknown.json()["error"] == "importer_not_certified"
    assert (await client.get("/api/v1/nopics", params={"request_id": "r-3"})).json() == []


async def test_operations_lookup_and_admin_setup(client: httpx.AsyncClient) -> None:
    put = await client.put(
        "/admin/operations/3000000003",
        json={"operation_id": "3000000003", "name": "New Co", "status": "Certified", "certifier": "QAI"},
    )
    assert put.status_code == 200
    found = await client.get("/api/v1/operations/3000000003")
    assert found.json()["name"] == "New Co"
    missing = await client.get("/api/v1/operations/3999999999")
    assert (missing.status_code, missing.json()["error"]) == (404, "operation_not_found")


async def test_cancel_is_idempotent_and_keeps_the_first_reason(client: httpx.AsyncClient) -> None:
    number = (await post_nopic(client, "r-4")).json()["number"]
    first = await client.post(f"/api/v1/nopics/{number}/cancel", json={"reason": "no transport document"})
    again = await client.post(f"/api/v1/nopics/{number}/cancel", json={"reason": "another"})
    assert first.json()["status"] == "cancelled"
    assert again.json() == first.json()
    assert again.json()["cancel_reason"] == "no transport document"
    unknown = await client.post("/api/v1/nopics/026-1000000001-999999/cancel", json={"reason": "x"})
    assert unknown.status_code == 404


async def test_bad_input_and_missing_key_are_refused_clearly(
    client: httpx.AsyncClient, oid_sandbox: RunningSandbox
) -> None:
    bad = await post_nopic(client, "r-5", hts_code="0804")
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_request"
    assert "hts_code" in bad.json()["detail"]
    no_key = await client.post("/api/v1/nopics", json=nopic_body("r-5"))
    assert no_key.status_code == 422
    assert "Idempotency-Key" in no_key.json()["detail"]
    async with httpx.AsyncClient(base_url=oid_sandbox.base_url) as anonymous:
        denied = await anonymous.get(f"/api/v1/operations/{EXPORTER}")
    assert (denied.status_code, denied.json()["error"]) == (401, "unauthorized")


async def test_faults_never_make_a_second_certificate(
    client: httpx.AsyncClient, oid_sandbox: RunningSandbox
) -> None:
    """Half the calls fail, before or after the change; retrying each key until it succeeds gives one each."""
    await client.put("/admin/faults", json={"error_rate": 0.5, "latency_ms": 5})
    assert oid_sandbox.app.state.faults == Faults(error_rate=0.5, latency_ms=5)
    statuses: list[int] = []

    async def issue(index: int) -> str:
        while True:
            answer = await post_nopic(client, "r-6", index)
            statuses.append(answer.status_code)
            if answer.status_code < 500:
                number: str = answer.json()["number"]
                return number

    numbers = await asyncio.gather(*(issue(i) for i in range(20)))
    assert len(set(numbers)) == 20
    assert {502, 503} <= set(statuses)
    await client.put("/admin/faults", json={})
    stored = (await client.get("/api/v1/nopics", params={"request_id": "r-6"})).json()
    assert sorted(n["number"] for n in stored) == sorted(numbers)


async def test_a_hanging_call_times_out_on_the_client(
    client: httpx.AsyncClient, oid_sandbox: RunningSandbox
) -> None:
    oid_sandbox.set_faults(Faults(timeout_rate=1.0, timeout_seconds=0.5))
    with pytest.raises(httpx.TimeoutException):
        await client.get(f"/api/v1/operations/{EXPORTER}", timeout=0.1)
    oid_sandbox.set_faults(Faults())
    assert (await client.get("/health")).status_code == 200


async def test_a_refused_product_gets_no_nopic_while_the_others_of_the_request_do(
    client: httpx.AsyncClient,
) -> None:
    issued_before = await post_nopic(client, "r-8", 0, hts_code="0804200000")
    await client.put("/admin/faults", json={"refused_hts_codes": ["0804200000", "0801320000"]})
    refused = await post_nopic(client, "r-8", 1, hts_code="0801320000")
    issued = await post_nopic(client, "r-8", 2, hts_code="0806201000")
    again = await post_nopic(client, "r-8", 0, hts_code="0804200000")
    await client.put("/admin/faults", json={})

    assert (refused.status_code, refused.json()["error"]) == (422, "product_not_certified")
    assert "0801320000" in refused.json()["detail"]
    assert issued.status_code == 201
    assert again.status_code == 200, "one issued before the refusal is still answered to its key"
    assert again.json()["number"] == issued_before.json()["number"]
    stored = (await client.get("/api/v1/nopics", params={"request_id": "r-8"})).json()
    assert sorted(n["commodity_index"] for n in stored) == [0, 2]
