"""Drive requests through their whole lifecycle over the HTTP API, as clients that retry would.

Every call that fails for a reason retrying may cure (the connection, a 5xx) is sent again with the same
`Idempotency-Key` or `action_id`, so a retry is the same submission or action, never a second one.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from devstack.oid_sandbox.store import SandboxStore
from tests.support.audit_history import HistoryReport, assert_audit_is_the_workflows_history
from tests.support.process_stack import FaultStack, SinkMessage
from tests.support.stack import COMPLETE, first_shipment, pdf, request_body

RETRY_FOR = 240.0  # seconds a client keeps retrying one call through outages


async def call(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
    """The JSON answer of the first 2xx; retries connection errors and 5xx; any 4xx fails the test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RETRY_FOR
    while True:
        try:
            answer = await http.request(method, url, **kwargs)
        except httpx.TransportError:
            answer = None
        if answer is not None and answer.status_code < 500:
            assert answer.is_success, f"{method} {url}: {answer.status_code} {answer.text}"
            return answer.json()
        assert loop.time() < deadline, f"{method} {url} kept failing: {answer and answer.text}"
        await asyncio.sleep(0.3)


async def supporting_documents(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """References to stored files that complete `request_body`'s checklist, shared by every request."""
    references = []
    for kind, supplier in COMPLETE:
        files = {"file": (f"{kind}.pdf", pdf(kind), "application/pdf")}
        stored = await call(http, "POST", "/documents", files=files)
        references.append(
            {"kind": kind, "file_id": stored["sha256"], "sha256": stored["sha256"], "supplier": supplier}
        )
    return references


async def transport_document(http: httpx.AsyncClient) -> dict[str, Any]:
    files = {"file": ("bl.pdf", pdf("bill of lading"), "application/pdf")}
    stored = await call(http, "POST", "/documents", files=files)
    return {"kind": "transport_document_definitive", "file_id": stored["sha256"], "sha256": stored["sha256"]}


async def bounded(count: int, limit: int, work: Callable[[int], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(index: int) -> Any:
        async with gate:
            return await work(index)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def ids_with_status(http: httpx.AsyncClient, status: str) -> set[str]:
    """The read model's requests in `status`, every page."""
    found: set[str] = set()
    offset = 0
    while True:
        params = {"status": status, "limit": 200, "offset": offset, "sort": "received_at"}
        page = await call(http, "GET", "/requests", params=params)
        found |= {item["request_id"] for item in page["items"]}
        offset += len(page["items"])
        if offset >= page["total"] or not page["items"]:
            return found


async def run_lifecycles(stack: FaultStack, count: int, tag: str, concurrency: int = 16) -> list[str]:
    """Submit `count` complete requests, approve each, and deliver each one's transport document once its
    NOPICs are issued; returns the request ids once every request is active in the read model."""
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        documents = await supporting_documents(exporter)
        bill = await transport_document(exporter)

        async def submit_and_approve(index: int) -> str:
            body = request_body(documents=documents, product=f"Organic mango {tag} {index}")
            headers = {"Idempotency-Key": f"{tag}-{index}"}
            submitted = await call(exporter, "POST", "/requests", json=body, headers=headers)
            request_id: str = submitted["id"]
            # Answered before the workflow took the request in (a busy worker): wait until it has, as
            # actions on a request still `received` are refused.
            while submitted["status"] == "received":
                await asyncio.sleep(0.2)
                submitted = (await call(reviewer, "GET", f"/requests/{request_id}"))["state"]
            approve = {"action_id": f"approve-{request_id}"}
            await call(reviewer, "POST", f"/requests/{request_id}/actions/approve", json=approve)
            return request_id

        loop = asyncio.get_running_loop()
        started = loop.time()

        async def deliver(request_id: str) -> None:
            action = {"action_id": f"transport-{request_id}", "document": bill, **first_shipment()}
            await call(exporter, "POST", f"/requests/{request_id}/actions/transport-document", json=action)

        ids: list[str] = await bounded(count, concurrency, submit_and_approve)
        print(f"{count} submitted and approved in {loop.time() - started:.1f} s")
        waiting = set(ids)
        deadline = loop.time() + RETRY_FOR
        while waiting:
            issued = sorted(waiting & await ids_with_status(exporter, "awaiting_transport_document"))
            await bounded(len(issued), concurrency, lambda i, ready=issued: deliver(ready[i]))
            waiting -= set(issued)
            assert loop.time() < deadline, f"{len(waiting)} requests never had their NOPICs issued"
            if waiting:
                await asyncio.sleep(0.5)
        while (active := await ids_with_status(exporter, "active")) < set(ids):
            assert loop.time() < deadline, f"{len(set(ids) - active)} requests never became active"
            await asyncio.sleep(0.5)
        print(f"{count} active after {loop.time() - started:.1f} s")
        return ids


CASHEW_KERNELS = "0801320000"  # the second commodity's HTS code in the lifecycles below


def with_a_second_commodity(body: dict[str, Any], hts_code: str = CASHEW_KERNELS) -> dict[str, Any]:
    first = body["commodities"][0]
    second = {**first, "product_name": f"{first['product_name']} kernels", "hts_code": hts_code}
    return {**body, "commodities": [first, {**second, "net_kg": "300", "lot_numbers": ["K-01"]}]}


async def until_state(
    http: httpx.AsyncClient, request_id: str, done: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + RETRY_FOR
    while True:
        state: dict[str, Any] = (await call(http, "GET", f"/requests/{request_id}"))["state"]
        if done(state):
            return state
        assert asyncio.get_running_loop().time() < deadline, f"{request_id} never {what}: {state['status']}"
        await asyncio.sleep(0.5)


async def submitted(
    http: httpx.AsyncClient, reviewer: httpx.AsyncClient, body: dict[str, Any], key: str
) -> str:
    """Submit (a retry is the same submission: the idempotency key) and wait until it is checked in."""
    answer = await call(http, "POST", "/requests", json=body, headers={"Idempotency-Key": key})
    request_id: str = answer["id"]
    if answer["status"] == "received":
        await until_state(reviewer, request_id, lambda s: s["status"] != "received", "checked in")
    return request_id


def cancellation_actions(request_id: str) -> list[str]:
    return [*lifecycle_actions(request_id), f"cancel-one-{request_id}", f"cancel-rest-{request_id}"]


async def run_cancellations(stack: FaultStack, count: int, tag: str, concurrency: int = 8) -> list[str]:
    """Requests of two commodities taken to active, then cancelled by the reviewer: one NOPIC first, then
    the other; returns the ids once every request is cancelled."""
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        documents = await supporting_documents(exporter)
        bill = await transport_document(exporter)

        async def lifecycle(index: int) -> str:
            body = request_body(documents=documents, product=f"Organic fig {tag} {index}")
            body = with_a_second_commodity(body)
            request_id = await submitted(exporter, reviewer, body, f"{tag}-{index}")
            actions = f"/requests/{request_id}/actions"
            await call(reviewer, "POST", f"{actions}/approve", json={"action_id": f"approve-{request_id}"})
            await until_state(
                exporter, request_id, lambda s: s["status"] == "awaiting_transport_document", "issued"
            )
            shipment = first_shipment()
            shipment["quantities"].append({"commodity_index": 1, "net_kg": "300"})
            delivered = {"action_id": f"transport-{request_id}", "document": bill, **shipment}
            await call(exporter, "POST", f"{actions}/transport-document", json=delivered)
            cancel = f"{actions}/cancel-certificates"
            one = {"action_id": f"cancel-one-{request_id}", "reason": "lot K-01 failed analysis"}
            await call(reviewer, "POST", cancel, json={**one, "commodity_indexes": [1]})
            rest = {"action_id": f"cancel-rest-{request_id}", "reason": "certification withdrawn"}
            state = await call(reviewer, "POST", cancel, json=rest)
            # Taken: the request is `cancelling` until OID has cancelled both (a kill may fall between).
            assert state["status"] in ("cancelling", "cancelled"), f"{request_id}: {state['status']}"
            await until_state(reviewer, request_id, lambda s: s["status"] == "cancelled", "cancelled")
            return request_id

        return await bounded(count, concurrency, lifecycle)


def partial_issuance_actions(request_id: str) -> list[str]:
    return [f"approve-{request_id}", f"approve-again-{request_id}"]


async def run_partial_issuances(
    stack: FaultStack, count: int, tag: str, refused_hts_code: str, concurrency: int = 8
) -> list[str]:
    """Requests of two commodities whose second OID refuses (`refused_hts_code`): approved, the first NOPIC
    issued, issuance stopped for the reviewer; approved again, stopped again, no second NOPIC for the first.
    Returns the ids once every request has stopped twice."""
    async with stack.client(stack.exporter) as exporter, stack.client(stack.reviewer) as reviewer:
        documents = await supporting_documents(exporter)

        def stopped(times: int) -> Callable[[dict[str, Any]], bool]:
            return lambda s: [h["action"] for h in s["history"]].count("issuance_stopped") == times

        async def lifecycle(index: int) -> str:
            body = request_body(documents=documents, product=f"Organic date {tag} {index}")
            body = with_a_second_commodity(body, refused_hts_code)
            request_id = await submitted(exporter, reviewer, body, f"{tag}-{index}")
            approve = f"/requests/{request_id}/actions/approve"
            await call(reviewer, "POST", approve, json={"action_id": f"approve-{request_id}"})
            await until_state(reviewer, request_id, stopped(1), "stopped issuance")
            await call(reviewer, "POST", approve, json={"action_id": f"approve-again-{request_id}"})
            state = await until_state(reviewer, request_id, stopped(2), "stopped issuance again")
            assert state["status"] == "in_review" and "not certified" in state["issuance_blocked"]
            return request_id

        return await bounded(count, concurrency, lifecycle)


async def live_states(stack: FaultStack, ids: list[str]) -> dict[str, dict[str, Any]]:
    async with stack.client(stack.reviewer) as reviewer:

        async def state(index: int) -> dict[str, Any]:
            detail: dict[str, Any] = await call(reviewer, "GET", f"/requests/{ids[index]}")
            return detail["state"]

        return {s["request_id"]: s for s in await bounded(len(ids), 16, state)}


# What every request's lifecycle mails, as (audience, kind): the review team hears of it and of its transport
# document, the exporter and the importer get the NOPIC data.
LIFECYCLE_MAIL = {
    ("review_team", "new_request"),
    ("exporter", "nopic_issued"),
    ("importer", "nopic_issued"),
    ("review_team", "documents_received"),
}
# A cancelled request's mail: its lifecycle's, and the cancellation to the exporter and the importer.
CANCELLATION_MAIL = LIFECYCLE_MAIL | {("exporter", "cancellation"), ("importer", "cancellation")}
# A request whose issuance stopped has told only the review team that it came.
PARTIAL_ISSUANCE_MAIL = {("review_team", "new_request")}


@dataclass(frozen=True)
class MailReport:
    messages: int  # distinct messages (Message-IDs) at the SMTP sink
    repeats: int  # copies at the sink beyond each message's first
    repeated: list[str]  # event ids of the messages that arrived more than once
    possible_repeats: int  # sends the ledger saw begin over an earlier send that was cut off
    # Per message, its last send: from the sending mark to the sent mark (a kill in there cuts the send
    # off), and from the sink's taking the message to the sent mark (a kill in there makes a repeat).
    send_ms: tuple[float, float]  # median, p99
    accepted_to_sent_ms: tuple[float, float]

    def __str__(self) -> str:
        return (
            f"mail: {self.messages} messages, {self.repeats} repeats at the sink, "
            f"{self.possible_repeats} possible repeats counted by the ledger; sending mark to sent mark "
            f"median {self.send_ms[0]:.1f} ms, p99 {self.send_ms[1]:.1f} ms; sink took it to sent mark "
            f"median {self.accepted_to_sent_ms[0]:.1f} ms, p99 {self.accepted_to_sent_ms[1]:.1f} ms"
        )


def median_and_p99(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.99 * (len(ordered) - 1))]


async def sends_in_flight(stack: FaultStack) -> set[tuple[str, int]]:
    """(event id, attempt) of each send marked as begun in the ledger and neither recorded as sent nor
    proved not sent: looked at while the worker is dead, the sends its death cut off."""
    rows = await stack.pool.fetch(
        "SELECT event_id, sending_attempt FROM sent_messages"
        " WHERE sent_at IS NULL AND sending_attempt IS NOT NULL"
    )
    return {(row["event_id"], row["sending_attempt"]) for row in rows}


async def assert_every_message_delivered(
    stack: FaultStack, ids: list[str], mail: set[tuple[str, str]] = LIFECYCLE_MAIL
) -> MailReport:
    """Mail is at least once: every message of every lifecycle (`mail`: its audiences and kinds) reached the
    sink; a message that arrived more than once is the same message each time (Message-ID, subject,
    recipients) and was announced by the ledger as a possible repeat; the ledger records as sent exactly the
    messages the sink holds."""
    expected = {(rid, *kind) for rid in ids for kind in mail}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30  # each request is active only after its last mail: they should be there
    while True:
        messages = await asyncio.to_thread(stack.messages, set(ids))
        missing = expected - {(m.request_id, *m.audience_and_kind) for m in messages}
        if not missing or loop.time() > deadline:
            break
        await asyncio.sleep(0.5)
    assert not missing, f"{len(missing)} messages never reached the SMTP sink: {sorted(missing)[:5]}"

    copies: dict[str, list[SinkMessage]] = {}
    for message in messages:
        copies.setdefault(message.message_id, []).append(message)
    for message_id, same in copies.items():
        assert len(set(same)) == 1, f"{message_id}: copies that differ: {sorted(set(same), key=str)}"
    assert len({m.event_id for m in messages}) == len(copies), "one event, one Message-ID"

    ledger = {
        row["event_id"]: row
        for row in await stack.pool.fetch(
            "SELECT * FROM sent_messages WHERE split_part(event_id, ':', 1) = ANY($1)", ids
        )
    }
    unfinished = sorted(e for e, row in ledger.items() if row["sent_at"] is None)
    assert not unfinished, f"{len(unfinished)} sends begun and never recorded as sent: {unfinished[:5]}"
    assert set(ledger) == {m.event_id for m in messages}, "the ledger's sent messages are the sink's"
    repeated = sorted(same[0].event_id for same in copies.values() if len(same) > 1)
    for same in copies.values():
        row = ledger[same[0].event_id]
        assert len(same) - 1 <= row["possible_repeats"], (
            f"{same[0].event_id} arrived {len(same)} times, the ledger saw {row['possible_repeats']} "
            f"possible repeats: {dict(row)}"
        )
    last_taken = {same[0].event_id: max(m.stored_at for m in same) for same in copies.values()}
    return MailReport(
        messages=len(copies),
        repeats=sum(len(same) - 1 for same in copies.values()),
        repeated=repeated,
        possible_repeats=sum(row["possible_repeats"] for row in ledger.values()),
        send_ms=median_and_p99(
            [(row["sent_at"] - row["sending_at"]).total_seconds() * 1000 for row in ledger.values()]
        ),
        accepted_to_sent_ms=median_and_p99(
            [(row["sent_at"] - last_taken[e]).total_seconds() * 1000 for e, row in ledger.items()]
        ),
    )


def lifecycle_actions(request_id: str) -> list[str]:
    """The action ids `run_lifecycles` sends for one request."""
    return [f"approve-{request_id}", f"transport-{request_id}"]


@dataclass(frozen=True)
class Outcome:
    mail: MailReport
    history: HistoryReport

    def __str__(self) -> str:
        return (
            f"{self.mail}\nhistory: {self.history.changes} changes, each in the audit trail once; "
            f"{self.history.interrupted} activities run again after an attempt timed out"
        )


async def assert_nothing_lost(
    stack: FaultStack,
    ids: list[str],
    *,
    status: str = "active",
    mail: set[tuple[str, str]] = LIFECYCLE_MAIL,
    actions: Callable[[str], list[str]] = lifecycle_actions,
) -> Outcome:
    """Each request in `status`; in OID exactly the NOPICs of the state (number and status), none twice,
    none for a commodity still pending; the audit trail the workflow's own history one to one, each of the
    driver's `actions` applied exactly once; every message delivered at least once."""
    states = await live_states(stack, ids)
    assert {s["status"] for s in states.values()} == {status}

    store = SandboxStore(stack.settings.home / "oid_sandbox" / "oid.sqlite3")
    try:
        nopics = [n for n in store.list_nopics() if n.request_id in states]
    finally:
        store.close()
    in_oid = sorted((n.request_id, n.commodity_index, n.number, str(n.status)) for n in nopics)
    in_states = sorted(
        (rid, c["commodity_index"], c["number"], c["status"])
        for rid, s in states.items()
        for c in s["certificates"]
        if c["status"] != "pending"
    )
    assert in_oid == in_states
    pending = [c for s in states.values() for c in s["certificates"] if c["status"] == "pending"]
    assert all(c["number"] is None for c in pending)

    history = await assert_audit_is_the_workflows_history(stack, states, actions)
    return Outcome(mail=await assert_every_message_delivered(stack, ids, mail), history=history)
