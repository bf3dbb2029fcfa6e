"""Issuing through the OID gateway never waits without end (time-skipping server, fake ports): a gateway
that does not answer within the policy's `oid_issue_within` stops issuance as a refusal does (the
certificate says OID did not answer and since when, the review team is told), a reviewer approves again,
and a NOPIC OID created while its answer was lost is found by the same key, never made twice."""

from __future__ import annotations

from datetime import timedelta

from domain.messages import Approve
from domain.policy import Policy
from domain.state import CertificateStatus, RequestStatus
from tests.support.harness import Service
from workflows.nopic_request import NopicRequest

BOUNDED = Policy(oid_issue_within=timedelta(minutes=30))


async def test_a_gateway_silent_past_the_bound_stops_issuance_and_approving_again_finds_the_late_nopic(
    workflow_service: Service,
) -> None:
    service = workflow_service
    # OID creates the coffee's NOPIC but every answer is lost on the way back.
    service.oid.issue_answer_lost = True
    handle = await service.start(policy=BOUNDED)
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    asked = await service.now()
    await service.sleep_until(asked + timedelta(minutes=40))
    state = await service.until(handle, lambda s: s.issuance_blocked is not None, "issuance stopped")

    assert state.status is RequestStatus.IN_REVIEW
    coffee = state.certificates[0]
    assert coffee.status is CertificateStatus.PENDING and coffee.number is None
    assert coffee.oid_failure == state.issuance_blocked
    assert state.issuance_blocked is not None
    assert state.issuance_blocked.startswith(
        "OID did not issue the NOPIC for Organic roasted coffee beans: OID did not answer within 30 minutes "
        "(last: OID created the NOPIC, but its answer was lost: connection reset), asked since "
    )
    assert "approve again to ask OID once more" in state.issuance_blocked
    told = await service.mailed("oid_refused", "review_team")
    assert [c.product_name for c in told.certificates] == ["Organic roasted coffee beans"]
    assert "issuance_stopped" in service.store.actions(state.request_id)
    assert len(service.oid.nopics) == 1 and service.oid.issue_attempts > 1

    service.oid.issue_answer_lost = False
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert len(service.oid.nopics) == 2, "the coffee's NOPIC found again, the cocoa's made: none twice"
    [late] = [n for n in service.oid.nopics.values() if n.data.commodity_index == 0]
    assert state.certificates[0].number == late.number
    assert [c.oid_failure for c in state.certificates] == [None, None]
    await service.save_history(handle, "issuance_unanswered_then_approved_again")


async def test_a_gateway_unreachable_past_the_bound_says_so_and_creates_nothing(
    workflow_service: Service,
) -> None:
    service = workflow_service
    service.oid.issue_unreachable = True
    handle = await service.start(policy=BOUNDED)
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    await service.sleep_until(await service.now() + timedelta(minutes=40))
    state = await service.until(handle, lambda s: s.issuance_blocked is not None, "issuance stopped")
    assert state.status is RequestStatus.IN_REVIEW and service.oid.nopics == {}
    assert state.issuance_blocked is not None
    assert "OID did not answer within 30 minutes (last: OID could not be reached" in state.issuance_blocked
