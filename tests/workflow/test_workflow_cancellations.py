"""Cancelling in OID as certifiers do (time-skipping server, fake ports): a task for staff in manual mode,
confirmed by a reviewer; in api mode the gateway, and no NOPIC ever left behind or forgotten; an OID refusal
that never fails a run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from temporalio.client import WorkflowHandle

from domain.messages import (
    Approve,
    CancelCertificates,
    ConfirmOperations,
    CorrectRequestData,
    RecordCancellation,
    RecordCertificateNumber,
    Refuse,
    RetryCancellation,
)
from domain.policy import IssuanceMode, OperationsSource, Policy
from domain.request import NopicRequestForm
from domain.state import CertificateStatus, RequestState, RequestStatus
from tests.support.harness import EXPORTER, Service, refusal
from workflows.nopic_request import NopicRequest

Handle = WorkflowHandle[Any, RequestState]
BY_HAND = Policy(issuance_mode=IssuanceMode.MANUAL, operations_check=OperationsSource.REVIEWER)
COFFEE, COCOA = "840-1234567890-004711", "840-1234567890-004712"
PENDING = CertificateStatus.CANCELLATION_PENDING


async def issued_by_hand(service: Service, handle: Handle) -> RequestState:
    """Approve, confirm both operations, and record both numbers as staff would."""
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    await service.until(handle, lambda s: s.operations_check is not None, "the check awaits the reviewer")
    await handle.execute_update(
        NopicRequest.confirm_operations, ConfirmOperations(**service.action(), note="both Certified in OID")
    )
    for index, number in enumerate((COFFEE, COCOA)):
        await handle.execute_update(
            NopicRequest.record_certificate_number,
            RecordCertificateNumber(**service.action(), commodity_index=index, number=number),
        )
    return await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)


def confirmation(service: Service, index: int, note: str = "done in Global INTEGRITY") -> RecordCancellation:
    return RecordCancellation(**service.action(), commodity_index=index, note=note)


async def test_manual_cancellation_is_a_task_until_a_reviewer_confirms_each_nopic_cancelled_in_oid(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=BY_HAND)
    await issued_by_hand(service, handle)
    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.status is RequestStatus.ACTIVE

    everything = CancelCertificates(**service.action(), reason="the exporter's certification was withdrawn")
    state = await handle.execute_update(NopicRequest.cancel_certificates, everything)
    assert state.status is RequestStatus.CANCELLING and state.ends_as is RequestStatus.CANCELLED
    assert [c.status for c in state.certificates] == [PENDING, PENDING]
    task = await service.mailed("cancellation_requested", "review_team")
    assert [c.number for c in task.certificates] == [COFFEE, COCOA]
    assert task.message == "the exporter's certification was withdrawn"
    assert (await service.mails()).of_kind("cancellation") == [] and service.oid.cancel_reasons == {}
    assert "staff cancel each in OID and confirm it" in (state.history[-1].detail or "")
    assert not any("cancelled in OID" in (e.detail or "") for e in state.history)

    by_exporter = RecordCancellation(**service.action(EXPORTER), commodity_index=0, note="done")
    assert await refusal(handle.execute_update(NopicRequest.record_cancellation, by_exporter)) == (
        "only a reviewer may do this; Eva Exporter is exporter"
    )
    retry = RetryCancellation(**service.action(), commodity_index=0)
    assert await refusal(handle.execute_update(NopicRequest.retry_cancellation, retry)) == (
        "in manual issuance staff cancel NOPICs in OID by hand: confirm it with record-cancellation"
    )
    state = await handle.execute_update(NopicRequest.record_cancellation, confirmation(service, 1))
    assert state.status is RequestStatus.CANCELLING
    assert [c.status for c in state.certificates] == [PENDING, CertificateStatus.CANCELLED]
    assert state.history[-1].detail == (
        f"{COCOA} (Organic cocoa nibs) is cancelled in OID; by hand: done in Global INTEGRITY"
    )
    for audience in ("exporter", "importer"):
        told = await service.mailed("cancellation", audience)
        assert [(c.number, c.status) for c in told.certificates] == [(COCOA, CertificateStatus.CANCELLED)]
    twice = handle.execute_update(NopicRequest.record_cancellation, confirmation(service, 1))
    assert await refusal(twice) == "no cancellation of commodity 1 awaits confirmation"

    await handle.execute_update(NopicRequest.record_cancellation, confirmation(service, 0))
    state = await service.result(handle)
    assert state.status is RequestStatus.CANCELLED
    assert [c.status for c in state.certificates] == [CertificateStatus.CANCELLED] * 2
    assert state.outcome == "the exporter's certification was withdrawn"
    assert service.oid.cancel_reasons == {}, "nothing went to a gateway: staff cancelled both in OID"
    await service.save_history(handle, "cancelled_by_reviewer_manual")


async def test_the_customs_deadline_in_manual_mode_asks_staff_to_cancel_and_ends_once_confirmed(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=BY_HAND)
    state = await issued_by_hand(service, handle)
    await service.sleep_until(state.customs_deadline)
    state = await service.until_status(handle, RequestStatus.CANCELLING)
    assert [c.status for c in state.certificates] == [PENDING, PENDING]
    told = await service.mailed("transport_deadline_passed", "review_team")
    assert {c.status for c in told.certificates} == {PENDING}
    assert (await service.mails()).of_kind("cancellation") == []
    # A late transport document changes nothing now.
    late = await refusal(handle.execute_update(NopicRequest.transport_document, service.transport_document()))
    assert late.startswith("the request is cancelling;")

    for index in (0, 1):
        await handle.execute_update(NopicRequest.record_cancellation, confirmation(service, index))
    state = await service.result(handle)
    assert state.status is RequestStatus.CANCELLED
    assert state.outcome is not None and "before the customs-clearance deadline" in state.outcome
    await service.save_history(handle, "deadline_passed_manual_cancellation")


def corrected(form: NopicRequestForm, index: int, **changes: Any) -> NopicRequestForm:
    commodities = list(form.commodities)
    commodities[index] = commodities[index].model_copy(update=changes)
    return form.model_copy(update={"commodities": commodities})


async def test_a_partial_issue_refused_by_oid_keeps_the_nopic_issued_and_reissues_under_a_new_key(
    workflow_service: Service,
) -> None:
    service = workflow_service
    service.oid.refuse_products = {"Organic cocoa nibs"}
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until(handle, lambda s: s.issuance_blocked is not None, "issuance stopped")
    assert state.status is RequestStatus.IN_REVIEW
    coffee = state.certificates[0].number
    assert state.certificates[0].status is CertificateStatus.ISSUED
    assert state.certificates[1].status is CertificateStatus.PENDING
    assert "does not match" in (state.certificates[1].oid_failure or "")
    refused = await service.mailed("oid_refused", "review_team")
    assert [c.product_name for c in refused.certificates] == ["Organic cocoa nibs"]
    first_keys = set(service.oid.keys)

    # The exporter corrects the cocoa's name; the coffee's NOPIC is untouched, so it is kept.
    service.oid.refuse_products = set()
    fixed = corrected(state.form, 1, product_name="Organic cocoa nibs, raw")
    state = await handle.execute_update(
        NopicRequest.correct_request_data, CorrectRequestData(**service.action(EXPORTER), form=fixed)
    )
    assert state.certificates[0].number == coffee and state.certificates[0].status is CertificateStatus.ISSUED
    assert state.certificates[1].product_name == "Organic cocoa nibs, raw"
    assert state.superseded == [] and service.oid.cancel_reasons == {}
    state = await service.issued(handle)
    assert state.certificates[0].number == coffee
    assert len(service.oid.nopics) == 2
    [new_key] = set(service.oid.keys) - first_keys
    assert new_key.startswith(f"{state.request_id}:1:r0:"), new_key
    await service.save_history(handle, "partial_issue_corrected_keeps_unchanged_nopic")


async def test_a_correction_that_changes_an_issued_nopic_cancels_it_in_oid_and_issues_the_next_revision(
    workflow_service: Service,
) -> None:
    service = workflow_service
    service.oid.refuse_products = {"Organic cocoa nibs"}
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until(handle, lambda s: s.issuance_blocked is not None, "issuance stopped")
    old_coffee = state.certificates[0].number
    assert old_coffee is not None

    service.oid.refuse_products = set()
    fixed = corrected(state.form, 0, net_kg=Decimal("11000"))
    state = await handle.execute_update(
        NopicRequest.correct_request_data, CorrectRequestData(**service.action(EXPORTER), form=fixed)
    )
    [superseded] = state.superseded
    assert superseded.number == old_coffee and superseded.status is PENDING
    assert state.certificates[0].revision == 1 and state.certificates[0].status is CertificateStatus.PENDING
    state = await service.until(
        handle, lambda s: s.superseded[0].status is CertificateStatus.CANCELLED, "the old coffee cancelled"
    )
    assert service.oid.cancel_reasons == {
        old_coffee: "the request data was corrected: the NOPIC no longer matches it"
    }
    state = await service.issued(handle)
    new_coffee = state.certificates[0].number
    assert new_coffee not in (None, old_coffee) and state.certificates[0].net_kg == Decimal("11000")
    cocoa = state.certificates[1].number
    assert [c.number for c in state.every_certificate] == [new_coffee, cocoa, old_coffee]
    await service.save_history(handle, "correction_cancels_changed_nopic_in_oid")


async def test_refused_after_a_partial_issue_the_nopic_issued_is_cancelled_in_oid(
    workflow_service: Service,
) -> None:
    service = workflow_service
    service.oid.refuse_products = {"Organic cocoa nibs"}
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until(handle, lambda s: s.issuance_blocked is not None, "issuance stopped")
    coffee = state.certificates[0].number
    refuse = Refuse(**service.action(), reason="fraud suspected")
    state = await handle.execute_update(NopicRequest.refuse, refuse)
    assert state.status is RequestStatus.CANCELLING
    state = await service.result(handle)
    assert state.status is RequestStatus.REFUSED
    assert service.oid.cancel_reasons == {coffee: "the request was refused: fraud suspected"}
    assert state.certificates[0].status is CertificateStatus.CANCELLED
    await service.save_history(handle, "refused_after_partial_issue_cancelled_in_oid")


async def test_a_nopic_oid_issues_after_the_request_was_refused_is_cancelled_not_forgotten(
    workflow_service: Service,
) -> None:
    service = workflow_service
    service.oid.hold_issue = asyncio.Event()
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    await asyncio.wait_for(service.oid.issue_started.wait(), 10)
    # OID takes its time; meanwhile the reviewer refuses the request, nothing issued yet.
    refuse = Refuse(**service.action(), reason="withdrawn TC")
    state = await handle.execute_update(NopicRequest.refuse, refuse)
    assert state.status is RequestStatus.REFUSED
    service.oid.hold_issue.set()
    state = await service.result(handle)
    assert state.status is RequestStatus.REFUSED
    [issued] = list(service.oid.nopics.values())
    assert issued.status == "cancelled"
    assert state.certificates[0].number == issued.number
    assert state.certificates[0].status is CertificateStatus.CANCELLED
    assert state.certificates[1].status is CertificateStatus.PENDING, "never asked of OID"
    await service.save_history(handle, "nopic_issued_after_refusal_cancelled")


async def test_oid_refusing_a_cancellation_never_fails_the_run_a_reviewer_retries_or_confirms_it(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.issued(handle)
    coffee, cocoa = [c.number for c in state.certificates]
    assert coffee is not None and cocoa is not None
    service.oid.refuse_cancelling = {coffee, cocoa}
    await service.sleep_until(state.customs_deadline)
    state = await service.until(
        handle, lambda s: all(c.oid_failure for c in s.certificates), "OID refused both cancellations"
    )
    assert state.status is RequestStatus.CANCELLING
    assert [c.status for c in state.certificates] == [PENDING, PENDING]
    assert state.certificates[0].oid_failure == (
        f"OID refused to cancel NOPIC {coffee}: it is under investigation"
    )
    for _ in range(100):  # the second refusal's mail goes out just after its state change
        if len((await service.mails()).of_kind("oid_refused")) == 2:
            break
        await asyncio.sleep(0.05)
    told = [[c.number for c in n.certificates] for n in (await service.mails()).of_kind("oid_refused")]
    assert told == [[coffee], [cocoa]] and (await service.mails()).of_kind("cancellation") == []
    described = await handle.describe()
    assert described.status is not None and described.status.name == "RUNNING"

    service.oid.refuse_cancelling = {cocoa}
    retry = RetryCancellation(**service.action(), commodity_index=0)
    await handle.execute_update(NopicRequest.retry_cancellation, retry)
    await service.until(
        handle, lambda s: s.certificates[0].status is CertificateStatus.CANCELLED, "coffee cancelled on retry"
    )
    by_hand = confirmation(service, 1, "OID support cancelled it by hand")
    await handle.execute_update(NopicRequest.record_cancellation, by_hand)
    state = await service.result(handle)
    assert state.status is RequestStatus.CANCELLED
    assert [c.status for c in state.certificates] == [CertificateStatus.CANCELLED] * 2
    assert list(service.oid.cancel_reasons) == [coffee]
    await service.save_history(handle, "deadline_cancel_refused_by_oid_retried_and_confirmed")


async def test_a_cancellation_still_to_confirm_when_the_timeframe_ends_keeps_the_request_open_until_it_is(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=BY_HAND)
    await issued_by_hand(service, handle)
    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.status is RequestStatus.ACTIVE
    one = CancelCertificates(**service.action(), commodity_indexes=[1], reason="cocoa lot failed analysis")
    state = await handle.execute_update(NopicRequest.cancel_certificates, one)
    assert state.status is RequestStatus.ACTIVE, "the coffee's NOPIC is still in force"
    assert [c.status for c in state.certificates] == [CertificateStatus.ISSUED, PENDING]

    end = state.form.timeframe.last_day + timedelta(days=2)
    await service.sleep_until(datetime.combine(end, time(0), tzinfo=UTC))
    state = await service.until_status(handle, RequestStatus.CANCELLING)
    assert state.ends_as is RequestStatus.EXPIRED
    assert [c.status for c in state.certificates] == [CertificateStatus.EXPIRED, PENDING]
    await handle.execute_update(NopicRequest.record_cancellation, confirmation(service, 1))
    state = await service.result(handle)
    assert state.status is RequestStatus.EXPIRED
    assert [c.status for c in state.certificates] == [CertificateStatus.EXPIRED, CertificateStatus.CANCELLED]
    await service.save_history(handle, "expired_with_a_cancellation_to_confirm")


async def test_a_gateway_silent_for_an_hour_leaves_the_cancellation_to_a_reviewer(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start()
    state = await service.issued(handle)
    service.oid.cancel_unreachable = True
    everything = CancelCertificates(**service.action(), reason="the shipment is off")
    state = await handle.execute_update(NopicRequest.cancel_certificates, everything)
    assert state.status is RequestStatus.CANCELLING
    by_hand = confirmation(service, 0, "cancelled in OID by hand")
    assert (await refusal(handle.execute_update(NopicRequest.record_cancellation, by_hand))).startswith(
        "the OID gateway is cancelling NOPIC"
    )
    await service.sleep_until(await service.now() + timedelta(hours=3))  # an hour for each, and more
    state = await service.until(
        handle, lambda s: all(c.oid_failure for c in s.certificates[:1]), "the gateway given up on"
    )
    assert (state.certificates[0].oid_failure or "").startswith("OID did not answer within 60 minutes")
    for index in (0, 1):
        await service.until(
            handle, lambda s, i=index: s.certificates[i].oid_failure is not None, "both given up on"
        )
        await handle.execute_update(NopicRequest.record_cancellation, confirmation(service, index))
    state = await service.result(handle)
    assert state.status is RequestStatus.CANCELLED and service.oid.cancel_reasons == {}
