"""The NOPIC request workflow on the time-skipping server, one test per path of the procedure."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.state import CertificateStatus, RequestStatus
from tests.workflow_harness import Service, running_service
from workflows import search_attributes
from workflows.nopic_request import NopicRequest


@pytest.fixture
async def service(time_skipping_env: WorkflowEnvironment, task_queue: str) -> AsyncIterator[Service]:
    async with running_service(time_skipping_env, task_queue) as running:
        yield running


async def test_complete_request_approved_is_issued_and_active_once_the_transport_document_arrives(
    service: Service,
) -> None:
    handle = await service.start()
    state = await service.until_status(handle, RequestStatus.IN_REVIEW)
    assert state.lead_working_days >= 3 and not state.late
    assert [item.item for item in state.missing()] == ["definitive_transport_document"]

    state = await service.issued(handle)
    numbers = [c.number for c in state.certificates]
    assert all(c.status is CertificateStatus.ISSUED for c in state.certificates)
    assert numbers == ["840-1234567890-000001", "840-1234567890-000002"]

    state = await handle.execute_update(NopicRequest.transport_document, service.transport_document())
    assert state.status is RequestStatus.ACTIVE
    assert service.mailer.kinds() == [
        ("review_team", "new_request"),
        ("exporter", "nopic_issued"),
        ("importer", "nopic_issued"),
        ("review_team", "documents_received"),
    ]
    assert service.store.actions(state.request_id) == [
        "received",
        "documents_checked",
        "approve",
        "nopic_issued",
        "nopic_issued",
        "nopics_issued",
        "transport_document",
        "active",
    ]
    described = await handle.describe()
    attributes = described.typed_search_attributes
    assert attributes.get(search_attributes.STATUS) == "active"
    assert attributes.get(search_attributes.LATE) is False
    await service.save_history(handle, "complete_request_approved")
