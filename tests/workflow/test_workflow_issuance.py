"""The NOPIC request workflow: issuing the NOPICs, by the OID gateway or by hand (on the time-skipping
server), and a long request continuing as new (on the dev server)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from domain.messages import Approve, RecordCertificateNumber, UpdateEta
from domain.policy import IssuanceMode, Policy
from domain.state import CertificateStatus, RequestState, RequestStatus
from tests.support.harness import (
    EXPORTER,
    Service,
    at_instant,
    record_first_number,
    refusal,
    request_form,
    running_service,
)
from workflows.nopic_request import NopicRequest

Handle = WorkflowHandle[Any, RequestState]


async def test_manual_issuance_refuses_a_draft_number_and_an_operation_id_then_accepts_a_nopic_number(
    workflow_service: Service,
) -> None:
    service = workflow_service
    handle = await service.start(policy=Policy(issuance_mode=IssuanceMode.MANUAL))
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    state = await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    assert state.status is RequestStatus.ISSUING

    state = await record_first_number(service, handle, "840-1234567890-004711")
    assert state.certificates[0].status is CertificateStatus.ISSUED
    assert state.status is RequestStatus.ISSUING, "the cocoa nibs' NOPIC is still to be recorded"

    def number(value: str) -> RecordCertificateNumber:
        return RecordCertificateNumber(**service.action(), commodity_index=1, number=value)

    record = NopicRequest.record_certificate_number
    draft = await refusal(handle.execute_update(record, number("840-1234567890-004712 DRAFT")))
    assert "is a draft" in draft and "publish the NOPIC in OID" in draft
    operation = await refusal(handle.execute_update(record, number("9876543210")))
    assert "is a 10-digit NOP operation ID, not a NOPIC number" in operation
    assert (await service.state(handle)).certificates[1].status is CertificateStatus.PENDING

    await handle.execute_update(record, number("840-1234567890-004712"))
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert [c.number for c in state.certificates] == ["840-1234567890-004711", "840-1234567890-004712"]
    assert service.oid.nopics == {}, "staff created the NOPICs in OID by hand"
    to_importer = await service.mailed("nopic_issued", "importer")
    assert [c.number for c in to_importer.certificates] == ["840-1234567890-004711", "840-1234567890-004712"]
    await service.save_history(handle, "manual_issuance")


async def test_an_uncertified_importer_stops_issuance_with_the_reason_until_approved_again(
    workflow_service: Service,
) -> None:
    service = workflow_service
    service.oid.register("9876543210", "Green Imports Inc", status="Suspended")
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)

    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until(handle, lambda s: s.issuance_blocked is not None, "issuance stopped")
    assert state.status is RequestStatus.IN_REVIEW
    assert state.issuance_blocked == (
        "the importer's operation 9876543210 (Green Imports Inc) is 'Suspended' in OID, not Certified: "
        "NOPICs cannot be issued for it"
    )
    assert service.oid.nopics == {}
    assert all(c.status is CertificateStatus.PENDING for c in state.certificates)

    service.oid.register("9876543210", "Green Imports Inc")
    state = await service.issued(handle)
    assert state.issuance_blocked is None and len(service.oid.nopics) == 2
    assert "issuance_stopped" in service.store.actions(state.request_id)
    await service.save_history(handle, "issuance_stopped_uncertified_importer")


async def test_continue_as_new_keeps_the_state_and_the_deadline(
    dev_server_env: WorkflowEnvironment, task_queue: str
) -> None:
    """On the dev server, in real seconds: the time-skipping server does not continue a workflow as new
    atomically, and a query or a time skip that meets the switch may stall there.

    Real seconds must not decide the outcome: the deadline is a day away while the NOPICs are issued, however
    long that takes, then moved to a few seconds from then, with seconds to spare before each instant."""
    policy = Policy(
        continue_as_new_after_actions=3, reminder_offsets=[timedelta(seconds=8), timedelta(seconds=4)]
    )
    async with running_service(dev_server_env, task_queue) as service:
        form = request_form(await service.now(), etd_in_days=0, deadline_in_days=1)
        handle = await service.start(form, policy=policy)
        await service.issued(handle)
        deadline = await service.now() + timedelta(seconds=12)
        await handle.signal(NopicRequest.eta_changed, UpdateEta(**service.action(EXPORTER), eta=deadline))

        state = await service.result(handle)
        described = await handle.describe()
        assert described.run_id != handle.first_execution_run_id, "the request continued as new"
        assert state.status is RequestStatus.CANCELLED and state.customs_deadline == deadline
        assert [entry.sequence for entry in state.history] == list(range(1, state.sequence + 1))
        assert [entry.action for entry in state.history][:3] == ["received", "documents_checked", "approve"]
        assert [c.status for c in state.certificates] == [CertificateStatus.CANCELLED] * 2
        first, second = [e.at for e in state.history if e.action == "transport_reminder"]
        assert at_instant(first, deadline - timedelta(seconds=8))
        assert at_instant(second, deadline - timedelta(seconds=4))
        [passed] = [e.at for e in state.history if e.action == "transport_deadline_passed"]
        assert at_instant(passed, deadline)
        await service.save_history(handle, "continued_as_new", run_id=handle.first_execution_run_id)


def issue_activities(history: WorkflowHistory) -> list[str]:
    """The OID creations the run scheduled, by activity type, in order."""
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        and event.activity_task_scheduled_event_attributes.activity_type.name == "issue_nopic"
    ]


async def test_oid_refusing_the_second_nopic_keeps_the_first_number_and_stops_issuance_at_the_second(
    workflow_service: Service,
) -> None:
    """Each NOPIC is its own activity, decided by the workflow as the one before it is answered: its
    number is the request's at once, and a request that left `issuing` meanwhile asks OID for no more."""
    service = workflow_service
    service.oid.refuse_products.add("Organic cocoa nibs")
    handle = await service.start()
    await service.until_status(handle, RequestStatus.IN_REVIEW)
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until(handle, lambda s: s.issuance_blocked is not None, "issuance stopped")

    coffee, cocoa = state.certificates
    assert coffee.status is CertificateStatus.ISSUED and coffee.number in service.oid.nopics
    assert cocoa.status is CertificateStatus.PENDING and cocoa.number is None
    assert state.status is RequestStatus.IN_REVIEW
    assert state.issuance_blocked == cocoa.oid_failure
    assert state.issuance_blocked == (
        "OID did not issue the NOPIC for Organic cocoa nibs: the HTS code 1804000000 does not match Organic "
        "cocoa nibs"
    )
    told = await service.mailed("oid_refused", "review_team")
    assert [c.product_name for c in told.certificates] == ["Organic cocoa nibs"]
    assert issue_activities(await handle.fetch_history()) == ["issue_nopic", "issue_nopic"]

    service.oid.refuse_products.clear()
    await handle.execute_update(NopicRequest.approve, Approve(**service.action()))
    state = await service.until_status(handle, RequestStatus.AWAITING_TRANSPORT_DOCUMENT)
    assert state.certificates[0].number == coffee.number, "the coffee's NOPIC kept, never made again"
    assert len(service.oid.nopics) == 2
    assert issue_activities(await handle.fetch_history()) == ["issue_nopic"] * 3
