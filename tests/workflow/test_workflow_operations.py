"""Issuing as certifiers do (time-skipping server, fake ports): the operations check by its source, bounded
and confirmable by hand; NOPIC numbers typed by hand, each held by one request only, correctable while
issuing; an issuing request sent back to review, refused or withdrawn."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from domain.messages import (
    Approve,
    ConfirmOperations,
    RecordCancellation,
    RecordCertificateNumber,
    Refuse,
    ReturnToReview,
    UpdateEta,
    Withdraw,
)
from domain.policy import IssuanceMode, OperationsSource, Policy
from domain.state import CertificateStatus, OperationsCheckStatus, RequestState, RequestStatus
from tests.support.harness import EXPORTER, REVIEWER, Service, refusal
from workflows.nopic_request import NopicRequest

Handle = WorkflowHandle[Any, RequestState]
BY_HAND = Policy(issuance_mode=IssuanceMode.MANUAL, operations_check=OperationsSource.REVIEWER)
COFFEE, COCOA = "840-1234567890-004711", "840-1234567890-004712"


async def approved(service: Service, policy: Policy) -> tuple[Handle, RequestState]:
    handle = await service.start(policy=policy)
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    state = await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    assert state.status is RequestStatus.ISSUING
    return handle, state


async def confirm(service: Service, handle: Handle, note: str = "both Certified in OID") -> RequestState:
    await service.until(
        handle,
        lambda s: s.operations_check is not None and s.operations_check.awaits_reviewer,
        "the check awaits a reviewer",
    )
    return await handle.execute_update(
        NopicRequest.confirm_operations, ConfirmOperations(**service.action(), note=note)
    )


def checked(state: RequestState) -> OperationsCheckStatus | None:
    return state.operations_check.status if state.operations_check else None


def number(service: Service, index: int, value: str) -> RecordCertificateNumber:
    return RecordCertificateNumber(**service.action(), commodity_index=index, number=value)


async def test_a_reviewer_confirms_both_operations_before_numbers_are_recorded_by_hand(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle, _ = await approved(service, BY_HAND)
    state = await service.until(
        handle, lambda s: s.operations_check is not None, "the check awaits the reviewer"
    )
    assert state.operations_check is not None
    assert state.operations_check.status is OperationsCheckStatus.TO_CONFIRM
    assert service.oid.lookups == 0, "no look-up in OID: the reviewer is the source"
    record = NopicRequest.record_certificate_number
    assert await refusal(handle.execute_update(record, number(service, 0, COFFEE))) == (
        "a reviewer must first confirm that both operations are Certified in OID (confirm-operations)"
    )
    by_exporter = ConfirmOperations(**service.action(EXPORTER), note="trust me")
    assert await refusal(handle.execute_update(NopicRequest.confirm_operations, by_exporter)) == (
        "only a reviewer may do this; Eva Exporter is exporter"
    )

    seen = "OID: 1234567890 Certified since 2025-03-01, 9876543210 since 2024-09-01"
    state = await confirm(service, handle, seen)
    assert state.operations_check is not None
    assert state.operations_check.status is OperationsCheckStatus.CONFIRMED
    assert state.operations_check.confirmed_by == REVIEWER
    again = ConfirmOperations(**service.action(), note="once more")
    assert await refusal(handle.execute_update(NopicRequest.confirm_operations, again)) == (
        "both operations are already confirmed Certified (by Rik Reviewer)"
    )
    events = [c.event for c in service.store.of(state.request_id)]
    [confirmed] = [e for e in events if e.action == "confirm_operations"]
    assert confirmed.actor == REVIEWER and confirmed.at == state.operations_check.since
    assert confirmed.payload["detail"] == (
        f"exporter 1234567890 and importer 9876543210 confirmed Certified in OID by Rik Reviewer: {seen}"
    )

    await handle.execute_update(record, number(service, 0, COFFEE))
    await handle.execute_update(record, number(service, 1, COCOA))
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert [c.number for c in state.certificates] == [COFFEE, COCOA]
    assert service.oid.nopics == {} and service.oid.lookups == 0
    await service.save_history(handle, "operations_confirmed_by_reviewer")


async def test_oid_silent_makes_the_check_unavailable_in_time_and_a_reviewer_confirms_by_hand(
    workflow_service: Service,
) -> None:
    service = workflow_service
    service.oid.unreachable = True
    policy = Policy(operations_check=OperationsSource.OID, operations_check_timeout=timedelta(minutes=2))
    handle, _ = await approved(service, policy)
    state = await service.until(
        handle,
        lambda s: checked(s) is OperationsCheckStatus.CHECKING,
        "OID being asked",
    )
    # While OID is asked the request's lock is free: any other action is answered at once.
    later = state.form.shipment.eta + timedelta(days=1)
    moved = await handle.execute_update(NopicRequest.update_eta, UpdateEta(**service.action(), eta=later))
    assert moved.form.shipment.eta == later
    too_soon = ConfirmOperations(**service.action(), note="impatient")
    assert await refusal(handle.execute_update(NopicRequest.confirm_operations, too_soon)) == (
        "the operations are being checked in OID; confirm them by hand once the check is unavailable"
    )

    await service.sleep_until(await service.now() + timedelta(minutes=3))
    state = await service.until(
        handle,
        lambda s: checked(s) is OperationsCheckStatus.UNAVAILABLE,
        "the check unavailable",
    )
    assert state.status is RequestStatus.ISSUING and state.issuance_blocked is None
    assert state.operations_check is not None
    assert state.operations_check.detail == (
        "the exporter's operation 1234567890 could not be checked: OID did not answer within 2 minutes "
        "(last: OID could not be reached: connection refused)"
    )
    assert "operations_check_unavailable" in service.store.actions(state.request_id)
    assert service.oid.nopics == {}

    await confirm(service, handle, "looked both up in OID's public search: Certified")
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert [c.status for c in state.certificates] == [CertificateStatus.ISSUED] * 2
    await service.save_history(handle, "operations_check_unavailable_then_confirmed")


async def test_an_operation_oid_does_not_list_stops_issuance_with_the_reason(
    workflow_service: Service,
) -> None:
    service = workflow_service
    del service.oid.operations["9876543210"]
    handle, _ = await approved(service, Policy())
    state = await service.until(handle, lambda s: s.issuance_blocked is not None, "issuance stopped")
    assert state.status is RequestStatus.IN_REVIEW
    assert state.issuance_blocked == (
        "the importer's operation 9876543210 is not listed in OID: no operation 9876543210 in OID"
    )
    assert state.operations_check is not None
    assert state.operations_check.status is OperationsCheckStatus.NOT_CERTIFIED
    await service.save_history(handle, "operations_check_not_listed")


async def test_a_number_another_request_holds_is_refused_naming_it_and_neither_request_wedges(
    workflow_service: Service,
) -> None:
    service = workflow_service
    first, _ = await approved(service, BY_HAND)
    second, _ = await approved(service, BY_HAND)
    await confirm(service, first)
    await confirm(service, second)
    record = NopicRequest.record_certificate_number
    await first.execute_update(record, number(service, 0, COFFEE))

    reason = await refusal(second.execute_update(record, number(service, 1, COFFEE)))
    first_id = (await service.state(first)).request_id
    assert reason == (
        f"{COFFEE} is already recorded for request {first_id} (commodity 0): check the number in OID"
    )
    # Neither is wedged: both go on answering and taking their own numbers.
    state = await second.execute_update(record, number(service, 0, "840-1234567890-000901"))
    assert state.certificates[0].number == "840-1234567890-000901"
    assert state.certificates[1].status is CertificateStatus.PENDING
    await first.execute_update(record, number(service, 1, COCOA))
    await service.until_status(first, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    await service.save_history(second, "number_held_by_another_request")


async def test_a_recorded_number_is_corrected_while_issuing_and_the_typo_freed(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle, _ = await approved(service, BY_HAND)
    await confirm(service, handle)
    record = NopicRequest.record_certificate_number
    typo = "840-1234567890-007411"
    await handle.execute_update(record, number(service, 0, typo))
    assert await refusal(handle.execute_update(record, number(service, 0, typo))) == (
        f"the NOPIC for Organic roasted coffee beans is already recorded: {typo}"
    )
    state = await handle.execute_update(record, number(service, 0, COFFEE))
    assert state.status is RequestStatus.ISSUING
    assert state.certificates[0].number == COFFEE
    assert state.history[-1].detail == f"Organic roasted coffee beans: {typo} corrected to {COFFEE}"
    assert typo not in service.numbers.claims and service.numbers.claims[COFFEE][1] == 0
    await handle.execute_update(record, number(service, 1, COCOA))
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert [c.number for c in state.certificates] == [COFFEE, COCOA]
    await service.save_history(handle, "number_corrected_while_issuing")


async def test_an_issuing_request_sent_back_to_review_keeps_its_number_and_goes_on_when_approved_again(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle, _ = await approved(service, BY_HAND)
    await confirm(service, handle)
    await handle.execute_update(NopicRequest.record_certificate_number, number(service, 0, COFFEE))
    back = ReturnToReview(**service.action(), reason="the cocoa's lot number is wrong on the invoice")
    state = await handle.execute_update(NopicRequest.return_to_review, back)
    assert state.status is RequestStatus.IN_REVIEW
    assert state.issuance_blocked == (
        "sent back to review by Rik Reviewer: the cocoa's lot number is wrong on the invoice"
    )
    assert state.certificates[0].status is CertificateStatus.ISSUED and state.operations_check is None

    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    await confirm(service, handle)
    await handle.execute_update(NopicRequest.record_certificate_number, number(service, 1, COCOA))
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert [c.number for c in state.certificates] == [COFFEE, COCOA]
    await service.save_history(handle, "returned_to_review_while_issuing")


async def test_refused_while_issuing_the_number_recorded_is_a_task_until_confirmed_cancelled(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle, _ = await approved(service, BY_HAND)
    await confirm(service, handle)
    await handle.execute_update(NopicRequest.record_certificate_number, number(service, 0, COFFEE))
    refuse = Refuse(**service.action(), reason="the supplier's certificate was suspended")
    state = await handle.execute_update(NopicRequest.refuse, refuse)
    assert state.status is RequestStatus.CANCELLING and state.ends_as is RequestStatus.REFUSED
    assert [c.status for c in state.certificates] == [
        CertificateStatus.CANCELLATION_PENDING,
        CertificateStatus.PENDING,
    ]
    task = await service.mailed("cancellation_requested", "review_team")
    assert [c.number for c in task.certificates] == [COFFEE]
    mails = await service.mails()
    assert mails.of_kind("cancellation") == [], "nobody is told it is cancelled before it is"

    done = RecordCancellation(**service.action(), commodity_index=0, note="cancelled in Global INTEGRITY")
    state = await handle.execute_update(NopicRequest.record_cancellation, done)
    assert state.status is RequestStatus.REFUSED
    assert state.certificates[0].status is CertificateStatus.CANCELLED
    state = await service.result(handle)
    assert state.status is RequestStatus.REFUSED
    for audience in ("exporter", "importer"):
        told = await service.mailed("cancellation", audience)
        assert [(c.number, c.status) for c in told.certificates] == [(COFFEE, CertificateStatus.CANCELLED)]
    await service.save_history(handle, "refused_while_issuing_number_cancelled_by_hand")


async def test_withdrawn_while_issuing_with_nothing_recorded_ends_at_once(workflow_service: Service) -> None:
    service = workflow_service
    handle, _ = await approved(service, BY_HAND)
    state = await handle.execute_update(NopicRequest.withdraw, Withdraw(**service.action(EXPORTER)))
    assert state.status is RequestStatus.WITHDRAWN
    assert (await service.result(handle)).status is RequestStatus.WITHDRAWN
    assert (await service.mails()).of_kind("cancellation_requested") == []


async def test_both_operations_and_the_exporters_products_are_asked_of_oid_at_once(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    await service.issued(handle)
    history = await handle.fetch_history()
    asked = [
        (
            e.activity_task_scheduled_event_attributes.activity_type.name,
            e.activity_task_scheduled_event_attributes.workflow_task_completed_event_id,
        )
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name.startswith("lookup_")
    ]
    assert sorted(name for name, _ in asked) == [
        "lookup_certified_items",
        "lookup_operation",
        "lookup_operation",
    ]
    assert len({task for _, task in asked}) == 1, "scheduled by one workflow task"
    await service.save_history(handle, "operations_looked_up_together")


async def test_a_record_retried_in_a_later_workflow_task_keeps_the_run_replaying(
    workflow_service: Service,
) -> None:
    """The operations check's record outlasts two attempts (the database slow twice), so the workflow task
    heartbeats and the record completes in a later one, right before issuance asks its patch: the saved run
    must replay all the same."""
    service = workflow_service
    service.store.slow["operations_checked"] = [6, 6]  # each past the local activity's 5 s
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    for _ in range(300):  # half a minute: the record takes a dozen seconds
        state = await service.state(handle)
        if state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT:
            break
        await asyncio.sleep(0.1)
    assert state.status is RequestStatus.AWAITING_TRANSPORT_DOCUMENT
    assert service.store.actions(state.request_id).count("operations_checked") == 1
    await service.save_history(handle, "operations_checked_record_retried_in_a_later_task")
