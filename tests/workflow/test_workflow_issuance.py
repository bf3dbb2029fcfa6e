"""The NOPIC request workflow: issuing the NOPICs, by the OID gateway or by hand (on the time-skipping
server), and a long request continuing as new (on the dev server)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.messages import Approve, RecordCertificateNumber, UpdateEta
from domain.policy import IssuanceMode, Policy
from domain.state import CertificateStatus, RequestState, RequestStatus
from tests.support.harness import (
    EXPORTER,
    Service,
    at_instant,
    refusal,
    request_form,
    running_service,
)
from workflows.nopic_request import NopicRequest

Handle = WorkflowHandle[Any, RequestState]


async def record_first_number(service: Service, handle: Handle, number: str) -> RequestState:
    """Record commodity 0's number as staff would: again while the operations are still being checked."""
    update = RecordCertificateNumber(**service.action(), commodity_index=0, number=number)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30  # two lookups in the in-memory OID: well under a second, unless very busy
    while loop.time() < deadline:
        try:
            return await handle.execute_update(NopicRequest.record_certificate_number, update)
        except WorkflowUpdateFailedError as failed:
            if "still being checked" not in str(failed.cause):
                raise
        await asyncio.sleep(0.05)
    raise AssertionError("the operations were never checked")


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
